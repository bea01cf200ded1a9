"""What the replay Hub serves: the ``Snapshot`` protocol and its on-disk implementation.

The server only talks to a ``Snapshot``; a generated snapshot (e.g. a synthetic million-model Hub) can
replace ``DirectorySnapshot`` without touching the server. Repo ids and file paths handed to a snapshot have
already been split into clean segments by the server (``clean_segment``); ``DirectorySnapshot`` checks again
that every path it opens stays inside its root.

Every model of a snapshot is served, whatever the length or characters of its name (the Hub keeps legacy
repos whose names are longer than today's 96-character limit). What a directory snapshot cannot serve (a
body that is not a JSON object with an ``id``, an ``id`` that differs from its file name, files nested too
deep) is found at start-up, logged as a warning and kept in ``DirectorySnapshot.unservable``.
"""

from __future__ import annotations

from hubcensus.errors import HubcensusError

import json
import logging
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable
from urllib.parse import unquote

log = logging.getLogger(__name__)
_REDIRECT_TARGET = re.compile(r"Redirecting to /api/models/([^?\s]+)")


class SnapshotError(HubcensusError, ValueError):
    """The directory is not a replay snapshot, or a snapshot file is malformed."""


@runtime_checkable
class Snapshot(Protocol):
    """A read-only Hub: models in a stable order, their model_info bodies and their files at ``main``."""

    def version(self) -> Hashable:
        """Changes whenever the set of models or any body changes (listing caches key on it)."""

    def ids(self) -> Sequence[str]:
        """Every model id, in the default listing order (sorted by id)."""

    def model_body(self, repo_id: str) -> bytes | None:
        """The stored ``GET /api/models/{repo_id}`` body, byte for byte; None if unknown."""

    def model(self, repo_id: str) -> dict[str, Any] | None:
        """The parsed body (callers must not mutate it); None if unknown."""

    def file(self, repo_id: str, path: str) -> bytes | None:
        """Bytes of ``path`` (``/``-separated, clean segments) in the repo at main; None if absent."""

    def redirect(self, repo_id: str) -> str | None:
        """The canonical id a renamed repo redirects to; None if not renamed."""


def clean_segment(raw: str) -> str | None:
    """One percent-decoded URL path segment, or None if it could escape a directory (``..``, encoded ``/``)."""
    value = unquote(raw)
    return value if is_safe_name(value) else None


def is_safe_name(value: str) -> bool:
    """A single file or directory name that cannot climb out of its parent."""
    return value not in ("", ".", "..") and not any(c in value for c in ("/", "\\", "\x00"))


def is_repo_segment(value: str) -> bool:
    """One part of a repo id (org or name): any safe file name, with no length or charset limit.

    The Hub's own limit (96 characters, ``[A-Za-z0-9._-]``) holds for new repos only: legacy repos break
    it, and the replay Hub must serve every model of its snapshot.
    """
    return is_safe_name(value)


def parse_redirects(raw: bytes) -> dict[str, str]:
    """``api/redirects.json``: a list of recorded 3xx answers, or of ``{"from": old_id, "to": new_id}``."""
    try:
        entries = json.loads(raw)
    except ValueError as exc:
        raise SnapshotError(f"api/redirects.json is not JSON: {exc}") from exc
    if not isinstance(entries, list):
        raise SnapshotError("api/redirects.json must be a JSON list")
    redirects: dict[str, str] = {}
    for entry in entries:
        if "from" in entry and "to" in entry:
            redirects[entry["from"]] = entry["to"]
            continue
        request = str(entry.get("request", ""))
        method, _, target = request.partition(" ")
        old = target.split("?", 1)[0].removeprefix("/api/models/")
        found = _REDIRECT_TARGET.search(str(entry.get("body", "")))
        if method != "GET" or not target.startswith("/api/models/") or found is None:
            raise SnapshotError(f"api/redirects.json: cannot read the redirect {entry!r}")
        redirects[old] = found.group(1)
    return redirects


