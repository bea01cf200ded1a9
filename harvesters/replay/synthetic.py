"""A generated Hub of any size: real model bodies re-keyed, computed on demand by index.

``SyntheticSnapshot(n, seed)`` implements the ``Snapshot`` protocol without holding its models: ids are
``synth-org-{org}/{name}-{slot}`` (``name`` the template's name, 100 models per org by default), listed in
sorted order; each body is a real ``api/models/**`` body of a template snapshot (the bundled demo by
default) with a new ``id``/``modelId``/``_id``/``author``/``sha`` and varied ``downloads``, ``likes``,
``createdAt``, ``lastModified`` (only the keys the template has; everything else, cardData, config,
safetensors, siblings, ..., is the template's own). Files are the template's files (config.json, README.md).

Everything is a pure function of (seed, index): two instances with the same arguments serve identical
bytes, and a million-model Hub costs only the per-org id lists it has been asked about (an LRU cache).

    with ReplayHub(SyntheticSnapshot(1_000_000, seed=7)) as hub: ...
"""

from __future__ import annotations

import hashlib
import json
import threading
from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, overload

from harvesters.replay.snapshot import DirectorySnapshot, SnapshotError
from harvesters.settings import DEMO_SNAPSHOT

ORG_PREFIX = "synth-org-"
OLD_REPO_CREATED_AT = "2022-03-02T23:29:04.000Z"  # the Hub's createdAt for every repo older than that date
_EPOCH = datetime(2021, 1, 1, tzinfo=UTC)
_SPAN_S = int((datetime(2025, 9, 1, tzinfo=UTC) - _EPOCH).total_seconds())
_OLD_CUTOFF = datetime(2022, 3, 2, 23, 29, 4, tzinfo=UTC)


def _digest(*parts: object) -> bytes:
    return hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=32).digest()


