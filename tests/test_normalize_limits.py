"""Limits on strangers' values: card and front matter size caps, counts and dims in range, NaN/Infinity in a line.

A value out of range costs that field (NULL) plus a note, never the model's row nor the run.
"""

from __future__ import annotations

import json

import duckdb
import pytest

from harvesters.landing import DataDir
from harvesters.replay.fixtures import make_raw_run
from warehouse.loading import load_raw_run
from warehouse.normalize.documents import CARD_FAILURES, MAX_CARD_BYTES, MAX_FRONT_MATTER_BYTES, parse_card, parse_config
from warehouse.normalize.mappings import params_formulas

FORMULAS = params_formulas()
RUN = "20250101T000000Z-aaaaaa"


def rows(db, sql: str, params=()) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql, list(params)).fetchall()


def front_matter_card(fm_bytes: int, body: bytes = b"# a card\n") -> bytes:
    """A valid card whose front matter is about ``fm_bytes`` long (many small YAML entries)."""
    line = b"- a fairly ordinary tag\n"
    return b"---\ntags:\n" + line * (fm_bytes // len(line) + 1) + b"---\n" + body


# ------------------------------------------------------------------ finding 7: size caps before YAML
def test_default_caps_are_sane():
    assert 256 * 1024 <= MAX_FRONT_MATTER_BYTES <= 4 * 1024 * 1024 < MAX_CARD_BYTES <= 64 * 1024 * 1024
    assert "too_large" in CARD_FAILURES


def test_front_matter_over_the_cap_is_refused_without_parsing():
    small = parse_card(front_matter_card(10_000), max_front_matter_bytes=20_000)
    assert small["parse_status"] == "ok"
    big = parse_card(front_matter_card(30_000), max_front_matter_bytes=20_000)
    assert big["parse_status"] == "too_large" and big["front_matter"] is None
    assert "front matter" in big["parse_error"] and "20,000" in big["parse_error"]
    # invalid YAML over the cap is reported as over the cap: the parser never saw it
    bad = parse_card(b"---\nkey: [unclosed\n" + b"x" * 30_000 + b"\n---\n", max_front_matter_bytes=20_000)
    assert bad["parse_status"] == "too_large"


def test_card_over_the_cap_is_refused_before_decoding():
    card = front_matter_card(100, body=b"x" * 50_000)
    assert parse_card(card, max_card_bytes=60_000)["parse_status"] == "ok"
    big = parse_card(card, max_card_bytes=40_000)
    assert big["parse_status"] == "too_large" and big["card_length"] == len(card)
    assert "README.md" in big["parse_error"] and "40,000" in big["parse_error"]
    undecodable_and_big = parse_card(b"\xff" * 50_000, max_card_bytes=40_000)
    assert undecodable_and_big["parse_status"] == "too_large"


def test_an_oversized_front_matter_is_quarantined_and_the_run_goes_on(data_dir):
    body = {"id": "acme/huge-card", "sha": "a" * 40, "downloads": 5}
    ok = {"id": "acme/fine", "sha": "b" * 40, "downloads": 6}
    run = make_raw_run(data_dir, RUN, bodies=[body, ok], files={
        ("acme/huge-card", "README.md"): front_matter_card(MAX_FRONT_MATTER_BYTES + 1024),
        ("acme/fine", "README.md"): b"---\nlicense: mit\n---\n# fine\n",
    })  # fmt: skip
    load_raw_run(DataDir(data_dir).warehouse, run.root)
    db = DataDir(data_dir).warehouse
    assert rows(db, "SELECT repo_id, parse_status FROM model_cards ORDER BY 1") == [("acme/fine", "ok"), ("acme/huge-card", "too_large")]
    (reason,) = rows(db, "SELECT reason FROM quarantine WHERE repo_id = 'acme/huge-card' AND stage = 'card'")[0]
    assert "front matter" in reason and "cap" in reason
    assert rows(db, "SELECT count(*) FROM models")[0][0] == 2


# ------------------------------------------------------------------ finding 10: ranges and NaN/Infinity
def test_out_of_range_config_dims_are_null_with_a_note():
    cfg = {"model_type": "llama", "hidden_size": 2**61, "num_hidden_layers": -3, "num_attention_heads": 32, "vocab_size": 32000,
           "intermediate_size": 11008, "max_position_embeddings": 4096}  # fmt: skip
    row = parse_config(json.dumps(cfg).encode(), FORMULAS)
    assert row["hidden_size"] is None and row["num_layers"] is None and row["num_heads"] == 32
    notes = " | ".join(row["notes"])
    assert "hidden_size" in notes and str(2**61) in notes and "num_hidden_layers" in notes
    assert json.loads(row["raw_json"])["hidden_size"] == 2**61  # the file's text is kept as is


def test_a_config_whose_formula_overflows_is_null_with_a_note(data_dir):
    huge = {"model_type": "llama", "hidden_size": 2**39, "num_hidden_layers": 2**39, "num_attention_heads": 2**20,
            "intermediate_size": 2**39, "vocab_size": 2**39}  # fmt: skip
    row = parse_config(json.dumps(huge).encode(), FORMULAS)
    assert row["params_estimate"] is None and any("params" in n for n in row["notes"])
    run = make_raw_run(data_dir, RUN, bodies=[{"id": "acme/absurd", "sha": "c" * 40}], files={("acme/absurd", "config.json"): json.dumps(huge).encode()})
    load_raw_run(DataDir(data_dir).warehouse, run.root)  # does not fail the run
    db = DataDir(data_dir).warehouse
    assert rows(db, "SELECT hidden_size, params_estimate FROM model_configs") == [(None, None)]
    assert rows(db, "SELECT params_total FROM models") == [(None,)]
    notes = [r for (r,) in rows(db, "SELECT reason FROM quarantine WHERE stage = 'config' AND repo_id = 'acme/absurd'")]
    assert any("out of range" in n for n in notes)  # the note is kept, the config row too
    from warehouse.state import last_fetch_outcomes

    assert ("acme/absurd", "config.json") in last_fetch_outcomes(db)  # parsed: not fetched again for its notes


def test_out_of_range_counts_are_null_with_a_quarantine_note(data_dir):
    bodies = [
        {"id": "acme/negative", "sha": "d" * 40, "downloads": -5, "likes": 3, "safetensors": {"parameters": {"F32": -110106428}, "total": -110106428}},
        {"id": "acme/huge", "sha": "e" * 40, "downloads": 7, "likes": -1, "gguf": {"total": 2**62}},
        {"id": "acme/fine", "sha": "f" * 40, "downloads": 9, "likes": 1, "safetensors": {"parameters": {"F32": 1000}, "total": 1000}},
    ]
    run = make_raw_run(data_dir, RUN, bodies=bodies, files={})
    load_raw_run(DataDir(data_dir).warehouse, run.root)
    db = DataDir(data_dir).warehouse
    assert rows(db, "SELECT repo_id, downloads, likes, params_total, params_source FROM models ORDER BY 1") == [
        ("acme/fine", 9, 1, 1000, "safetensors"),
        ("acme/huge", 7, None, None, None),
        ("acme/negative", None, 3, None, None),
    ]
    notes = rows(db, "SELECT repo_id, reason FROM quarantine WHERE stage = 'listing' ORDER BY 1, 2")
    by_repo = {repo: " | ".join(r for rr, r in notes if rr == repo) for repo, _ in notes}
    assert "downloads" in by_repo["acme/negative"] and "safetensors.total" in by_repo["acme/negative"]
    assert "likes" in by_repo["acme/huge"] and "gguf.total" in by_repo["acme/huge"]
    assert "acme/fine" not in by_repo


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity"])
def test_nan_or_infinity_in_a_line_is_missing_in_that_field_only(data_dir, token):
    lines = [
        b'{"id":"acme/odd-downloads","sha":"' + b"1" * 40 + b'","downloads":' + token.encode() + b',"likes":4,"tags":["bert"]}',
        b'{"id":"acme/odd-nested","sha":"' + b"2" * 40 + b'","downloads":8,"safetensors":{"parameters":{"F32":' + token.encode() + b'},"total":1000}}',
    ]
    run = make_raw_run(data_dir, RUN, bodies=[{"id": "acme/plain", "sha": "3" * 40, "downloads": 1}], files={}, extra_lines=lines)
    load_raw_run(DataDir(data_dir).warehouse, run.root)
    db = DataDir(data_dir).warehouse
    assert rows(db, "SELECT repo_id, downloads, likes, tags, params_total FROM models ORDER BY 1") == [
        ("acme/odd-downloads", None, 4, ["bert"], None),
        ("acme/odd-nested", 8, None, None, 1000),
        ("acme/plain", 1, None, None, None),
    ]
    notes = rows(db, "SELECT repo_id, reason FROM quarantine ORDER BY 1")
    assert [r for r, _ in notes] == ["acme/odd-downloads", "acme/odd-nested"]
    assert token.lstrip("-") in notes[0][1] and "downloads" in notes[0][1] and "safetensors" in notes[1][1]


def test_duckdb_reads_a_page_whose_names_only_mention_nan_or_infinity(tmp_path):
    """A page holding a NaN or Infinity token is read the Polars way (above); names that merely contain the
    words (BAAI/Infinity-Instruct is a popular dataset) keep the page on DuckDB's reader, as it was read."""
    from warehouse.normalize.listing import read_page_file

    plain = tmp_path / "plain.ndjson"
    plain.write_bytes(
        b'{"id":"acme/NaN-bert","tags":["dataset:BAAI/Infinity-Instruct"],"cardData":{"datasets":["BAAI/Infinity-Instruct"]},'
        b'"siblings":[{"rfilename":"Infinity.md"}],"downloads":"NaN apples"}\n'
    )
    page = read_page_file(plain, compressed=False)
    assert page is not None and page.to_dicts()[0]["tags"] == ["dataset:BAAI/Infinity-Instruct"]
    odd = tmp_path / "odd.ndjson"
    odd.write_bytes(b'{"id":"acme/bert","siblings":[{"rfilename":"a.bin","size":Infinity}]}\n')
    assert read_page_file(odd, compressed=False) is None


def test_a_trailing_comma_keeps_its_model_whole(data_dir):
    """DuckDB's reader accepts a trailing comma (it cannot be seen once read): the model keeps every field."""
    lines = [b'{"id":"acme/comma","sha":"' + b"4" * 40 + b'","downloads":5,"tags":["bert",],}']
    run = make_raw_run(data_dir, RUN, bodies=[{"id": "acme/plain", "sha": "3" * 40, "downloads": 1}], files={}, extra_lines=lines)
    load_raw_run(DataDir(data_dir).warehouse, run.root)
    db = DataDir(data_dir).warehouse
    assert rows(db, "SELECT repo_id, downloads, tags FROM models ORDER BY 1") == [("acme/comma", 5, ["bert"]), ("acme/plain", 1, None)]
    assert rows(db, "SELECT count(*) FROM quarantine") == [(0,)]
