"""The nightly flow through a faulty replay Hub (a `--faults` SPEC, over 20% of answers spoiled) loads what a
fault-free run loads: same tables, same file outcomes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harvesters.replay import FaultPlan, FaultRule

pytestmark = pytest.mark.usefixtures("prefect_harness")

# ~36% of first attempts spoiled; max-per-request=1 lets each request's retry through, so about a quarter
# of all answers are faults: every kind the harvester must survive, on the listing and the file routes.
SPEC = "429:0.1,503:0.08,500:0.06,reset:0.06,truncate:0.06,retry-after=0,max-per-request=1"


def faulty_plan() -> FaultPlan:
    """The SPEC, plus one sure fault of each kind on the listing and on a file (dice alone could miss one)."""
    plan = FaultPlan.from_spec(SPEC, seed=11)
    sure = [
        FaultRule.truncated(path="^/api/models$", method="GET"),
        FaultRule.dropped(path="^/api/models$", method="GET"),
        *(rule(path="/resolve/", method="GET") for rule in (FaultRule.truncated, FaultRule.dropped, FaultRule.server_error)),
        FaultRule.rate_limited(path="/resolve/", method="GET", retry_after=0),
    ]
    plan.rules = sure + plan.rules
    return plan


def test_a_refresh_through_faults_equals_a_fault_free_one(replay_hub, tmp_path):
    from flows.refresh import nightly_refresh
    from test_flows import content

    clean_hub = replay_hub(page_size=7)
    clean = nightly_refresh(endpoint=clean_hub.url, data_dir=str(tmp_path / "clean"), page_size=7)
    faulty_hub = replay_hub(page_size=7, faults=faulty_plan())
    faulty = nightly_refresh(endpoint=faulty_hub.url, data_dir=str(tmp_path / "faulty"), page_size=7)

    entries = [json.loads(line) for line in Path(faulty_hub.request_log).read_text().splitlines()]
    faults = [e for e in entries if e.get("fault") not in (None, "delay")]
    assert len(faults) / len(entries) >= 0.20, (len(faults), len(entries))
    assert {e["fault"] for e in faults} == {"status_429", "status_503", "status_500", "drop_connection", "truncate"}
    kinds = {"resolve" if "/resolve/" in e["path"] else "listing" if e["path"] == "/api/models" else "info" for e in faults}
    assert {"listing", "resolve"} <= kinds <= {"listing", "info", "resolve"}  # info: renamed lineage parents

    assert faulty["files"] == clean["files"] and faulty["models"] == clean["models"]
    assert content(tmp_path / "faulty") == content(tmp_path / "clean")
