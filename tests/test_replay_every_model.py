"""The replay Hub serves every model of its snapshot, legacy names included, and names at start-up what it cannot."""

from __future__ import annotations

import json
import logging

from huggingface_hub import HfApi

from harvesters.hub import HubClient, client_accepts
from harvesters.replay import DirectorySnapshot

LONG = "espnet/kan-bayashi_jsut_tts_train_conformer_fastspeech2_tacotron2_teacher_raw_phn_jaconv_pyopenjtalk_accent_with_pause_train.loss.ave"


def add_model(snapshot, repo_id: str, card: bytes) -> None:
    org, name = repo_id.split("/")
    (snapshot / "api" / "models" / org).mkdir(parents=True, exist_ok=True)
    (snapshot / "api" / "models" / org / f"{name}.json").write_text(json.dumps({"id": repo_id, "sha": "a" * 40, "siblings": [{"rfilename": "README.md"}]}))
    (snapshot / "files" / org / name).mkdir(parents=True, exist_ok=True)
    (snapshot / "files" / org / name / "README.md").write_bytes(card)


def test_a_legacy_name_longer_than_96_characters_is_listed_described_and_downloadable(replay_hub, snapshot_copy):
    add_model(snapshot_copy, LONG, b"---\nlicense: cc-by-4.0\n---\n# card\n")
    assert len(LONG.split("/")[1]) > 96 and not client_accepts(LONG)
    hub = replay_hub(snapshot_copy)
    listed = [m.id for m in HfApi(endpoint=hub.url).list_models(author="espnet")]
    assert LONG in listed
    client = HubClient(hub.url)
    assert client.download(LONG, "README.md").startswith(b"---\nlicense: cc-by-4.0")
    assert client.canonical_id(LONG) == LONG
    assert hub.snapshot.unservable == {}


def test_what_cannot_be_served_is_named_at_start_up(snapshot_copy, caplog):
    models = snapshot_copy / "api" / "models"
    (models / "acme").mkdir()
    (models / "acme" / "broken.json").write_text("{not json")
    (models / "acme" / "renamed.json").write_text(json.dumps({"id": "acme/other-name"}))
    (models / "acme" / "deep").mkdir()
    (models / "acme" / "deep" / "model.json").write_text(json.dumps({"id": "acme/deep/model"}))
    with caplog.at_level(logging.WARNING, logger="harvesters.replay.snapshot"):
        snapshot = DirectorySnapshot(snapshot_copy)
    assert set(snapshot.unservable) == {"acme/broken.json", "acme/renamed.json", "acme/deep/model.json"}
    assert "not a readable JSON body" in snapshot.unservable["acme/broken.json"]
    assert "differs from its file name" in snapshot.unservable["acme/renamed.json"]
    assert "cannot serve 3 model file(s)" in caplog.text
