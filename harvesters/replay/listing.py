"""``GET /api/models``: query parsing, filtering, ordering, field selection and keyset cursors.

Order: with ``sort`` (createdAt, lastModified, downloads, likes, trendingScore) by that field, ``direction``
-1 (the Hub's default) or 1, ties broken by id; models without the field sort lowest (last when descending).
Without ``sort``: by id ascending (``direction=-1`` reverses). The cursor is opaque (base64 JSON of the last
item's sort key), so paging stays correct when models are added or removed between pages.

Id-order queries filtered at most by search/author stream from ``Snapshot.ids()`` (cost of one page, no
index); the others build the full index once per snapshot version (see ``ListingIndex``).
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from typing import Any

from harvesters.replay.snapshot import Snapshot
from hubcensus.errors import HubcensusError

# The Hub's listing entry when no expand/full is asked.
DEFAULT_LISTING_FIELDS: tuple[str, ...] = (
    "_id", "id", "likes", "trendingScore", "private", "downloads", "tags",
    "pipeline_tag", "library_name", "createdAt", "modelId",
)  # fmt: skip
# What `full=true` adds (approximation of the Hub: everything but config, cardData and the heavy extras).
FULL_EXTRA_FIELDS: tuple[str, ...] = (
    "author", "sha", "lastModified", "gated", "disabled", "siblings", "widgetData", "transformersInfo", "mask_token",
)  # fmt: skip
# huggingface_hub 2.4 ExpandModelProperty_T: anything else is a 400, as on the Hub.
EXPAND_FIELDS: frozenset[str] = frozenset(
    {
        "author", "baseModels", "cardData", "childrenModelCount", "config", "createdAt", "disabled", "downloads",
        "downloadsAllTime", "evalResults", "gated", "gguf", "inference", "inferenceProviderMapping",
        "lastModified", "library_name", "likes", "mask_token", "model-index", "pipeline_tag", "private",
        "resourceGroup", "safetensors", "sha", "siblings", "spaces", "tags", "transformersInfo", "trendingScore",
        "usedStorage", "widgetData",
    }
)  # fmt: skip
NUMERIC_SORTS = frozenset({"downloads", "likes", "trendingScore"})
TEXT_SORTS = frozenset({"createdAt", "lastModified"})
SORT_FIELDS = NUMERIC_SORTS | TEXT_SORTS


class BadQuery(HubcensusError, ValueError):
    """A query parameter the Hub would answer with 400."""


def _truthy(values: list[str] | None) -> bool:
    return bool(values) and values[-1].lower() in ("1", "true", "yes")


def parse_expand(params: dict[str, list[str]]) -> tuple[str, ...]:
    """``expand`` and ``expand[]`` (both repeatable), validated against the Hub's expand fields."""
    asked = [*params.get("expand", []), *params.get("expand[]", [])]
    fields: list[str] = []
    for value in asked:
        for name in value.split(","):  # tolerate comma-joined values
            if name not in EXPAND_FIELDS:
                raise BadQuery(f'"expand" must be one of {sorted(EXPAND_FIELDS)}: got {name!r}')
            if name not in fields:
                fields.append(name)
    return tuple(fields)


def project(data: dict[str, Any], fields: Iterable[str]) -> dict[str, Any]:
    """The asked fields of a model body plus ``_id``/``id``, in the body's own key order; absent ones omitted."""
    keep = {"_id", "id", *fields}
    return {key: value for key, value in data.items() if key in keep}


