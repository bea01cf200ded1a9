"""Tenacity policy for the calls huggingface_hub does not retry itself (file downloads).

The listing is not wrapped: huggingface_hub's own paging already retries 408/429/5xx and network
errors honouring Retry-After, and one retry layer per call is enough. A stopped run or a run past its
deadline is never retried, nor is a Retry-After longer than the limiter's cap.
"""

from __future__ import annotations

from typing import Callable, TypeVar

import httpx2
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError
from tenacity import RetryCallState, retry, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from harvesters.ratelimit import HubRateLimiter, RetryAfterTooLong, RunStopped
from harvesters.settings import FETCH_ATTEMPTS, FETCH_MAX_WAIT_S

TRANSIENT_STATUS = frozenset({408, 429, 500, 502, 503, 504})
T = TypeVar("T")


def _chain(exc: BaseException | None):
    while exc is not None:
        yield exc
        exc = exc.__cause__ or exc.__context__


def http_status(exc: BaseException) -> int | None:
    """The HTTP status behind an error, looking through huggingface_hub's wrapping."""
    for err in _chain(exc):
        response = getattr(err, "response", None)
        if isinstance(err, HfHubHTTPError) and response is not None:
            return response.status_code
    return None


def is_transient(exc: BaseException) -> bool:
    """429, 5xx, timeouts and dropped connections are worth another try; a 404, a gate or a stop is not."""
    if isinstance(exc, (RepositoryNotFoundError, RetryAfterTooLong, RunStopped)):  # GatedRepoError included
        return False
    for err in _chain(exc):
        if isinstance(err, (RetryAfterTooLong, RunStopped)):
            return False
        if isinstance(err, (httpx2.TimeoutException, httpx2.NetworkError, httpx2.RemoteProtocolError)):
            return True
        if isinstance(err, HfHubHTTPError) and err.response is not None:
            return err.response.status_code in TRANSIENT_STATUS
    return False


def retry_after_seconds(exc: BaseException) -> float | None:
    """The Hub's Retry-After (seconds) on a 429/503, when it sent one."""
    for err in _chain(exc):
        response = getattr(err, "response", None)
        if isinstance(err, HfHubHTTPError) and response is not None:
            value = response.headers.get("Retry-After")
            try:
                return float(value) if value is not None else None
            except ValueError:
                return None
    return None


_backoff = wait_exponential_jitter(initial=1, max=FETCH_MAX_WAIT_S, jitter=1)


def _wait(state: RetryCallState) -> float:
    exc = state.outcome.exception() if state.outcome else None
    hinted = retry_after_seconds(exc) if exc else None
    return min(hinted, FETCH_MAX_WAIT_S) if hinted is not None else _backoff(state)


def with_retries(fn: Callable[..., T], limiter: HubRateLimiter | None = None, attempts: int = FETCH_ATTEMPTS) -> Callable[..., T]:
    """Wrap ``fn`` so transient Hub failures are retried, bounded, honouring Retry-After.

    With a limiter, a stop (SIGINT/SIGTERM, deadline) ends the wait between attempts at once.
    """
    if limiter is None:
        return retry(retry=retry_if_exception(is_transient), wait=_wait, stop=stop_after_attempt(attempts), reraise=True)(fn)

    def sleep(seconds: float) -> None:
        limiter.wait(seconds)
        limiter.check()

    return retry(retry=retry_if_exception(is_transient), wait=_wait, stop=stop_after_attempt(attempts), reraise=True, sleep=sleep)(fn)
