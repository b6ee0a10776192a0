"""The progress display: count, total, rate and time left at a terminal; nothing otherwise."""

from __future__ import annotations

import io
import logging

import structlog
from rich.console import Console

from adapter import i18n, log
from adapter.commands.progress import progress, shown
from adapter.i18n import N_


def test_a_terminal_sees_count_total_rate_and_time_left() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=150)
    with progress(N_("payments"), enabled=True, console=console) as display:
        update = display.task("big.ocr")
        update(250_000, 1_000_000)
        bar = display.bar
        assert bar is not None
        [task] = bar.tasks
        assert (task.description, task.completed, task.total) == ("big.ocr", 250_000, 1_000_000)
        bar.refresh()
    shown_text = out.getvalue()
    assert "big.ocr" in shown_text and "250000/1000000" in shown_text
    assert "igjen" in shown_text  # "left" in bokmål, the default language


def test_quiet_when_not_a_terminal_or_json(monkeypatch) -> None:
    out = io.StringIO()
    with progress(N_("payments"), enabled=False, console=Console(file=out)) as display:
        display.task("big.ocr")(10, 20)
        assert display.bar is None
    assert out.getvalue() == ""
    monkeypatch.setattr("sys.stderr", io.StringIO())
    assert shown(as_json=False) is False
    assert shown(as_json=True) is False


def test_log_lines_go_above_the_display_not_into_it() -> None:
    """`kravflyt bank import` at a terminal logged 'bank import phases' straight onto the
    progress line ('... 0:00:022026-12-08T02:44:42Z [info] bank import phases ...'): the log
    wrote to the stderr it was configured with, past the display."""
    saved = structlog.get_config()
    handlers = logging.getLogger().handlers[:]
    try:
        log.configure(fmt="json")
        out = io.StringIO()
        console = Console(file=out, force_terminal=True, width=150)
        with progress(N_("payments"), enabled=True, console=console) as display:
            display.task("big.ocr")(10, 20)
            log.get_logger().info("bank import phases", file="big.ocr")
            logging.getLogger("adapter").warning("a stdlib line")
        assert '"event": "bank import phases"' in out.getvalue()
        assert "a stdlib line" in out.getvalue()
    finally:
        structlog.configure(**saved)
        logging.getLogger().handlers[:] = handlers


def test_a_step_without_a_count_is_named_and_its_time_runs_on() -> None:
    """After the last payment is read the import publishes: the line said 100000/100000, '0:00:00
    left' and its clock stood still for the publish's seconds. Now it names the step, in the
    command's language, and its total is unknown (time left '-:--:--', the clock runs)."""
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=150)
    with i18n.use("en"), progress(N_("payments"), enabled=True, console=console) as display:
        update = display.task("big.ocr")
        update(0, 100)
        update(100, 100)
        update(100, None, N_("publishing"))
        assert display.bar is not None
        [task] = display.bar.tasks
        assert (task.description, task.total, task.finished) == ("big.ocr: publishing", None, False)
        update(100, 100)
        assert (task.description, task.total) == ("big.ocr", 100)
    with i18n.use("nb"), progress(N_("payments"), enabled=True, console=console) as display:
        display.task("big.ocr")(100, None, N_("publishing"))
        assert display.bar is not None
        assert display.bar.tasks[0].description == "big.ocr: publiserer"
