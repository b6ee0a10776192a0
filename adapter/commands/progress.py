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

from adapter.i18n import Message, _

# (done, total when known[, the step under way when it is not the count's: its total unknown])
Update = Callable[..., None]


class _Rate(ProgressColumn):
    """Items a second, as rich measures them over the last samples."""

    def __init__(self, unit: str):
        super().__init__()
        self.unit = unit

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("" if speed is None else f"{speed:,.0f} {self.unit}/s".replace(",", " "))


class _Left(ProgressColumn):
    """'left 0:01:23' (in the command's language) while a total is known; nothing during a
    step that has none."""

    def __init__(self) -> None:
        super().__init__()
        self.word, self.remaining = _("left"), TimeRemainingColumn()

    def render(self, task: Task) -> Text:
        if task.total is None:
            return Text("")
        return Text.assemble(f"{self.word} ", self.remaining.render(task))


class Display:
    """The tasks of one command, each updated through the function `task` returns."""

    def __init__(self, bar: Progress | None):
        self.bar = bar

    def task(self, description: str) -> Update:
        """A new line on the display; call what it returns with (done, total or None)."""
        if self.bar is None:
            return lambda _done, _total, _step=None: None
        bar = self.bar
        task_id = bar.add_task(description, total=None)
        [task] = [t for t in bar.tasks if t.id == task_id]

        def update(done: int, total: int | None, step: Message | None = None) -> None:
            if step is None:
                bar.update(task_id, completed=done, total=total, description=description)
                return
            # A step with no count of its own (a publish): no total, so no time left to
            # foretell, and not finished, so its clock runs (rich keeps a total once set).
            task.total, task.finished_time = None, None
            bar.update(task_id, completed=done, description=f"{description}: {step}")

        return update


def shown(as_json: bool = False) -> bool:
    """Whether a progress display belongs on this terminal."""
    return not as_json and sys.stderr.isatty()


@contextmanager
def progress(unit: Message, *, enabled: bool, console: Console | None = None) -> Iterator[Display]:
    """A display for the command's tasks (on stderr), gone when the command is done. Its words
    are put in the command's language here: the display is drawn by a thread of its own."""
    if not enabled:
        yield Display(None)
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(bar_width=10),  # the line fits 80 columns with the words in bokmål
        MofNCompleteColumn(),
        _Rate(str(unit)),
        _Left(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console or Console(stderr=True), transient=True) as bar:
        yield Display(bar)
