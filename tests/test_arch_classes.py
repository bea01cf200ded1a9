"""arch_classes.csv, generated from transformers' auto-model mappings, and the arch_class rules of normalization.

transformers is a dev dependency: these tests read its mapping *names* (no torch) to check the committed CSV.
"""

from __future__ import annotations

import csv
import importlib
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest

from warehouse.mappings import generate
from warehouse.normalize import mappings
from warehouse.normalize.listing import RunContext, normalize_listing
from warehouse.schemas import LISTING_SCHEMA

CURATED = Path(__file__).parent / "data" / "arch_classes_curated_2026.csv"
# the class a type's checkpoints save: its pretraining head, else its LM heads, else its base model
SAVED = (
    "MODEL_FOR_PRETRAINING_MAPPING_NAMES", "MODEL_FOR_CAUSAL_LM_MAPPING_NAMES", "MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES",
    "MODEL_FOR_SPEECH_SEQ_2_SEQ_MAPPING_NAMES", "MODEL_FOR_MASKED_LM_MAPPING_NAMES", "MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES",
    "MODEL_FOR_CTC_MAPPING_NAMES", "MODEL_FOR_IMAGE_CLASSIFICATION_MAPPING_NAMES", "MODEL_MAPPING_NAMES",
)  # fmt: skip


@pytest.fixture(scope="module")
def auto_names():
    modeling = importlib.import_module("transformers.models.auto.modeling_auto")
    configuration = importlib.import_module("transformers.models.auto.configuration_auto")
    return configuration.CONFIG_MAPPING_NAMES, modeling


def _normalize(rows: list[dict]) -> pl.DataFrame:
    page = pl.DataFrame(rows, schema=LISTING_SCHEMA)
    ctx = RunContext("20260101T000000Z-aaaaaa", date(2026, 1, 1), datetime(2026, 1, 1, tzinfo=UTC))
    return normalize_listing(page, ctx)["models"]


def test_every_model_type_transformers_knows_has_a_class(auto_names):
    import transformers

    config_names, _ = auto_names
    table = mappings.arch_classes()
    assert mappings.transformers_version() == transformers.__version__, "regenerate: python -m warehouse.mappings.generate"
    missing = set(config_names) - set(table["model_type"])
    assert not missing, sorted(missing)[:20]
    assert table["arch_class"].null_count() == 0 and table["model_type"].n_unique() == table.height


def test_the_generated_classes_agree_with_the_hand_curated_mapping_and_known_cases():
    curated = {r["model_type"]: r["arch_class"] for r in csv.DictReader(l for l in CURATED.open() if not l.startswith("#"))}
    table = dict(mappings.arch_classes().select("model_type", "arch_class").iter_rows())
    wrong = {t: (c, table.get(t)) for t, c in curated.items() if table.get(t) != c}
    assert not wrong, wrong
    known = {"flaubert": "encoder", "xlm": "encoder", "reformer": "decoder", "xlnet": "decoder", "llava": "decoder",
             "detr": "encoder-decoder", "whisper": "encoder-decoder", "vit": "encoder", "mamba": "decoder"}  # fmt: skip
    assert {t: table[t] for t in known} == known


def test_each_transformers_type_with_its_saved_architecture_is_classed_by_the_pipeline(auto_names):
    """The issue's 310-type check, over every type (638 in transformers 5.24): one listed model per type with
    the class its checkpoints save. The mapping shipped before classed 40.8% of these; now every one."""
    config_names, modeling = auto_names
    rows = []
    for model_type in sorted(config_names):
        saved = next((getattr(modeling, name).get(model_type) for name in SAVED if getattr(modeling, name).get(model_type)), None)
        if saved:
            name = saved if isinstance(saved, str) else saved[0]
            rows.append({"id": f"probe/{model_type}", "config": {"model_type": model_type, "architectures": f'["{name}"]'}})
    models = _normalize(rows)
    assert models.height == len(rows) > 600
    unclassed = models.filter(pl.col("arch_class").is_null())["repo_id"].to_list()
    assert not unclassed
    assert models.filter(pl.col("repo_id") == "probe/flaubert")["arch_class"].to_list() == ["encoder"]
    assert models["arch_note"].str.contains("arch_classes.csv, transformers").all()


def test_fallbacks_in_order_and_the_note_says_which_rule_decided():
    rows = [
        {"id": "a/auto", "config": {"model_type": "my_custom", "architectures": '["MyCustomForCausalLM"]'},
         "transformersInfo": '{"auto_model": "AutoModelForSeq2SeqLM"}'},
        {"id": "a/grammar", "config": {"model_type": "f_t5", "architectures": '["T5ForConditionalGeneration"]'}},
        {"id": "a/xlm-style", "config": {"architectures": '["MyWithLMHeadModel"]'}},
        {"id": "a/unknown", "config": {"model_type": "awesome", "architectures": '["AwesomeModel"]'}},
        {"id": "a/nothing", "library_name": "spacy"},
    ]  # fmt: skip
    got = {r["repo_id"]: (r["arch_class"], r["arch_note"]) for r in _normalize(rows).iter_rows(named=True)}
    assert got["a/auto"] == ("encoder-decoder", "transformersInfo.auto_model AutoModelForSeq2SeqLM")
    assert got["a/grammar"] == ("encoder-decoder", "architecture name T5ForConditionalGeneration")
    assert got["a/xlm-style"][0] == "encoder"
    assert got["a/unknown"][0] is None and "awesome is not a transformers" in got["a/unknown"][1]
    assert got["a/nothing"] == (None, "unknown: no model_type, architectures or transformersInfo (library: spacy)")


def test_an_override_without_a_reason_is_refused(tmp_path):
    path = tmp_path / "overrides.csv"
    path.write_text("model_type,arch_class,reason\nfoo,decoder,\n")
    with pytest.raises(ValueError, match="needs a reason"):
        generate.read_overrides(path)
