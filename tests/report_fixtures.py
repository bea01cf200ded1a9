"""The report tests' warehouse: the REAL pipeline over the bundled snapshot plus one hostile model.

``real_reports`` (session scope, ~3-6 s) copies ``harvesters/demo_snapshot``, adds ``mallory/markup-model`` (a
real model_info body, zephyr-orpo's, re-assembled with markup in the fields a repo owner controls: the card's
``base_model`` and ``tags``, the config's ``model_type`` and ``architectures``), serves it with a
``ReplayHub`` on an ephemeral port, harvests it with the real ``huggingface_hub`` client (``land_listing``
+ ``fetch_files``), then ``load_raw_run`` (after the run of the day before, ``report_data.land_previous_run``, so
that the digest has something to compare) → ``reconcile_warehouse`` → ``build_reports``. No Prefect here:
the flow wiring is tested in test_flows.py; this is the same stages called directly.

The markup thus travels Hub JSON → raw landing → Polars normalization → DuckDB tables → marts → reports.
A report test module loads it with ``pytest_plugins = ("report_fixtures",)`` (one build per session, however
many modules use it) and takes its constants from report_data; it must not import this module itself (pytest
could then not rewrite its asserts, and an imported fixture is one instance per importing module).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from report_data import DATE, DEMO_SNAPSHOT, PREVIOUS_RUN_ID, RUN_ID, add_hostile_models, land_previous_run


@dataclass(frozen=True)
class RealReports:
    data_dir: Path
    db: Path  # warehouse.duckdb, built by the real pipeline
    out: Path  # the dated report set, data_dir/reports/<DATE>
    run_id: str
    snapshot: Path
    endpoint: str  # the replay Hub's URL while it ran (stopped once the set is built)


def build_real_reports(base: Path) -> RealReports:
    """Snapshot copy + hostile models → replay Hub → harvest → load → reconcile → reports, under ``base``."""
    from harvesters.harvest import fetch_files, files_in_scope, land_listing
    from harvesters.hub import HubClient, ListingQuery
    from harvesters.landing import RawRun
    from harvesters.replay import ReplayHub
    from reports.build import build_reports
    from harvesters.landing import DataDir
    from warehouse.loading import load_raw_run
    from warehouse.reconcile import reconcile_warehouse

    snapshot = base / "snapshot"
    shutil.copytree(DEMO_SNAPSHOT, snapshot)
    add_hostile_models(snapshot)
    data_dir = base / "data"
    data_dir.mkdir()
    hub = ReplayHub(snapshot, host="127.0.0.1", port=0, page_size=20, request_log=base / "requests.ndjson")
    hub.start()
    endpoint = hub.url
    try:
        client = HubClient(hub.url)
        query = ListingQuery(page_size=20)  # two pages: the cursor is followed as in production
        run = RawRun.create(data_dir, RUN_ID, endpoint=hub.url, scope="listing:search=;author=;filter=",
                            file_scope="all", full=True, started_at="2025-03-01T02:00:00+00:00")
        n_models = land_listing(client, run, query)
        files = fetch_files(client, run, files_in_scope(run.iter_models()), concurrency=8)
        assert files["ok"] > 0 and not files.get("error"), f"the harvest did not go through: {dict(files)}"
        run.write_manifest(status="complete", finished_at="2025-03-01T02:11:40+00:00",
                           counts={"models": n_models, "files": dict(files)})
    finally:
        hub.stop()
    db = DataDir(data_dir).warehouse
    land_previous_run(data_dir, scope=run.read_manifest()["scope"])  # the day before: the digest compares RUN_ID with it
    load_raw_run(db, DataDir(data_dir).run_dir(PREVIOUS_RUN_ID))
    load_raw_run(db, run.root)
    reconcile_warehouse(db)
    out = build_reports(db, data_dir / "reports", run_id=RUN_ID, today=DATE)
    return RealReports(data_dir, db, out, RUN_ID, snapshot, endpoint)


@pytest.fixture(scope="session")
def real_reports(tmp_path_factory) -> RealReports:
    """One real warehouse and report set for every report test of the session (read them, never write)."""
    return build_real_reports(tmp_path_factory.mktemp("real-reports"))
