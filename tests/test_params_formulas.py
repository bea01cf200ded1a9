"""Config formulas against published parameter counts (tests/data/params_published.json).

``hub_total``: the Hub's safetensors total (the shared fixtures, the demo snapshot, or the Hub's counts as
recorded in huggingface/safetensors), reproduced exactly, up to a documented ``known_difference`` (what the
checkpoint saves that transformers does not build). ``nominal``: the size the model is published as (name,
card or paper), within the entry's relative tolerance. Every family the issue lists has at least one entry.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from warehouse.normalize.mappings import params_formulas
from warehouse.normalize.params import FORMULAS, estimate

DATA = json.loads((Path(__file__).parent / "data" / "params_published.json").read_text())["models"]
FAMILIES = (
    "t5 mt5 umt5 bart mbart marian pegasus gpt_neo gptj gpt_neox xlnet deberta deberta-v2 distilbert albert electra "
    "vit deit wav2vec2 hubert whisper falcon phi phi3 gemma gemma2 mixtral qwen2_moe qwen3_moe deepseek_v2 deepseek_v3"
).split()


@pytest.mark.parametrize("entry", DATA, ids=[e["repo"] for e in DATA])
def test_formula_matches_the_published_count(entry):
    config = entry["config"]
    value, formula = estimate(config, config["model_type"], params_formulas())
    assert value is not None, f"no estimate for {entry['repo']}"
    if entry["kind"] == "hub_total":
        assert value + entry["known_difference"] == entry["total"], (formula, value)
    else:
        assert abs(value - entry["total"]) <= entry["tolerance"] * entry["total"], (formula, value)


def test_every_listed_family_has_a_formula_and_the_published_configs_cover_them():
    formulas = params_formulas()
    assert set(FAMILIES) <= set(formulas), sorted(set(FAMILIES) - set(formulas))
    assert set(formulas.values()) <= set(FORMULAS)
    tested = {formulas[e["config"]["model_type"]] for e in DATA}
    untested = {formulas[f] for f in FAMILIES} - tested - {"bert_encoder"}  # bert_encoder: tests/test_normalize_documents.py
    assert not untested, untested


def test_umt5_counts_a_relative_bias_per_layer_where_mt5_has_one_per_stack():
    base = next(e["config"] for e in DATA if e["repo"] == "google/mt5-small")
    mt5 = estimate(base, "mt5", params_formulas())[0]
    umt5 = estimate({**base, "model_type": "umt5"}, "umt5", params_formulas())[0]
    assert umt5 - mt5 == 32 * base["num_heads"] * (2 * base["num_layers"] - 2)


def test_a_config_missing_a_dimension_gets_no_estimate_rather_than_a_guess():
    config = dict(next(e["config"] for e in DATA if e["repo"] == "Qwen/Qwen3-30B-A3B"))
    del config["num_experts"]
    assert estimate(config, "qwen3_moe", params_formulas()) == (None, None)
    assert estimate({"d_model": "512"}, "t5", params_formulas()) == (None, None)
