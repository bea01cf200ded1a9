"""The ``nightly_refresh`` flow: each task is one stage of the pipeline (Hub → raw → warehouse → ...)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task

from harvesters.harvest import fetch_files, files_in_scope, land_listing
from harvesters.hub import HubClient, ListingQuery
from harvesters.landing import RawRun
from harvesters.settings import FETCH_CONCURRENCY, LISTING_PAGE_SIZE, default_endpoint

SCOPES = ("all", "metadata")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@task(name="harvest-listing", retries=2, retry_delay_seconds=[5, 30])
def harvest_listing(endpoint: str, data_dir: str, run_id: str, page_size: int) -> int:
    """Sweep the listing with expand into raw/<run_id>/models.ndjson."""
    log = get_run_logger()
    run = RawRun.create(Path(data_dir), run_id)
    count = land_listing(HubClient(endpoint), run, ListingQuery(page_size=page_size), progress=log.info)
    log.info("landed %d models in %s", count, run.models_path)
    return count


@task(name="fetch-files", retries=1, retry_delay_seconds=[10])
def fetch_model_files(endpoint: str, data_dir: str, run_id: str, scope: str, concurrency: int) -> dict[str, int]:
    """Fetch config.json and README.md of the models in scope into raw/<run_id>/files/."""
    log = get_run_logger()
    run = RawRun.open(Path(data_dir), run_id)
    if scope == "metadata":
        log.info("scope 'metadata': no files fetched")
        return {}
    targets = list(files_in_scope(run.iter_models()))
    statuses = fetch_files(HubClient(endpoint), run, targets, concurrency=concurrency, progress=log.info)
    log.info("files: %s", dict(statuses))
    return dict(statuses)


@flow(name="nightly_refresh", log_prints=True)
def nightly_refresh(
    endpoint: str | None = None,
    data_dir: str = "hubcensus-data",
    scope: str = "all",
    run_id: str | None = None,
    page_size: int = LISTING_PAGE_SIZE,
    concurrency: int = FETCH_CONCURRENCY,
) -> dict[str, Any]:
    """Harvest the Hub into the raw landing (resuming ``run_id`` when given), then the later stages."""
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}: choose one of {', '.join(SCOPES)}")
    endpoint = (endpoint or default_endpoint()).rstrip("/")
    if run_id and (Path(data_dir) / "raw" / run_id).exists():
        run = RawRun.open(Path(data_dir), run_id)
        run.write_manifest(status="running", resumed_at=_now())
    else:
        run = RawRun.create(Path(data_dir), run_id, endpoint=endpoint, scope=scope, started_at=_now())

    try:
        n_models = harvest_listing(endpoint, data_dir, run.run_id, page_size)
        files = fetch_model_files(endpoint, data_dir, run.run_id, scope, concurrency)
    except BaseException:
        run.write_manifest(status="failed", finished_at=_now())
        raise
    run.write_manifest(status="complete", finished_at=_now(), counts={"models": n_models, "files": files})
    return {"run_id": run.run_id, "raw_dir": str(run.root), "models": n_models, "files": files}