def _iso(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%S.000Z")


class _Ids(Sequence[str]):
    """The snapshot's ids in listing order, computed per index (no list of a million strings)."""

    def __init__(self, snapshot: SyntheticSnapshot) -> None:
        self._snapshot = snapshot

    def __len__(self) -> int:
        return self._snapshot.n

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> list[str]: ...
    def __getitem__(self, index: int | slice) -> str | list[str]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        n = self._snapshot.n
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError(index)
        return self._snapshot.id_at(index)

    def __iter__(self):  # faster than the Sequence default (one org list per 100 ids)
        snap = self._snapshot
        for org in range(snap.orgs):
            yield from (repo_id for repo_id, _ in snap._org(org))


class SyntheticSnapshot:
    """``n`` models re-keyed from the bodies of ``template_dir`` (a directory snapshot), deterministic in ``seed``."""

    def __init__(
        self,
        n: int,
        seed: int = 0,
        template_dir: str | Path = DEMO_SNAPSHOT,
        per_org: int = 100,
        cache_size: int = 4096,
    ) -> None:
        if n < 0:
            raise ValueError(f"n must be >= 0: got {n}")
        if per_org < 1:
            raise ValueError(f"per_org must be at least 1: got {per_org}")
        self.n, self.seed, self.per_org = n, seed, per_org
        self.orgs = -(-n // per_org)
        self._org_width = max(4, len(str(max(self.orgs - 1, 0))))
        self._slot_width = max(4, len(str(per_org - 1)))
        source = DirectorySnapshot(template_dir)
        self.template_dir = source.root
        self._templates: list[tuple[str, dict[str, Any]]] = []
        self._files: dict[tuple[str, str], bytes] = {}
        for template_id in source.ids():
            body = source.model(template_id)
            if body is None:
                continue
            self._templates.append((template_id, body))
            for name in ("config.json", "README.md"):
                content = source.file(template_id, name)
                if content is not None:
                    self._files[(template_id, name)] = content
        if not self._templates:
            raise SnapshotError(f"{template_dir}: no model bodies to re-key")
        templates_hash = hashlib.blake2b(
            json.dumps([t for t, _ in self._templates]).encode() + b"".join(sorted(k[0].encode() + v for k, v in self._files.items())),
            digest_size=8,
        ).hexdigest()
        self._version = ("synthetic", n, seed, per_org, templates_hash)
        self._lock = threading.Lock()
        self._org_cache: OrderedDict[int, list[tuple[str, int]]] = OrderedDict()
        self._body_cache: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._cache_size = cache_size

    def __repr__(self) -> str:
        return f"SyntheticSnapshot(n={self.n}, seed={self.seed}, templates={len(self._templates)})"

    # -- ids --------------------------------------------------------------------------------------
    def _org_name(self, org: int) -> str:
        return f"{ORG_PREFIX}{org:0{self._org_width}d}"

    def _org(self, org: int) -> list[tuple[str, int]]:
        """The org's (repo id, template index), sorted by id."""
        with self._lock:
            hit = self._org_cache.get(org)
            if hit is not None:
                self._org_cache.move_to_end(org)
                return hit
        size = min(self.per_org, self.n - org * self.per_org)
        owner = self._org_name(org)
        rows = []
        for slot in range(size):
            template = int.from_bytes(_digest(self.seed, "template", org, slot)[:8], "big") % len(self._templates)
            name = self._templates[template][0].rsplit("/", 1)[-1]
            rows.append((f"{owner}/{name}-{slot:0{self._slot_width}d}", template))
        rows.sort()
        with self._lock:
            self._org_cache[org] = rows
            while len(self._org_cache) > 1024:
                self._org_cache.popitem(last=False)
        return rows

    def id_at(self, index: int) -> str:
        return self._org(index // self.per_org)[index % self.per_org][0]

    def _locate(self, repo_id: str) -> tuple[int, int] | None:
        """(global index, template index) of a synthetic id; None if it is not one of ours."""
        owner, sep, _ = repo_id.partition("/")
        digits = owner[len(ORG_PREFIX) :]
        if not sep or not owner.startswith(ORG_PREFIX) or len(digits) != self._org_width or not digits.isdigit():
            return None
        org = int(digits)
        if org >= self.orgs:
            return None
        rows = self._org(org)
        at = bisect_left(rows, (repo_id,))
        if at < len(rows) and rows[at][0] == repo_id:
            return org * self.per_org + at, rows[at][1]
        return None

    # -- the Snapshot protocol ----------------------------------------------------------------------
    def version(self) -> Hashable:
        return self._version

    def ids(self) -> Sequence[str]:
        return _Ids(self)

    def _generate(self, repo_id: str, index: int, template: int) -> dict[str, Any]:
        body = self._templates[template][1]
        d = _digest(self.seed, "body", index)
        created = _EPOCH + timedelta(seconds=int.from_bytes(d[0:4], "big") % _SPAN_S)
        modified = created + timedelta(seconds=int.from_bytes(d[4:8], "big") % (90 * 86400))
        # heavy-tailed popularity: most repos see a handful of downloads, a few see millions
        downloads = int(10 ** ((int.from_bytes(d[8:12], "big") / 2**32) ** 2 * 7.5)) - 1
        likes = int(downloads ** 0.5 * (d[12] / 255)) // 3
        new = {
            "_id": hashlib.md5(d).hexdigest()[:24],
            "id": repo_id,
            "modelId": repo_id,
            "author": repo_id.split("/", 1)[0],
            "sha": hashlib.sha1(d).hexdigest(),
            "createdAt": _iso(created) if created > _OLD_CUTOFF else OLD_REPO_CREATED_AT,
            "lastModified": _iso(max(modified, _OLD_CUTOFF)),
            "downloads": downloads,
            "downloadsAllTime": downloads * (1 + d[13] % 40),
            "likes": likes,
            "trendingScore": d[14] % 20,
        }
        # the template's keys, in its order, re-keyed where we vary them; the rest (cardData, config, ...) as is
        return {key: new.get(key, value) for key, value in body.items()}

    def model(self, repo_id: str) -> dict[str, Any] | None:
        with self._lock:
            hit = self._body_cache.get(repo_id)
            if hit is not None:
                self._body_cache.move_to_end(repo_id)
                return hit
        located = self._locate(repo_id)
        if located is None:
            return None
        data = self._generate(repo_id, *located)
        with self._lock:
            self._body_cache[repo_id] = data
            while len(self._body_cache) > self._cache_size:
                self._body_cache.popitem(last=False)
        return data

    def model_body(self, repo_id: str) -> bytes | None:
        data = self.model(repo_id)
        return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode() if data is not None else None

    def author_span(self, author: str) -> tuple[int, int]:
        """Positions ``[start, stop)`` in ``ids()`` of the models whose ``author`` is ``author`` (any case).

        Every body's author is its org (``synth-org-NNNN``, lowercase) and an org's ids are contiguous: the
        listing streams ``author=`` from here without reading a body it does not serve.
        """
        digits = author.lower().removeprefix(ORG_PREFIX)
        if not author.lower().startswith(ORG_PREFIX) or len(digits) != self._org_width or not digits.isdigit():
            return (0, 0)
        org = int(digits)
        if org >= self.orgs:
            return (0, 0)
        return (org * self.per_org, min(self.n, (org + 1) * self.per_org))

    def template_of(self, repo_id: str) -> str | None:
        """The id of the real body ``repo_id`` was re-keyed from."""
        located = self._locate(repo_id)
        return self._templates[located[1]][0] if located is not None else None

    def file(self, repo_id: str, path: str) -> bytes | None:
        template_id = self.template_of(repo_id)
        return self._files.get((template_id, path)) if template_id is not None else None

    def redirect(self, repo_id: str) -> str | None:
        return None
