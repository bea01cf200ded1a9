"""Harvesting under an unkind Hub and an unkind disk: capped waits, stops, deadlines, landing errors.

The real huggingface_hub client over HTTP against the replay Hub; nothing is mocked.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from harvesters.harvest import FileTarget, fetch_files, files_in_scope, land_listing
from harvesters.hub import HubClient, ListingQuery
from harvesters.landing import RawRun
from harvesters.ratelimit import HubRateLimiter, RetryAfterTooLong, RunDeadlineExceeded, RunStopped
from harvesters.replay import FaultPlan, FaultRule, ReplayHub

BERT = "google-bert/bert-base-uncased"


def limited(hub_url: str, **settings) -> HubClient:
    return HubClient(hub_url, limiter=HubRateLimiter(quotas={"api": 1000, "resolvers": 1000}, **settings))


def targets_of(client: HubClient, run: RawRun) -> list[FileTarget]:
    land_listing(client, run, ListingQuery())
    return list(files_in_scope(run.iter_models()))


def test_a_retry_after_beyond_the_cap_fails_that_file_and_the_run_goes_on(replay_hub, data_dir):
    hub = replay_hub()
    hub.faults = FaultPlan([FaultRule.rate_limited(path=f"^/{BERT}/resolve/", times=None, retry_after=100_000)])
    client, run = limited(hub.url, max_retry_after_s=2), RawRun.create(data_dir)
    targets = targets_of(client, run)

    statuses = fetch_files(client, run, targets, concurrency=4)
    outcomes = run.fetch_outcomes()
    assert all(outcomes[(BERT, t.path)]["status"] == "error" for t in targets if t.repo_id == BERT)
    assert "retry after 100,000 s" in outcomes[(BERT, "config.json")]["reason"]
    assert statuses["ok"] > 0 and len(outcomes) == len(targets)  # everyone else was fetched
    assert client.limiter.waited_s < 60  # the shared pause was capped, not 100,000 s


def test_a_stopped_client_wakes_its_waiting_threads_and_keeps_what_settled(replay_hub, data_dir):
    hub = replay_hub()
    client, run = limited(hub.url, max_retry_after_s=300), RawRun.create(data_dir)
    targets = targets_of(client, run)
    settled = fetch_files(client, run, targets[:4], concurrency=2)
    assert sum(settled.values()) == 4
    # the next file asks everyone to wait 250 s (under the cap): only a stop ends that wait
    hub.faults = FaultPlan([FaultRule.rate_limited(path="/resolve/", retry_after=250)])
    threading.Timer(1.0, client.stop).start()
    started = time.monotonic()
    with pytest.raises(RunStopped):
        fetch_files(client, run, targets, concurrency=4)
    assert time.monotonic() - started < 30
    assert len(run.fetch_outcomes()) >= 4  # what settled before the stop is in the log


def test_past_its_deadline_a_run_sends_nothing_more(replay_hub, data_dir):
    hub = replay_hub()
    client, run = limited(hub.url), RawRun.create(data_dir)
    targets = targets_of(client, run)
    client.limiter.deadline = time.time() - 1
    before = len(hub.requests)
    with pytest.raises(RunDeadlineExceeded):
        fetch_files(client, run, targets, concurrency=4)
    assert len(hub.requests) == before and run.fetch_outcomes() == {}


def test_the_listing_refuses_an_endless_retry_after(replay_hub, data_dir):
    hub = replay_hub()
    hub.faults = FaultPlan([FaultRule.rate_limited(path="^/api/models$", retry_after=100_000)])
    client = limited(hub.url, max_retry_after_s=5)
    with pytest.raises(RetryAfterTooLong, match="more than max_retry_after_s"):
        land_listing(client, RawRun.create(data_dir), ListingQuery())


class TwoRepos:
    """A Hub whose repo ids would collide as paths: ``collide`` and ``collide/config.json``."""

    BODIES = {
        "collide": {"id": "collide", "sha": "a" * 40, "siblings": [{"rfilename": "config.json"}]},
        "collide/config.json": {"id": "collide/config.json", "sha": "b" * 40, "siblings": [{"rfilename": "config.json"}]},
    }

    def version(self):
        return 1

    def ids(self):
        return sorted(self.BODIES)

    def model_body(self, repo_id):
        return json.dumps(self.BODIES[repo_id]).encode() if repo_id in self.BODIES else None

    def model(self, repo_id):
        return self.BODIES.get(repo_id)

    def file(self, repo_id, path):
        return json.dumps({"model_type": "bert", "repo": repo_id}).encode() if repo_id in self.BODIES and path == "config.json" else None

    def redirect(self, repo_id):
        return None


def test_repos_whose_ids_look_like_each_others_paths_both_land(data_dir):
    with ReplayHub(TwoRepos()) as hub:
        client, run = HubClient(hub.url), RawRun.create(data_dir)
        statuses = fetch_files(client, run, targets_of(client, run))
    assert statuses == {"ok": 2}
    for repo_id in TwoRepos.BODIES:
        assert json.loads(run.file_path(repo_id, "config.json").read_bytes())["repo"] == repo_id


def test_a_file_that_cannot_land_is_that_files_error_not_the_runs(replay_hub, data_dir):
    hub = replay_hub()
    client, run = HubClient(hub.url), RawRun.create(data_dir)
    targets = targets_of(client, run)
    blocked = run.file_path(BERT, "config.json").parent
    blocked.parent.mkdir(parents=True, exist_ok=True)
    blocked.write_text("a file where the repo's folder should be")  # as a full disk would, landing fails

    statuses = fetch_files(client, run, targets, concurrency=4)
    outcomes = run.fetch_outcomes()
    assert outcomes[(BERT, "config.json")]["status"] == "error"
    assert "could not land the file" in outcomes[(BERT, "config.json")]["reason"]
    assert statuses["ok"] > 0 and len(outcomes) == len(targets)


def test_a_torn_last_line_of_the_fetch_log_is_skipped(data_dir):
    run = RawRun.create(data_dir)
    run.record_fetch(repo_id="o/m", sha="s", path="config.json", status="ok", http_status=200, reason=None, bytes=3)
    with open(run.fetches_path, "ab") as fh:
        fh.write(b'{"repo_id": "o/n", "pa')  # the process died mid-write
    assert list(run.fetch_outcomes()) == [("o/m", "config.json")]
    assert Path(run.fetches_path).exists()
