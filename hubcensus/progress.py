"""Progress of a refresh: events sent through the ``hubcensus.progress`` logger, rendered by whoever listens.

The stages report plain facts (``start``, ``advance``, ``finish``, ``note``, ``waiting``); nothing in a flow
holds a display object (flow parameters go to Prefect's API as JSON). The command line listens with
``display(console)``: a rich live display on a terminal (``RichProgress``), else plain lines
(``PlainProgress``: at most one line per stage every 10 s, besides starts, ends and waits; no control codes).
A flow run without the command line (a deployment) sends the same plain lines to its Prefect run logger.
"""

from __future__ import annotations

import logging
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, Any, Callable, Iterator

LOGGER = "hubcensus.progress"
PLAIN_EVERY_S = 10.0
_log = logging.getLogger(LOGGER)
_log.propagate = False  # rendered only by the handlers below, never twice through the root logger
_log.setLevel(logging.INFO)


@dataclass(frozen=True)
class Event:
    """One progress fact: ``kind`` is start | advance | finish | note | waiting."""

    stage: str
    kind: str
    done: int = 0
    total: int | None = None
    unit: str = ""
    seconds: float = 0.0  # waiting: how long; finish: how long the stage took
    text: str = ""
    at: float = field(default_factory=time.monotonic)

    def line(self, rate: float | None = None) -> str:
        """The event as one plain line (``rate``: units per second, when known)."""
        if self.kind == "waiting":
            return self.text
        if self.kind == "note":
            return f"{self.stage}: {self.text}"
        if self.kind == "start":
            return f"{self.stage}: started" + (f", {self.total:,} {self.unit}" if self.total is not None else "")
        count = f"{self.done:,}/{self.total:,} {self.unit}" if self.total is not None else f"{self.done:,} {self.unit}"
        if self.kind == "finish":
            return f"{self.stage}: done, {count} in {_duration(self.seconds)}" + (f" ({self.text})" if self.text else "")
        parts = [count + (f" ({self.text})" if self.text else "")]
        if rate:
            parts.append(f"{rate:,.1f} {self.unit}/s")
            if self.total:
                parts.append(f"ETA {_duration(max(0, self.total - self.done) / rate)}")
        return f"{self.stage}: " + ", ".join(parts)


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    return f"{minutes} min {seconds:02d} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


def _emit(event: Event) -> None:
    if _log.handlers:
        _log.info(event.line(), extra={"progress": event})


# ------------------------------------------------------------------ what the stages call
def start(stage: str, total: int | None = None, unit: str = "") -> None:
    _emit(Event(stage, "start", total=total, unit=unit))


def advance(stage: str, done: int, total: int | None = None, unit: str = "", text: str = "") -> None:
    _emit(Event(stage, "advance", done=done, total=total, unit=unit, text=text))


def finish(stage: str, done: int, total: int | None = None, unit: str = "", seconds: float = 0.0, text: str = "") -> None:
    _emit(Event(stage, "finish", done=done, total=total, unit=unit, seconds=seconds, text=text))


def note(stage: str, text: str) -> None:
    _emit(Event(stage, "note", text=text))


def waiting(seconds: float, text: str) -> None:
    _emit(Event("wait", "waiting", seconds=seconds, text=text))


@dataclass(frozen=True)
class RateLimitNotice:
    """A ``HubRateLimiter.on_wait`` callback: ``waiting 41 s: resolvers quota 3,000 / 5 min``."""

    quotas: dict[str, int]
    window_s: float

    def __call__(self, bucket: str, seconds: float) -> None:
        quota = self.quotas.get(bucket)
        window = f"{self.window_s / 60:g} min" if self.window_s >= 60 else f"{self.window_s:g} s"
        what = f"{bucket} quota {quota:,} / {window}" if quota is not None else f"{bucket}: the Hub asked to slow down"
        waiting(seconds, f"waiting {max(1, round(seconds)):,} s: {what}")


# ------------------------------------------------------------------ plain lines (no TTY, Prefect logs)
class PlainProgress(logging.Handler):
    """One line per start, finish, note and wait; advances at most once per stage every ``every_s`` seconds."""

    def __init__(self, write: Callable[[str], Any], every_s: float = PLAIN_EVERY_S) -> None:
        super().__init__(logging.INFO)
        self._write, self._every = write, every_s
        self._last: dict[str, float] = {}
        self._first: dict[str, Event] = {}
        self._lock2 = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        event: Event | None = getattr(record, "progress", None)
        if event is None:
            return
        with self._lock2:
            if event.kind == "start":
                self._first[event.stage] = event
            if event.kind == "advance":
                if event.at - self._last.get(event.stage, float("-inf")) < self._every:
                    return
                self._last[event.stage] = event.at
            line = event.line(self._rate(event))
        try:
            self._write(line)
        except Exception:  # noqa: BLE001 - a closed stream must not fail the run
            self.handleError(record)

    def _rate(self, event: Event) -> float | None:
        first = self._first.get(event.stage)
        if event.kind != "advance" or first is None or event.at <= first.at:
            return None
        return event.done / (event.at - first.at)


def stream_writer(stream: IO[str]) -> Callable[[str], None]:
    def write(line: str) -> None:
        stream.write(line + "\n")
        stream.flush()

    return write


@contextmanager
def listening(handler: logging.Handler) -> Iterator[logging.Handler]:
    """Attach a renderer to the progress logger for the block."""
    _log.addHandler(handler)
    try:
        yield handler
    finally:
        _log.removeHandler(handler)
        handler.close()


@contextmanager
def to_logger(logger: logging.Logger | logging.LoggerAdapter) -> Iterator[None]:
    """Plain progress lines into ``logger`` (a Prefect run logger), unless a renderer already listens."""
    if _log.handlers:
        yield
        return
    with listening(PlainProgress(logger.info)):
        yield
