"""The Hub client: paged listing with expand, and repository files, through huggingface_hub.

The listing goes through huggingface_hub's own HTTP layer (``http_backoff``: retries 408/429/5xx and
network errors, honouring Retry-After) so that each page can be landed raw as the Hub sent it; files are
one GET of their ``resolve`` URL through the library's session (its typed errors via ``hf_raise_for_status``),
wrapped once by tenacity (the library does not retry downloads). A client owns its rate limiter: ``activate``
routes huggingface_hub's shared HTTP client through it, using the library's public ``set_client_factory``
hook. Threads of one process share one client (one quota); a copy sent to another process (a Dask worker)
carries the limiter's settings, not its window. Legacy repo ids that the client's validator refuses (longer
than 96 characters, say) take the same paths: the Hub still serves them.
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator
from urllib.parse import quote

import httpx2
import orjson
from huggingface_hub import HfApi, get_session, set_client_factory
from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError
from huggingface_hub.utils import HFValidationError, build_hf_headers, hf_raise_for_status, http_backoff, validate_repo_id

from harvesters.landing import ParsedPage, cyclic_gc_paused
from harvesters.ratelimit import HubRateLimiter
from harvesters.retrying import with_retries
from harvesters.settings import LISTING_EXPAND, LISTING_PAGE_SIZE, default_endpoint
from hubcensus.errors import HubcensusError

TIMEOUT = httpx2.Timeout(60.0, connect=15.0)  # a silent server fails the request, never hangs the run


class HubUnreachable(HubcensusError):
    """The endpoint did not answer at all (refused, DNS, timeout): nothing to harvest."""


@dataclass(frozen=True)
class ListingQuery:
    """Which models the listing sweeps; the Hub's own query parameters."""

    search: str | None = None
    author: str | None = None
    filters: tuple[str, ...] = ()
    sort: str | None = None
    direction: int | None = None
    expand: tuple[str, ...] = LISTING_EXPAND
    page_size: int = LISTING_PAGE_SIZE

    def params(self) -> dict[str, object]:
        params: dict[str, object] = {"limit": self.page_size}
        if self.search:
            params["search"] = self.search
        if self.author:
            params["author"] = self.author
        if self.filters:
            params["filter"] = list(self.filters)
        if self.sort:
            params["sort"] = self.sort
        if self.direction is not None:
            params["direction"] = self.direction
        if self.expand:
            params["expand"] = list(self.expand)
        return params

    @property
    def scope_key(self) -> str:
        """Names the listing's scope: watermarks and deletions compare runs of the same scope only."""
        parts = [f"search={self.search or ''}", f"author={self.author or ''}", f"filter={','.join(sorted(self.filters))}"]
        return "listing:" + ";".join(parts)


def _library_request_hooks() -> list[Callable[[httpx2.Request], Any]]:
    """huggingface_hub's own request hooks (offline mode, request ids), read off its public session."""
    hooks = get_session().event_hooks.get("request", [])
    return [hook for hook in hooks if getattr(hook, "__module__", "").startswith("huggingface_hub")]


