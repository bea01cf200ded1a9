"""Loading raw runs into the warehouse: the bundled snapshot end to end, idempotence, quarantine, run order."""

from __future__ import annotations

import json

import duckdb
import pytest

from harvesters.landing import DataDir
from warehouse.database import open_warehouse
from harvesters.replay.fixtures import make_raw_run, snapshot_bodies
from warehouse.loading import LoadError, load_raw_run, rebuild, table_contents

RUN1 = "20250101T060000Z-aaaaaa"
RUN2 = "20250102T060000Z-bbbbbb"


@pytest.fixture(scope="module")
def snapshot_db(tmp_path_factory):
    """The bundled demo snapshot as one raw run, loaded once for the read-only tests of this module."""
    data_dir = tmp_path_factory.mktemp("snapshot")
    run = make_raw_run(data_dir, RUN1)
    counts = load_raw_run(DataDir(data_dir).warehouse, run.root)
    con = open_warehouse(DataDir(data_dir).warehouse, read_only=True)
    yield con, counts
    con.close()


def rows(con, query, params=None):
    return con.execute(query, params or []).fetchall()


def test_every_snapshot_model_is_in_models_once(snapshot_db):
    con, counts = snapshot_db
    ids = sorted(b["id"] for b in snapshot_bodies())
    assert rows(con, "SELECT repo_id FROM models ORDER BY repo_id") == [(i,) for i in ids]
    assert counts["models"] == len(ids)
    assert rows(con, "SELECT count(*) FROM v_models") == [(len(ids),)]


def test_params_total_equals_the_safetensors_total_wherever_given(snapshot_db):
    con, _ = snapshot_db
    expected = {b["id"]: b["safetensors"]["total"] for b in snapshot_bodies() if (b.get("safetensors") or {}).get("total")}
    got = dict(rows(con, "SELECT repo_id, params_total FROM models WHERE params_source = 'safetensors'"))
    assert got == expected
    assert rows(con, "SELECT params_by_dtype->>'BF16' FROM models WHERE repo_id = 'meta-llama/Llama-3.1-8B-Instruct'") == [("8030261248",)]


def test_config_estimates_only_where_the_hub_gives_no_count(snapshot_db):
    con, _ = snapshot_db
    est = dict(rows(con, "SELECT repo_id, params_total FROM models WHERE params_source = 'config-estimate'"))
    assert est["meta-llama/Llama-3.1-8B"] == 8_030_261_248  # the formula gives the Hub's exact count
    assert est["Qwen/Qwen2.5-7B"] == 7_615_616_512
    assert est["meta-llama/Llama-3.2-3B"] == 3_212_749_824  # tied embeddings
    with_hub_count = {b["id"] for b in snapshot_bodies() if (b.get("safetensors") or {}).get("total")}
    assert not with_hub_count & set(est)


def test_lineage_edges_match_the_cards_base_model(snapshot_db):
    con, _ = snapshot_db
    expected = set()
    for body in snapshot_bodies():
        base = (body.get("cardData") or {}).get("base_model")
        for parent in [base] if isinstance(base, str) else base or []:
            expected.add((body["id"], parent))
    edges = rows(con, "SELECT child_id, parent_id, relation, source FROM model_lineage")
    from_cards = {(c, p) for c, p, _, s in edges if "cardData" in s}
    assert from_cards == expected and expected
    assert ("deepset/roberta-base-squad2", "FacebookAI/roberta-base", "finetune", ["cardData", "tag"]) in edges
    # one edge per (child, parent), its sources listed
    assert len(edges) == len({(c, p) for c, p, _, _ in edges})
    base_models = dict(rows(con, "SELECT repo_id, base_models FROM models WHERE len(base_models) > 0"))
    assert base_models["deepset/roberta-base-squad2"] == ["FacebookAI/roberta-base"]
    assert rows(con, "SELECT parent_in_warehouse FROM v_lineage WHERE child_id = 'deepset/roberta-base-squad2'") == [(True,)]


