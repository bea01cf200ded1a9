"""Which listed models get their files fetched: pure selection over the landed listing.

The metadata sweep (the listing with expand) always covers the whole listing scope; files are the
expensive part, so they are fetched only for the models a ``FileScope`` selects, and of those only
for the ones whose sha changed since their files were last fetched.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Iterable, Iterator


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


def select_models(models: Iterable[dict], scope: FileScope) -> Iterator[dict]:
    """The listed models in ``scope``, each once, in listing order."""
    models = list(models)
    if scope.everything:
        yield from models
        return
    top = set()
    if scope.top_downloads:
        ranked = heapq.nlargest(scope.top_downloads, models, key=lambda m: (m.get("downloads") or 0, m["id"]))
        top = {m["id"] for m in ranked}
    authors = {a.lower() for a in scope.authors}
    terms = [t.lower() for t in scope.search]
    for model in models:
        repo_id = model["id"]
        author = (model.get("author") or (repo_id.split("/", 1)[0] if "/" in repo_id else "")).lower()
        if (
            repo_id in top
            or repo_id in scope.repo_ids
            or author in authors
            or any(term in repo_id.lower() for term in terms)
        ):
            yield model


SETTLED = frozenset({"ok", "missing", "gated", "not_found"})


def needs_fetch(model: dict, path: str, last: dict[tuple[str, str], tuple[str | None, str]]) -> bool:
    """Fetch unless this file was already settled at this very sha.

    ``last`` maps (repo_id, path) → (sha, status) of the last recorded outcome. Settled: landed, known
    missing (404), or refused (gated: after adding a token, run once with ``--full``). A new model, a
    changed sha, a file that errored or was quarantined last time is fetched again.
    """
    previous = last.get((model["id"], path))
    if previous is None:
        return True
    sha, status = previous
    return not (sha is not None and sha == model.get("sha") and status in SETTLED)
