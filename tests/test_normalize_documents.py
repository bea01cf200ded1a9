"""config.json and README.md parsing: real files, known formulas, and property-based messy inputs."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from warehouse.normalize.documents import DIMENSIONS, DocumentError, parse_card, parse_config
from warehouse.normalize.mappings import params_formulas

FIXTURES = Path("/work/shared/hub-fixtures/files")
SNAPSHOT_FILES = Path(__file__).resolve().parent.parent / "harvesters" / "demo_snapshot" / "files"
CARD_SAMPLES = Path(__file__).resolve().parent / "data" / "card_samples"
FORMULAS = params_formulas()
STATUSES = {"ok", "no_front_matter", "empty_front_matter", "invalid_yaml", "not_a_mapping", "undecodable"}


def test_real_configs_parse_with_their_dimensions():
    cfg = parse_config((SNAPSHOT_FILES / "google-t5" / "t5-small" / "config.json").read_bytes(), FORMULAS)
    assert (cfg["model_type"], cfg["hidden_size"], cfg["num_layers"], cfg["num_heads"], cfg["intermediate_size"]) == ("t5", 512, 6, 8, 2048)
    assert json.loads(cfg["raw_json"])["model_type"] == "t5"
    llama = parse_config((SNAPSHOT_FILES / "meta-llama" / "Llama-3.1-8B" / "config.json").read_bytes(), FORMULAS)
    assert (llama["num_kv_heads"], llama["context_length"], llama["params_estimate"], llama["params_formula"]) == (8, 131072, 8_030_261_248, "gated_decoder")


def test_formulas_against_known_counts():
    bert = parse_config((SNAPSHOT_FILES / "google-bert" / "bert-base-uncased" / "config.json").read_bytes(), FORMULAS)
    assert bert["params_estimate"] == 109_482_240  # BertModel; the Hub's 110,106,428 adds pretraining heads
    qwen3 = parse_config((SNAPSHOT_FILES / "Qwen" / "Qwen3-8B" / "config.json").read_bytes(), FORMULAS)
    assert qwen3["params_estimate"] == 8_190_735_360
    gpt2 = parse_config(json.dumps({"model_type": "gpt2", "n_embd": 768, "n_layer": 12, "n_head": 12, "n_positions": 1024, "vocab_size": 50257}).encode(), FORMULAS)
    assert gpt2["params_estimate"] == 124_439_808


def test_quantization_config_is_read():
    cfg = parse_config(json.dumps({"model_type": "llama", "quantization_config": {"quant_method": "AWQ", "w_bit": 4}}).encode(), FORMULAS)
    assert (cfg["quant_method"], cfg["quant_bits"]) == ("awq", 4)
    bnb = parse_config(json.dumps({"quantization_config": {"load_in_4bit": True}}).encode(), FORMULAS)
    assert (bnb["quant_method"], bnb["quant_bits"]) == ("bitsandbytes", 4)


def test_malformed_configs_raise_a_one_line_reason():
    for raw, reason in [(b"{", "not valid JSON"), (b"[1, 2]", "JSON list, not an object"), (b"\xff\xfe", "not UTF-8"), (b"[" * 100_000, "nested too deeply")]:
        try:
            parse_config(raw, FORMULAS)
        except DocumentError as exc:
            assert reason in str(exc) and "\n" not in str(exc)
        else:
            raise AssertionError(f"{raw[:10]!r} parsed")


def test_nan_and_odd_values_are_kept_json_safe():
    cfg = parse_config(b'{"model_type": "bert", "hidden_size": true, "num_hidden_layers": "12", "rope": NaN, "big": 123456789012345678901234567890}', FORMULAS)
    assert cfg["hidden_size"] is None and cfg["num_layers"] is None
    raw = json.loads(cfg["raw_json"])
    assert raw["rope"] == "nan" and raw["big"] == "123456789012345678901234567890"


def test_real_and_messy_cards():
    assert parse_card((SNAPSHOT_FILES / "google-bert" / "bert-base-uncased" / "README.md").read_bytes())["parse_status"] == "ok"
    samples = FIXTURES / "_card_samples"
    if samples.is_dir():
        got = {p.parent.name: parse_card(p.read_bytes())["parse_status"] for p in samples.rglob("README.md")}
        assert got == {"sample_invalid_card_data": "not_a_mapping", "sample_no_metadata": "no_front_matter", "sample_windows_line_breaks": "ok"}
    crlf = parse_card(b"---\r\nlicense: mit\r\nbase_model:\r\n- a/b\r\n---\r\n# x\r\n")
    assert crlf["parse_status"] == "ok" and json.loads(crlf["front_matter"]) == {"license": "mit", "base_model": ["a/b"]}
    assert parse_card(b"---\n---\ntext")["parse_status"] == "empty_front_matter"
    assert parse_card(b"---\nkey: [unclosed\n---\n")["parse_status"] == "invalid_yaml"
    assert parse_card(b"\xff---")["parse_status"] == "undecodable"
    dated = parse_card(b"---\ndate: 2023-01-02\nn: .nan\n1: one\n---\n")
    assert json.loads(dated["front_matter"]) == {"date": "2023-01-02", "n": "nan", "1": "one"}


def test_yaml_tags_are_not_evaluated_and_alias_bombs_are_refused():
    evil = parse_card(b"---\nx: !!python/object/apply:os.system ['echo pwned']\n---\n")
    assert evil["parse_status"] == "invalid_yaml"
    bomb = "---\na: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
        for i in range(8)
    ) + "---\n"
    result = parse_card(bomb.encode())
    assert result["parse_status"] == "invalid_yaml" and "values" in result["parse_error"]


# ---------------------------------------------------------------- property-based
yaml_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=30),
    st.dates(),
)  # fmt: skip
yaml_values = st.recursive(
    yaml_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)
front_matter_values = st.dictionaries(
    st.sampled_from(["license", "language", "base_model", "base_model_relation", "datasets", "tags", "x"])
    | st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), max_size=8),  # PyYAML itself folds NEL & co.
    yaml_values,
    max_size=6,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(front_matter_values, st.sampled_from(["\n", "\r\n"]), st.text(max_size=200))
def test_any_yaml_front_matter_round_trips_to_json(data, newline, body):
    text = yaml.safe_dump(data, allow_unicode=True)
    raw = ("---" + newline + text.replace("\n", newline) + "---" + newline + body).encode()
    result = parse_card(raw)
    assert result["parse_status"] in STATUSES
    if data:
        assert result["parse_status"] == "ok", result["parse_error"]
        parsed = json.loads(result["front_matter"])
        assert set(parsed) == {str(k) for k in data}


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300) | st.text(max_size=300).map(lambda t: ("---\n" + t + "\n---\n").encode()))
def test_any_bytes_give_a_status_never_an_exception(raw):
    result = parse_card(raw)
    assert result["parse_status"] in STATUSES
    assert (result["front_matter"] is None) == (result["parse_status"] != "ok")
    if result["front_matter"]:
        json.loads(result["front_matter"])
    assert result["parse_error"] is None or "\n" not in result["parse_error"]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=15,
)
config_keys = st.sampled_from([k for keys in DIMENSIONS.values() for k in keys] + ["model_type", "architectures", "quantization_config", "text_config", "tie_word_embeddings", "head_dim", "num_key_value_heads"])


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(config_keys | st.text(max_size=10), json_values | st.sampled_from(["llama", "bert", "gpt2", "qwen2", "electra"]), max_size=12))
def test_any_config_object_parses_to_sane_dimensions(cfg):
    row = parse_config(json.dumps(cfg).encode(), FORMULAS)
    for name in DIMENSIONS:
        assert row[name] is None or (isinstance(row[name], int) and not isinstance(row[name], bool) and row[name] > 0)
    assert row["params_estimate"] is None or row["params_estimate"] > 0
    assert json.loads(row["raw_json"]) == json.loads(json.dumps(cfg))