def test_models_columns_are_normalized(snapshot_db):
    con, _ = snapshot_db
    llama = rows(con, "SELECT license, gated, model_type, architectures, arch_class, languages, created_at::VARCHAR "
                      "FROM models WHERE repo_id = 'meta-llama/Llama-3.1-8B-Instruct'")[0]  # fmt: skip
    assert llama[:5] == ("llama3.1", "manual", "llama", ["LlamaForCausalLM"], "decoder")
    assert llama[5][:2] == ["en", "de"] and llama[6].startswith("2024-07-18 08:56:00")
    assert dict(rows(con, "SELECT arch_class, count(*) FROM models GROUP BY ALL"))[None] == 4  # diffusers/espnet repos
    assert rows(con, "SELECT arch_class FROM models WHERE repo_id = 'google-t5/t5-small'") == [("encoder-decoder",)]
    assert rows(con, "SELECT created_at_is_floor FROM v_timeline WHERE repo_id = 'google-bert/bert-base-uncased'") == [(True,)]
    assert rows(con, "SELECT created_at_is_floor FROM v_timeline WHERE repo_id = 'google/flan-t5-xxl'") == [(False,)]


def test_marts_answer(snapshot_db):
    con, _ = snapshot_db
    assert rows(con, "SELECT size_bucket FROM v_models WHERE repo_id = 'HuggingFaceH4/zephyr-orpo-141b-A35b-v0.1'") == [(">100B",)]
    assert rows(con, "SELECT hidden_size, num_layers, card_parse_status FROM v_models WHERE repo_id = 'google-bert/bert-base-uncased'") == [(768, 12, "ok")]
    assert rows(con, "SELECT n_children FROM v_models WHERE repo_id = 'FacebookAI/roberta-base'") == [(1,)]
    assert rows(con, "SELECT sum(n_models) FROM v_taxonomy")[0][0] == len(snapshot_bodies())
    assert rows(con, "SELECT count(*) FROM v_sizes WHERE params IS NULL") == [(0,)]


def test_every_table_and_column_is_documented(snapshot_db):
    con, _ = snapshot_db
    undocumented = rows(con, "SELECT table_name || '.' || column_name FROM duckdb_columns() "
                             "WHERE schema_name = 'main' AND NOT internal AND coalesce(comment, '') = ''")  # fmt: skip
    assert undocumented == []
    assert rows(con, "SELECT table_name FROM duckdb_tables() WHERE coalesce(comment, '') = ''") == []
    assert rows(con, "SELECT view_name FROM duckdb_views() WHERE NOT internal AND coalesce(comment, '') = ''") == []


def test_harvest_run_recorded(snapshot_db):
    con, _ = snapshot_db
    run_id, status, counts, watermark = rows(con, "SELECT run_id, status, counts, watermark::VARCHAR FROM harvest_runs")[0]
    counts = json.loads(counts)
    assert (run_id, status) == (RUN1, "complete")
    assert counts["listing"]["models"] == len(snapshot_bodies()) and counts["fetches"] == {"ok": 15}
    newest = max(b["lastModified"] for b in snapshot_bodies() if b.get("lastModified"))
    assert watermark.startswith(newest[:10] + " " + newest[11:19])  # the newest lastModified of the run


def test_loading_the_same_run_twice_changes_nothing(data_dir):
    run = make_raw_run(data_dir, RUN1)
    db = DataDir(data_dir).warehouse
    load_raw_run(db, run.root)
    with duckdb.connect(str(db), read_only=True) as con:
        first = table_contents(con)
    load_raw_run(db, run.root)
    with duckdb.connect(str(db), read_only=True) as con:
        second = table_contents(con)
    assert first == second
    assert all(first[t] for t in ("models", "model_configs", "model_cards", "model_files", "model_lineage"))


MALFORMED_CONFIG = b'{"model_type": "bert", "hidden_size": 768,'
MALFORMED_CARD = b"---\nlicense: mit\ntags: [unclosed\n---\n# card\n"


