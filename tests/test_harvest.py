"""Harvest through the real huggingface_hub client against the replay Hub: listing, files, retries, resume."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from harvesters.harvest import FileTarget, fetch_files, fetch_one, files_in_scope, land_listing
from harvesters.hub import HubClient, HubUnreachable, ListingQuery
from harvesters.landing import RawRun, list_runs


def snapshot_ids(snapshot: Path) -> set[str]:
    return {json.loads(p.read_bytes())["id"] for p in (snapshot / "api" / "models").rglob("*.json")}


def request_log(hub) -> list[dict]:
    return [json.loads(line) for line in Path(hub.request_log).read_text().splitlines()]


def harvest(hub, data_dir: Path, page_size: int = 5, token=None) -> RawRun:
    client = HubClient(hub.url, token=token)
    run = RawRun.create(data_dir)
    land_listing(client, run, ListingQuery(page_size=page_size))
    fetch_files(client, run, files_in_scope(run.iter_models()))
    return run


def test_listing_lands_every_model_exactly_once_across_pages(replay_hub, demo_snapshot, data_dir):
    hub = replay_hub(page_size=5)
    run = RawRun.create(data_dir)
    count = land_listing(HubClient(hub.url), run, ListingQuery(page_size=5))

    ids = [m["id"] for m in run.iter_models()]
    assert count == len(ids)
    assert len(ids) == len(set(ids))
    assert set(ids) == snapshot_ids(demo_snapshot)
    listing_calls = [r for r in request_log(hub) if r["path"] == "/api/models"]
    assert len(listing_calls) == math.ceil(len(ids) / 5) > 1
    # every page asked for the expand fields, so the landed lines carry them
    assert all("expand" in r["query"] for r in listing_calls)
    assert all("sha" in m and "siblings" in m for m in run.iter_models())


def test_landed_lines_are_the_hubs_json(replay_hub, demo_snapshot, data_dir):
    hub = replay_hub()
    run = RawRun.create(data_dir)
    land_listing(HubClient(hub.url), run, ListingQuery(expand=("sha", "downloads", "cardData")))
    by_id = {m["id"]: m for m in run.iter_models()}
    body = json.loads((demo_snapshot / "api/models/google-bert/bert-base-uncased.json").read_bytes())
    landed = by_id["google-bert/bert-base-uncased"]
    assert landed["sha"] == body["sha"]
    assert landed["cardData"] == body["cardData"]
    assert landed["downloads"] == body["downloads"]


def test_files_land_byte_for_byte_and_gated_files_are_recorded(replay_hub, demo_snapshot, data_dir):
    hub = replay_hub()
    run = harvest(hub, data_dir)
    outcomes = run.fetch_outcomes()

    config = run.file_path("google-bert/bert-base-uncased", "config.json")
    assert config.read_bytes() == (demo_snapshot / "files/google-bert/bert-base-uncased/config.json").read_bytes()
    gated = [o for o in outcomes.values() if o["status"] == "gated"]
    assert gated and all(o["repo_id"].startswith("meta-llama/") for o in gated)
    assert all(o["http_status"] == 401 for o in gated)
    # a file the siblings name but the snapshot lacks is "missing", asked once, not an error
    assert not [o for o in outcomes.values() if o["status"] == "error"]
    for (repo_id, path), outcome in outcomes.items():
        if outcome["status"] == "ok":
            assert run.file_path(repo_id, path).stat().st_size == outcome["bytes"]


def test_gated_files_come_with_the_accepted_token(replay_hub, data_dir):
    hub = replay_hub(accept_token="hf_test_token")
    run = harvest(hub, data_dir, token="hf_test_token")
    statuses = {o["status"] for o in run.fetch_outcomes().values() if o["repo_id"].startswith("meta-llama/")}
    assert "gated" not in statuses
    assert "hf_test_token" not in repr(HubClient(hub.url, token="hf_test_token"))


def test_unknown_repo_and_missing_file_are_recorded_not_raised(replay_hub, data_dir):
    hub = replay_hub()
    client, run = HubClient(hub.url), RawRun.create(data_dir)
    assert fetch_one(client, run, FileTarget("nobody/nothing", None, "config.json"))["status"] == "not_found"
    missing = fetch_one(client, run, FileTarget("google-bert/bert-base-uncased", None, "no-such-file.json"))
    assert missing["status"] == "missing" and missing["http_status"] == 404


def test_resumed_run_fetches_only_what_it_had_not_landed(replay_hub, data_dir):
    hub = replay_hub()
    client = HubClient(hub.url)
    run = RawRun.create(data_dir)
    land_listing(client, run, ListingQuery())
    targets = list(files_in_scope(run.iter_models()))
    fetch_files(client, run, targets[:5])  # the run "crashes" after five files

    resumed = RawRun.open(data_dir, run.run_id)
    before = len(request_log(hub))
    land_listing(client, resumed, ListingQuery())  # listing already landed: no request
    fetch_files(client, resumed, targets)
    after = request_log(hub)[before:]

    assert not [r for r in after if r["path"] == "/api/models"]
    fetched_again = {r["path"] for r in after if "/resolve/" in r["path"]}
    for target in targets[:5]:
        assert not any(p.startswith(f"/{target.repo_id}/resolve/") and p.endswith(target.path) for p in fetched_again)
    assert set(resumed.fetch_outcomes()) == {(t.repo_id, t.path) for t in targets}
    assert list_runs(data_dir) == [run.run_id]


def test_unreachable_endpoint_is_one_clear_error():
    with pytest.raises(HubUnreachable, match="cannot reach the Hub at http://127.0.0.1:9"):
        HubClient("http://127.0.0.1:9").check_reachable()
