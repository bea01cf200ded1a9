"""The ``nightly_refresh`` flow: each task is one stage (Hub → raw → warehouse → catalog → reports).

Tasks pass small values (a client, a run, paths, counts); the data itself moves through the raw
landing and the warehouse file, so any stage can be re-run alone from what the stage before it left.
The run's lifecycle (begin, resume, finish, fail) belongs to the landing; the flow only calls it.
"""

from __future__ import annotations

import time
from collections import Counter
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.exceptions import TerminationSignal

from flows.config import RefreshConfig, load_config
from flows.lineage_tasks import resolve_renamed_parents
from harvesters.harvest import FileTarget, fetch_files, files_in_scope, land_listing, shard_targets
from harvesters.hub import HubClient, ListingQuery
from harvesters.landing import DataDir, ListingSpan, RawRun, check_run_id, now_iso
from harvesters.ratelimit import WINDOW_S, HubRateLimiter, tier_quotas
from harvesters.scope import FileScope, needs_fetch, select_models
from harvesters.settings import default_endpoint
from hubcensus import progress

SCOPES = ("configured", "all", "metadata")


# ------------------------------------------------------------------ wiring: settings → objects
def listing_query(config: RefreshConfig) -> ListingQuery:
    return ListingQuery(
        search=config.listing_search or None,
        author=config.listing_author or None,
        filters=config.listing_filters,
        page_size=config.page_size,
    )


