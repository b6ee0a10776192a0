"""A progress display for commands that may run longer than a few seconds: at a terminal, a
line per task with the count, the total when it is known, the rate and the time left; quiet
when stderr is not a terminal (a pipe, a log file, cron) or the command prints JSON."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

Update = Callable[[int, int | None], None]  # (done, total when known)


class _Rate(ProgressColumn):
    """Items a second, as rich measures them over the last samples."""

    def __init__(self, unit: str):
        super().__init__()
        self.unit = unit

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("" if speed is None else f"{speed:,.0f} {self.unit}/s".replace(",", " "))


class Display:
    """The tasks of one command, each updated through the function `task` returns."""

    def __init__(self, bar: Progress | None):
        self.bar = bar

    def task(self, description: str) -> Update:
        """A new line on the display; call what it returns with (done, total or None)."""
        if self.bar is None:
            return lambda _done, _total: None
        bar = self.bar
        task_id = bar.add_task(description, total=None)
        return lambda done, total: bar.update(task_id, completed=done, total=total)


def shown(as_json: bool = False) -> bool:
    """Whether a progress display belongs on this terminal."""
    return not as_json and sys.stderr.isatty()


@contextmanager
def progress(unit: str, *, enabled: bool, console: Console | None = None) -> Iterator[Display]:
    """A display for the command's tasks (on stderr), gone when the command is done."""
    if not enabled:
        yield Display(None)
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        _Rate(unit),
        TextColumn("left"),
        TimeRemainingColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console or Console(stderr=True), transient=True) as bar:
        yield Display(bar)