def test_malformed_card_and_config_go_to_quarantine_and_the_model_keeps_its_row(data_dir):
    bodies = [b for b in snapshot_bodies() if b["id"] in ("google-bert/bert-base-uncased", "FacebookAI/roberta-base")]
    files = {
        ("google-bert/bert-base-uncased", "config.json"): MALFORMED_CONFIG,
        ("google-bert/bert-base-uncased", "README.md"): MALFORMED_CARD,
        ("FacebookAI/roberta-base", "README.md"): b"- just\n- a list\n",  # no front matter: fine, not quarantined
    }
    run = make_raw_run(data_dir, RUN1, bodies=bodies, files=files)
    load_raw_run(DataDir(data_dir).warehouse, run.root)
    con = open_warehouse(DataDir(data_dir).warehouse, read_only=True)
    quarantined = rows(con, "SELECT repo_id, stage, reason FROM quarantine ORDER BY stage")
    assert [(r, s) for r, s, _ in quarantined] == [("google-bert/bert-base-uncased", "card"), ("google-bert/bert-base-uncased", "config")]
    assert "not valid JSON" in quarantined[1][2] and "YAML" in quarantined[0][2]
    assert rows(con, "SELECT license, model_type, params_total FROM models WHERE repo_id = 'google-bert/bert-base-uncased'") == [("apache-2.0", "bert", 110106428)]
    assert rows(con, "SELECT parse_status FROM model_cards ORDER BY repo_id") == [("no_front_matter",), ("invalid_yaml",)]
    assert rows(con, "SELECT count(*) FROM model_configs") == [(0,)]


def test_bad_listing_lines_are_quarantined_and_the_run_goes_on(data_dir):
    bodies = snapshot_bodies()[:3]
    extra = [
        b'{"id": "broken/json", "likes": ',
        b'["not", "a", "record"]',
        b'{"id": "odd/shapes", "tags": "not-a-list", "cardData": [1], "downloads": "12", "likes": 1.5, "gated": true}',
    ]
    run = make_raw_run(data_dir, RUN1, bodies=bodies, files={}, extra_lines=extra)
    load_raw_run(DataDir(data_dir).warehouse, run.root)
    con = open_warehouse(DataDir(data_dir).warehouse, read_only=True)
    assert rows(con, "SELECT count(*) FROM models") == [(5,)]  # the unreadable line keeps its model by its id
    assert rows(con, "SELECT likes, sha FROM models WHERE repo_id = 'broken/json'") == [(None, None)]
    assert rows(con, "SELECT downloads, likes, gated, tags FROM models WHERE repo_id = 'odd/shapes'") == [(12, None, "auto", None)]
    reasons = [r for (r,) in rows(con, "SELECT reason FROM quarantine WHERE stage = 'listing' ORDER BY reason")]
    assert len(reasons) == 5
    assert any("not JSON" in r and "kept 'broken/json'" in r for r in reasons) and any("no string id" in r for r in reasons)
    assert any(r.startswith("likes = 1.5 is not a count") for r in reasons)  # the field is NULL, with a note
    assert any("tags is a JSON str" in r for r in reasons) and any("cardData is a JSON list" in r for r in reasons)


def test_packed_quantized_weights_are_counted_as_the_weights_they_pack(data_dir):
    gptq = {
        "id": "someone/Llama-GPTQ", "sha": "1" * 40, "config": {"model_type": "llama", "quantization_config": {"quant_method": "gptq", "bits": 4}},
        "safetensors": {"parameters": {"I32": 1_000_000, "F16": 200_000}, "total": 1_200_000},
        "tags": ["base_model:quantized:meta-llama/Llama-3.1-8B"],
    }  # fmt: skip
    bnb = {
        "id": "someone/Llama-bnb-4bit", "sha": "2" * 40, "config": {"model_type": "llama"},
        "safetensors": {"parameters": {"U8": 1_000_000, "F16": 200_000}, "total": 1_200_000},
        "cardData": {"base_model": "meta-llama/Llama-3.1-8B", "base_model_relation": "quantized"},
    }  # fmt: skip
    files = {("someone/Llama-bnb-4bit", "config.json"): json.dumps({"model_type": "llama", "quantization_config": {"load_in_4bit": True}}).encode()}
    run = make_raw_run(data_dir, RUN1, bodies=[gptq, bnb], files=files)
    load_raw_run(DataDir(data_dir).warehouse, run.root)
    con = open_warehouse(DataDir(data_dir).warehouse, read_only=True)
    got = {r[0]: r[1:] for r in rows(con, "SELECT repo_id, params_total, params_effective, params_note FROM models")}
    assert got["someone/Llama-GPTQ"][:2] == (1_200_000, 8_200_000)
    assert "gptq 4-bit" in got["someone/Llama-GPTQ"][2]
    assert got["someone/Llama-bnb-4bit"][:2] == (1_200_000, 2_200_000)
    assert rows(con, "SELECT child_id, relation, source FROM model_lineage ORDER BY child_id") == [
        ("someone/Llama-GPTQ", "quantized", ["tag"]),
        ("someone/Llama-bnb-4bit", "quantized", ["cardData"]),
    ]


