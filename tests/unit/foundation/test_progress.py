"""The progress display: count, total, rate and time left at a terminal; nothing otherwise."""

from __future__ import annotations

import io

from rich.console import Console

from adapter.commands.progress import progress, shown


def test_a_terminal_sees_count_total_rate_and_time_left() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=150)
    with progress("payments", enabled=True, console=console) as display:
        update = display.task("big.ocr")
        update(250_000, 1_000_000)
        bar = display.bar
        assert bar is not None
        [task] = bar.tasks
        assert (task.description, task.completed, task.total) == ("big.ocr", 250_000, 1_000_000)
        bar.refresh()
    shown_text = out.getvalue()
    assert "big.ocr" in shown_text and "250000/1000000" in shown_text
    assert "left" in shown_text


def test_quiet_when_not_a_terminal_or_json(monkeypatch) -> None:
    out = io.StringIO()
    with progress("payments", enabled=False, console=Console(file=out)) as display:
        display.task("big.ocr")(10, 20)
        assert display.bar is None
    assert out.getvalue() == ""
    monkeypatch.setattr("sys.stderr", io.StringIO())
    assert shown(as_json=False) is False
    assert shown(as_json=True) is False
