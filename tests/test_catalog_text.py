"""reports.catalog_text: the catalog's Family / Extension / Pretraining Task texts read through their data files.

The patterns live in warehouse/catalog/derivations.yaml with their examples; these tests hold each pattern to its
examples, and the whole list to what the shipped catalog's texts say (read from the CSV, as the catalog loader does).
"""

from __future__ import annotations

import polars as pl
import pytest

from report_data import REPO_ROOT
from reports import catalog_text as ct

CATALOG = REPO_ROOT / "warehouse" / "catalog" / "transformer_catalog_2023.csv"


@pytest.fixture(scope="module")
def catalog() -> pl.DataFrame:
    return pl.read_csv(CATALOG, infer_schema=False)


@pytest.fixture(scope="module")
def finder(catalog) -> ct.NameFinder:
    return ct.NameFinder(catalog["Name"].to_list(), ct.rules().names)


def _derivations(catalog, finder) -> dict[str, list[str]]:
    return {r["Name"]: ct.derives_from(r["Name"], r["Extension"], finder) for r in catalog.iter_rows(named=True)}


@pytest.mark.parametrize("pattern", ct.rules().patterns, ids=lambda p: p["pattern"])
def test_every_pattern_finds_what_its_examples_say(pattern, finder):
    assert pattern["examples"], "a pattern without an example cannot be checked"
    for example in pattern["examples"]:
        assert ct.names_by_pattern(example["text"], pattern, finder, ct.rules().stop) == example["expect"], example["text"]


def test_the_catalog_derivations(catalog, finder):
    got = _derivations(catalog, finder)
    assert got["AlexaTM 20B"] == ["BART"]  # the example: "Derived from BART and ..."
    assert got["Alpaca"] == ["LLaMA"] and got["Vicuna"] == ["LLaMA"]
    assert got["ChatGPT"] == ["GPT-3.5"]  # "(aka GPT3 Davinci-003)" is not a second parent
    assert got["InstructGPT"] == ["GPT-3"] and got["Turing-NLG"] == ["GPT-2"]  # other spellings: GPT3, GPT2
    assert got["Dolly"] == ["GPT-J", "Pythia"] and got["Flan-PaLM"] == ["PalM"]
    assert got["BART"] == ["BERT", "GPT"] and got["XLNet"] == ["Transformer XL"]
    assert got["BERT"] == []  # ignored: its Extension is BART's text (a source error), not "BERT derives from GPT"
    # comparisons are not derivations
    for name in ("GPT-Neo", "Jurassic-1", "UL2", "Anthropic Assistant", "MT-NLG (Megatron TuringNLG)", "HTLM"):
        assert got[name] == [], name
    names = set(catalog["Name"].to_list())
    assert all(p in names and p != n for n, ps in got.items() for p in ps)
    assert sum(map(len, got.values())) >= 40


def test_family_branches_and_roots(catalog):
    names = catalog["Name"].to_list()
    assert ct.family_branches("BERT for encoder, GPT for Decoder") == ["BERT", "GPT"]
    assert ct.family_branches("GPT/BERT/T5") == ["GPT", "BERT", "T5"]
    assert ct.family_branches('GPT, Control Transformers" (not per se a family, but grouping here)') == ["GPT", "Control Transformers"]
    assert ct.family_branches("SE(3) Transformer") == ["SE(3) Transformer"]
    assert ct.family_branches("GLM (General Language Model)") == ["GLM"]
    assert ct.family_branches("Diffusion") == ["Diffusion models"]  # listed in derivations.yaml families
    assert ct.family_branches(None) == [ct.NO_FAMILY]
    assert ct.family_root("PaLM", names) == "PalM" and ct.family_root("RoBERTa", names) == "RoBERTa"
    assert ct.family_root("Transformer", names) is None  # no entry is named after it: drawn as a family node
    for family in catalog["Family"].to_list():
        assert all(b and len(b) < 40 for b in ct.family_branches(family)), family


def test_pretraining_tasks_are_classed_through_the_vocabulary(catalog):
    classes = {t: ct.task_class(t) for t in catalog["Pretraining Task"].to_list()}
    assert classes["MLM/NSP"] == "MLM" and classes["LM"] == "LM" and classes["DAE"] == "Seq2Seq"
    assert classes[None] == ct.TASK_NOT_GIVEN
    other = sorted(t for t, c in classes.items() if c == ct.TASK_OTHER)
    assert other == ["Protein folding prediction of BERT using parameter sharing, which is much more efficient given the same number of parameters",
                     "Same as base model"]  # AlphaFold's copied text and Megatron's: nothing to class
    assert ct.task_class("  mlm/nsp ") == "MLM"  # compared as vocabulary.yaml keys are: case and spaces folded
    assert ct.task_order()[:3] == ["MLM", "LM", "Seq2Seq"]