class DirectorySnapshot:
    """The documented directory format (see ``harvesters.replay``), read lazily.

    Bodies and files are read from disk on each request, so a test may rewrite the directory under a
    running server. ``version()`` re-stats ``api/models/`` (cheap for thousands of models; a million-model
    Hub should be a generated ``Snapshot`` instead). Parsed bodies are kept in a bounded LRU cache keyed by
    (mtime, size).
    """

    def __init__(self, root: str | os.PathLike[str], cache_size: int = 4096) -> None:
        self.root = Path(root).resolve()
        self._models_dir = self.root / "api" / "models"
        if not self._models_dir.is_dir():
            raise SnapshotError(f"not a replay snapshot: {self.root} has no api/models/ directory")
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, tuple[tuple[int, int], dict[str, Any]]] = OrderedDict()
        self._cache_size = cache_size
        self._ids: list[str] = []
        self._version: Hashable = None
        self._redirects: dict[str, str] = {}
        self._redirects_stat: tuple[int, int] | None = None
        self.version()
        self.unservable: dict[str, str] = self._check()
        if self.unservable:
            shown = "; ".join(f"{name}: {why}" for name, why in list(self.unservable.items())[:5])
            log.warning("%s cannot serve %d model file(s): %s", self, len(self.unservable), shown)

    def __repr__(self) -> str:
        return f"DirectorySnapshot({str(self.root)!r})"

    # -- start-up check --------------------------------------------------------------------------
    def _check(self) -> dict[str, str]:
        """Each model file this snapshot cannot serve as a model (path under api/models/ -> reason).

        Reads every body once, at start-up: a directory snapshot is for thousands of models, not millions.
        """
        problems: dict[str, str] = {}
        for path in sorted(self._models_dir.rglob("*")):
            rel = path.relative_to(self._models_dir).as_posix()
            if path.is_dir():
                continue
            if not path.name.endswith(".json"):
                problems[rel] = "not a .json model body: ignored"
            elif rel.count("/") > 1:
                problems[rel] = "nested deeper than api/models/<org>/<name>.json: not listed"
            elif not all(is_repo_segment(part) for part in rel[:-5].split("/")):
                problems[rel] = "a name that cannot be a URL path segment (a backslash or NUL): not listed"
            else:
                reason = self._body_problem(path, rel[:-5])
                if reason:
                    problems[rel] = reason
        return problems

    @staticmethod
    def _body_problem(path: Path, repo_id: str) -> str | None:
        try:
            data = json.loads(path.read_bytes())
        except (OSError, ValueError) as exc:
            return f"not a readable JSON body ({type(exc).__name__}): listing and model_info answer 500"
        if not isinstance(data, dict) or not isinstance(data.get("id"), str):
            return "not a JSON object with a string 'id': listing and model_info answer 500"
        if data["id"] != repo_id:
            return f"its id {data['id']!r} differs from its file name: listed under that id, served under the file name"
        return None

    # -- index ------------------------------------------------------------------------------------
    def _scan(self) -> list[tuple[str, int, int]]:
        entries: list[tuple[str, int, int]] = []
        with os.scandir(self._models_dir) as top:
            for entry in top:
                if entry.is_file() and entry.name.endswith(".json"):
                    stat = entry.stat()
                    entries.append((entry.name[:-5], stat.st_mtime_ns, stat.st_size))
                elif entry.is_dir(follow_symlinks=False):
                    with os.scandir(entry.path) as org:
                        for item in org:
                            if item.is_file() and item.name.endswith(".json"):
                                stat = item.stat()
                                entries.append((f"{entry.name}/{item.name[:-5]}", stat.st_mtime_ns, stat.st_size))
        entries.sort()
        return entries

    def version(self) -> Hashable:
        entries = self._scan()
        redirects_stat = self._stat(self.root / "api" / "redirects.json")
        with self._lock:
            self._ids = [repo_id for repo_id, _, _ in entries]
            self._version = hash((tuple(entries), redirects_stat))
            if redirects_stat != self._redirects_stat:
                path = self.root / "api" / "redirects.json"
                self._redirects = parse_redirects(path.read_bytes()) if redirects_stat else {}
                self._redirects_stat = redirects_stat
            return self._version

    def ids(self) -> Sequence[str]:
        with self._lock:
            return list(self._ids)

    # -- content ----------------------------------------------------------------------------------
    def _inside(self, path: Path) -> Path | None:
        resolved = path.resolve()
        return resolved if resolved.is_relative_to(self.root) else None

    @staticmethod
    def _stat(path: Path) -> tuple[int, int] | None:
        try:
            stat = path.stat()
        except OSError:
            return None
        return (stat.st_mtime_ns, stat.st_size)

    def _body_path(self, repo_id: str) -> Path | None:
        parts = repo_id.split("/")
        if not 1 <= len(parts) <= 2 or not all(is_repo_segment(p) for p in parts):
            return None
        return self._inside(self._models_dir.joinpath(*parts[:-1], parts[-1] + ".json"))

    def model_body(self, repo_id: str) -> bytes | None:
        path = self._body_path(repo_id)
        if path is None or not path.is_file():
            return None
        return path.read_bytes()

    def model(self, repo_id: str) -> dict[str, Any] | None:
        path = self._body_path(repo_id)
        stat = self._stat(path) if path is not None else None
        if path is None or stat is None:
            return None
        with self._lock:
            cached = self._cache.get(repo_id)
            if cached is not None and cached[0] == stat:
                self._cache.move_to_end(repo_id)
                return cached[1]
        try:
            data = json.loads(path.read_bytes())
        except ValueError as exc:
            raise SnapshotError(f"{path}: not a JSON model body: {exc}") from exc
        if not isinstance(data, dict) or "id" not in data:
            raise SnapshotError(f"{path}: a model body must be a JSON object with an 'id'")
        with self._lock:
            self._cache[repo_id] = (stat, data)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return data

    def file(self, repo_id: str, path: str) -> bytes | None:
        repo_parts, file_parts = repo_id.split("/"), path.split("/")
        if not all(is_repo_segment(p) for p in repo_parts) or not all(is_safe_name(p) for p in file_parts):
            return None
        target = self._inside(self.root.joinpath("files", *repo_parts, *file_parts))
        if target is None or not target.is_file():
            return None
        return target.read_bytes()

    def redirect(self, repo_id: str) -> str | None:
        with self._lock:
            return self._redirects.get(repo_id)
