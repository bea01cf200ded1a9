"""A client-side rate limiter for the Hub's published quotas, shared by every request of the process.

The Hub counts requests per 5-minute fixed window, separately for the API and for file resolvers
(anonymous: 500 API / 3,000 resolver calls; a free token: 1,000 / 5,000; PRO: 2,500 / 12,000).
It is installed through huggingface_hub's own ``set_client_factory`` hook, so listing pages,
model_info and ``hf_hub_download`` all pass through it. When the Hub answers 429 (or says in its
``RateLimit`` header that nothing remains), every thread pauses together until the window resets.
"""

from __future__ import annotations

import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field

import httpx2
from huggingface_hub import set_client_factory
from huggingface_hub.utils._http import hf_request_event_hook

WINDOW_S = 300.0
QUOTAS = {
    "anonymous": {"api": 500, "resolvers": 3000},
    "free": {"api": 1000, "resolvers": 5000},
    "pro": {"api": 2500, "resolvers": 12000},
}
_RATELIMIT = re.compile(r'"?(?P<bucket>[\w-]+)"?\s*;\s*r=(?P<remaining>\d+)\s*;\s*t=(?P<reset>\d+)')


def tier_quotas(tier: str = "anonymous", **overrides: int | None) -> dict[str, int]:
    """The published quotas of a tier, with any given override (None or 0: keep the tier's)."""
    quotas = dict(QUOTAS[tier])
    quotas.update({bucket: value for bucket, value in overrides.items() if value})
    return quotas


def bucket_of(path: str) -> str:
    """Which quota a request counts against: file resolvers or the API."""
    return "resolvers" if "/resolve/" in path else "api"


@dataclass
class HubRateLimiter:
    """Sliding-window limiter per bucket, plus a shared pause set by 429s and RateLimit headers."""

    quotas: dict[str, int] = field(default_factory=lambda: dict(QUOTAS["anonymous"]))
    window_s: float = WINDOW_S
    clock: callable = time.monotonic
    sleep: callable = time.sleep

    def __post_init__(self) -> None:
        self._sent: dict[str, deque[float]] = {bucket: deque() for bucket in self.quotas}
        self._pause_until = 0.0
        self._lock = threading.Lock()
        self.waited_s = 0.0
        self.throttled = 0


    def acquire(self, bucket: str) -> None:
        """Block until one more request of ``bucket`` fits its window and no shared pause is on."""
        quota = self.quotas.get(bucket)
        while True:
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
            self.waited_s += wait
            self.sleep(min(wait, 5.0))

    def pause(self, seconds: float) -> None:
        """Every thread waits ``seconds`` from now (the longest pause asked for wins)."""
        with self._lock:
            self._pause_until = max(self._pause_until, self.clock() + max(0.0, seconds))

    def observe(self, status: int, headers: httpx2.Headers) -> None:
        """Learn from a response: 429 → back off together; RateLimit r=0 → wait for the reset."""
        reset = None
        match = _RATELIMIT.search(headers.get("RateLimit", ""))
        if match:
            reset = float(match["reset"])
            if int(match["remaining"]) == 0:
                self.pause(reset)
        if status == 429:
            self.throttled += 1
            retry_after = headers.get("Retry-After")
            try:
                delay = float(retry_after) if retry_after is not None else reset
            except ValueError:
                delay = reset
            self.pause(delay if delay is not None else 1.0)

    # ---- httpx event hooks
    def on_request(self, request: httpx2.Request) -> None:
        self.acquire(bucket_of(request.url.path))

    def on_response(self, response: httpx2.Response) -> None:
        self.observe(response.status_code, response.headers)


_installed: HubRateLimiter | None = None  # the process-wide one: huggingface_hub shares one HTTP client


def shared_limiter(quotas: dict[str, int]) -> HubRateLimiter:
    """The installed limiter when its quotas match, else a new one installed in its place.

    Re-installing closes huggingface_hub's shared client, so threads of one process must share one.
    """
    if _installed is None or _installed.quotas != quotas:
        install(HubRateLimiter(quotas=dict(quotas)))
    assert _installed is not None
    return _installed


def install(limiter: HubRateLimiter | None) -> None:
    """Make huggingface_hub's shared HTTP client go through ``limiter`` (None: the library default)."""
    global _installed
    _installed = limiter
    if limiter is None:
        from huggingface_hub.utils._http import default_client_factory

        set_client_factory(default_client_factory)
        return

    def factory() -> httpx2.Client:
        return httpx2.Client(
            event_hooks={"request": [hf_request_event_hook, limiter.on_request], "response": [limiter.on_response]},
            follow_redirects=True,
            timeout=None,
        )

    set_client_factory(factory)