def hub_client(endpoint: str, config: RefreshConfig, processes: int = 1) -> HubClient:
    """The run's one client: its limiter holds the tier's quotas, split between harvesting processes.

    Threads of one process share this object (and its full quota); a Dask worker gets a copy.
    """
    quotas = tier_quotas(config.tier, api=config.rate_api, resolvers=config.rate_resolvers)
    quotas = {bucket: max(1, quota // max(1, processes)) for bucket, quota in quotas.items()}
    limiter = HubRateLimiter(
        quotas=quotas,
        max_retry_after_s=config.max_retry_after_s,
        deadline=time.time() + config.max_run_hours * 3600 if config.max_run_hours else None,
        on_wait=progress.RateLimitNotice(quotas, WINDOW_S),
    )
    return HubClient(endpoint, limiter=limiter)


def file_scope(scope: str, config: RefreshConfig, data: DataDir) -> FileScope | None:
    """Which models get their files: None for --scope metadata."""
    from warehouse.state import catalog_scope_repos

    if scope == "metadata":
        return None
    if scope == "all" or config.files_all:
        return FileScope(everything=True)
    return FileScope(
        top_downloads=config.files_top_downloads,
        authors=config.files_authors,
        search=config.files_search,
        repo_ids=catalog_scope_repos(data.warehouse) if config.files_catalog else frozenset(),
    )


# ------------------------------------------------------------------ tasks: one stage each
@task(name="harvest-listing", retries=2, retry_delay_seconds=[5, 30])
def harvest_listing(client: HubClient, run: RawRun, query: ListingQuery) -> int:
    """Sweep the listing with expand into the run's raw landing (every model: stats refresh nightly)."""
    count = land_listing(client, run, query)
    get_run_logger().info("landed %d models in %s", count, run.listing_path)
    return count


@task(name="plan-fetches")
def plan_fetches(data: DataDir, run: RawRun, scope: FileScope | None, full: bool) -> list[FileTarget]:
    """The files to fetch: the models in scope, minus those already settled at their current sha."""
    from warehouse.state import last_fetch_outcomes

    if scope is None:
        return []
    last = {} if full else last_fetch_outcomes(data.warehouse)
    # a resumed run keeps what it settled before it crashed
    last.update({key: (row.get("sha"), row["status"]) for key, row in run.fetch_outcomes().items()})
    in_scope = list(select_models(run.iter_index, scope))
    by_id = {m.id: m for m in in_scope}
    targets = [t for t in files_in_scope(in_scope) if needs_fetch(by_id[t.repo_id], t.path, last)]
    get_run_logger().info("%d models in file scope; %d files to fetch (%s)", len(in_scope), len(targets), "full" if full else "incremental")
    return targets


@task(name="fetch-shard", retries=1, retry_delay_seconds=[10])
def fetch_shard(client: HubClient, run: RawRun, targets: list[FileTarget], concurrency: int) -> dict[str, int]:
    """Fetch one shard's files (bounded threads, rate-limited); each outcome is logged as it settles."""
    return dict(fetch_files(client, run, targets, concurrency=concurrency))


@task(name="normalize-page", cache_policy=NO_CACHE, persist_result=False)
def normalize_page(plan, span: ListingSpan):
    """Normalize one listing page (read-only: its raw span, its files, the run's staged facts) and stage it under
    its path in the run's staging folder (in memory on the writer's own threads); returns that ``StagedPage``:
    tasks pass paths, not data."""
    from warehouse.pages import stage_normalized_page

    return stage_normalized_page(plan, span)


class _StagedResult:
    """A ``normalize-page`` future as the loader expects one: ``result()`` is the page itself."""

    def __init__(self, future) -> None:
        self.future = future

    def result(self):
        return self.future.result().read()


def load_warehouse(data: DataDir, run: RawRun, pages_in_flight: int, page_bytes: int | None, files: "FilesStage | None" = None) -> dict[str, int]:
    """The only writer: pages are normalized by ``normalize-page`` tasks on the flow's task runner, at most
    ``pages_in_flight`` at once, and written in file order as they come, in one transaction. With ``files``
    still being fetched, each page waits for its own files (``warehouse.pages.page_fetches``).

    Called from the flow body, not as a task: tasks submitted from inside a task stay in memory until the flow
    ends (Prefect 3.x; measured: a 1M-model load held every ~64 MB page, 7.4 GB), from the flow body they do not.
    A page comes back through the run's staging folder, not as the task's result (~1 GB less peak RSS at 300k).
    """
    from warehouse.loading import PAGE_BYTES, load_run

    def submit(plan, span: ListingSpan) -> _StagedResult:
        return _StagedResult(normalize_page.submit(plan, span))

    counts = load_run(data, run, submit=submit, pages_in_flight=pages_in_flight, page_bytes=page_bytes or PAGE_BYTES, files=files)
    get_run_logger().info("loaded: %s", counts)
    return counts


@task(name="prune-raw")
def prune_raw(data: DataDir, keep: int) -> list[str]:
    """Apply [retention] keep_raw_runs: delete raw runs beyond the newest N complete ones (the warehouse keeps all)."""
    from warehouse.retention import prune

    plan = prune(data, keep)
    if plan.prune:
        progress.note("retention", f"pruned {len(plan.prune)} raw run(s), {plan.bytes / 1e6:,.1f} MB; kept {len(plan.keep)}")
    return [r.run_id for r in plan.prune]


@task(name="reconcile-catalog")
def reconcile_catalog(data: DataDir, catalog_paths: list[str] | None) -> dict[str, int]:
    """Match the curated catalog to the Hub's models and record agreements, conflicts and gaps."""
    from warehouse.reconcile import reconcile_warehouse

    counts = reconcile_warehouse(data.warehouse, catalog_paths)
    get_run_logger().info("reconciled: %s", counts)
    return counts


@task(name="build-reports")
def build_report_set(data: DataDir, run_id: str) -> str:
    """Build the dated report set from the marts and publish its summary as Prefect artifacts."""
    from prefect.artifacts import create_markdown_artifact, create_table_artifact

    from reports.build import build_reports, summary_tables
    from reports.changes import digest_markdown

    out = build_reports(data.warehouse, data.reports, run_id=run_id)
    summary = summary_tables(out)
    create_markdown_artifact(key="hubcensus-reports", markdown=summary["markdown"], description=f"report set {summary['date']}")
    for key, (description, rows) in summary["tables"].items():
        create_table_artifact(key=key, table=rows, description=description)
    if digest := digest_markdown(out):  # what the run found changed since the run before it
        create_markdown_artifact(key="hubcensus-changes", markdown=digest, description=f"what changed, report set {summary['date']}")
    get_run_logger().info("reports: %s", out / "index.html")
    return str(out)


# ------------------------------------------------------------------ the flow: a list of stages
def _interrupted(exc: BaseException) -> bool:
    from warehouse.database import query_interrupted

    return isinstance(exc, (KeyboardInterrupt, TerminationSignal)) or query_interrupted(exc)


def _fail(client: HubClient, run: RawRun, exc: BaseException) -> None:
    """A failure (or Ctrl-C, SIGTERM, the deadline) fails the run, keeping everything it settled."""
    client.stop()
    run.fail("interrupted (SIGINT/SIGTERM)" if _interrupted(exc) else exc)


class FilesStage:
    """The files stage in flight: shards fetching while the load starts on the listing (``awaited``, ``wait``
    and ``finish`` are what ``warehouse.loading.FilesInFlight`` asks for). Its end is the harvest's end:
    ``finish`` completes the run, counting the outcomes of every session of it, or fails it; a load that fails
    first ``stop``s it."""

    def __init__(self, client: HubClient, run: RawRun, n_models: int, targets: list[FileTarget], futures: list, started: tuple[float, float]) -> None:
        self.client, self.run, self.n_models, self.futures = client, run, n_models, futures
        self.awaited = [(t.repo_id, t.path) for t in targets]
        self.harvested: dict[str, Any] | None = None
        self.started, self.over_at = started, None  # (wall, CPU) when the stage began, and when it was over

    def wait(self) -> bool:
        """Any thread: block until every shard is over; True when they all completed."""
        for future in self.futures:
            future.wait()
        settled = all(future.state.is_completed() for future in self.futures)  # each final state is held once waited on
        self.over_at = (time.perf_counter(), time.process_time())
        return settled

    def finish(self) -> dict[str, Any]:
        """The flow's thread: the stage's error (the run failed), or the harvest completed. Once."""
        if self.harvested is None:
            try:
                for future in self.futures:
                    future.result()
            except BaseException as exc:
                _fail(self.client, self.run, exc)
                raise
            wall, cpu = self.over_at or (time.perf_counter(), time.process_time())
            self.run.record_stage("files", wall_s=wall - self.started[0], cpu_s=cpu - self.started[1])  # CPU: the load's too
            files = dict(sorted(Counter(o["status"] for o in self.run.fetch_outcomes().values()).items()))
            self.run.finish(counts={"models": self.n_models, "files": files})
            get_run_logger().info("files: %s", files or "none to fetch")
            self.harvested = {"models": self.n_models, "files": files}
        return self.harvested

    def stop(self, load_error: BaseException) -> BaseException | None:
        """The load failed: if the stage was still running, the fetches stop and the run fails, keeping what it
        settled (``hubcensus refresh --resume`` goes on from there); if it was over, it ends as it would have
        alone. Returns the stage's own error, when it failed (the load's is then only its consequence)."""
        if self.harvested is not None or self.run.status == "failed":
            return None
        if self.over_at is None:  # still fetching. No call to Prefect's API here: an interrupt may have broken its client
            _fail(self.client, self.run, load_error)
            return None
        try:
            self.finish()
        except BaseException as files_error:
            return files_error
        return None


def harvest(client: HubClient, data: DataDir, run: RawRun, config: RefreshConfig, scope: str, full: bool, shards: int) -> FilesStage:
    """Listing, then files in shards, left running: the load starts beside them (``normalize_and_load``)."""
    try:
        with timed(run, "listing"):
            n_models = harvest_listing(client, run, listing_query(config))
        with timed(run, "aliases"):
            resolve_renamed_parents(client, data, run)
        started = time.perf_counter(), time.process_time()
        targets = plan_fetches(data, run, file_scope(scope, config, data), full)
        futures = [fetch_shard.submit(client, run, part, config.concurrency) for part in shard_targets(targets, shards)]
    except BaseException as exc:
        _fail(client, run, exc)
        raise
    return FilesStage(client, run, n_models, targets, futures, started)


def _tasks_start_in_order() -> bool:
    """Whether the flow's task runner starts tasks in the order they were submitted (a thread pool's queue):
    then a page waiting for its files can never hold the place of a shard still to start. Dask gives no such
    promise, so there the load waits for the files stage instead."""
    from prefect.context import FlowRunContext
    from prefect.task_runners import ThreadPoolTaskRunner

    context = FlowRunContext.get()
    return context is not None and isinstance(context.task_runner, ThreadPoolTaskRunner)


def normalize_and_load(data: DataDir, run: RawRun, config: RefreshConfig, page_bytes: int | None, files: FilesStage) -> dict:
    """Normalize and load the run's listing (bounded pages in flight) while its files are fetched; the run
    records how the load went. With no files to fetch, or on Dask, the files stage is finished first."""
    from warehouse.database import query_interrupted

    beside = bool(files.awaited) and _tasks_start_in_order()
    if not beside:
        files.finish()
    try:
        loaded = load_warehouse(data, run, config.pages_in_flight, page_bytes, files if beside else None)
    except BaseException as exc:
        files_error = files.stop(exc)
        run.record_load("failed", f"{type(exc).__name__}: {exc}".splitlines()[0][:500])
        if files_error is not None:
            raise files_error from exc
        if query_interrupted(exc):  # an interrupt DuckDB caught: still an interrupt, for whoever runs the flow
            raise KeyboardInterrupt(str(exc)) from exc
        raise
    run.record_load("loaded")
    return loaded


@contextmanager
def timed(run: RawRun, stage: str) -> Iterator[None]:
    """Record the stage's wall and CPU seconds (this process, every thread) in the run's manifest."""
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        yield
    finally:
        run.record_stage(stage, wall_s=time.perf_counter() - wall, cpu_s=time.process_time() - cpu)


@flow(name="nightly_refresh", log_prints=True)
def nightly_refresh(
    endpoint: str | None = None,
    data_dir: str = "hubcensus-data",
    scope: str = "configured",
    run_id: str | None = None,
    config_path: str | None = None,
    full: bool = False,
    page_size: int | None = None,
    concurrency: int | None = None,
    top_downloads: int | None = None,
    authors: list[str] | None = None,
    search: list[str] | None = None,
    catalog_paths: list[str] | None = None,
    shards: int = 1,
    page_bytes: int | None = None,
    processes: int = 1,
) -> dict[str, Any]:
    """Harvest (resuming ``run_id`` when given), normalize and load, reconcile against the catalog, report.

    ``shards`` splits the file fetches by repo hash; ``processes`` is how many processes harvest at once
    (Dask workers), between which the rate-limit quotas are split. The listing is normalized by one
    ``normalize-page`` task per ``page_bytes`` page on the flow's task runner, at most ``[normalize]
    pages_in_flight`` at once, each written by the flow as it comes (one transaction).
    After a successful load, raw runs beyond ``[retention] keep_raw_runs`` are pruned. Progress goes to the
    ``hubcensus.progress`` logger (the command line renders it; otherwise it goes to this run's log).
    """
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}: choose one of {', '.join(SCOPES)}")
    config = load_config(Path(config_path) if config_path else None).with_overrides(
        page_size=page_size, concurrency=concurrency, files_top_downloads=top_downloads,
        files_authors=tuple(authors) if authors else None, files_search=tuple(search) if search else None,
    )  # fmt: skip
    endpoint = (endpoint or config.endpoint or default_endpoint()).rstrip("/")
    data = DataDir(data_dir)
    if run_id is not None:
        run = RawRun.resume(data, check_run_id(run_id))
        get_run_logger().info("resuming run %s", run.run_id)
    else:
        run = RawRun.begin(data, endpoint=endpoint, scope=listing_query(config).scope_key, file_scope=scope, full=full, started_at=now_iso())

    with progress.to_logger(get_run_logger()):
        files = harvest(hub_client(endpoint, config, processes), data, run, config, scope, full, shards)
        with timed(run, "normalize_load"):  # from here the files stage and the load run side by side
            loaded = normalize_and_load(data, run, config, page_bytes, files)
        harvested = files.finish()
        with timed(run, "prune"):
            pruned = prune_raw(data, config.keep_raw_runs)
        with timed(run, "reconcile"):
            reconciled = reconcile_catalog(data, catalog_paths)
        with timed(run, "reports"):
            reports = build_report_set(data, run.run_id)
    return {
        "run_id": run.run_id,
        "raw_dir": str(run.root),
        **harvested,
        "loaded": loaded,
        "pruned": pruned,
        "reconciled": reconciled,
        "warehouse": str(data.warehouse),
        "reports": reports,
    }
