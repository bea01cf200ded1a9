"""The nightly_refresh flow end to end, in the session's one Prefect harness, against the replay Hub."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest

from harvesters.landing import DataDir, RawRun

pytestmark = pytest.mark.usefixtures("prefect_harness")


def test_nightly_refresh_lands_the_whole_snapshot(replay_hub, demo_snapshot, data_dir):
    from flows.refresh import nightly_refresh

    hub = replay_hub(page_size=7)
    result = nightly_refresh(endpoint=hub.url, data_dir=str(data_dir), page_size=7)

    run = RawRun.open(data_dir, result["run_id"])
    manifest = run.read_manifest()
    assert manifest["status"] == "complete" and manifest["endpoint"] == hub.url
    expected = {json.loads(p.read_bytes())["id"] for p in (demo_snapshot / "api/models").rglob("*.json")}
    landed = [m["id"] for m in run.iter_models()]
    assert sorted(landed) == sorted(expected) and result["models"] == len(expected)
    assert result["files"]["ok"] == sum(1 for p in (run.root / "files").rglob("*") if p.is_file())
    assert (Path(result["reports"]) / "index.html").is_file()


def test_reports_are_published_as_prefect_artifacts(replay_hub, data_dir):
    from prefect import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    from flows.refresh import nightly_refresh

    result = nightly_refresh(endpoint=replay_hub().url, data_dir=str(data_dir), scope="metadata")
    with get_client(sync_client=True) as client:
        summary = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["hubcensus-reports"])))
        tables = [a for a in client.read_artifacts() if a.type == "table"]
    assert summary and summary[0].type == "markdown"
    assert Path(result["reports"]).name in summary[0].data or "index" in summary[0].data
    assert tables


def test_nightly_refresh_rejects_an_unknown_scope(data_dir):
    from flows.refresh import nightly_refresh

    with pytest.raises(ValueError, match="unknown scope 'everything'"):
        nightly_refresh(endpoint="http://127.0.0.1:9", data_dir=str(data_dir), scope="everything")


# ---------------------------------------------------------------- incremental refresh (request-log tests)
RUN_COLUMNS = {"run_id", "first_seen_run", "last_seen_run", "first_seen_at", "observed_on"}
COMPARED = ("models", "model_configs", "model_cards", "model_files", "model_lineage", "catalog_matches", "reconciliation")


def resolve_requests(hub, since: int = 0) -> list[str]:
    return [r["path"] for r in hub.requests[since:] if "/resolve/" in r["path"]]


def content(data_dir: Path) -> dict[str, list[tuple]]:
    """Every compared table's rows, without the columns that name the run that wrote them."""
    import duckdb

    con = duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True)
    try:
        out = {}
        for table in COMPARED:
            columns = [c for (c,) in con.execute(
                "SELECT column_name FROM duckdb_columns() WHERE table_name = ? ORDER BY column_index", [table]
            ).fetchall() if c not in RUN_COLUMNS]  # fmt: skip
            cols = ", ".join(f't."{c}"' for c in columns)
            # configs and cards keep every sha seen (history): compare those at each model's current sha
            current = " JOIN models m ON m.repo_id = t.repo_id AND m.sha = t.sha" if table in ("model_configs", "model_cards") else ""
            out[table] = con.execute(f"SELECT {cols} FROM {table} t{current} ORDER BY ALL").fetchall()
        return out
    finally:
        con.close()


def change_sha(snapshot: Path, repo_ids: list[str]) -> None:
    for repo_id in repo_ids:
        path = snapshot / "api" / "models" / f"{repo_id}.json"
        body = json.loads(path.read_bytes())
        body["sha"] = "f" * 40 if body.get("sha") != "f" * 40 else "e" * 40
        path.write_text(json.dumps(body))


def test_second_refresh_of_an_unchanged_hub_downloads_nothing(replay_hub, data_dir):
    from flows.refresh import nightly_refresh

    hub = replay_hub()
    first = nightly_refresh(endpoint=hub.url, data_dir=str(data_dir))
    assert first["files"]["ok"] > 0
    asked = [r["path"] for r in hub.requests if r["path"].startswith("/api/models/")]
    assert "/api/models/meta-llama/Meta-Llama-3.1-8B" in asked  # an unlisted lineage parent, asked once
    before = len(hub.requests)
    second = nightly_refresh(endpoint=hub.url, data_dir=str(data_dir))
    assert resolve_requests(hub, before) == []
    assert [r for r in hub.requests[before:] if r["path"].startswith("/api/models/")] == []  # only new parents are asked
    assert second["files"] == {} and second["models"] == first["models"]  # stats still refreshed from the listing


