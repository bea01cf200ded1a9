"""Retention of the raw landing (``hubcensus prune``): never a running run, never the newest complete one."""

from __future__ import annotations

import os
import socket

import duckdb
import pytest
from typer.testing import CliRunner

from flows.cli import app
from harvesters.landing import DataDir, RawRun
from hubcensus.errors import InvalidInput
from warehouse.database import open_warehouse
from harvesters.replay.fixtures import make_raw_run, snapshot_bodies
from warehouse.loading import LoadError, rebuild
from warehouse.retention import plan_prune

runner = CliRunner()
LOADED_OLD, FAILED, UNLOADED, RUNNING, KEPT, NEWEST = (f"2025010{d}T000000Z-aaaaaa" for d in range(1, 7))


@pytest.fixture
def data(data_dir) -> DataDir:
    """Six runs, oldest first: complete+loaded, failed, complete but never loaded, running (this process),
    then two complete+loaded ones."""
    bodies = snapshot_bodies()[:3]
    for run_id in (LOADED_OLD, UNLOADED, KEPT, NEWEST):
        make_raw_run(data_dir, run_id, bodies=bodies, files={})
    RawRun.create(data_dir, FAILED).write_manifest(status="failed")
    RawRun.create(data_dir, RUNNING, pid=os.getpid(), host=socket.gethostname())
    con = open_warehouse(DataDir(data_dir).warehouse)
    con.executemany("INSERT INTO harvest_runs (run_id, status) VALUES (?, 'complete')", [[r] for r in (LOADED_OLD, KEPT, NEWEST)])
    con.close()
    return DataDir(data_dir)


def test_prune_deletes_only_old_runs_that_are_safe_to_delete(data):
    dry = runner.invoke(app, ["prune", "--keep", "2", "--dry-run", "--data-dir", str(data.root)])
    assert dry.exit_code == 0, dry.output
    assert f"would delete {LOADED_OLD}" in dry.output and f"would delete {FAILED}" in dry.output
    assert set(data.run_ids()) == {LOADED_OLD, FAILED, UNLOADED, RUNNING, KEPT, NEWEST}  # a dry run touches nothing

    done = runner.invoke(app, ["prune", "--keep", "2", "--data-dir", str(data.root)])
    assert done.exit_code == 0, done.output
    assert set(data.run_ids()) == {UNLOADED, RUNNING, KEPT, NEWEST}
    assert f"kept {UNLOADED}: complete but not loaded" in done.output and f"kept {RUNNING}: still running" in done.output
    with duckdb.connect(str(data.warehouse), read_only=True) as con:
        pruned = con.execute("SELECT run_id FROM harvest_runs WHERE raw_pruned_at IS NOT NULL").fetchall()
        assert pruned == [(LOADED_OLD,)] and con.execute("SELECT count(*) FROM harvest_runs").fetchall()[0][0] == 3
    assert not list(data.raw.glob(".*"))  # nothing half-deleted left behind


def test_the_newest_complete_run_and_running_runs_always_stay(data):
    plan = plan_prune(data, keep=1)
    assert [r.run_id for r in plan.prune] == [LOADED_OLD, FAILED, KEPT]
    assert plan.keep == [NEWEST] and plan.skipped[RUNNING] == "still running"
    with pytest.raises(InvalidInput, match="at least 1"):
        plan_prune(data, keep=0)
    refused = runner.invoke(app, ["prune", "--keep", "0", "--data-dir", str(data.root)])
    assert refused.exit_code != 0 and set(data.run_ids()) == {LOADED_OLD, FAILED, UNLOADED, RUNNING, KEPT, NEWEST}


def test_a_full_rebuild_refuses_once_runs_were_pruned(data):
    runner.invoke(app, ["prune", "--keep", "2", "--data-dir", str(data.root)])
    with pytest.raises(LoadError, match="pruned"):
        rebuild(data)
    result = runner.invoke(app, ["rebuild", "--data-dir", str(data.root)])
    assert result.exit_code == 1 and "rebuild --run RUN_ID" in result.output and "Traceback" not in result.output
    assert rebuild(data, run_id=NEWEST)[NEWEST]["models"] == 3  # one run still reloads
