"""How the command line shows a refresh's progress: rich on a terminal, plain lines anywhere else.

Listens to ``hubcensus.progress`` events (see that module). On a TTY: one live row per stage (the listing:
pages, models, models/s; file fetches: done/total, rate, ETA; normalize and load: pages done/total) and a
row for a rate-limit pause while it lasts (``waiting 41 s: resolvers quota 3,000 / 5 min``). Without a TTY:
``PlainProgress`` lines, never a control code.
"""

from __future__ import annotations

import logging
import threading
import time
from contextlib import contextmanager
from typing import Iterator

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from hubcensus.progress import Event, PlainProgress, listening, stream_writer


class RichProgress(logging.Handler):
    """Progress events driving a rich ``Progress`` (a live display on the console's terminal)."""

    def __init__(self, progress: Progress) -> None:
        super().__init__(logging.INFO)
        self.progress = progress
        self._tasks: dict[str, TaskID] = {}
        self._started: dict[str, float] = {}
        self._guard = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        event: Event | None = getattr(record, "progress", None)
        if event is None:
            return
        with self._guard:
            if event.kind == "waiting":
                self._wait(event)
            elif event.kind == "note":
                self.progress.console.print(event.line(), markup=False, highlight=False)
            else:
                self._stage(event)

    def _stage(self, event: Event) -> None:
        task = self._tasks.get(event.stage)
        if task is None or event.kind == "start":
            task = self.progress.add_task(event.stage, total=event.total, unit=event.unit, rate="")
            self._tasks[event.stage], self._started[event.stage] = task, event.at
        elapsed = event.at - self._started[event.stage]
        rate = f"{event.done / elapsed:,.1f} {event.unit}/s" if event.done and elapsed > 0 else ""
        self.progress.update(task, completed=event.done, total=event.total, unit=event.unit, rate=rate)
        if event.kind == "finish":
            self.progress.update(task, total=event.done if event.total is None else event.total, rate=rate)
            self.progress.stop_task(task)

    def _wait(self, event: Event) -> None:
        task = self.progress.add_task(event.text, total=None, unit="", rate="")
        timer = threading.Timer(event.seconds, self._end_wait, args=(task,))
        timer.daemon = True
        timer.start()

    def _end_wait(self, task: TaskID) -> None:
        with self._guard:
            self.progress.remove_task(task)


def rich_progress(console: Console) -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[unit]}"),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
        refresh_per_second=4,
    )


@contextmanager
def _log_lines_above(console: Console) -> Iterator[None]:
    """Other rich log handlers (Prefect's console) print through ``console`` meanwhile: their lines then go
    above the live display instead of through it."""
    swapped = []
    for logger in [logging.getLogger(), *(l for l in logging.root.manager.loggerDict.values() if isinstance(l, logging.Logger))]:
        for handler in logger.handlers:
            if isinstance(getattr(handler, "console", None), Console) and handler.console is not console:
                swapped.append((handler, handler.console))
                handler.console = console
    try:
        yield
    finally:
        for handler, original in swapped:
            handler.console = original


@contextmanager
def display(console: Console) -> Iterator[None]:
    """Show progress on ``console`` for the block: rich on a terminal, plain lines otherwise."""
    if console.is_terminal:
        with rich_progress(console) as progress, listening(RichProgress(progress)), _log_lines_above(progress.console):
            yield
    else:
        with listening(PlainProgress(stream_writer(console.file))):
            yield


def _demo() -> None:  # pragma: no cover - `python -m flows.display` shows what a refresh looks like
    from hubcensus import progress

    with display(Console(stderr=True)):
        progress.start("listing", unit="models")
        for i in range(1, 6):
            progress.advance("listing", i * 1000, unit="models", text=f"page {i}")
            time.sleep(0.3)
        progress.finish("listing", 5000, unit="models", seconds=1.5)
        progress.waiting(2, "waiting 2 s: resolvers quota 3,000 / 5 min")
        time.sleep(2.5)


if __name__ == "__main__":  # pragma: no cover
    _demo()
