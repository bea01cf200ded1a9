"""A run's lifecycle under real mistakes: killed mid-fetch, stopped by a signal, blocked by a reader.

The refresh that gets killed runs as a real ``hubcensus`` process (its own ephemeral Prefect); the
resume runs in this session's Prefect harness. The replay Hub counts every request.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flows.prefect_env import PrefectServerError, TemporaryServer, orphaned_servers, stop_orphaned_servers
from harvesters.landing import DataDir
from harvesters.replay import FaultPlan, FaultRule

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.usefixtures("prefect_harness")


def start_refresh(hub_url: str, data_dir: Path, prefect_home: Path, *extra: str, api_url: str | None = None) -> subprocess.Popen:
    """``hubcensus refresh`` in its own process: with its own ephemeral Prefect server, or ``api_url``'s."""
    env = {**os.environ, "PREFECT_HOME": str(prefect_home)}
    if api_url is not None:
        env["PREFECT_API_URL"] = api_url
    args = [sys.executable, "-m", "flows.cli", "refresh", "--endpoint", hub_url, "--data-dir", str(data_dir), "--scope", "all", *extra]
    return subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def wait_for(condition, timeout: float = 120, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def settled_lines(data_dir: Path) -> int:
    runs = DataDir(data_dir).runs()
    return len(runs[0].fetches_path.read_bytes().splitlines()) if runs and runs[0].fetches_path.exists() else 0


def resolved(requests: list[dict]) -> set[tuple[str, str]]:
    pairs = set()
    for r in requests:
        if "/resolve/" in r["path"]:
            repo, _, rest = r["path"].lstrip("/").partition("/resolve/")
            pairs.add((repo, rest.split("/", 1)[1]))
    return pairs


def test_a_run_killed_mid_fetch_resumes_without_asking_again_for_what_it_settled(replay_hub, tmp_path):
    from flows.refresh import nightly_refresh

    hub = replay_hub()
    hub.faults = FaultPlan([FaultRule.latency(0.25, path="/resolve/")])
    data_dir, home = tmp_path / "data", tmp_path / "prefect"
    process = start_refresh(hub.url, data_dir, home, "--concurrency", "2")
    try:
        wait_for(lambda: settled_lines(data_dir) >= 8, what="eight settled fetches")
    finally:
        process.kill()
        process.wait()
    (run,) = DataDir(data_dir).runs()
    settled = set(run.fetch_outcomes())
    assert run.status == "running"  # killed outright: nobody said otherwise
    (run.files_root / ".config.json.abc.tmp").write_bytes(b"half")  # what a kill mid-write leaves
    assert orphaned_servers(str(home)), "the killed process's ephemeral Prefect server is left running"
    assert stop_orphaned_servers(str(home)) and wait_for(lambda: not orphaned_servers(str(home)), 30, "the orphan to stop") is None

    hub.faults = None
    before = len(hub.requests)
    result = nightly_refresh(endpoint=hub.url, data_dir=str(data_dir), run_id=run.run_id, scope="all")
    asked_again = resolved(hub.requests[before:])

    manifest = run.read_manifest()
    assert result["run_id"] == run.run_id and manifest["status"] == "complete"
    assert manifest["abandoned_at"]  # marked abandoned at the next start, then resumed
    assert not asked_again & settled and asked_again  # the rest, and only the rest
    assert set(run.fetch_outcomes()) == settled | asked_again
    assert sum(manifest["counts"]["files"].values()) == len(settled | asked_again) == sum(result["files"].values())
    assert not list(run.root.rglob("*.tmp"))


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_stops_a_run_waiting_on_the_hub_promptly_and_marks_it_failed(replay_hub, tmp_path, sig, prefect_harness):
    hub = replay_hub()
    hub.faults = FaultPlan([FaultRule.rate_limited(path="/resolve/", times=None, retry_after=250)])
    data_dir, home = tmp_path / "data", tmp_path / "prefect"
    # SIGTERM with the process's own ephemeral server (it must stop with it); SIGINT on the session's server
    process = start_refresh(hub.url, data_dir, home, api_url=prefect_harness if sig == signal.SIGINT else None)
    try:
        wait_for(lambda: any(r.get("status") == 429 for r in hub.requests), what="a 429")
        time.sleep(1)
        process.send_signal(sig)
        output, _ = process.communicate(timeout=60)  # a 250 s pause must not hold it
    finally:
        process.kill()
    (run,) = DataDir(data_dir).runs()
    manifest = run.read_manifest()
    assert process.returncode == 1, output.decode()
    assert manifest["status"] == "failed" and "interrupted" in manifest["error"]
    assert b"resume it with `hubcensus refresh --resume" in output
    assert not orphaned_servers(str(home))  # stopped with the process


CTRL_C_WHILE_POLARS_RUNS = """
import sys, threading
import polars as pl
from flows.cli import sigint_to_python

sigint_to_python()

def queries():  # what a normalize-page thread does while the flow's thread waits for its page
    while True:
        pl.DataFrame({"a": range(1000)}).lazy().filter(pl.col("a") > 3).collect()

threading.Thread(target=queries, daemon=True).start()
print("waiting", flush=True)
try:
    threading.Event().wait()
except KeyboardInterrupt:
    print("interrupted", flush=True)
"""


def test_ctrl_c_reaches_the_waiting_main_thread_while_another_thread_runs_polars():
    """Polars' own SIGINT handler, installed when it is imported, lost this signal (the refresh above hung)."""
    process = subprocess.Popen([sys.executable, "-c", CTRL_C_WHILE_POLARS_RUNS], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        assert process.stdout.readline() == b"waiting\n"
        time.sleep(0.5)
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=20)
    finally:
        process.kill()
    assert b"interrupted" in output, output.decode()


def test_the_temporary_server_is_started_only_where_prefect_would_start_one(monkeypatch):
    for name in ("PREFECT_API_URL", "PREFECT_SERVER_EPHEMERAL_ENABLED", "PREFECT_SERVER_ALLOW_EPHEMERAL_MODE"):
        monkeypatch.delenv(name, raising=False)
    assert TemporaryServer.wanted()
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:4200/api")
    assert not TemporaryServer.wanted()  # a server of the operator's own
    monkeypatch.delenv("PREFECT_API_URL")
    monkeypatch.setenv("PREFECT_SERVER_EPHEMERAL_ENABLED", "false")
    assert not TemporaryServer.wanted()  # Prefect would refuse to start one: so do we


def test_a_server_named_in_prefect_settings_wins_and_the_temporary_one_stops_unused(prefect_harness, tmp_path, monkeypatch):
    from prefect.settings import PREFECT_API_URL

    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "prefect"))
    server = TemporaryServer()
    process = server.process
    with server.serving():
        assert PREFECT_API_URL.value() == prefect_harness  # the harness's server, named in the settings
    assert server.process is None and process.wait(timeout=10) is not None


