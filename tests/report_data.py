"""What the report tests' real warehouse is made of: the snapshot additions (a hostile model) and the constants.

Imported by the report test modules; the fixture that builds the warehouse from it is report_fixtures.real_reports
(loaded as a plugin, ``pytest_plugins = ("report_fixtures",)``, so the session builds it once).
"""

from __future__ import annotations

import json
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEMO_SNAPSHOT = REPO_ROOT / "harvesters" / "demo_snapshot"
TEMPLATE_BODY = "HuggingFaceH4/zephyr-orpo-141b-A35b-v0.1"  # a verbatim Hub body with card, config, safetensors

DATE = "2025-03-01"
RUN_ID = "20250301T020000Z-a1b2c3"
PREVIOUS_RUN_ID = "20250228T020000Z-d4e5f6"  # the day before: what the digest (changes.html) compares with
RETIRED_ID = "retired-lab/old-model"  # listed the day before only: deleted in RUN_ID
RELICENSED_ID = "google-bert/bert-base-uncased"  # mit the day before, apache-2.0 (as the snapshot says) in RUN_ID

HOSTILE_ID = "mallory/markup-model"  # the Hub only allows [A-Za-z0-9._-] in ids: the markup rides in fields
HOSTILE_CHILD = "mallory/markup-model-GGUF"  # a quantization of it: puts HOSTILE_ID inside a family tree
EVIL_BASE = "<img src=x onerror=alert(1)>"  # cardData.base_model (and the Hub's derived base_model: tags)
EVIL_TAG = "<script>alert(2)</script>"  # a card tag, and the config's architectures
EVIL_TYPE = 'x"><svg onload=alert(3)>'  # config.json model_type: quotes to break out of an attribute
EVIL_STRINGS = (EVIL_BASE, EVIL_TAG, EVIL_TYPE)


def _front_matter(card: dict) -> str:
    import yaml

    return "---\n" + yaml.safe_dump(card, sort_keys=False, allow_unicode=True) + "---\n\n# markup-model\n\nA test card.\n"


def add_hostile_models(snapshot: Path) -> None:
    """Write the hostile model and its quantized child into a snapshot copy, files and bodies agreeing."""
    body = json.loads((snapshot / "api" / "models" / f"{TEMPLATE_BODY}.json").read_text())
    card = {
        "license": "apache-2.0",
        "base_model": EVIL_BASE,
        "tags": ["trl", EVIL_TAG],
        "datasets": ["argilla/distilabel-capybara-dpo-7k-binarized"],
    }
    config = {"architectures": [EVIL_TAG], "model_type": EVIL_TYPE, "hidden_size": 4096, "num_hidden_layers": 32,
              "num_attention_heads": 32, "vocab_size": 32000, "torch_dtype": "bfloat16"}
    total = 6_660_000_000
    body.update(
        _id="67a0c0ffee0000000000beef", id=HOSTILE_ID, modelId=HOSTILE_ID, author="mallory",
        sha="1c0ffee1c0ffee1c0ffee1c0ffee1c0ffee1c0ff", downloads=666, likes=13,
        createdAt="2025-01-15T10:00:00.000Z", lastModified="2025-01-15T10:00:00.000Z",
        tags=["transformers", "safetensors", "text-generation", "trl", EVIL_TAG,
              f"base_model:{EVIL_BASE}", f"base_model:finetune:{EVIL_BASE}", "license:apache-2.0", "region:us"],
        config={"architectures": config["architectures"], "model_type": config["model_type"]},
        cardData=card, safetensors={"parameters": {"BF16": total}, "total": total}, usedStorage=2 * total,
        siblings=[{"rfilename": n} for n in (".gitattributes", "README.md", "config.json", "model.safetensors")],
        spaces=[],
    )
    body.pop("model-index", None)
    child_card = {"license": "apache-2.0", "base_model": HOSTILE_ID, "tags": ["gguf"]}
    child = dict(
        body, _id="67a0c0ffee0000000000f00d", id=HOSTILE_CHILD, modelId=HOSTILE_CHILD,
        sha="2c0ffee2c0ffee2c0ffee2c0ffee2c0ffee2c0ff", downloads=70, likes=1, library_name="gguf",
        createdAt="2025-01-20T10:00:00.000Z", lastModified="2025-01-20T10:00:00.000Z",
        tags=["gguf", "text-generation", f"base_model:{HOSTILE_ID}", f"base_model:quantized:{HOSTILE_ID}", "region:us"],
        config={}, cardData=child_card, safetensors=None, usedStorage=4_000_000_000,
        gguf={"total": total, "architecture": "llama", "context_length": 4096},
        siblings=[{"rfilename": n} for n in (".gitattributes", "README.md", "markup-model.Q4_K_M.gguf")],
    )
    child.pop("safetensors")
    for repo_id, data, files in (
        (HOSTILE_ID, body, {"README.md": _front_matter(card), "config.json": json.dumps(config, indent=2)}),
        (HOSTILE_CHILD, child, {"README.md": _front_matter(child_card)}),
    ):
        path = snapshot / "api" / "models" / f"{repo_id}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")))
        for name, text in files.items():
            target = snapshot / "files" / repo_id / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)


def land_previous_run(data_dir: Path, scope: str) -> None:
    """The run before RUN_ID as the raw landing would hold it: the snapshot a day earlier, without the hostile models
    (new in RUN_ID), with RETIRED_ID (gone in RUN_ID), RELICENSED_ID under another licence, and other downloads."""
    import copy

    from harvesters.replay.fixtures import make_raw_run, snapshot_bodies

    bodies = snapshot_bodies(DEMO_SNAPSHOT)
    retired = copy.deepcopy(bodies[0])
    retired.update(id=RETIRED_ID, modelId=RETIRED_ID, author=RETIRED_ID.split("/")[0], sha="0" * 40, _id="0" * 24)
    for i, body in enumerate(bodies):
        if body["id"] == RELICENSED_ID:
            body["cardData"] = {**(body.get("cardData") or {}), "license": "mit"}
            body["tags"] = [t for t in body.get("tags", []) if not t.startswith("license:")] + ["license:mit"]
        if isinstance(body.get("downloads"), int):  # every third model moved up, every third down since
            body["downloads"] = {0: body["downloads"] * 4 // 5, 1: body["downloads"] * 5 // 4}.get(i % 3, body["downloads"])
    run = make_raw_run(data_dir, PREVIOUS_RUN_ID, bodies + [retired], started_at="2025-02-28T02:00:00+00:00")
    run.write_manifest(scope=scope)