def test_changed_shas_are_fetched_again_and_the_warehouse_matches_a_full_refresh(replay_hub, snapshot_copy, tmp_path):
    from flows.refresh import nightly_refresh

    incremental, full = tmp_path / "incremental", tmp_path / "full"
    hub = replay_hub(snapshot_copy)
    nightly_refresh(endpoint=hub.url, data_dir=str(incremental))
    changed = ["google-bert/bert-base-uncased", "sentence-transformers/all-MiniLM-L6-v2", "google-t5/t5-small"]
    change_sha(snapshot_copy, changed)

    before = len(hub.requests)
    nightly_refresh(endpoint=hub.url, data_dir=str(incremental))
    fetched = {p.split("/resolve/")[0].lstrip("/") for p in resolve_requests(hub, before)}
    assert fetched == set(changed)

    nightly_refresh(endpoint=hub.url, data_dir=str(full), full=True)
    assert content(incremental) == content(full)


def test_full_flag_refetches_everything(replay_hub, data_dir):
    from flows.refresh import nightly_refresh

    hub = replay_hub()
    first = nightly_refresh(endpoint=hub.url, data_dir=str(data_dir))
    before = len(hub.requests)
    again = nightly_refresh(endpoint=hub.url, data_dir=str(data_dir), full=True)
    assert sum(again["files"].values()) == sum(first["files"].values())
    assert resolve_requests(hub, before)


def test_deleted_repos_are_marked_never_dropped(replay_hub, snapshot_copy, data_dir):
    import duckdb

    from flows.refresh import nightly_refresh

    hub = replay_hub(snapshot_copy)
    nightly_refresh(endpoint=hub.url, data_dir=str(data_dir), scope="metadata")
    (snapshot_copy / "api/models/facebook/bart-base.json").unlink()
    nightly_refresh(endpoint=hub.url, data_dir=str(data_dir), scope="metadata")

    con = duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True)
    rows = dict(con.execute("SELECT repo_id, deleted_on IS NOT NULL FROM models").fetchall())
    history = con.execute("SELECT count(*) FROM model_stats_history WHERE repo_id = 'facebook/bart-base'").fetchall()[0][0]
    con.close()
    assert rows["facebook/bart-base"] is True
    assert sum(rows.values()) == 1
    assert history >= 1
    # the digest of the second run says so, as the Prefect markdown artifact hubcensus-changes
    from prefect import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
    from prefect.client.schemas.sorting import ArtifactSort

    with get_client(sync_client=True) as client:
        digests = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["hubcensus-changes"])),
                                        sort=ArtifactSort.CREATED_DESC, limit=1)
    assert digests and digests[0].type == "markdown"
    assert "1 deleted" in digests[0].data and "| deleted | facebook/bart-base |" in digests[0].data


# ---------------------------------------------------------------- scale-out and schedule
def test_nightly_deployment_is_created_with_its_cron():
    from prefect import get_client

    from flows.schedule import nightly_deployment

    deployment = nightly_deployment("30 2 * * *", "Europe/Paris", {"data_dir": "/srv/hubcensus"})
    deployment_id = deployment.apply()
    with get_client(sync_client=True) as client:
        stored = client.read_deployment(deployment_id)
    assert stored.name == "nightly" and stored.entrypoint == "flows.refresh.nightly_refresh"
    assert stored.parameters == {"data_dir": "/srv/hubcensus"}
    (schedule,) = stored.schedules
    assert schedule.schedule.cron == "30 2 * * *" and schedule.schedule.timezone == "Europe/Paris"


def test_prefect_yaml_describes_the_same_deployment():
    import yaml

    from flows.schedule import DEFAULT_CRON, DEPLOYMENT_NAME

    spec = yaml.safe_load((Path(__file__).resolve().parent.parent / "prefect.yaml").read_text())
    (deployment,) = spec["deployments"]
    assert deployment["name"] == DEPLOYMENT_NAME
    assert deployment["entrypoint"] == "flows/refresh.py:nightly_refresh"
    assert deployment["schedules"][0]["cron"] == DEFAULT_CRON
    assert deployment["work_pool"]["name"] == "hubcensus"


