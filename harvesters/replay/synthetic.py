"""A generated Hub of any size: real model bodies re-keyed, computed on demand by index.

``SyntheticSnapshot(n, seed)`` implements the ``Snapshot`` protocol without holding its models: ids are
``synth-org-{org}/{name}-{slot}`` (``name`` the template's name, 100 models per org by default), listed in
sorted order; each body is a real ``api/models/**`` body of a template snapshot (the bundled demo by
default) with a new ``id``/``modelId``/``_id``/``author``/``sha`` and varied ``downloads``, ``likes``,
``createdAt``, ``lastModified`` (only the keys the template has; everything else, cardData, config,
safetensors, siblings, ..., is the template's own). Files are the template's files (config.json, README.md).

Everything is a pure function of (seed, day, index): two instances with the same arguments serve identical
bytes, and a million-model Hub costs only the per-org id lists it has been asked about (an LRU cache).

**A Hub that changes from night to night.** ``SyntheticSnapshot(n, seed, day=D)`` is the same Hub as of day D
(day 0 is the Hub above). Each day, independently per model and deterministic in (seed, model, day):

- ``CHANGE_RATE`` (1%) of the models get a new ``sha`` and ``lastModified`` (a commit that day);
- ``NEW_RATE`` (0.3% of N, at least one) new models appear, spread round-robin over the orgs
  (``{org}/{name}-n{k}``, ``createdAt`` = ``lastModified`` = that day);
- ``DELETE_RATE`` (0.05%) of the models are deleted: their id stays in ``ids()`` (positions stay computable
  without reading every model) but ``model()`` answers None, so the listing skips them and model_info is 404;
- ``downloads`` (a 30-day count) moves by a factor in [0.8, 1.2), ``downloadsAllTime`` grows by a thirtieth of
  it a day, ``likes`` grow by ``likes // 100`` a day (plus one for a twentieth of the models).

Change and deletion days are drawn as geometric gaps (``_geometric``), so the body of any model on any day
costs a handful of hashes, however large D. ``tests/test_replay_synthetic.py`` checks the rates.

    with ReplayHub(SyntheticSnapshot(1_000_000, seed=7, day=2)) as hub: ...
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
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
DAY0 = datetime(2025, 12, 1, tzinfo=UTC)  # day 0 of the drifting Hub: after every day-0 lastModified
CHANGE_RATE = 0.01  # per model per day: a new sha and lastModified
NEW_RATE = 0.003  # new models per day, as a share of N
DELETE_RATE = 0.0005  # per model per day: deleted


def _digest(*parts: object) -> bytes:
    return hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=32).digest()


def _iso(ts: datetime) -> str:
    """The Hub's timestamp form (``ts`` is UTC); isoformat is C (strftime was a sixth of a body's generation)."""
    return ts.isoformat(timespec="seconds")[:19] + ".000Z"


def _unit(*parts: object) -> float:
    """A uniform draw in (0, 1], a pure function of ``parts``."""
    return (int.from_bytes(_digest(*parts)[:8], "big") + 1) / 2**64


def _geometric(rate: float, *parts: object) -> int:
    """Days until an event that happens with probability ``rate`` each day (1, 2, ...)."""
    return 1 + int(math.log(_unit(*parts)) / math.log1p(-rate))


@dataclass(frozen=True)
class _Member:
    """One model of an org: its id, template, stable key (day-0 listing position, or N + k for new model k), birth day."""

    repo_id: str
    template: int
    key: int
    born: int = 0


class _Ids(Sequence[str]):
    """The snapshot's ids in listing order, computed per index (no list of a million strings)."""

    def __init__(self, snapshot: SyntheticSnapshot) -> None:
        self._snapshot = snapshot

    def __len__(self) -> int:
        return len(self._snapshot)

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> list[str]: ...
    def __getitem__(self, index: int | slice) -> str | list[str]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        n = len(self._snapshot)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError(index)
        return self._snapshot.id_at(index)

    def __iter__(self):  # faster than the Sequence default (one org list per 100 ids)
        snap = self._snapshot
        for org in range(snap.orgs):
            yield from (member.repo_id for member in snap._org(org))


