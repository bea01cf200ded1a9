"""The synthetic Hub (harvesters/replay/synthetic.py), served by the replay Hub and read by the real client."""

from __future__ import annotations

import functools
import json
from urllib.parse import urlencode

import httpx2
import pytest
from huggingface_hub import HfApi, hf_hub_download

from harvesters.replay import Snapshot
from harvesters.replay.app import HubApp, Request
from harvesters.replay.snapshot import DirectorySnapshot
from harvesters.replay.synthetic import DEMO_SNAPSHOT, SyntheticSnapshot
from harvesters.settings import LISTING_EXPAND

N = 2_500


def test_list_models_pages_through_every_synthetic_model_once(replay_hub):
    snapshot = SyntheticSnapshot(N, seed=11)
    assert isinstance(snapshot, Snapshot)
    hub = replay_hub(snapshot, page_size=1000)
    models = list(HfApi(endpoint=hub.url).list_models(expand=list(LISTING_EXPAND), limit=None))
    ids = [m.id for m in models]
    assert len(ids) == N and len(set(ids)) == N
    assert ids == sorted(ids) == list(snapshot.ids())
    assert all(i.startswith("synth-org-") for i in ids)
    assert len([r for r in hub.requests if r["path"] == "/api/models"]) == 3  # 1000 + 1000 + 500
    # bodies keep the real field shapes: config, cardData, siblings and safetensors where the template has them
    assert any(m.safetensors is not None and m.safetensors.total for m in models)
    assert any(m.card_data is not None for m in models)
    assert all(m.siblings for m in models)
    assert len({m.sha for m in models}) == N


def test_model_info_and_download_of_a_synthetic_model(replay_hub, tmp_path):
    snapshot = SyntheticSnapshot(N, seed=11)
    hub = replay_hub(snapshot)
    # a model re-keyed from a repo whose config.json the demo snapshot holds
    repo_id = next(i for i in snapshot.ids() if snapshot.file(i, "config.json") is not None and not snapshot.model(i).get("gated"))
    info = HfApi(endpoint=hub.url).model_info(repo_id)
    assert info.id == repo_id and info.sha == snapshot.model(repo_id)["sha"]
    local = hf_hub_download(repo_id, "config.json", endpoint=hub.url, cache_dir=tmp_path / "cache")
    template = snapshot.template_of(repo_id)
    assert open(local, "rb").read() == (DEMO_SNAPSHOT / "files" / template / "config.json").read_bytes()


def test_same_seed_same_bodies_other_seed_other_bodies():
    a, b, c = SyntheticSnapshot(N, seed=5), SyntheticSnapshot(N, seed=5), SyntheticSnapshot(N, seed=6)
    assert a.version() == b.version() != c.version()
    ids = list(a.ids())
    assert ids == list(b.ids())
    for repo_id in ids[::97]:
        assert a.model_body(repo_id) == b.model_body(repo_id)
        assert json.loads(a.model_body(repo_id)) == a.model(repo_id)
    assert [a.model_body(i) for i in ids[:50]] != [c.model_body(i) for i in list(c.ids())[:50]]


def test_lazy_and_strict_about_ids():
    snapshot = SyntheticSnapshot(1_000_000, seed=1)
    ids = snapshot.ids()
    assert len(ids) == 1_000_000
    assert ids[0] < ids[1] < ids[999_999] == ids[-1]
    assert snapshot.model(ids[123_456])["id"] == ids[123_456]
    assert snapshot.model("synth-org-0000/nope-0001") is None
    assert snapshot.model_body("google-bert/bert-base-uncased") is None
    assert snapshot.file(ids[0], "../../etc/passwd") is None
    assert snapshot.redirect(ids[0]) is None


def test_a_million_model_hub_serves_pages_without_building_the_index(replay_hub):
    snapshot = SyntheticSnapshot(1_000_000, seed=3)
    ids = snapshot.ids()
    hub = replay_hub(snapshot, page_size=100)
    get = functools.partial(httpx2.get, timeout=120)  # a search walks ids (not bodies) up to its first match
    first = get(f"{hub.url}/api/models", params=[("expand", e) for e in LISTING_EXPAND])
    assert first.status_code == 200 and [m["id"] for m in first.json()] == ids[:100]
    second = get(first.links["next"]["url"])  # the Link cursor of page 1
    assert [m["id"] for m in second.json()] == ids[100:200] and set(second.json()[0]) == set(first.json()[0])
    # a page from the middle: an org halfway through the ids, then its next page through the Link cursor
    owner = ids[500_000].split("/")[0]
    middle = get(f"{hub.url}/api/models", params={"author": owner, "limit": 60})
    following = get(middle.links["next"]["url"])
    org = [i for i in ids[499_900:500_200] if i.startswith(owner + "/")]
    assert [m["id"] for m in middle.json() + following.json()] == org and "next" not in following.links
    found = get(f"{hub.url}/api/models", params={"search": owner.upper(), "limit": 30}).json()
    assert [m["id"] for m in found] == org[:30]
    last = get(f"{hub.url}/api/models", params={"direction": "-1", "limit": 5}).json()
    assert [m["id"] for m in last] == ids[-5:][::-1]
    index = hub.app.listing_index()
    assert not index.index_built
    assert index.bodies_read <= 2 * 101 + 61 + 41 + 31 + 6  # only the served bodies and one look-ahead per page