def test_a_crashed_run_resumes_without_duplicates(replay_hub, data_dir):
    import duckdb

    from flows.refresh import nightly_refresh
    from harvesters.harvest import fetch_files, files_in_scope, land_listing
    from harvesters.hub import HubClient, ListingQuery

    hub = replay_hub()
    # the run crashed after its listing and five files
    run = RawRun.create(data_dir, endpoint=hub.url, scope="listing:search=;author=;filter=")
    land_listing(HubClient(hub.url), run, ListingQuery())
    targets = list(files_in_scope(run.iter_models()))
    fetch_files(HubClient(hub.url), run, targets[:5])
    run.write_manifest(status="failed")

    before = len(hub.requests)
    result = nightly_refresh(endpoint=hub.url, data_dir=str(data_dir), run_id=run.run_id, scope="all")
    after = hub.requests[before:]
    assert result["run_id"] == run.run_id and run.read_manifest()["status"] == "complete"
    assert not [r for r in after if r["path"] == "/api/models" and "limit" in r["query"] and "expand" in r["query"]]
    refetched = {r["path"] for r in after if "/resolve/" in r["path"]}
    assert not any(p.startswith(f"/{t.repo_id}/resolve/") and p.endswith("/" + t.path) for t in targets[:5] for p in refetched)

    con = duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True)
    n, distinct = con.execute("SELECT count(*), count(DISTINCT repo_id) FROM models").fetchall()[0]
    fetch_rows = con.execute("SELECT count(*) FROM file_fetches").fetchall()[0][0]
    con.close()
    assert n == distinct == result["models"]
    assert fetch_rows == len(targets)


def test_a_dask_cluster_of_two_worker_processes_gives_the_same_warehouse(replay_hub, tmp_path):
    """File shards and listing pages run on two Dask worker processes; the flow writes the pages in order."""
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect_dask import DaskTaskRunner

    from flows.refresh import nightly_refresh

    hub = replay_hub()
    threads, dask = tmp_path / "threads", tmp_path / "dask"
    nightly_refresh(endpoint=hub.url, data_dir=str(threads), page_size=7, page_bytes=4_000)

    runner = DaskTaskRunner(cluster_kwargs={"n_workers": 2, "processes": True, "threads_per_worker": 1, "dashboard_address": ":0"})
    state = nightly_refresh.with_options(task_runner=runner)(
        endpoint=hub.url, data_dir=str(dask), shards=4, page_size=7, page_bytes=4_000, return_state=True
    )
    result = state.result()
    assert result["files"]["ok"] > 0
    pages = len(RawRun.open(dask, result["run_id"]).listing_spans(4_000))
    with get_client(sync_client=True) as client:
        flow_run = FlowRunFilter(id=FlowRunFilterId(any_=[state.state_details.flow_run_id]))
        names = [t.name for t in client.read_task_runs(flow_run_filter=flow_run) if t.state and t.state.is_completed()]
    assert pages > 3 and sum(n.startswith("normalize-page") for n in names) == pages
    assert not (dask / "staging" / result["run_id"]).exists()  # the run's staged facts are removed once loaded
    # pages counted in harvest_runs differ (one vs several); every table compared here is the same
    assert content(dask) == content(threads)


def test_staging_left_by_runs_no_longer_running_is_cleared(replay_hub, data_dir):
    from flows.refresh import nightly_refresh

    crashed = RawRun.create(data_dir)
    crashed.write_manifest(status="failed")
    # another run still in flight (its owner process is alive: this one) keeps its staging
    running = RawRun.create(data_dir, pid=os.getpid(), host=socket.gethostname())
    for run in (crashed, running):
        (data_dir / "staging" / run.run_id / "page-000000").mkdir(parents=True)

    nightly_refresh(endpoint=replay_hub().url, data_dir=str(data_dir), scope="metadata")
    assert not (data_dir / "staging" / crashed.run_id).exists()
    assert (data_dir / "staging" / running.run_id).exists()


def test_a_malformed_listing_entry_costs_its_field_never_the_run(replay_hub, snapshot_copy, data_dir):
    import duckdb

    from flows.refresh import nightly_refresh

    path = snapshot_copy / "api/models/facebook/bart-base.json"
    body = json.loads(path.read_bytes())
    body["siblings"] = [{"rfilename": "config.json"}, 3, None, "README.md"]
    body["downloads"] = "lots"
    path.write_text(json.dumps(body))

    result = nightly_refresh(endpoint=replay_hub(snapshot_copy).url, data_dir=str(data_dir), scope="all")
    con = duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True)
    kept = con.execute("SELECT count(*) FROM models WHERE repo_id = 'facebook/bart-base'").fetchall()[0][0]
    notes = [r[0] for r in con.execute("SELECT reason FROM quarantine WHERE repo_id = 'facebook/bart-base'").fetchall()]
    con.close()
    assert kept == 1 and result["models"] == len(list((snapshot_copy / "api/models").rglob("*.json")))
    assert any("siblings" in note for note in notes)


