"""A client-side rate limiter for the Hub's published quotas, plus the run's stop and deadline.

The Hub counts requests per 5-minute fixed window, separately for the API and for file resolvers
(anonymous: 500 API / 3,000 resolver calls; a free token: 1,000 / 5,000; PRO: 2,500 / 12,000). A
``HubRateLimiter`` belongs to one ``HubClient``, which routes huggingface_hub's HTTP client through it
(``set_client_factory``, the library's public hook), so listing pages, ``model_info`` and file downloads all
pass through it. On a 429 (or a ``RateLimit`` header saying nothing remains) every thread pauses together,
for at most ``max_retry_after_s``: a longer Retry-After fails that request with ``RetryAfterTooLong``.
Waiting threads wake at once when the run is stopped (SIGINT/SIGTERM) or its deadline passes.
"""

from __future__ import annotations

import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable

import httpx2

from hubcensus.errors import HubcensusError

WINDOW_S = 300.0
QUOTAS = {
    "anonymous": {"api": 500, "resolvers": 3000},
    "free": {"api": 1000, "resolvers": 5000},
    "pro": {"api": 2500, "resolvers": 12000},
}
MAX_RETRY_AFTER_S = 300.0
_RATELIMIT = re.compile(r'"?(?P<bucket>[\w-]+)"?\s*;\s*r=(?P<remaining>\d+)\s*;\s*t=(?P<reset>\d+)')
_POLL_S = 1.0  # how often a long wait looks at the clock again (a stop wakes it at once)


class RunStopped(HubcensusError):
    """The run was asked to stop (SIGINT/SIGTERM): no new request is sent."""


class RunDeadlineExceeded(RunStopped):
    """The run went past its deadline ([hub] max_run_hours)."""


class RetryAfterTooLong(HubcensusError):
    """The Hub asked us to wait longer than [hub] max_retry_after_s: that request fails, the run goes on."""


def tier_quotas(tier: str = "anonymous", **overrides: int | None) -> dict[str, int]:
    """The published quotas of a tier, with any given override (None or 0: keep the tier's)."""
    quotas = dict(QUOTAS[tier])
    quotas.update({bucket: value for bucket, value in overrides.items() if value})
    return quotas


def bucket_of(path: str) -> str:
    """Which quota a request counts against: file resolvers or the API."""
    return "resolvers" if "/resolve/" in path else "api"


def retry_after_header(headers: httpx2.Headers) -> float | None:
    value = headers.get("Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


@dataclass
class HubRateLimiter:
    """Sliding-window limiter per bucket, a shared pause set by 429s, a stop switch and a deadline."""

    quotas: dict[str, int] = field(default_factory=lambda: dict(QUOTAS["anonymous"]))
    window_s: float = WINDOW_S
    max_retry_after_s: float = MAX_RETRY_AFTER_S
    deadline: float | None = None  # time.time() after which no request starts
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], Any] | None = None  # tests pass a fake; default: wait on the stop event
    on_wait: Callable[[str, float], None] | None = None  # told when a wait starts (progress display)

    def __post_init__(self) -> None:
        self._sent: dict[str, deque[float]] = {bucket: deque() for bucket in self.quotas}
        self._pause_until = 0.0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.waited_s = 0.0
        self.throttled = 0

    def __getstate__(self) -> dict[str, Any]:
        """What crosses to another process (a Dask worker): the settings, not the window's state."""
        keep = ("quotas", "window_s", "max_retry_after_s", "deadline")
        return {name: getattr(self, name) for name in keep}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(**state)  # type: ignore[misc]

    # ---- stop and deadline
    def stop(self) -> None:
        """Wake every waiting thread and refuse new requests."""
        self._stop.set()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def check(self) -> None:
        """Raise if no new request may start (stopped, or past the deadline)."""
        if self._stop.is_set():
            raise RunStopped("the run was stopped")
        if self.deadline is not None and time.time() >= self.deadline:
            raise RunDeadlineExceeded("the run passed its deadline ([hub] max_run_hours)")

    def wait(self, seconds: float) -> None:
        """Sleep up to ``seconds``; a stop wakes it at once."""
        if self.sleep is not None:
            self.sleep(seconds)
        else:
            self._stop.wait(seconds)

    # ---- the window
    def acquire(self, bucket: str) -> None:
        """Block until one more request of ``bucket`` fits its window and no shared pause is on."""
        quota = self.quotas.get(bucket)
        announced = False
        while True:
            self.check()
            with self._lock:
                now = self.clock()
                sent = self._sent.setdefault(bucket, deque())
                while sent and sent[0] <= now - self.window_s:
                    sent.popleft()
                wait = self._pause_until - now
                if quota is not None and len(sent) >= quota:
                    wait = max(wait, sent[0] + self.window_s - now)
                if wait <= 0:
                    sent.append(now)
                    return
            if not announced and self.on_wait is not None:
                self.on_wait(bucket, wait)
                announced = True
            self.waited_s += min(wait, _POLL_S)
            self.wait(min(wait, _POLL_S))

    def pause(self, seconds: float) -> None:
        """Every thread waits ``seconds`` from now (the longest pause asked for wins; capped)."""
        seconds = min(max(0.0, seconds), self.max_retry_after_s)
        with self._lock:
            self._pause_until = max(self._pause_until, self.clock() + seconds)

    def observe(self, status: int, headers: httpx2.Headers) -> None:
        """Learn from a response: 429 → back off together; RateLimit r=0 → wait for the reset.

        A Retry-After beyond ``max_retry_after_s`` raises ``RetryAfterTooLong`` for this request.
        """
        reset = None
        match = _RATELIMIT.search(headers.get("RateLimit", ""))
        if match:
            reset = float(match["reset"])
            if int(match["remaining"]) == 0:
                self.pause(reset)
        if status in (429, 503):
            retry_after = retry_after_header(headers)
            if status == 429:
                self.throttled += 1
                self.pause(retry_after if retry_after is not None else reset if reset is not None else 1.0)
            if retry_after is not None and retry_after > self.max_retry_after_s:
                raise RetryAfterTooLong(
                    f"the Hub asked to retry after {retry_after:,.0f} s, more than max_retry_after_s = {self.max_retry_after_s:,.0f} s"
                )

    # ---- httpx event hooks
    def on_request(self, request: httpx2.Request) -> None:
        self.acquire(bucket_of(request.url.path))

    def on_response(self, response: httpx2.Response) -> None:
        self.observe(response.status_code, response.headers)
