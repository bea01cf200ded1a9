"""Renamed parents (model_aliases, folded lineage) and sizes through lineage (params_source = 'base-model')."""

from __future__ import annotations

import json

import duckdb

from harvesters.aliases import resolve_aliases, unlisted_parents
from harvesters.hub import HubClient
from harvesters.landing import DataDir, parse_line
from harvesters.listing_index import named_parents
from warehouse.database import open_warehouse
from harvesters.replay.fixtures import make_raw_run
from warehouse.loading import load_raw_run, table_contents
from warehouse.state import unknown_ids

RUN1 = "20260101T000000Z-aaaaaa"
RUN2 = "20260102T000000Z-bbbbbb"
BASE = {"id": "meta-llama/Llama-3.1-8B", "sha": "1" * 40, "safetensors": {"parameters": {"BF16": 8030261248}, "total": 8030261248}}


def rows(con, sql, params=None):
    return con.execute(sql, params or []).fetchall()


def test_an_alias_folds_two_roots_into_one_family(data_dir):
    child = {"id": "someone/llama-chat", "sha": "2" * 40, "cardData": {"base_model": "meta-llama/Meta-Llama-3.1-8B"}}
    other = {"id": "else/llama-tuned", "sha": "3" * 40, "tags": ["base_model:finetune:meta-llama/Llama-3.1-8B"]}
    run = make_raw_run(data_dir, RUN1, bodies=[BASE, child, other], files={})
    roots = "SELECT count(DISTINCT parent_id) FROM v_lineage WHERE parent_id NOT IN (SELECT child_id FROM v_lineage)"
    load_raw_run(DataDir(data_dir).warehouse, run.root)
    with duckdb.connect(str(DataDir(data_dir).warehouse), read_only=True) as con:
        assert rows(con, roots) == [(2,)]  # the old and the new name of one repo: two families
    run.aliases_path.write_text(json.dumps({"alias": "meta-llama/Meta-Llama-3.1-8B", "canonical_id": "meta-llama/Llama-3.1-8B", "resolved_at": "2026-01-01T00:00:01+00:00"}) + "\n")
    load_raw_run(DataDir(data_dir).warehouse, run.root)
    with duckdb.connect(str(DataDir(data_dir).warehouse), read_only=True) as con:
        assert rows(con, roots) == [(1,)]
        assert rows(con, "SELECT parent_id, named_parent_id, parent_in_warehouse FROM v_lineage WHERE child_id = 'someone/llama-chat'") == [
            ("meta-llama/Llama-3.1-8B", "meta-llama/Meta-Llama-3.1-8B", True)
        ]
        assert rows(con, "SELECT n_children FROM v_models WHERE repo_id = 'meta-llama/Llama-3.1-8B'") == [(2,)]
        # and the folded parent gives its size to the child that named it by its old name
        assert rows(con, "SELECT params_total, params_source, params_note FROM models WHERE repo_id = 'someone/llama-chat'") == [
            (8030261248, "base-model", "no count of its own: the count of its base model meta-llama/Llama-3.1-8B (base, safetensors)")
        ]


def test_sizes_through_lineage_chains_adapters_and_merges(data_dir):
    finetune = {"id": "a/finetune", "sha": "2" * 40, "cardData": {"base_model": "meta-llama/Llama-3.1-8B"}}
    quant = {"id": "a/finetune-gguf-q4", "sha": "3" * 40, "tags": ["base_model:quantized:a/finetune"]}
    adapter = {
        "id": "a/lora", "sha": "4" * 40, "library_name": "peft", "tags": ["base_model:adapter:meta-llama/Llama-3.1-8B"],
        "safetensors": {"parameters": {"F32": 4194304}, "total": 4194304},
    }  # fmt: skip
    merge = {"id": "a/merge", "sha": "5" * 40, "cardData": {"base_model": ["meta-llama/Llama-3.1-8B", "a/other"]}}
    orphan = {"id": "a/orphan", "sha": "6" * 40, "cardData": {"base_model": "nobody/unknown"}}
    run = make_raw_run(data_dir, RUN1, bodies=[BASE, finetune, quant, adapter, merge, orphan], files={})
    db = DataDir(data_dir).warehouse
    load_raw_run(db, run.root)
    con = open_warehouse(db)
    got = {r[0]: r[1:] for r in rows(con, "SELECT repo_id, params_total, params_effective, params_source, params_note FROM models")}
    assert got["a/finetune"][:3] == (8030261248, 8030261248, "base-model")
    assert got["a/finetune-gguf-q4"][:3] == (8030261248, 8030261248, "base-model")  # a chain: through a/finetune
    assert "a/finetune (quantized, base-model)" in got["a/finetune-gguf-q4"][3]
    assert got["a/lora"][:3] == (8030261248, 8030261248, "base-model")
    assert "its own weights (4194304 parameters, safetensors) are not the model size" in got["a/lora"][3]
    assert got["a/merge"][2] is None and got["a/orphan"][2] is None  # two parents; a parent without a count
    before = table_contents(con)
    con.close()
    load_raw_run(db, run.root)  # reloading the same run changes nothing
    with open_warehouse(db) as con:
        assert table_contents(con) == before


