"""Shared fixtures: a replay Hub on an ephemeral port, a temp data dir, one Prefect harness per session.

Environment is set before anything imports huggingface_hub or prefect: both read it at import time.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

_SESSION_TMP = Path(tempfile.mkdtemp(prefix="hubcensus-tests-"))
os.environ.update(
    {
        "PREFECT_HOME": str(_SESSION_TMP / "prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
        "PREFECT_LOGGING_LEVEL": "WARNING",
        "DO_NOT_TRACK": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_HUB_DISABLE_PROGRESS_BARS": "1",
        "DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED": "False",
        "HF_HOME": str(_SESSION_TMP / "hf-home"),
        # never reach the live Hub from a test: anything not pointed elsewhere hits a closed port
        "HF_ENDPOINT": "http://127.0.0.1:9",
    }
)
os.environ.pop("PREFECT_API_URL", None)
os.environ.pop("HF_TOKEN", None)

import pytest  # noqa: E402

from harvesters.replay import ReplayHub  # noqa: E402
from harvesters.settings import DEMO_SNAPSHOT  # noqa: E402



@pytest.fixture(autouse=True)
def _fresh_hf_home(tmp_path, monkeypatch):
    """A cached file must never hide a dead endpoint: every test gets its own HF_HOME."""
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))


@pytest.fixture
def data_dir(tmp_path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path


@pytest.fixture(scope="session")
def demo_snapshot() -> Path:
    return DEMO_SNAPSHOT


@pytest.fixture
def snapshot_copy(tmp_path) -> Path:
    """A writable copy of the bundled snapshot, for tests that change the Hub under the harvester."""
    target = tmp_path / "snapshot"
    shutil.copytree(DEMO_SNAPSHOT, target)
    return target


@pytest.fixture
def replay_hub(tmp_path):
    """Factory: start a replay Hub on an ephemeral loopback port; all are stopped at teardown."""
    started: list[ReplayHub] = []

    def start(snapshot_dir: Path | None = None, **options) -> ReplayHub:
        options.setdefault("request_log", tmp_path / f"requests-{len(started)}.ndjson")
        hub = ReplayHub(snapshot_dir or DEMO_SNAPSHOT, host="127.0.0.1", port=0, **options)
        hub.start()
        started.append(hub)
        return hub

    yield start
    for hub in started:
        hub.stop()


@pytest.fixture(scope="session")
def prefect_harness():
    """The one Prefect test harness of the session (~16 s to start): request it only where a flow runs."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        from prefect.settings import PREFECT_API_URL

        yield PREFECT_API_URL.value()  # a subprocess given this URL uses the harness's server, not its own