@dataclass(frozen=True)
class ListingQuery:
    search: str | None
    author: str | None
    filters: tuple[str, ...]
    pipeline_tag: str | None
    gated: bool | None
    sort: str | None
    descending: bool
    limit: int
    fields: tuple[str, ...]
    cursor: str | None

    @classmethod
    def parse(cls, params: dict[str, list[str]], page_size: int) -> ListingQuery:
        def last(name: str) -> str | None:
            values = params.get(name)
            return values[-1] if values else None

        expand = parse_expand(params)
        extras = [name for name in ("full", "config", "cardData") if _truthy(params.get(name))]
        if expand and extras:
            raise BadQuery(f"`expand` cannot be combined with `{extras[0]}`: ask the fields with expand only")
        if expand:
            fields = expand
        else:
            fields = DEFAULT_LISTING_FIELDS
            if "full" in extras:
                fields += FULL_EXTRA_FIELDS
            if "config" in extras:
                fields += ("config",)
            if "cardData" in extras:
                fields += ("cardData",)
        sort = last("sort")
        if sort is not None and sort not in SORT_FIELDS:
            raise BadQuery(f'"sort" must be one of {sorted(SORT_FIELDS)}: got {sort!r}')
        direction = last("direction")
        if direction not in (None, "-1", "1"):
            raise BadQuery(f'"direction" must be -1 or 1: got {direction!r}')
        descending = direction == "-1" if direction is not None else sort is not None
        raw_limit = last("limit")
        try:
            limit = page_size if raw_limit is None else int(raw_limit)
        except ValueError:
            raise BadQuery(f'"limit" must be a positive integer: got {raw_limit!r}') from None
        if limit < 1:
            raise BadQuery(f'"limit" must be a positive integer: got {raw_limit!r}')
        gated = last("gated")
        return cls(
            search=(last("search") or None),
            author=(last("author") or None),
            filters=tuple(v for v in params.get("filter", []) if v),
            pipeline_tag=(last("pipeline_tag") or None),
            gated=None if gated is None else gated.lower() in ("1", "true"),
            sort=sort,
            descending=descending,
            limit=min(limit, page_size),
            fields=fields,
            cursor=last("cursor"),
        )

    @property
    def selection(self) -> tuple[Hashable, ...]:
        """What decides the ordered result set (not the page or the fields)."""
        return (self.search, self.author, self.filters, self.pipeline_tag, self.gated, self.sort)


@dataclass(frozen=True)
class _Row:
    id: str
    id_lower: str
    author: str
    terms: frozenset[str]
    pipeline_tag: str
    gated: bool
    sort_values: dict[str, Any]  # only the sortable fields: the full body is fetched per page


def _sort_key(data: dict[str, Any], sort: str | None, repo_id: str) -> tuple[int, Any, str]:
    if sort is None:
        return (1, "", repo_id)
    value = data.get(sort)
    if sort in NUMERIC_SORTS:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return (1, float(value), repo_id) if ok else (0, 0.0, repo_id)
    return (1, value, repo_id) if isinstance(value, str) else (0, "", repo_id)


def encode_cursor(sort: str | None, key: tuple[int, Any, str]) -> str:
    raw = json.dumps({"s": sort, "k": list(key)}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str | None) -> tuple[int, Any, str]:
    try:
        decoded = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        has, value, repo_id = decoded["k"]
        if decoded["s"] != sort or has not in (0, 1) or not isinstance(repo_id, str):
            raise ValueError("cursor does not belong to this sort")
        expected = float if sort in NUMERIC_SORTS else str
        return (has, expected(value), repo_id)
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise BadQuery(f"invalid cursor: {exc}") from None


def _author(data: dict[str, Any], repo_id: str) -> str:
    """The lowercased author the ``author=`` filter compares with: the body's, else the id's owner."""
    return str(data.get("author") or (repo_id.split("/")[0] if "/" in repo_id else "")).lower()


def streams(query: ListingQuery) -> bool:
    """Whether ``query`` is answered by walking ``Snapshot.ids()`` (id order, search/author only)."""
    return query.sort is None and not query.filters and query.pipeline_tag is None and query.gated is None


