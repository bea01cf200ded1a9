"""The Hub's answers, without HTTP plumbing: a request in, a status, headers and body out.

Routes: ``GET /api/models`` (listing), ``GET /api/models/{repo_id}[/revision/{rev}]`` (model_info),
``GET|HEAD /{repo_id}/resolve/{rev}/{path}`` (files). Errors are Hub-shaped: JSON ``{"error": ...}`` with
``X-Error-Code`` (RepoNotFound, RevisionNotFound, EntryNotFound, GatedRepo) and ``X-Error-Message``,
which is what ``huggingface_hub.utils.hf_raise_for_status`` turns into typed errors.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, parse_qsl, quote, unquote, urlencode

import orjson

from harvesters.replay.listing import BadQuery, ListingIndex, ListingQuery, parse_expand, project
from harvesters.replay.snapshot import Snapshot, clean_segment, is_repo_segment

JSON_TYPE = "application/json; charset=utf-8"
_CONTENT_TYPES = {".json": JSON_TYPE, ".md": "text/plain; charset=utf-8", ".txt": "text/plain; charset=utf-8"}


@dataclass
class Request:
    method: str
    path: str  # raw, still percent-encoded
    query: str  # raw query string
    headers: Mapping[str, str]
    base_url: str  # scheme://host:port the client used, for absolute Link URLs


@dataclass
class Response:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


def json_bytes(payload: Any) -> bytes:
    """Compact UTF-8 JSON, as the Hub sends it. orjson serves a listing page ~10x faster than the stdlib (a
    1000-model page is ~3.6 MB); like the Hub's JSON.stringify it writes NaN as null. Integers beyond 64 bits,
    which it refuses, go through the stdlib."""
    try:
        return orjson.dumps(payload)
    except orjson.JSONEncodeError:
        return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def json_response(status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
    body = json_bytes(payload)
    return Response(status, {"Content-Type": JSON_TYPE, **(headers or {})}, body)


def error_response(status: int, message: str, code: str | None = None, **headers: str) -> Response:
    extra = {"X-Error-Message": message.encode("ascii", "replace").decode()}
    if code:
        extra["X-Error-Code"] = code
    return json_response(status, {"error": message}, {**extra, **headers})


def git_blob_sha1(content: bytes) -> str:
    """The Hub's ETag for a regular (non-LFS) file: the git blob id."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


def _redirect(location: str) -> Response:
    body = f"Temporary Redirect. Redirecting to {location}".encode()
    return Response(307, {"Location": location, "Content-Type": "text/plain; charset=utf-8"}, body)


def _parse_range(header: str, size: int) -> tuple[int, int] | None | str:
    """(start, end inclusive) for one satisfiable byte range; None to ignore; "unsatisfiable" for 416."""
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None  # multi-range or other units: serve the whole file, as servers may
    first, _, last = spec.strip().partition("-")
    try:
        if first == "":
            length = int(last)
            if length <= 0:
                return "unsatisfiable"
            return (max(size - length, 0), size - 1) if size else "unsatisfiable"
        start = int(first)
        end = int(last) if last else size - 1
    except ValueError:
        return None
    if start >= size or end < start:
        return "unsatisfiable"
    return (start, min(end, size - 1))


