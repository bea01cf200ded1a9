"""Harvest stages: sweep the listing into the raw landing, then fetch the files of the models in scope."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

from huggingface_hub.errors import GatedRepoError, RemoteEntryNotFoundError, RepositoryNotFoundError, RevisionNotFoundError

from harvesters.hub import HubClient, ListingQuery
from harvesters.landing import RawRun
from harvesters.retrying import http_status
from harvesters.scope import SETTLED
from harvesters.settings import FETCH_CONCURRENCY, MODEL_FILES

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


@dataclass(frozen=True)
class FileTarget:
    """One file to fetch: the repo, the revision the listing saw, the path."""

    repo_id: str
    sha: str | None
    path: str


def land_listing(client: HubClient, run: RawRun, query: ListingQuery, progress: Progress = _quiet) -> int:
    """Stream the listing into ``models.ndjson``; a resumed run whose listing landed keeps it."""
    if run.listing_complete:
        count = sum(1 for _ in run.iter_models())
        progress(f"listing already landed for {run.run_id}: {count} models")
        return count

    def pages() -> Iterator[list[bytes]]:
        total = 0
        for number, page in enumerate(client.iter_listing_pages(query), start=1):
            total += len(page)
            progress(f"listing page {number}: {len(page)} models ({total} so far)")
            yield page

    return run.land_listing(pages())


def files_in_scope(models: Iterable[dict], wanted: tuple[str, ...] = MODEL_FILES) -> Iterator[FileTarget]:
    """The files we want for each model, asking only for those its siblings list (when it lists any)."""
    for model in models:
        siblings = model.get("siblings")
        present = {s.get("rfilename") for s in siblings} if isinstance(siblings, list) else None
        for path in wanted:
            if present is None or path in present:
                yield FileTarget(model["id"], model.get("sha"), path)


def fetch_one(client: HubClient, run: RawRun, target: FileTarget) -> dict:
    """Fetch and land one file; every outcome, good or bad, becomes one fetch record."""
    outcome = {"repo_id": target.repo_id, "sha": target.sha, "path": target.path}
    try:
        content = client.download(target.repo_id, target.path, revision=target.sha)
    except GatedRepoError as exc:  # before RepositoryNotFoundError: it is a subclass
        return outcome | {"status": "gated", "http_status": http_status(exc), "reason": "gated repo: no access token accepted", "bytes": 0}
    except RemoteEntryNotFoundError as exc:
        return outcome | {"status": "missing", "http_status": http_status(exc), "reason": "file not in the repo at this revision", "bytes": 0}
    except (RepositoryNotFoundError, RevisionNotFoundError) as exc:
        return outcome | {"status": "not_found", "http_status": http_status(exc), "reason": type(exc).__name__, "bytes": 0}
    except Exception as exc:  # retries exhausted or unexpected: record it, the run goes on
        reason = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:300]
        return outcome | {"status": "error", "http_status": http_status(exc), "reason": reason, "bytes": 0}
    run.land_file(target.repo_id, target.path, content)
    return outcome | {"status": "ok", "http_status": 200, "reason": None, "bytes": len(content)}


def fetch_files(
    client: HubClient,
    run: RawRun,
    targets: Iterable[FileTarget],
    concurrency: int = FETCH_CONCURRENCY,
    progress: Progress = _quiet,
    record: Callable[[dict], None] | None = None,
) -> Counter:
    """Fetch files concurrently (bounded); a resumed run skips what it already landed.

    Each outcome goes to ``record`` (default: the run's fetch log), always from this thread, so a
    caller that is the fetch log's single writer (the flow, over shards) can collect them instead.
    """
    record = record or (lambda outcome: run.record_fetch(**outcome))
    done = run.fetch_outcomes()
    todo = [t for t in targets if done.get((t.repo_id, t.path), {}).get("status") not in SETTLED]
    statuses: Counter = Counter(row["status"] for row in done.values())
    if not todo:
        return statuses
    progress(f"fetching {len(todo)} files ({concurrency} at a time)")
    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        futures = [pool.submit(fetch_one, client, run, target) for target in todo]
        for number, future in enumerate(as_completed(futures), start=1):
            outcome = future.result()
            record(outcome)  # one writer: this thread
            statuses[outcome["status"]] += 1
            if number % 50 == 0 or number == len(todo):
                progress(f"files: {number}/{len(todo)} ({dict(statuses)})")
    return statuses