class ListingIndex:
    """The listing of one snapshot version.

    Queries in id order that filter only by ``search``/``author`` (the default listing, the harvest's) are
    streamed: page k walks ``Snapshot.ids()`` from the cursor (a bisect) and reads only the bodies it serves
    (plus one to know whether a next page exists), so the first page of a million-model Hub costs one page.
    ``sort``, ``filter``, ``pipeline_tag`` and ``gated`` need the filter facts of every model: that index
    is built on their first use (one body read per model) and its ordered results cached per selection.
    Both paths use the same cursor (the last item's sort key), so a cursor survives a changed snapshot.
    A snapshot may offer ``author_span(author) -> (start, stop)``, the positions in ``ids()`` of that
    author's models (contiguous), to stream ``author=`` without reading the bodies of other authors.
    """

    def __init__(self, snapshot: Snapshot, version: Hashable) -> None:
        self.version = version
        self._snapshot = snapshot
        self._rows: list[_Row] | None = None
        self._build_lock = threading.Lock()
        self._ordered: OrderedDict[tuple, tuple[list[_Row], list[tuple]]] = OrderedDict()
        self._lock = threading.Lock()
        self.bodies_read = 0  # Snapshot.model() calls made by this index (the index build and the pages)

    @property
    def index_built(self) -> bool:
        """Whether the full index (every model's filter facts) has been built."""
        return self._rows is not None

    def __len__(self) -> int:
        return len(self._all_rows())

    def _read(self, repo_id: str) -> dict[str, Any] | None:
        with self._lock:
            self.bodies_read += 1
        return self._snapshot.model(repo_id)

    def _all_rows(self) -> list[_Row]:
        with self._build_lock:
            if self._rows is None:
                self._rows = self._build()
            return self._rows

    def _build(self) -> list[_Row]:
        rows: list[_Row] = []
        for repo_id in self._snapshot.ids():
            data = self._read(repo_id)
            if data is None:
                continue  # removed between ids() and model(): the next version() sees it
            tags = data.get("tags") or []
            library, pipeline = data.get("library_name"), data.get("pipeline_tag")
            terms = {str(t).lower() for t in tags if isinstance(t, str)}
            terms.update(str(v).lower() for v in (library, pipeline) if v)
            gated = data.get("gated")
            rows.append(
                _Row(
                    id=repo_id,
                    id_lower=repo_id.lower(),
                    author=_author(data, repo_id),
                    terms=frozenset(terms),
                    pipeline_tag=str(pipeline or "").lower(),
                    gated=gated not in (None, False),
                    sort_values={name: data[name] for name in SORT_FIELDS if name in data},
                )
            )
        return rows

    def _matches(self, row: _Row, query: ListingQuery) -> bool:
        if query.search and query.search.lower() not in row.id_lower:
            return False
        if query.author and query.author.lower() != row.author:
            return False
        if query.pipeline_tag and query.pipeline_tag.lower() != row.pipeline_tag:
            return False
        if query.gated is not None and query.gated != row.gated:
            return False
        return all(f.lower() in row.terms for f in query.filters)

    def _ordered_rows(self, query: ListingQuery) -> tuple[list[_Row], list[tuple]]:
        with self._lock:
            hit = self._ordered.get(query.selection)
            if hit is not None:
                self._ordered.move_to_end(query.selection)
                return hit
        rows = [row for row in self._all_rows() if self._matches(row, query)]
        keyed = sorted(((_sort_key(row.sort_values, query.sort, row.id), row) for row in rows), key=lambda kr: kr[0])
        result = ([row for _, row in keyed], [key for key, _ in keyed])
        with self._lock:
            self._ordered[query.selection] = result
            while len(self._ordered) > 64:
                self._ordered.popitem(last=False)
        return result

    def page(self, query: ListingQuery) -> tuple[list[dict[str, Any]], str | None]:
        """One page of projected items and the next cursor (None on the last page)."""
        if streams(query):
            return self._stream_page(query)
        rows, keys = self._ordered_rows(query)
        after = decode_cursor(query.cursor, query.sort) if query.cursor else None
        if not query.descending:
            start = bisect_right(keys, after) if after is not None else 0
            picked = list(range(start, min(start + query.limit, len(rows))))
            more = start + query.limit < len(rows)
        else:
            end = bisect_left(keys, after) if after is not None else len(rows)
            picked = list(range(end - 1, max(end - query.limit, 0) - 1, -1))
            more = end - query.limit > 0
        items = []
        for i in picked:
            data = self._read(rows[i].id)
            if data is not None:  # None: removed since this index was built
                items.append(project(data, query.fields))
        cursor = encode_cursor(query.sort, keys[picked[-1]]) if picked and more else None
        return items, cursor

    def _stream_page(self, query: ListingQuery) -> tuple[list[dict[str, Any]], str | None]:
        """A page in id order, walking ids from the cursor: O(walked ids + page) per request, no index."""
        ids = self._snapshot.ids()  # sorted by id: the cursor's id is found by bisection
        author = query.author.lower() if query.author else None
        author_span = getattr(self._snapshot, "author_span", None) if author else None
        low, high = author_span(author) if author_span is not None else (0, len(ids))
        after = decode_cursor(query.cursor, None)[2] if query.cursor else None
        if not query.descending:
            start = bisect_right(ids, after, low, high) if after is not None else low
            positions: Iterable[int] = range(start, high)
        else:
            end = bisect_left(ids, after, low, high) if after is not None else high
            positions = range(end - 1, low - 1, -1)
        search = query.search.lower() if query.search else None
        check_author = author is not None and author_span is None  # else every id in [low, high) matches
        items: list[dict[str, Any]] = []
        last: str | None = None
        more = False
        for i in positions:
            repo_id = ids[i]
            if search is not None and search not in repo_id.lower():
                continue
            data = self._read(repo_id)
            if data is None:
                continue  # removed since ids() was read
            if check_author and _author(data, repo_id) != author:
                continue
            if len(items) == query.limit:
                more = True  # one more match exists: the next page is not empty
                break
            items.append(project(data, query.fields))
            last = repo_id
        cursor = encode_cursor(None, (1, "", last)) if more and last is not None else None
        return items, cursor