class HubApp:
    """Hub semantics over a ``Snapshot``."""

    def __init__(self, snapshot: Snapshot, page_size: int = 1000, accept_token: str | None = None) -> None:
        if page_size < 1:
            raise ValueError(f"page_size must be at least 1: got {page_size}")
        self.snapshot = snapshot
        self.page_size = page_size
        self.accept_token = accept_token
        # Hook for a later rate limiter: extra headers (e.g. RateLimit/RateLimit-Policy) per answer kind.
        self.ratelimit_headers: Callable[[str, Request], dict[str, str]] | None = None
        self._index: ListingIndex | None = None
        self._index_lock = threading.Lock()

    # -- dispatch ---------------------------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        if request.method not in ("GET", "HEAD"):
            return error_response(405, f"Method {request.method} not allowed by the replay Hub")
        segments = request.path.split("/")[1:]
        kind, response = "resolve", None
        if segments[:2] == ["api", "models"]:
            kind = "api"
            try:
                response = self._api(request, segments[2:])
            except BadQuery as exc:
                response = error_response(400, str(exc))
        else:
            response = self._resolve(request, segments)
        if self.ratelimit_headers is not None:
            response.headers.update(self.ratelimit_headers(kind, request))
        return response

    def _api(self, request: Request, rest: list[str]) -> Response:
        params = parse_qs(request.query, keep_blank_values=True)
        if rest in ([], [""]):
            return self._listing(request, params)
        if len(rest) in (3, 4) and rest[-2] == "revision":
            repo_raw, revision = rest[:-2], unquote(rest[-1])
        elif len(rest) in (1, 2):
            repo_raw, revision = rest, None
        else:
            return error_response(404, "Sorry, we can't find the page you are looking for.")
        repo_id = self._repo_id(repo_raw)
        body = self.snapshot.model_body(repo_id) if repo_id else None
        if body is None:
            target = self.snapshot.redirect(repo_id) if repo_id else None
            if target is not None:
                suffix = f"/revision/{quote(revision, safe='')}" if revision is not None else ""
                query = f"?{request.query}" if request.query else ""
                return _redirect(f"/api/models/{target}{suffix}{query}")
            return error_response(404, "Repository not found", "RepoNotFound")
        data = self.snapshot.model(repo_id)
        if revision is not None and revision not in ("main", (data or {}).get("sha")):
            return error_response(404, f"Invalid rev id: {revision}", "RevisionNotFound")
        fields = parse_expand(params)
        if not fields:
            return Response(200, {"Content-Type": JSON_TYPE}, body)
        return json_response(200, project(data or {}, fields))

    # -- listing ----------------------------------------------------------------------------------
    def listing_index(self) -> ListingIndex:
        version = self.snapshot.version()
        with self._index_lock:
            if self._index is None or self._index.version != version:
                self._index = ListingIndex(self.snapshot, version)
            return self._index

    def _listing(self, request: Request, params: dict[str, list[str]]) -> Response:
        query = ListingQuery.parse(params, self.page_size)
        items, cursor = self.listing_index().page(query)
        response = json_response(200, items)
        if cursor is not None:
            # every original parameter (expand, limit, filter, ...) in its order, then the new cursor
            pairs = [(k, v) for k, v in parse_qsl(request.query, keep_blank_values=True) if k != "cursor"]
            pairs.append(("cursor", cursor))
            response.headers["Link"] = f'<{request.base_url}/api/models?{urlencode(pairs)}>; rel="next"'
        return response

    # -- files ------------------------------------------------------------------------------------
    def _repo_id(self, raw_segments: list[str]) -> str | None:
        parts = [clean_segment(s) for s in raw_segments]
        if not parts or any(p is None or not is_repo_segment(p) for p in parts):
            return None
        return "/".join(parts)  # type: ignore[arg-type]

    def _resolve(self, request: Request, segments: list[str]) -> Response:
        # /{org}/{name}/resolve/{rev}/{path...} or legacy /{name}/resolve/{rev}/{path...}
        for at in (2, 1):
            if len(segments) > at + 2 and segments[at] == "resolve":
                repo_id = self._repo_id(segments[:at])
                if repo_id is not None and (
                    self.snapshot.model_body(repo_id) is not None or self.snapshot.redirect(repo_id) is not None
                ):
                    break
        else:
            if "resolve" not in segments[1:3]:
                return error_response(404, "Sorry, we can't find the page you are looking for.")
            return error_response(404, "Repository not found", "RepoNotFound")
        revision = unquote(segments[at + 1])
        raw_path = segments[at + 2 :]
        data = self.snapshot.model(repo_id)
        if data is None:
            target = self.snapshot.redirect(repo_id)
            query = f"?{request.query}" if request.query else ""
            return _redirect(f"/{target}/resolve/{'/'.join(segments[at + 1:])}{query}")
        sha = data.get("sha")
        if revision not in ("main", sha):
            return error_response(404, f"Invalid rev id: {revision}", "RevisionNotFound")
        commit = {"X-Repo-Commit": sha} if sha else {}
        denied = self._gate(request, repo_id, data)
        if denied is not None:
            return denied
        names = [clean_segment(s) for s in raw_path]
        content = None
        if all(n is not None for n in names):
            content = self.snapshot.file(repo_id, "/".join(names))  # type: ignore[arg-type]
        if content is None:
            return error_response(404, "Entry not found", "EntryNotFound", **commit)
        return self._file_response(request, names[-1] or "", content, commit)

    def _gate(self, request: Request, repo_id: str, data: dict[str, Any]) -> Response | None:
        if data.get("gated") in (None, False):
            return None
        auth = request.headers.get("Authorization") or ""
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else None
        if token and self.accept_token and hmac.compare_digest(token.encode(), self.accept_token.encode()):
            return None
        if token is None:
            message = (
                f"Access to model {repo_id} is restricted. You must have access to it and be authenticated "
                "to access it. Please log in."
            )
            return error_response(401, message, "GatedRepo")
        message = f"Access to model {repo_id} is restricted and you are not in the authorized list."
        return error_response(403, message, "GatedRepo")

    @staticmethod
    def _file_response(request: Request, name: str, content: bytes, commit: dict[str, str]) -> Response:
        suffix = name[name.rfind(".") :] if "." in name else ""
        headers = {
            **commit,
            "ETag": f'"{git_blob_sha1(content)}"',
            "Content-Type": _CONTENT_TYPES.get(suffix.lower(), "application/octet-stream"),
            "Accept-Ranges": "bytes",
            "Content-Disposition": f"inline; filename*=UTF-8''{quote(name)}; filename=\"{quote(name)}\";",
        }
        range_header = request.headers.get("Range")
        if range_header:
            span = _parse_range(range_header, len(content))
            if span == "unsatisfiable":
                return Response(416, {**headers, "Content-Range": f"bytes */{len(content)}"}, b"")
            if span is not None:
                start, end = span  # type: ignore[misc]
                headers["Content-Range"] = f"bytes {start}-{end}/{len(content)}"
                return Response(206, headers, content[start : end + 1])
        return Response(200, headers, content)
