"""The ``nightly_refresh`` flow: each task is one stage (Hub → raw → warehouse → catalog → reports).

Tasks pass small values (ids, paths, counts); the data itself moves through the raw landing and the
warehouse file, so any stage can be re-run alone from what the stage before it left.
"""

from __future__ import annotations

import zlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task

from flows.config import RefreshConfig, load_config
from flows.lineage_tasks import resolve_renamed_parents
from harvesters.harvest import FileTarget, fetch_files, files_in_scope, land_listing
from harvesters.hub import HubClient, ListingQuery
from harvesters.landing import RawRun
from harvesters.ratelimit import shared_limiter, tier_quotas
from harvesters.scope import FileScope, needs_fetch, select_models
from harvesters.settings import default_endpoint

SCOPES = ("configured", "all", "metadata")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def listing_query(config: RefreshConfig) -> ListingQuery:
    return ListingQuery(
        search=config.listing_search or None,
        author=config.listing_author or None,
        filters=config.listing_filters,
        page_size=config.page_size,
    )


def listing_scope_key(query: ListingQuery) -> str:
    """Names the listing's scope: watermarks and deletions compare runs of the same scope only."""
    parts = [f"search={query.search or ''}", f"author={query.author or ''}", f"filter={','.join(sorted(query.filters))}"]
    return "listing:" + ";".join(parts)