def test_named_parents_reads_every_lineage_source():
    model = {
        "id": "x/child",
        "cardData": {"base_model": ["https://huggingface.co/a/one", "x/child"]},
        "baseModels": {"relation": "finetune", "models": [{"id": "b/two"}]},
        "tags": ["base_model:quantized:c/three", "base_model:d/four", "license:mit"],
    }
    assert named_parents(model) == {"a/one", "b/two", "c/three", "d/four"}


def test_unknown_parents_are_asked_once_and_the_answers_land_in_the_raw_run(replay_hub, data_dir):
    listed = {"id": "someone/llama-chat", "sha": "2" * 40, "cardData": {"base_model": "meta-llama/Meta-Llama-3.1-8B"},
              "tags": ["base_model:finetune:t5-small", "base_model:nobody/gone"]}  # fmt: skip
    run = make_raw_run(data_dir, RUN1, bodies=[listed], files={})
    hub = replay_hub()
    client = HubClient(hub.url)
    asked = unknown_ids(DataDir(data_dir).warehouse, unlisted_parents(run))  # no warehouse yet: all three
    counts = resolve_aliases(client, run, asked)
    assert dict(counts) == {"renamed": 2, "unknown": 1}
    answers = {r["alias"]: r["canonical_id"] for r in map(json.loads, run.aliases_path.read_text().splitlines())}
    assert answers == {"meta-llama/Meta-Llama-3.1-8B": "meta-llama/Llama-3.1-8B", "t5-small": "google-t5/t5-small", "nobody/gone": None}
    assert resolve_aliases(client, run, asked) == {}  # a resumed run does not ask again
    load_raw_run(DataDir(data_dir).warehouse, run.root)
    run2 = make_raw_run(data_dir, RUN2, bodies=[listed], files={})
    assert unknown_ids(DataDir(data_dir).warehouse, unlisted_parents(run2)) == []  # the next night asks nothing
    model_info = [r for r in hub.requests if r["path"].startswith("/api/models/")]
    assert len(model_info) == 3 + 2  # one per parent, plus the two 307s' targets


def test_unlisted_parents_from_the_listing_index_agree_with_parsing_every_line(data_dir, tmp_path):
    """unlisted_parents reads the run's listing index, not its lines; the answer is the one parsing every line
    gives, and the one a run landed without an index (an earlier version's) gives from its listing."""
    lines = [
        b'{"id":"a/child","cardData":{"base_model":"p/one"}}',
        b'{"id":"p/one","tags":["id","en"]}',  # a tag "id" (Indonesian)
        b'{"id":"x/y","baseModels":{"models":[{"id":"p/two"}]}}',  # a named parent's id, nested: not listed
        b'{"id": "p/three", "cardData": {"base_model": "p/three-base"}}',  # spaced, as an earlier landing may be
        b'{"id":"b/child","cardData":{"base_model":["p/three","p/four"]}}',
        b'{"id":"p\\/four"}',  # an escaped slash: still p/four
        b'{broken',
        b'{"id":["p/five"],"tags":["base_model:p/five"]}',  # an id that is not a string lists nothing
        b'{"id":"c/child","tags":["base_model:quantized:p/six"],"siblings":[{"rfilename":"p/six"}]}',
    ]
    run = make_raw_run(data_dir, RUN1, bodies=[], extra_lines=lines, files={})
    parsed = [parse_line(line) for line in lines]
    named = set().union(*(named_parents(m) for m in parsed))
    listed = {m["id"] for m in parsed if isinstance(m, dict) and isinstance(m.get("id"), str)}
    assert run.index_path.exists()
    assert unlisted_parents(run) == sorted(named - listed) == ["p/five", "p/six", "p/three-base", "p/two"]
    old = make_raw_run(tmp_path / "old", RUN1, bodies=[], extra_lines=lines, files={}, compressed=False)
    assert not old.index_path.exists()
    assert unlisted_parents(old) == unlisted_parents(run)
