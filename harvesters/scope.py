"""Which listed models get their files fetched: pure selection over the landed listing.

The metadata sweep (the listing with expand) always covers the whole listing scope; files are the
expensive part, so they are fetched only for the models a ``FileScope`` selects, and of those only
for the ones whose sha changed since their files were last fetched.

Listing entries come from strangers: ``ListedModel.read`` takes what it can use from one and never
raises; an entry without a string id is left to normalization, which quarantines it. Selection
streams the listing once (a heap of the top N by downloads beside the other rules) and never holds it whole.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator

SETTLED = frozenset({"ok", "missing", "gated", "not_found"})


@dataclass(frozen=True)
class ListedModel:
    """What the harvester needs of one listing entry, each field checked for its shape."""

    id: str
    sha: str | None = None
    author: str | None = None
    downloads: int = 0
    siblings: frozenset[str] | None = None  # file names the listing says the repo has; None: it did not say

    @classmethod
    def read(cls, entry: Any, siblings: bool = True) -> "ListedModel | None":
        """``siblings=False`` skips the file names: the costly part, and needed only for models in scope."""
        fields = listed_fields(entry)
        if fields is None:
            return None
        return cls(*fields, siblings=sibling_names(entry.get("siblings")) if siblings else None)

    @property
    def owner(self) -> str:
        return (self.author or (self.id.split("/", 1)[0] if "/" in self.id else "")).lower()


def listed_fields(entry: Any) -> tuple[str, str | None, str | None, int] | None:
    """A listing entry's id (stripped), sha, author and downloads, each checked for its shape (a wrong one reads
    as missing, downloads as 0); None when it has no usable id. ``ListedModel`` and the listing index both read so."""
    if not isinstance(entry, dict) or not isinstance(entry.get("id"), str) or not entry["id"].strip():
        return None
    sha, author, downloads = entry.get("sha"), entry.get("author"), entry.get("downloads")
    return (
        entry["id"].strip(),
        sha if isinstance(sha, str) else None,
        author if isinstance(author, str) else None,
        downloads if isinstance(downloads, int) and not isinstance(downloads, bool) and downloads > 0 else 0,
    )


def sibling_names(siblings: Any) -> frozenset[str] | None:
    """The file names a listing's siblings give (objects with a string ``rfilename``); None when it gave no list."""
    if not isinstance(siblings, list):
        return None
    return frozenset(s["rfilename"] for s in siblings if isinstance(s, dict) and isinstance(s.get("rfilename"), str))


@dataclass(frozen=True)
class FileScope:
    """Models whose config.json and README.md we want. ``everything`` wins over the rest."""

    everything: bool = False
    top_downloads: int = 0
    authors: tuple[str, ...] = ()
    search: tuple[str, ...] = ()
    repo_ids: frozenset[str] = field(default_factory=frozenset)  # e.g. catalog-matched repos and their lineage

    @property
    def is_empty(self) -> bool:
        return not (self.everything or self.top_downloads or self.authors or self.search or self.repo_ids)


def select_models(listing: Callable[[], Iterable[Any]], scope: FileScope) -> Iterator[ListedModel]:
    """The listed models in ``scope``, each once, in listing order.

    ``listing`` opens the landed listing, or its index (``RawRun.iter_index``: the same entries, cut down);
    it is read once: the N best by downloads are kept in a heap of N while the other rules pick as they go, so
    memory is bounded by the scope, not the Hub. A repo listed twice (never in an id-ordered listing) is yielded
    once, at the occurrence that made it into the top N.
    """
    top_n = 0 if scope.everything else scope.top_downloads
    authors = {a.lower() for a in scope.authors}
    terms = [t.lower() for t in scope.search]
    best: list[tuple[int, str, int, int, ListedModel]] = []  # (downloads, id, -position, position, model): a min-heap
    chosen: dict[str, tuple[int, ListedModel]] = {}
    for position, entry in enumerate(listing()):
        model = ListedModel.read(entry, siblings=False)
        if model is None:
            continue
        wanted = (
            scope.everything
            or model.id in scope.repo_ids
            or model.owner in authors
            or any(term in model.id.lower() for term in terms)
        )
        ranks = bool(top_n) and (len(best) < top_n or (model.downloads, model.id, -position) > best[0][:3])
        if not (wanted or ranks):
            continue
        model = ListedModel.read(entry)  # now with its file names: only the models that may be fetched
        if ranks:
            item = (model.downloads, model.id, -position, position, model)
            if len(best) < top_n:
                heapq.heappush(best, item)
            else:
                heapq.heapreplace(best, item)
        if wanted:
            chosen.setdefault(model.id, (position, model))
    for _, repo_id, _, position, model in sorted(best, key=lambda entry: entry[3]):
        if repo_id not in chosen or chosen[repo_id][0] > position:
            chosen[repo_id] = (position, model)
    for _, model in sorted(chosen.values(), key=lambda pm: pm[0]):
        yield model


def needs_fetch(model: ListedModel, path: str, last: dict[tuple[str, str], tuple[str | None, str]]) -> bool:
    """Fetch unless this file was already settled at this very sha.

    ``last`` maps (repo_id, path) → (sha, status) of the last recorded outcome. Settled: landed, known
    missing (404), or refused (gated: after adding a token, run once with ``--full``). A new model, a
    changed sha, a file that errored or was quarantined last time is fetched again.
    """
    previous = last.get((model.id, path))
    if previous is None:
        return True
    sha, status = previous
    return not (sha is not None and sha == model.sha and status in SETTLED)
