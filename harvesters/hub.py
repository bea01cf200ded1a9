"""The Hub client wrapper: paged listing with expand, and repository files, through huggingface_hub.

The listing goes through huggingface_hub's own HTTP layer (``http_backoff``: retries 408/429/5xx and
network errors, honouring Retry-After) so that each page can be landed raw as the Hub sent it;
files go through ``hf_hub_download`` wrapped once by tenacity (it does not retry by itself). A legacy repo id
that the client's validator refuses (longer than 96 characters, say) is fetched through the client's own
HTTP session at the same ``resolve`` URL, with the same typed errors: the Hub still serves those repos.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator
from urllib.parse import quote

import httpx2
from huggingface_hub import HfApi, hf_hub_download
from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError
from huggingface_hub.utils import HFValidationError, build_hf_headers, get_session, hf_raise_for_status, http_backoff, validate_repo_id

from harvesters.retrying import with_retries
from harvesters.settings import LISTING_EXPAND, LISTING_PAGE_SIZE, default_endpoint


class HubUnreachable(RuntimeError):
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


@dataclass
class HubClient:
    """One endpoint (the real Hub or a replay), one optional token (never logged)."""

    endpoint: str = field(default_factory=default_endpoint)
    token: str | bool | None = None
    cache_dir: Path | None = None

    def __post_init__(self) -> None:
        self.endpoint = self.endpoint.rstrip("/")
        self._download = with_retries(hf_hub_download)
        self._download_legacy = with_retries(self._get_resolved)
        self._model_id = with_retries(self._answered_id)

    def __repr__(self) -> str:  # keep tokens out of logs and tracebacks
        return f"HubClient(endpoint={self.endpoint!r}, token={'***' if self.token else None})"

    def _headers(self) -> dict[str, str]:
        return build_hf_headers(token=self.token, library_name="hubcensus")

    def check_reachable(self) -> None:
        """Fail fast, in one sentence, when nothing answers at the endpoint."""
        url = f"{self.endpoint}/api/models"
        try:
            httpx2.get(url, params={"limit": 1}, headers=self._headers(), timeout=10)
        except (httpx2.TransportError, httpx2.InvalidURL) as exc:
            raise HubUnreachable(f"cannot reach the Hub at {self.endpoint}: {type(exc).__name__}: {exc}") from exc

    def iter_listing_pages(self, query: ListingQuery = ListingQuery()) -> Iterator[list[bytes]]:
        """Yield the listing page by page, each model as one compact JSON line; nothing is held longer."""
        url: str | None = f"{self.endpoint}/api/models"
        params: dict[str, object] | None = query.params()
        headers = self._headers()
        while url is not None:
            response = http_backoff("GET", url, params=params, headers=headers, timeout=60)
            hf_raise_for_status(response)
            yield [
                json.dumps(item, ensure_ascii=False, separators=(",", ":")).encode()
                for item in response.json()
            ]
            # the next link already carries every query parameter (expand, limit, cursor)
            url, params = response.links.get("next", {}).get("url"), None

    def download(self, repo_id: str, path: str, revision: str | None = None) -> bytes:
        """A repository file's bytes at ``revision``; typed huggingface_hub errors pass through."""
        if not client_accepts(repo_id):
            return self._download_legacy(repo_id, path, revision)
        with tempfile.TemporaryDirectory(dir=self.cache_dir) as cache:
            local = self._download(
                repo_id,
                path,
                revision=revision,
                cache_dir=cache,
                endpoint=self.endpoint,
                token=self.token,
                library_name="hubcensus",
            )
            return Path(local).read_bytes()


    def canonical_id(self, repo_id: str) -> str | None:
        """The id the Hub answers ``model_info`` of ``repo_id`` with (a renamed repo's 307 is followed);
        None when the Hub does not know it. Other errors (after retries) pass through."""
        try:
            return self._model_id(repo_id)
        except GatedRepoError:  # before RepositoryNotFoundError: a subclass. Gated: it exists under this id
            return repo_id
        except RepositoryNotFoundError:
            return None

    def _answered_id(self, repo_id: str) -> str:
        if client_accepts(repo_id):
            return HfApi(endpoint=self.endpoint, token=self.token, library_name="hubcensus").model_info(repo_id).id
        url = f"{self.endpoint}/api/models/{quote(repo_id, safe='/')}"
        response = get_session().get(url, headers=self._headers(), follow_redirects=True, timeout=60)
        hf_raise_for_status(response)
        return response.json()["id"]

    def _get_resolved(self, repo_id: str, path: str, revision: str | None = None) -> bytes:
        """GET ``/{repo_id}/resolve/{revision}/{path}`` through huggingface_hub's session (for ids it refuses)."""
        url = f"{self.endpoint}/{quote(repo_id, safe='/')}/resolve/{quote(revision or 'main', safe='')}/{quote(path)}"
        response = get_session().get(url, headers=self._headers(), follow_redirects=True, timeout=60)
        hf_raise_for_status(response)
        return response.content


def client_accepts(repo_id: str) -> bool:
    """True when huggingface_hub's repo-id validator lets ``hf_hub_download`` ask for this repo."""
    try:
        validate_repo_id(repo_id)
    except HFValidationError:
        return False
    return True
