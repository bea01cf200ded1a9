"""The client-side rate limiter: quotas per window and bucket, shared pauses on 429, over real HTTP."""

from __future__ import annotations

import httpx2
import pytest

from harvesters.harvest import fetch_files, files_in_scope, land_listing
from harvesters.hub import HubClient, ListingQuery
from harvesters.landing import RawRun
from harvesters.ratelimit import HubRateLimiter, bucket_of
from harvesters.replay import FaultPlan, FaultRule


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def limiter(quotas, clock: FakeClock) -> HubRateLimiter:
    return HubRateLimiter(quotas=quotas, window_s=300, clock=clock, sleep=clock.sleep)


def test_quota_per_window_and_bucket():
    clock = FakeClock()
    lim = limiter({"api": 3, "resolvers": 2}, clock)
    for _ in range(3):
        lim.acquire("api")
    lim.acquire("resolvers")
    lim.acquire("resolvers")
    assert clock.slept == []  # within both quotas
    lim.acquire("api")  # the 4th API call waits for the window to slide
    assert sum(clock.slept) == pytest.approx(300)


def test_429_pauses_everyone_for_retry_after():
    clock = FakeClock()
    lim = limiter({"api": 100, "resolvers": 100}, clock)
    lim.observe(429, httpx2.Headers({"Retry-After": "7"}))
    lim.acquire("resolvers")  # a different bucket backs off too
    assert sum(clock.slept) == pytest.approx(7)
    assert lim.throttled == 1


def test_ratelimit_header_with_nothing_left_waits_for_the_reset():
    clock = FakeClock()
    lim = limiter({"api": 100}, clock)
    lim.observe(200, httpx2.Headers({"RateLimit": '"api";r=0;t=42'}))
    lim.acquire("api")
    assert sum(clock.slept) == pytest.approx(42)
    lim.observe(200, httpx2.Headers({"RateLimit": '"api";r=12;t=42'}))
    before = sum(clock.slept)
    lim.acquire("api")
    assert sum(clock.slept) == before


def test_buckets():
    assert bucket_of("/api/models") == "api"
    assert bucket_of("/google-bert/bert-base-uncased/resolve/abc/config.json") == "resolvers"


def test_limiter_sees_every_request_of_a_real_harvest_and_backs_off_on_429(replay_hub, data_dir):
    hub = replay_hub(page_size=10)
    hub.faults = FaultPlan([FaultRule(path=r"/resolve/", status=429, retry_after=1, times=2)])
    lim = HubRateLimiter(quotas={"api": 1000, "resolvers": 1000})
    client, run = HubClient(hub.url, limiter=lim), RawRun.create(data_dir)
    land_listing(client, run, ListingQuery(page_size=10))
    statuses = fetch_files(client, run, files_in_scope(run.iter_models()), concurrency=4)
    assert lim.throttled == 2 and lim.waited_s > 0
    assert statuses.get("error", 0) == 0
    served = [r for r in hub.requests if r["path"].startswith("/api/models") or "/resolve/" in r["path"]]
    assert sum(len(lim._sent[b]) for b in lim._sent) == len(served)


def test_fetch_shards_on_threads_share_one_client_and_its_full_quota(replay_hub, data_dir):
    """--shards 4 without Dask: four shards, one process, one limiter at the tier's whole quota."""
    from concurrent.futures import ThreadPoolExecutor

    from flows.config import RefreshConfig
    from flows.refresh import hub_client
    from harvesters.harvest import shard_targets

    hub = replay_hub()
    config = RefreshConfig(rate_resolvers=1000)
    client = hub_client(hub.url, config, processes=1)
    assert client.limiter.quotas["resolvers"] == 1000  # not 1000 // shards
    run = RawRun.create(data_dir)
    land_listing(client, run, ListingQuery())
    shards = shard_targets(list(files_in_scope(run.iter_models())), 4)
    assert len(shards) == 4
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda part: fetch_files(client, run, part, concurrency=2), shards))
    resolves = [r for r in hub.requests if "/resolve/" in r["path"]]
    # every shard's requests in ONE window: the one limiter saw more than any single shard sent (one GET per file)
    assert len(client.limiter._sent["resolvers"]) == len(resolves) == sum(map(len, shards)) > max(map(len, shards))
    assert client.limiter.waited_s == 0
    assert hub_client(hub.url, config, processes=2).limiter.quotas["resolvers"] == 500  # split between processes only