def test_a_temporary_server_that_does_not_answer_in_time_is_stopped_with_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "prefect"))
    server = TemporaryServer()
    process = server.process
    with pytest.raises(PrefectServerError, match="did not answer within 0 s"):
        server.wait_ready(0.3)  # its imports alone take seconds
    assert server.process is None and process.wait(timeout=10) is not None
    assert not orphaned_servers(str(tmp_path / "prefect"))


def test_a_reader_holding_the_warehouse_fails_the_load_and_the_run_record_says_so(replay_hub, data_dir, monkeypatch):
    from flows.refresh import nightly_refresh
    from warehouse import database

    monkeypatch.setattr(database, "WRITE_LOCK_WAIT_S", 0.5)  # the writer's bounded wait for the lock (60 s by default)
    hub = replay_hub()
    nightly_refresh(endpoint=hub.url, data_dir=str(data_dir), scope="metadata")
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('ready', flush=True); time.sleep(120)",
         str(DataDir(data_dir).warehouse)],
        stdout=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == b"ready"
        with pytest.raises(Exception, match="(?i)lock"):
            nightly_refresh(endpoint=hub.url, data_dir=str(data_dir), scope="metadata")
    finally:
        holder.kill()
        holder.wait()
    latest = DataDir(data_dir).runs()[-1].read_manifest()
    assert latest["status"] == "complete"  # the harvest itself is whole: rebuild or resume loads it
    assert latest["load"]["status"] == "failed" and "lock" in latest["load"]["error"].lower()