def _body(repo_id, sha, downloads, likes=1):
    return {"id": repo_id, "sha": sha, "downloads": downloads, "likes": likes, "lastModified": "2025-01-01T00:00:00.000Z"}


def test_runs_over_time_history_versions_and_order(data_dir):
    db = DataDir(data_dir).warehouse
    a = make_raw_run(data_dir, "20250101T060000Z-aaaaaa", bodies=[_body("o/m", "s1", 10)], files={})
    b = make_raw_run(data_dir, "20250101T180000Z-bbbbbb", bodies=[_body("o/m", "s1", 15)], files={})
    c = make_raw_run(data_dir, "20250102T060000Z-cccccc", bodies=[_body("o/m", "s2", 30), _body("o/new", "n1", 1)], files={})
    for run in (a, c, b):  # b arrives late: it must not overwrite c's newer row
        load_raw_run(db, run.root)
    con = open_warehouse(db, read_only=True)
    assert rows(con, "SELECT sha, downloads, first_seen_run, last_seen_run FROM models WHERE repo_id = 'o/m'") == [("s2", 30, a.run_id, c.run_id)]
    assert rows(con, "SELECT observed_on::VARCHAR, downloads, run_id FROM model_stats_history WHERE repo_id = 'o/m' ORDER BY 1") == [
        ("2025-01-01", 15, b.run_id),  # last run of the day wins
        ("2025-01-02", 30, c.run_id),
    ]
    assert rows(con, "SELECT sha, first_seen_run FROM model_versions WHERE repo_id = 'o/m' ORDER BY sha") == [("s1", a.run_id), ("s2", c.run_id)]
    assert rows(con, "SELECT count(*) FROM harvest_runs") == [(3,)]
    con.close()

    rebuilt = rebuild(data_dir)
    assert list(rebuilt) == [a.run_id, b.run_id, c.run_id]
    with duckdb.connect(str(db), read_only=True) as con2:
        assert rows(con2, "SELECT sha, downloads, first_seen_run FROM models WHERE repo_id = 'o/m'") == [("s2", 30, a.run_id)]
    assert rebuild(data_dir, run_id=b.run_id)[b.run_id]["models"] == 0  # older than the row: not overwritten


def test_a_repo_on_two_pages_keeps_one_history_row_each_with_the_later_page(data_dir):
    """model_stats_history, model_versions (migration 061) and models (063) have no key: the loader keeps them unique."""
    db = DataDir(data_dir).warehouse
    filler = [_body(f"o/f{i}", f"f{i}", i) for i in range(6)]
    run = make_raw_run(data_dir, "20250101T060000Z-aaaaaa", bodies=[_body("o/m", "s1", 10), *filler, _body("o/m", "s1", 12)], files={}, page_size=2)
    for _ in range(2):  # and loading it again adds nothing
        load_raw_run(db, run.root, page_bytes=1)  # one zstd frame (two lines) per page: o/m is on pages 0 and 3
    con = open_warehouse(db, read_only=True)
    assert rows(con, "SELECT downloads FROM model_stats_history WHERE repo_id = 'o/m'") == [(12,)]
    assert rows(con, "SELECT sha, first_seen_run FROM model_versions WHERE repo_id = 'o/m'") == [("s1", run.run_id)]
    assert rows(con, "SELECT count(*), count(DISTINCT repo_id) FROM model_stats_history") == [(7, 7)]
    assert rows(con, "SELECT count(*) FROM model_versions") == [(7,)]
    assert rows(con, "SELECT count(*), count(DISTINCT repo_id) FROM models") == [(7, 7)]
    assert rows(con, "SELECT downloads FROM models WHERE repo_id = 'o/m'") == [(12,)]
    con.close()


def test_load_errors_are_typed(data_dir, tmp_path):
    with pytest.raises(LoadError):
        load_raw_run(DataDir(data_dir).warehouse, tmp_path / "nowhere")
    with pytest.raises(LoadError):
        rebuild(data_dir)
