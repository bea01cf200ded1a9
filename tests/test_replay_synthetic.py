"""The synthetic Hub (harvesters/replay/synthetic.py), served by the replay Hub and read by the real client."""

from __future__ import annotations

import json

from huggingface_hub import HfApi, hf_hub_download

from harvesters.replay import Snapshot
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
