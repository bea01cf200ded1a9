"""The nightly_refresh flow end to end, in the session's one Prefect harness, against the replay Hub."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harvesters.landing import RawRun

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


def test_nightly_refresh_rejects_an_unknown_scope(data_dir):
    from flows.refresh import nightly_refresh

    with pytest.raises(ValueError, match="unknown scope 'everything'"):
        nightly_refresh(endpoint="http://127.0.0.1:9", data_dir=str(data_dir), scope="everything")