class SyntheticSnapshot:
    """``n`` models re-keyed from the bodies of ``template_dir`` (a directory snapshot), deterministic in
    ``seed``, as of ``day`` (see the module docstring)."""

    def __init__(
        self,
        n: int,
        seed: int = 0,
        template_dir: str | Path = DEMO_SNAPSHOT,
        per_org: int = 100,
        cache_size: int = 4096,
        day: int = 0,
    ) -> None:
        if n < 0:
            raise ValueError(f"n must be >= 0: got {n}")
        if per_org < 1:
            raise ValueError(f"per_org must be at least 1: got {per_org}")
        if day < 0:
            raise ValueError(f"day must be >= 0: got {day}")
        self.n, self.seed, self.per_org, self.day = n, seed, per_org, day
        self.orgs = -(-n // per_org)
        self.new_per_day = max(1, round(n * NEW_RATE)) if n else 0
        self.added = self.new_per_day * day  # new models born on days 1..day
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
        self._version = ("synthetic", n, seed, per_org, day, templates_hash)
        self._lock = threading.Lock()
        self._org_cache: OrderedDict[int, tuple[list[_Member], list[str]]] = OrderedDict()  # members, their ids
        self._body_cache: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._cache_size = cache_size
        self._last_org = (0, 0, 0)  # (start, stop, org) of the org id_at read last; one tuple, swapped whole

    def __repr__(self) -> str:
        return f"SyntheticSnapshot(n={self.n}, seed={self.seed}, day={self.day}, templates={len(self._templates)})"

    # -- ids --------------------------------------------------------------------------------------
    def _org_name(self, org: int) -> str:
        return f"{ORG_PREFIX}{org:0{self._org_width}d}"

    def _template(self, *parts: object) -> int:
        return int.from_bytes(_digest(self.seed, "template", *parts)[:8], "big") % len(self._templates)

    def _new_in_org(self, org: int) -> range:
        """The new models (k) that org ``org`` has by this day: round-robin over the orgs."""
        return range(org, self.added, self.orgs) if self.orgs else range(0)

    def _build_org(self, org: int) -> list[_Member]:
        owner = self._org_name(org)
        originals = []
        for slot in range(min(self.per_org, self.n - org * self.per_org)):
            template = self._template(org, slot)
            name = self._templates[template][0].rsplit("/", 1)[-1]
            originals.append((f"{owner}/{name}-{slot:0{self._slot_width}d}", template))
        originals.sort()
        rows = [_Member(repo_id, template, org * self.per_org + at) for at, (repo_id, template) in enumerate(originals)]
        for k in self._new_in_org(org):
            template = self._template("new", k)
            name = self._templates[template][0].rsplit("/", 1)[-1]
            rows.append(_Member(f"{owner}/{name}-n{k:07d}", template, self.n + k, 1 + k // self.new_per_day))
        return sorted(rows, key=lambda m: m.repo_id)

    def _org(self, org: int) -> list[_Member]:
        """The org's members (every model it ever had up to this day, deleted ones too), sorted by id."""
        return self._org_entry(org)[0]

    def _org_entry(self, org: int) -> tuple[list[_Member], list[str]]:
        with self._lock:
            hit = self._org_cache.get(org)
            if hit is not None:
                self._org_cache.move_to_end(org)
                return hit
        rows = self._build_org(org)
        entry = (rows, [m.repo_id for m in rows])
        with self._lock:
            self._org_cache[org] = entry
            while len(self._org_cache) > 1024:
                self._org_cache.popitem(last=False)
        return entry

    def _start(self, org: int) -> int:
        """Position in ``ids()`` of the org's first member."""
        q, r = divmod(self.added, self.orgs) if self.orgs else (0, 0)
        return min(self.n, org * self.per_org) + org * q + min(org, r)

    def __len__(self) -> int:
        return self.n + self.added

    def id_at(self, index: int) -> str:
        start, stop, org = self._last_org
        if not start <= index < stop:  # a listing page walks consecutive ids: usually the org asked last
            low, high = 0, self.orgs - 1  # the last org whose start is <= index
            while low < high:
                mid = (low + high + 1) // 2
                low, high = (mid, high) if self._start(mid) <= index else (low, mid - 1)
            start, stop, org = self._start(low), self._start(low + 1) if low + 1 < self.orgs else len(self), low
            self._last_org = (start, stop, org)
        return self._org(org)[index - start].repo_id

    def _locate(self, repo_id: str) -> _Member | None:
        """The member behind a synthetic id; None if it is not one of ours (deleted ones included)."""
        owner, sep, _ = repo_id.partition("/")
        digits = owner[len(ORG_PREFIX) :]
        if not sep or not owner.startswith(ORG_PREFIX) or len(digits) != self._org_width or not digits.isdigit():
            return None
        org = int(digits)
        if org >= self.orgs:
            return None
        rows, ids = self._org_entry(org)
        at = bisect_left(ids, repo_id)
        return rows[at] if at < len(rows) and ids[at] == repo_id else None

    # -- drift ------------------------------------------------------------------------------------
    def deleted_on(self, member: _Member) -> int:
        """The day the model is deleted (it exists on days before it)."""
        return member.born + _geometric(DELETE_RATE, self.seed, "delete", member.key)

    def last_commit_day(self, member: _Member) -> int | None:
        """The last day up to this one on which the model got a new sha (None: its first sha still)."""
        day, last, j = member.born, None, 0
        while True:
            day += _geometric(CHANGE_RATE, self.seed, "change", member.key, j)
            if day > self.day:
                return last
            last, j = day, j + 1

    def _drift(self, member: _Member, new: dict[str, Any]) -> None:
        """Move a day-0 body to this day: commits, downloads and likes (in place)."""
        commit = self.last_commit_day(member)
        if commit is not None:
            d = _digest(self.seed, "commit", member.key, commit)
            new["sha"] = hashlib.sha1(d).hexdigest()
            new["lastModified"] = _iso(DAY0 + timedelta(days=commit, seconds=int.from_bytes(d[:4], "big") % 86400))
        if self.day > member.born:
            days = self.day - member.born
            base = new["downloads"]
            new["downloads"] = int(base * (0.8 + 0.4 * _unit(self.seed, "downloads", member.key, self.day)))
            new["downloadsAllTime"] += days * (base // 30)
            new["likes"] += days * (new["likes"] // 100 + (_unit(self.seed, "likes", member.key) < 0.05))

    # -- the Snapshot protocol ----------------------------------------------------------------------
    def version(self) -> Hashable:
        return self._version

    def ids(self) -> Sequence[str]:
        return _Ids(self)

    def _generate(self, member: _Member) -> dict[str, Any]:
        repo_id, body = member.repo_id, self._templates[member.template][1]
        d = _digest(self.seed, "body", member.key)
        if member.born:
            created = modified = DAY0 + timedelta(days=member.born, seconds=int.from_bytes(d[0:4], "big") % 86400)
        else:
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
        self._drift(member, new)
        # the template's keys, in its order, re-keyed where we vary them; the rest (cardData, config, ...) as is
        out = body.copy()  # a copy keeps the key order, and assigning a key it has keeps its place
        for key, value in new.items():
            if key in out:
                out[key] = value
        return out

    def model(self, repo_id: str) -> dict[str, Any] | None:
        with self._lock:
            hit = self._body_cache.get(repo_id)
            if hit is not None:
                self._body_cache.move_to_end(repo_id)
                return hit
        member = self._locate(repo_id)
        if member is None or self.deleted_on(member) <= self.day:
            return None
        data = self._generate(member)
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
        return (self._start(org), self._start(org + 1) if org + 1 < self.orgs else len(self))

    def template_of(self, repo_id: str) -> str | None:
        """The id of the real body ``repo_id`` was re-keyed from."""
        member = self._locate(repo_id)
        return self._templates[member.template][0] if member is not None else None

    def file(self, repo_id: str, path: str) -> bytes | None:
        template_id = self.template_of(repo_id)
        return self._files.get((template_id, path)) if template_id is not None else None

    def redirect(self, repo_id: str) -> str | None:
        return None