@dataclass
class HubClient:
    """One endpoint (the real Hub or a replay), one optional token (never logged), one rate limiter."""

    endpoint: str = field(default_factory=default_endpoint)
    token: str | bool | None = None
    limiter: HubRateLimiter | None = None

    def __post_init__(self) -> None:
        self.endpoint = self.endpoint.rstrip("/")
        self._download = with_retries(self._get_resolved, self.limiter)
        self._model_id = with_retries(self._answered_id, self.limiter)
        self._lock = threading.Lock()

    def __repr__(self) -> str:  # keep tokens out of logs and tracebacks
        return f"HubClient(endpoint={self.endpoint!r}, token={'***' if self.token else None})"

    def __getstate__(self) -> dict[str, Any]:
        return {"endpoint": self.endpoint, "token": self.token, "limiter": self.limiter}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(**state)  # type: ignore[misc]

    # ---- the HTTP client huggingface_hub uses
    def _on_request(self, request: httpx2.Request) -> None:
        if self.limiter is not None:
            self.limiter.on_request(request)

    def _on_response(self, response: httpx2.Response) -> None:
        if self.limiter is not None:
            self.limiter.on_response(response)

    def _client_factory(self, library_hooks: list) -> Callable[[], httpx2.Client]:
        def factory() -> httpx2.Client:
            return httpx2.Client(
                event_hooks={"request": [*library_hooks, self._on_request], "response": [self._on_response]},
                follow_redirects=True,
                timeout=TIMEOUT,
            )

        return factory

    def activate(self) -> None:
        """Route huggingface_hub's shared HTTP client through this client's limiter (once per process)."""
        with self._lock:
            if self._on_request not in get_session().event_hooks.get("request", []):
                # the library's hooks are read before the swap closes the session they hang on
                set_client_factory(self._client_factory(_library_request_hooks()))

    def stop(self) -> None:
        """Wake every thread waiting on this client and refuse new requests (SIGINT, SIGTERM, deadline)."""
        if self.limiter is not None:
            self.limiter.stop()

    def check(self) -> None:
        if self.limiter is not None:
            self.limiter.check()

    # ---- the Hub
    def _headers(self) -> dict[str, str]:
        return build_hf_headers(token=self.token, library_name="hubcensus")

    def check_reachable(self) -> None:
        """Fail fast, in one sentence, when nothing answers at the endpoint."""
        url = f"{self.endpoint}/api/models"
        try:
            httpx2.get(url, params={"limit": 1}, headers=self._headers(), timeout=10)
        except (httpx2.TransportError, httpx2.InvalidURL) as exc:
            raise HubUnreachable(f"cannot reach the Hub at {self.endpoint}: {type(exc).__name__}: {exc}") from exc

    def iter_listing_pages(self, query: ListingQuery = ListingQuery()) -> Iterator[ParsedPage]:
        """Yield the listing page by page, each model as one compact JSON line; nothing is held longer.

        The next page is requested while this one is parsed and landed (one page ahead, one thread): the
        Hub's time and ours overlap instead of adding up. Each page's ``next`` link carries the cursor.
        """
        self.activate()
        headers = self._headers()

        def get(url: str, params: dict[str, object] | None) -> httpx2.Response:
            response = http_backoff("GET", url, params=params, headers=headers, timeout=60)
            hf_raise_for_status(response)
            return response

        ahead = ThreadPoolExecutor(1, thread_name_prefix="listing-ahead")
        try:
            pending: Future[httpx2.Response] | None = ahead.submit(get, f"{self.endpoint}/api/models", query.params())
            while pending is not None:
                response = pending.result()
                # the next link already carries every query parameter (expand, limit, cursor)
                next_url = response.links.get("next", {}).get("url")
                pending = ahead.submit(get, next_url, None) if next_url else None
                yield page_lines(response.content)
        finally:
            ahead.shutdown(wait=False, cancel_futures=True)

    def download(self, repo_id: str, path: str, revision: str | None = None) -> bytes:
        """A repository file's bytes at ``revision``: one GET of its ``resolve`` URL through huggingface_hub's
        session, typed errors from ``hf_raise_for_status``, retried by tenacity.

        Not ``hf_hub_download``: it is made to cache weights (a HEAD, a file lock, a blob cache, symlinks); for a
        config.json read once and landed raw, that cache was built and removed per file: half the files stage's
        CPU at 1M models (py-spy), and twice the requests."""
        self.activate()
        return self._download(repo_id, path, revision)

    def canonical_id(self, repo_id: str) -> str | None:
        """The id the Hub answers ``model_info`` of ``repo_id`` with (a renamed repo's 307 is followed);
        None when the Hub does not know it. Other errors (after retries) pass through."""
        self.activate()
        try:
            return self._model_id(repo_id)
        except GatedRepoError:  # before RepositoryNotFoundError: a subclass. Gated: it exists under this id
            return repo_id
        except RepositoryNotFoundError:
            return None

    def _answered_id(self, repo_id: str) -> str:
        if client_accepts(repo_id):
            return HfApi(endpoint=self.endpoint, token=self.token, library_name="hubcensus").model_info(repo_id).id
        response = get_session().get(f"{self.endpoint}/api/models/{quote(repo_id, safe='/')}", headers=self._headers(), timeout=60)
        hf_raise_for_status(response)
        return response.json()["id"]

    def _get_resolved(self, repo_id: str, path: str, revision: str | None = None) -> bytes:
        """GET ``/{repo_id}/resolve/{revision}/{path}`` through huggingface_hub's session (legacy ids included)."""
        url = f"{self.endpoint}/{quote(repo_id, safe='/')}/resolve/{quote(revision or 'main', safe='')}/{quote(path)}"
        response = get_session().get(url, headers=self._headers(), timeout=60)
        hf_raise_for_status(response)
        return response.content


def page_lines(body: bytes) -> ParsedPage:
    """A listing page (a JSON array) as one compact JSON line per model, carrying the parsed models (the
    landing indexes them without parsing again).

    orjson is the listing's hot path (~8x the stdlib per page); what it refuses (NaN, integers beyond 64 bits,
    both valid to Python's json) goes through the stdlib, so no page is lost to the faster parser.
    """
    with cyclic_gc_paused():
        try:
            models = orjson.loads(body)
            return ParsedPage([orjson.dumps(item) for item in models], models)
        except (orjson.JSONDecodeError, orjson.JSONEncodeError):
            models = json.loads(body)
            return ParsedPage([json.dumps(item, ensure_ascii=False, separators=(",", ":")).encode() for item in models], models)


def client_accepts(repo_id: str) -> bool:
    """True when huggingface_hub's repo-id validator lets ``model_info`` ask for this repo."""
    try:
        validate_repo_id(repo_id)
    except HFValidationError:
        return False
    return True