def _listing(app: HubApp, **params) -> list[str]:
    """Every id the listing serves for ``params``, following the Link header."""
    query, served = urlencode({**params, "expand": "downloads"}), []
    while True:
        response = app.handle(Request("GET", "/api/models", query, {}, "http://hub"))
        assert response.status == 200
        served += [m["id"] for m in json.loads(response.body)]
        link = response.headers.get("Link")
        if link is None:
            return served
        query = link[1 : link.index(">")].split("?", 1)[1]


@pytest.mark.parametrize("snapshot", [DirectorySnapshot(DEMO_SNAPSHOT), SyntheticSnapshot(N, seed=4)], ids=repr)
def test_streamed_pages_match_the_index(snapshot):
    ids = list(snapshot.ids())
    bodies = {i: snapshot.model(i) for i in ids}
    author = {i: str(b.get("author") or (i.split("/")[0] if "/" in i else "")).lower() for i, b in bodies.items()}
    cases = [
        ({}, ids),
        ({"direction": "-1"}, ids[::-1]),
        ({"search": "BERT"}, [i for i in ids if "bert" in i.lower()]),
        ({"search": "-00", "direction": "-1"}, [i for i in ids if "-00" in i][::-1]),
        ({"author": "OpenAI-Community"}, [i for i in ids if author[i] == "openai-community"]),  # gpt2 too
        ({"author": ids[-1].split("/")[0], "search": "a"}, [i for i in ids if author[i] == ids[-1].split("/")[0].lower() and "a" in i.lower()]),
    ]  # fmt: skip
    for limit in (1, 7, 1000):
        for params, expected in cases:
            app = HubApp(snapshot, page_size=limit)
            assert _listing(app, **params) == expected, params
            assert not app.listing_index().index_built
    app = HubApp(snapshot, page_size=7)
    assert _listing(app, sort="downloads", direction="1")[:3] and app.listing_index().index_built


# ---------------------------------------------------------------- a Hub that changes from night to night
def _alive(snapshot: SyntheticSnapshot) -> dict[str, dict]:
    return {i: body for i in snapshot.ids() if (body := snapshot.model(i)) is not None}


def test_the_drifting_hub_is_deterministic_in_seed_and_day():
    a, b = SyntheticSnapshot(3_000, seed=2, day=3), SyntheticSnapshot(3_000, seed=2, day=3)
    assert a.version() == b.version() != SyntheticSnapshot(3_000, seed=2, day=4).version()
    assert list(a.ids()) == list(b.ids()) and _alive(a) == _alive(b)
    # day 0 is the Hub without drift: the same ids and bodies as before --day existed
    day0, plain = SyntheticSnapshot(3_000, seed=2, day=0), SyntheticSnapshot(3_000, seed=2)
    assert _alive(day0) == _alive(plain) and len(day0.ids()) == 3_000


def test_daily_drift_follows_the_documented_rates():
    from harvesters.replay.synthetic import CHANGE_RATE, DELETE_RATE, NEW_RATE

    n, days = 10_000, 6
    before, after = _alive(SyntheticSnapshot(n, seed=9)), _alive(SyntheticSnapshot(n, seed=9, day=days))
    kept = before.keys() & after.keys()
    new, deleted = after.keys() - before.keys(), before.keys() - after.keys()
    changed = [i for i in kept if after[i]["sha"] != before[i]["sha"]]
    assert len(new) == round(n * NEW_RATE) * days
    expected_changed = n * (1 - (1 - CHANGE_RATE) ** days)  # ~585: binomial, sd ~24
    assert abs(len(changed) - expected_changed) < 0.2 * expected_changed
    assert abs(len(deleted) - n * DELETE_RATE * days) < 20  # ~30, sd ~5.5
    dated = [i for i in kept if "lastModified" in before[i]]  # the bodies of 8 templates have no dates or counts
    assert all(after[i]["lastModified"] > before[i]["lastModified"] for i in changed if i in dated)
    assert all(after[i]["lastModified"] == before[i]["lastModified"] for i in dated if i not in changed)
    popular = [i for i in dated if before[i]["downloads"] > 10]
    assert sum(after[i]["downloads"] != before[i]["downloads"] for i in popular) > 0.9 * len(popular)
    assert all(after[i]["likes"] >= before[i]["likes"] for i in dated)
    assert all(after[i]["createdAt"] > "2025-12-01" for i in new if "createdAt" in after[i])


def test_the_listing_of_a_later_day_skips_deleted_models_and_lists_new_ones():
    snapshot = SyntheticSnapshot(N, seed=4, day=30)
    alive = _alive(snapshot)
    assert len(alive) < len(snapshot.ids()) and any("-n" in i.split("/")[1] for i in alive)
    for limit in (7, 1000):
        app = HubApp(snapshot, page_size=limit)
        assert _listing(app) == sorted(alive)
    owner = next(iter(alive)).split("/")[0]
    assert _listing(HubApp(snapshot, page_size=50), author=owner) == sorted(i for i in alive if i.startswith(owner + "/"))


def test_replay_hub_day_needs_a_synthetic_hub(tmp_path):
    from typer.testing import CliRunner

    from flows.cli import app

    result = CliRunner().invoke(app, ["replay-hub", str(DEMO_SNAPSHOT), "--day", "2"])
    assert result.exit_code == 1 and "--day needs --synthetic N" in result.output