def _client(endpoint: str, config: RefreshConfig, processes: int = 1) -> HubClient:
    """A client behind the process-wide rate limiter; quotas are split between parallel processes."""
    share = max(1, processes)
    quotas = tier_quotas(config.tier, api=config.rate_api, resolvers=config.rate_resolvers)
    shared_limiter({bucket: max(1, quota // share) for bucket, quota in quotas.items()})
    return HubClient(endpoint)


@task(name="harvest-listing", retries=2, retry_delay_seconds=[5, 30])
def harvest_listing(endpoint: str, data_dir: str, run_id: str, config: RefreshConfig) -> int:
    """Sweep the listing with expand into raw/<run_id>/models.ndjson (every model: stats refresh nightly)."""
    log = get_run_logger()
    run = RawRun.open(Path(data_dir), run_id)
    count = land_listing(_client(endpoint, config), run, listing_query(config), progress=log.info)
    log.info("landed %d models in %s", count, run.models_path)
    return count


@task(name="plan-fetches")
def plan_fetches(data_dir: str, run_id: str, scope: str, config: RefreshConfig, full: bool) -> list[FileTarget]:
    """The files to fetch: the models in scope, minus those already settled at their current sha."""
    from warehouse.database import warehouse_path
    from warehouse.state import catalog_scope_repos, last_fetch_outcomes

    log = get_run_logger()
    if scope == "metadata":
        return []
    db_path = warehouse_path(data_dir)
    if scope == "all" or config.files_all:
        file_scope = FileScope(everything=True)
    else:
        catalog_repos = catalog_scope_repos(db_path) if config.files_catalog else frozenset()
        file_scope = FileScope(
            top_downloads=config.files_top_downloads,
            authors=config.files_authors,
            search=config.files_search,
            repo_ids=catalog_repos,
        )
    run = RawRun.open(Path(data_dir), run_id)
    in_scope = list(select_models(run.iter_models(), file_scope))
    last = {} if full else last_fetch_outcomes(db_path)
    # a resumed run keeps what it settled before it crashed
    last.update({key: (row.get("sha"), row["status"]) for key, row in run.fetch_outcomes().items()})
    by_id = {m["id"]: m for m in in_scope}
    targets = [t for t in files_in_scope(in_scope) if needs_fetch(by_id[t.repo_id], t.path, last)]
    log.info("%d models in file scope; %d files to fetch (%s)", len(in_scope), len(targets), "full" if full else "incremental")
    return targets


@task(name="fetch-shard", retries=1, retry_delay_seconds=[10])
def fetch_shard(endpoint: str, data_dir: str, run_id: str, targets: list[FileTarget], config: RefreshConfig, processes: int) -> list[dict]:
    """Fetch one shard's files (bounded threads, rate-limited); landing is atomic per file.

    The outcomes go back to the flow, the single writer of the run's fetch log.
    """
    run = RawRun.open(Path(data_dir), run_id)
    outcomes: list[dict] = []
    fetch_files(_client(endpoint, config, processes), run, targets, concurrency=config.concurrency, record=outcomes.append)
    return outcomes


@task(name="plan-normalize")
def plan_normalize(data_dir: str, run_id: str, page_bytes: int | None = None) -> list:
    """Cut models.ndjson into pages (byte spans at line ends) and bring the warehouse to the latest schema,
    so that normalize shards can read stored facts through read-only connections."""
    import shutil

    from warehouse.database import warehouse_path
    from warehouse.loading import PAGE_BYTES, migrate_warehouse, plan_pages, staging_dir

    migrate_warehouse(warehouse_path(data_dir))
    # leftovers: this run's (resumed) and those of runs no longer running (they restage if resumed)
    for leftover in staging_dir(data_dir, run_id).parent.glob("*"):
        manifest = Path(data_dir) / "raw" / leftover.name / "run.json"
        if leftover.name == run_id or not manifest.exists() or RawRun.open(Path(data_dir), leftover.name).read_manifest().get("status") != "running":
            shutil.rmtree(leftover, ignore_errors=True)
    spans = plan_pages(RawRun.open(Path(data_dir), run_id), page_bytes or PAGE_BYTES)
    get_run_logger().info("%d listing pages to normalize", len(spans))
    return spans


@task(name="normalize-shard")
def normalize_shard(data_dir: str, run_id: str, spans: list) -> list[str]:
    """Normalize some listing pages (read-only on the warehouse) and stage each under staging/<run_id>/."""
    from warehouse.database import warehouse_path
    from warehouse.loading import iter_normalized, stage_page, staging_dir

    run = RawRun.open(Path(data_dir), run_id)
    directory = staging_dir(data_dir, run_id)
    return [str(stage_page(page, directory)) for page in iter_normalized(run, spans, warehouse_path(data_dir))]


@task(name="load-warehouse")
def load_warehouse(data_dir: str, run_id: str, staged: list[str] | None = None) -> dict[str, int]:
    """Write the run into warehouse.duckdb in one transaction, the only writer.

    With ``staged`` (normalize-shard outputs): write those pages in file order. Without: normalize and
    load the raw run in this task (``load_raw_run``).
    """
    import shutil

    from warehouse.database import warehouse_path
    from warehouse.loading import load_raw_run, read_staged, staging_dir, write_normalized

    if staged is None:
        counts = load_raw_run(warehouse_path(data_dir), Path(data_dir) / "raw" / run_id)
    else:
        run = RawRun.open(Path(data_dir), run_id)
        pages = (read_staged(path) for path in sorted(staged))  # page-<index> names sort in file order
        counts = write_normalized(warehouse_path(data_dir), run, pages)
        shutil.rmtree(staging_dir(data_dir, run_id), ignore_errors=True)
    get_run_logger().info("loaded: %s", counts)
    return counts


@task(name="reconcile-catalog")
def reconcile_catalog(data_dir: str, catalog_paths: list[str] | None) -> dict[str, int]:
    """Match the curated catalog to the Hub's models and record agreements, conflicts and gaps."""
    from warehouse.database import warehouse_path
    from warehouse.reconcile import reconcile_warehouse

    counts = reconcile_warehouse(warehouse_path(data_dir), catalog_paths)
    get_run_logger().info("reconciled: %s", counts)
    return counts


@task(name="build-reports")
def build_report_set(data_dir: str, run_id: str) -> str:
    """Build the dated report set from the marts and publish its summary as Prefect artifacts."""
    from prefect.artifacts import create_markdown_artifact, create_table_artifact

    from reports.build import build_reports, summary_tables
    from warehouse.database import warehouse_path

    out = build_reports(warehouse_path(data_dir), Path(data_dir) / "reports", run_id=run_id)
    summary = summary_tables(out)
    create_markdown_artifact(key="hubcensus-reports", markdown=summary["markdown"], description=f"report set {summary['date']}")
    for key, (description, rows) in summary["tables"].items():
        create_table_artifact(key=key, table=rows, description=description)
    get_run_logger().info("reports: %s", out / "index.html")
    return str(out)


def shard(targets: list[FileTarget], shards: int) -> list[list[FileTarget]]:
    """Split by a stable hash of repo_id: a repo's files stay together, shards are independent."""
    buckets: list[list[FileTarget]] = [[] for _ in range(max(1, shards))]
    for target in targets:
        buckets[zlib.crc32(target.repo_id.encode()) % len(buckets)].append(target)
    return [b for b in buckets if b]


def split_spans(spans: list, shards: int | None) -> list[list]:
    """Contiguous groups of listing pages: one per page by default, at most ``shards`` groups when given."""
    if not spans:
        return []
    count = len(spans) if not shards else max(1, min(shards, len(spans)))
    size, extra = divmod(len(spans), count)
    groups, start = [], 0
    for i in range(count):
        end = start + size + (i < extra)
        groups.append(spans[start:end])
        start = end
    return groups


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
    normalize_shards: int | None = None,
) -> dict[str, Any]:
    """Harvest (resuming ``run_id`` when given), normalize and load, reconcile against the catalog, report.

    ``shards`` splits the file fetches by repo hash; the listing is normalized in page shards (one task per
    ``page_bytes`` page, or ``normalize_shards`` groups of pages) on the flow's task runner, then written by
    one ``load-warehouse`` task in one transaction.
    """
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}: choose one of {', '.join(SCOPES)}")
    log = get_run_logger()
    config = load_config(Path(config_path) if config_path else None).with_overrides(
        page_size=page_size,
        concurrency=concurrency,
        files_top_downloads=top_downloads,
        files_authors=tuple(authors) if authors else None,
        files_search=tuple(search) if search else None,
    )
    endpoint = (endpoint or config.endpoint or default_endpoint()).rstrip("/")
    query = listing_query(config)
    if run_id and (Path(data_dir) / "raw" / run_id).exists():
        run = RawRun.open(Path(data_dir), run_id)
        run.write_manifest(status="running", resumed_at=_now())
        log.info("resuming run %s", run_id)
    else:
        run = RawRun.create(
            Path(data_dir), run_id, endpoint=endpoint, scope=listing_scope_key(query), file_scope=scope, full=full, started_at=_now()
        )

    try:
        n_models = harvest_listing(endpoint, data_dir, run.run_id, config)
        resolve_renamed_parents(endpoint, data_dir, run.run_id, config)
        targets = plan_fetches(data_dir, run.run_id, scope, config, full)
        parts = shard(targets, shards)
        futures = [fetch_shard.submit(endpoint, data_dir, run.run_id, part, config, len(parts)) for part in parts]
        files: dict[str, int] = {}
        for future in futures:
            for outcome in future.result():
                run.record_fetch(**outcome)  # one writer: the flow
                files[outcome["status"]] = files.get(outcome["status"], 0) + 1
        log.info("files: %s", files or "none to fetch")
    except BaseException:
        run.write_manifest(status="failed", finished_at=_now())
        raise
    run.write_manifest(status="complete", finished_at=_now(), counts={"models": n_models, "files": files})

    spans = plan_normalize(data_dir, run.run_id, page_bytes)
    groups = split_spans(spans, normalize_shards)
    normalizing = [normalize_shard.submit(data_dir, run.run_id, group) for group in groups]
    staged = [path for future in normalizing for path in future.result()]
    loaded = load_warehouse(data_dir, run.run_id, staged)
    reconciled = reconcile_catalog(data_dir, catalog_paths)
    reports = build_report_set(data_dir, run.run_id)
    return {
        "run_id": run.run_id,
        "raw_dir": str(run.root),
        "models": n_models,
        "files": files,
        "normalize_shards": len(groups),
        "loaded": loaded,
        "reconciled": reconciled,
        "warehouse": str(Path(data_dir) / "warehouse.duckdb"),
        "reports": reports,
    }