def test_the_flow_refuses_a_path_like_run_id_before_touching_anything(tmp_path):
    from flows.refresh import nightly_refresh
    from hubcensus.errors import InvalidInput

    data_dir = tmp_path / "data"
    (data_dir / "raw").mkdir(parents=True)
    (tmp_path / "x").mkdir()
    for bad in ("../x", "../../x", str(tmp_path / "x")):
        with pytest.raises(InvalidInput, match="invalid run id"):
            nightly_refresh(endpoint="http://127.0.0.1:9", data_dir=str(data_dir), run_id=bad)
    assert (data_dir / "raw").is_dir() and (tmp_path / "x").is_dir()


def test_the_nightly_flow_prunes_raw_runs_beyond_keep_raw_runs_and_records_its_stages(replay_hub, data_dir, tmp_path):
    import duckdb

    from flows.refresh import nightly_refresh

    config = tmp_path / "hubcensus.toml"
    config.write_text("[retention]\nkeep_raw_runs = 1\n\n[normalize]\npages_in_flight = 1\n")
    hub = replay_hub()
    first = nightly_refresh(endpoint=hub.url, data_dir=str(data_dir), scope="metadata", config_path=str(config))
    second = nightly_refresh(endpoint=hub.url, data_dir=str(data_dir), scope="metadata", config_path=str(config))
    assert second["pruned"] == [first["run_id"]] and DataDir(data_dir).run_ids() == [second["run_id"]]
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as con:
        rows = con.execute("SELECT run_id, raw_pruned_at IS NOT NULL FROM harvest_runs ORDER BY run_id").fetchall()
    assert rows == [(first["run_id"], True), (second["run_id"], False)]  # the warehouse keeps both runs
    manifest = RawRun.open(data_dir, second["run_id"]).read_manifest()
    assert {"listing", "files", "normalize_load", "prune", "reconcile", "reports"} <= set(manifest["stages"])
    assert all(v["wall_s"] >= 0 and v["cpu_s"] >= 0 for v in manifest["stages"].values())
    listing = manifest["listing"]
    assert listing["format"] == "models.ndjson.zst" and 0 < listing["bytes"] < listing["uncompressed_bytes"]


def test_the_flow_holds_at_most_pages_in_flight_pages_while_it_loads(replay_hub, data_dir):
    """Counted at every page the flow writes: the normalized pages still alive in this process, never timed."""
    import gc
    import logging

    from flows.refresh import nightly_refresh
    from hubcensus.progress import listening
    from warehouse.pages import NormalizedPage

    alive: list[int] = []

    class CountPages(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            event = getattr(record, "progress", None)
            if event is not None and event.stage == "load" and event.kind == "advance":
                gc.collect()
                alive.append(sum(isinstance(o, NormalizedPage) for o in gc.get_objects()))

    hub = replay_hub()
    with listening(CountPages()):
        nightly_refresh(endpoint=hub.url, data_dir=str(data_dir), scope="metadata", page_size=3, page_bytes=4_000)  # a page a frame
    assert len(alive) > 5  # many pages: a page kept alive by the task runner would add up
    assert max(alive) <= 2 + 1  # the default pages_in_flight, plus the page being written


def test_a_files_stage_that_fails_beside_the_load_fails_the_run_and_a_resume_finishes_it(replay_hub, data_dir, tmp_path):
    """The load starts while files are still fetched; when the fetches stop (here: the run's deadline), the
    load's transaction leaves nothing, the run fails keeping what it settled, and a resume loads it whole."""
    import duckdb

    from flows.refresh import nightly_refresh
    from harvesters.replay.faults import FaultPlan, FaultRule

    hub = replay_hub()
    hub.faults = FaultPlan([FaultRule.latency(0.3, path="/resolve/")])
    deadline = tmp_path / "deadline.toml"
    deadline.write_text("[hub]\nmax_run_hours = 0.002\n\n[files]\nconcurrency = 1\n")  # ~7 s: the listing, a few files
    with pytest.raises(Exception, match="deadline|stopped"):
        nightly_refresh(endpoint=hub.url, data_dir=str(data_dir), scope="all", config_path=str(deadline), page_bytes=4_000)
    (run,) = DataDir(data_dir).runs()
    manifest = run.read_manifest()
    assert manifest["status"] == "failed" and manifest["load"]["status"] == "failed"
    settled = len(run.fetch_outcomes())
    assert settled > 0
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM models").fetchone()[0] == 0  # one transaction: nothing half-loaded
        assert con.execute("SELECT count(*) FROM harvest_runs").fetchone()[0] == 0
    hub.faults = FaultPlan([])
    result = nightly_refresh(endpoint=hub.url, data_dir=str(data_dir), scope="all", run_id=run.run_id)
    assert run.read_manifest()["status"] == "complete" and sum(result["files"].values()) >= settled
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*), count(DISTINCT repo_id) FROM models").fetchone() == (result["models"], result["models"])
        assert con.execute("SELECT count(*) FROM model_configs").fetchone()[0] > 0
