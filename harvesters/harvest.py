"""Harvest stages: sweep the listing into the raw landing, then fetch the files of the models in scope.

Every fetch outcome, good or bad, is appended to the run's fetch log the moment it settles, so a crash
or a Ctrl-C keeps what was done and a resume skips it.
"""

from __future__ import annotations

import time
import zlib
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

from huggingface_hub.errors import GatedRepoError, RemoteEntryNotFoundError, RepositoryNotFoundError, RevisionNotFoundError

from harvesters.hub import HubClient, ListingQuery
from harvesters.landing import RawRun
from harvesters.ratelimit import RunStopped
from harvesters.retrying import http_status
from harvesters.scope import SETTLED, ListedModel
from harvesters.settings import FETCH_CONCURRENCY, MODEL_FILES
from hubcensus import progress

QUEUED_PER_WORKER = 4  # fetches submitted ahead per worker: enough to keep them busy, never the whole run


@dataclass(frozen=True)
class FileTarget:
    """One file to fetch: the repo, the revision the listing saw, the path."""

    repo_id: str
    sha: str | None
    path: str


def land_listing(client: HubClient, run: RawRun, query: ListingQuery) -> int:
    """Stream the listing into the run's raw landing (reporting pages, models, models/s); a resumed run whose
    listing landed keeps it."""
    if run.listing_complete:
        count = sum(1 for _ in run.iter_listing_lines())
        progress.note("listing", f"already landed for {run.run_id}: {count:,} models")
        return count
    started = time.monotonic()
    total = 0

    def pages() -> Iterator[list[bytes]]:
        nonlocal total
        progress.start("listing", unit="models")
        for number, page in enumerate(client.iter_listing_pages(query), start=1):
            total += len(page)
            progress.advance("listing", total, unit="models", text=f"page {number:,}")
            yield page

    count = run.land_listing(pages())
    progress.finish("listing", count, unit="models", seconds=time.monotonic() - started)
    return count


def files_in_scope(models: Iterable[ListedModel | dict], wanted: tuple[str, ...] = MODEL_FILES) -> Iterator[FileTarget]:
    """The files we want for each model, asking only for those its siblings list (when it lists any)."""
    for model in models:
        model = model if isinstance(model, ListedModel) else ListedModel.read(model)
        if model is None:
            continue
        for path in wanted:
            if model.siblings is None or path in model.siblings:
                yield FileTarget(model.id, model.sha, path)


def shard_targets(targets: list[FileTarget], shards: int) -> list[list[FileTarget]]:
    """Split by a stable hash of repo_id: a repo's files stay together, shards are independent."""
    buckets: list[list[FileTarget]] = [[] for _ in range(max(1, shards))]
    for target in targets:
        buckets[zlib.crc32(target.repo_id.encode()) % len(buckets)].append(target)
    return [b for b in buckets if b]


def _failure(outcome: dict, status: str, exc: BaseException | None, reason: str) -> dict:
    return outcome | {"status": status, "http_status": http_status(exc) if exc else None, "reason": reason[:300], "bytes": 0}


def fetch_one(client: HubClient, run: RawRun, target: FileTarget) -> dict:
    """Fetch and land one file; every outcome, good or bad, becomes one fetch record.

    A stopped run raises ``RunStopped`` (nothing is recorded: the file is simply not fetched yet).
    """
    outcome = {"repo_id": target.repo_id, "sha": target.sha, "path": target.path}
    client.check()
    try:
        content = client.download(target.repo_id, target.path, revision=target.sha)
    except RunStopped:
        raise
    except GatedRepoError as exc:  # before RepositoryNotFoundError: it is a subclass
        return _failure(outcome, "gated", exc, "gated repo: no access token accepted")
    except RemoteEntryNotFoundError as exc:
        return _failure(outcome, "missing", exc, "file not in the repo at this revision")
    except (RepositoryNotFoundError, RevisionNotFoundError) as exc:
        return _failure(outcome, "not_found", exc, type(exc).__name__)
    except Exception as exc:  # retries exhausted or unexpected: record it, the run goes on
        return _failure(outcome, "error", exc, f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
    try:
        run.land_file(target.repo_id, target.path, content)
    except (OSError, ValueError) as exc:  # a full disk, an unlandable path: that file's error, not the run's
        return _failure(outcome, "error", None, f"could not land the file: {type(exc).__name__}: {exc}")
    return outcome | {"status": "ok", "http_status": 200, "reason": None, "bytes": len(content)}


def fetch_files(
    client: HubClient,
    run: RawRun,
    targets: Iterable[FileTarget],
    concurrency: int = FETCH_CONCURRENCY,
    on_outcome: Callable[[dict], None] | None = None,
) -> Counter:
    """Fetch files concurrently (bounded); a resumed run skips what it already settled.

    Each outcome is appended to the run's fetch log as it settles (from this thread), reported as progress
    (done/total) and passed to ``on_outcome``. On a stop, queued fetches are cancelled and ``RunStopped`` raised.
    """
    done = run.fetch_outcomes()
    todo = [t for t in targets if done.get((t.repo_id, t.path), {}).get("status") not in SETTLED]
    statuses: Counter = Counter()
    if not todo:
        return statuses
    started = time.monotonic()
    progress.start("files", total=len(todo), unit="files")
    workers = max(1, concurrency)
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fetch")
    queued = iter(todo)
    pending: set = set()

    def top_up() -> None:  # a bounded window: each wait() costs O(pending), so pending must not grow with the run
        while len(pending) < workers * QUEUED_PER_WORKER and (target := next(queued, None)) is not None:
            pending.add(pool.submit(fetch_one, client, run, target))

    try:
        top_up()
        number = 0
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            stopped = [f.exception() for f in finished if f.exception() is not None]
            for future in finished:
                if future.exception() is None:
                    outcome = future.result()
                    run.record_fetch(**outcome)
                    statuses[outcome["status"]] += 1
                    number += 1
                    if on_outcome is not None:
                        on_outcome(outcome)
                    progress.advance("files", number, len(todo), unit="files")
            if stopped:
                raise stopped[0]  # RunStopped: everything settled before it is recorded
            top_up()
    except BaseException:
        client.stop()  # wake the workers waiting on the limiter; queued fetches are dropped
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    progress.finish("files", number, len(todo), unit="files", seconds=time.monotonic() - started,
                    text=", ".join(f"{n:,} {status}" for status, n in statuses.most_common()))  # fmt: skip
    return statuses
