"""Matching and reconciliation against the bundled snapshot's real model bodies.

The warehouse's own loader is another module's job: here a small DuckDB file gets the contract's ``models`` and
``model_lineage`` columns, filled straight from harvesters/demo_snapshot/api/models/**.json (license from the
``license:`` tag or cardData, parameters from safetensors.total, base models from ``base_model:`` tags, an
architecture class from model_type), then migration 010 is applied, so these tests depend only on column names.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import polars as pl
import pytest

from warehouse.catalog import CatalogError, load_canonical_repos, load_catalog
from warehouse.gaps import catalog_gaps
from warehouse.matching import BET, _repo_name_hits, match_catalog, name_key, repo_name_keys
from warehouse.reconcile import compare_arch, compare_date, compare_license, compare_params, match_warehouse, reconcile

REPO_ROOT = Path(__file__).resolve().parent.parent
SNAPSHOT_MODELS = REPO_ROOT / "harvesters" / "demo_snapshot" / "api" / "models"
MIGRATIONS = [REPO_ROOT / "warehouse" / "migrations" / name for name in ("010_catalog.sql", "060_confident_matches.sql", "062_catalog_matches_without_key.sql")]
ARCH_CLASS = {  # stand-in for the warehouse's own classification
    "bert": "encoder", "roberta": "encoder", "distilbert": "encoder", "albert": "encoder", "electra": "encoder", "tapas": "encoder",
    "wav2vec2": "encoder", "clip": "encoder", "t5": "encoder-decoder", "bart": "encoder-decoder", "mbart": "encoder-decoder",
    "blip": "encoder-decoder", "vision-encoder-decoder": "encoder-decoder", "detr": "encoder-decoder",
    "gpt2": "decoder", "llama": "decoder", "mixtral": "decoder", "qwen2": "decoder", "qwen3": "decoder",
}
CONTRACT_DDL = """
CREATE TABLE models (repo_id VARCHAR PRIMARY KEY, author VARCHAR, sha VARCHAR, created_at TIMESTAMPTZ, last_modified TIMESTAMPTZ,
  downloads BIGINT, downloads_all_time BIGINT, likes BIGINT, pipeline_tag VARCHAR, library_name VARCHAR, license VARCHAR,
  gated VARCHAR, model_type VARCHAR, architectures VARCHAR[], arch_class VARCHAR, params_total BIGINT, params_source VARCHAR,
  params_effective BIGINT, params_note VARCHAR, languages VARCHAR[], datasets VARCHAR[], base_models VARCHAR[], tags VARCHAR[]);
CREATE TABLE model_lineage (child_id VARCHAR, parent_id VARCHAR, relation VARCHAR, source VARCHAR);
"""


def snapshot_models() -> pl.DataFrame:
    rows = []
    for path in sorted(SNAPSHOT_MODELS.rglob("*.json")):
        body = json.loads(path.read_text(encoding="utf-8"))
        tags, card, config = body.get("tags") or [], body.get("cardData") or {}, body.get("config") or {}
        license_ = next((t.split(":", 1)[1] for t in tags if t.startswith("license:")), card.get("license"))
        base = [t.rsplit(":", 1)[1] for t in tags if t.startswith("base_model:")]
        if not base and card.get("base_model"):
            base = [card["base_model"]] if isinstance(card["base_model"], str) else list(card["base_model"])
        created = body.get("createdAt")
        rows.append({
            "repo_id": body["id"], "author": body.get("author"),
            "created_at": dt.datetime.fromisoformat(created.replace("Z", "+00:00")) if created else None,
            "downloads": body.get("downloads"), "library_name": body.get("library_name"), "pipeline_tag": body.get("pipeline_tag"),
            "license": license_.lower() if isinstance(license_, str) else None, "model_type": config.get("model_type"),
            "architectures": config.get("architectures"), "arch_class": ARCH_CLASS.get(config.get("model_type")),
            "params_total": (body.get("safetensors") or {}).get("total"), "base_models": sorted(set(base)), "tags": tags,
        })
    return pl.DataFrame(rows, schema_overrides={"created_at": pl.Datetime("us", "UTC"), "architectures": pl.List(pl.String),
                                                "base_models": pl.List(pl.String), "tags": pl.List(pl.String)})


@pytest.fixture(scope="module")
def hub_models() -> pl.DataFrame:
    return snapshot_models()


def build_warehouse(path: Path, frame: pl.DataFrame) -> duckdb.DuckDBPyConnection:
    c = duckdb.connect(str(path))
    c.execute(CONTRACT_DDL)
    for migration in MIGRATIONS:  # the catalog's own tables, as the migrations make them
        c.execute(migration.read_text(encoding="utf-8"))
    lineage = frame.select(child_id="repo_id", parent_id="base_models").explode("parent_id").drop_nulls("parent_id")
    for name, data in (("snapshot_frame", frame), ("lineage_frame", lineage.with_columns(relation=pl.lit("finetune"), source=pl.lit("tags")))):
        c.register(name, data)
        c.execute(f"INSERT INTO {'models' if name == 'snapshot_frame' else 'model_lineage'} BY NAME SELECT * FROM {name}")
        c.unregister(name)
    return c


@pytest.fixture
def con(tmp_path, hub_models):
    """A fresh warehouse per test, for tests that write."""
    c = build_warehouse(tmp_path / "warehouse.duckdb", hub_models)
    yield c
    c.close()


@pytest.fixture(scope="module")
def reconciled(tmp_path_factory, hub_models):
    """One reconciled warehouse shared by the read-only tests."""
    c = build_warehouse(tmp_path_factory.mktemp("reconciled") / "warehouse.duckdb", hub_models)
    counts = reconcile(c)
    yield c, counts
    c.close()


def matches_of(con) -> dict[tuple[str, str], float]:
    return {(n, r): c for n, r, c in con.execute("SELECT catalog_name, repo_id, confidence FROM catalog_matches").fetchall()}


KNOWN_PAIRS = [
    ("BERT", "google-bert/bert-base-uncased"),
    ("T5", "google-t5/t5-small"),
    ("BART", "facebook/bart-base"),
    ("GPT-2", "openai-community/gpt2"),
    ("GPT-2", "gpt2"),
    ("Flan-T5", "google/flan-t5-large"),
    ("Flan-T5", "google/flan-t5-xxl"),
    ("CLIP", "openai/clip-vit-base-patch32"),
    ("RoBERTa", "FacebookAI/roberta-base"),
    ("ELECTRA", "google/electra-small-discriminator"),
    ("ELECTRA", "google/electra-small-generator"),
    ("StableDiffusion", "CompVis/stable-diffusion-v1-4"),
    ("StableDiffusion", "stabilityai/stable-diffusion-2-1"),
]
KNOWN_NON_PAIRS = [
    ("RoBERTa", "deepset/roberta-base-squad2"),  # a fine-tune: lineage, not the canonical
    ("DistilBERT", "distilbert/distilbert-base-uncased-finetuned-sst-2-english"),  # fine-tune of the canonical
    ("BERT", "dbmdz/bert-large-cased-finetuned-conll03-english"),
    ("BERT", "sentence-transformers/all-MiniLM-L6-v2"),
    ("BERT", "Tristan/olm-bert-tiny-december-2022"),  # a BERT architecture trained by someone else
    ("ALBERT", "sentence-transformers/paraphrase-albert-small-v2"),
    ("BART", "sshleifer/distilbart-cnn-12-6"),
    ("mBART", "facebook/mbart-large-50-many-to-many-mmt"),  # mBART-50, a later model
    ("T5", "google/flan-t5-large"),
    ("T5", "google/flan-t5-xxl"),
    ("LLaMA", "meta-llama/Llama-3.1-8B"),  # Llama 3 is not the catalog's 02/2023 LLaMA
    ("LLaMA", "meta-llama/Llama-3.1-8B-Instruct"),
    ("LLaMA", "meta-llama/Meta-Llama-3-8B-Instruct"),
    ("Imagen", "CompVis/stable-diffusion-v1-4"),
    ("Imagen", "stabilityai/stable-diffusion-2-1"),
    ("GPT", "gpt2"),
    ("GPT", "openai-community/gpt2"),
    ("ViT", "openai/clip-vit-base-patch32"),
    ("DETR", "facebook/detr-resnet-50"),
]


@pytest.mark.parametrize(("name", "repo"), KNOWN_PAIRS)
def test_known_pairs_are_matched_with_confidence(reconciled, name, repo):
    con, _ = reconciled
    assert matches_of(con).get((name, repo), 0) >= BET


@pytest.mark.parametrize(("name", "repo"), KNOWN_NON_PAIRS)
def test_known_non_pairs_are_never_bet_on(reconciled, name, repo):
    con, _ = reconciled
    assert matches_of(con).get((name, repo), 0) < BET


def test_every_canonical_repo_in_the_snapshot_is_matched(reconciled, hub_models):
    con, counts = reconciled
    present = {r.lower(): r for r in hub_models["repo_id"]}
    m = matches_of(con)
    expected = {(name, present[r.lower()]) for name, e in load_canonical_repos().items() for r in e["repos"] if r.lower() in present}
    assert len(expected) >= 13
    assert {p for p in expected if m.get(p, 0) < BET} == set()
    high = {p for p, c in m.items() if c >= BET}
    assert high == expected, "every bet is a curated canonical pair on this snapshot"
    assert counts["matched_entries"] == len({n for n, _ in expected})


def test_no_repo_is_bet_on_for_two_entries(reconciled):
    con, _ = reconciled
    assert con.execute("SELECT repo_id FROM catalog_matches WHERE confidence >= 0.8 GROUP BY repo_id HAVING count(*) > 1").fetchall() == []


def test_lineage_and_ambiguous_candidates_are_listed_low(reconciled):
    con, _ = reconciled
    rows = {(n, r): (meth, c, note) for n, r, meth, c, note in con.execute("SELECT catalog_name, repo_id, method, confidence, note FROM catalog_matches").fetchall()}
    method, conf, note = rows[("RoBERTa", "deepset/roberta-base-squad2")]
    assert (method, conf) == ("lineage", 0.5) and "derived from FacebookAI/roberta-base" in note
    method, conf, note = rows[("T5", "google/flan-t5-large")]
    assert conf < BET and "matched to Flan-T5" in note
    assert rows[("LLaMA", "meta-llama/Llama-3.1-8B-Instruct")][1] <= 0.6


def test_ambiguity_is_resolved_downwards():
    catalog = load_catalog()
    models = pl.DataFrame({
        "repo_id": ["acme/opt-350m", "facebook/opt-999m"], "author": ["acme", "facebook"],
        "model_type": ["opt", "opt"], "base_models": [[], []],
    }, schema_overrides={"base_models": pl.List(pl.String)})
    canonical = load_canonical_repos() | {"OPT": {"repos": [], "related": [], "model_types": ["opt"], "names": [], "orgs": []},
                                          "Galactica": {"repos": [], "related": [], "model_types": [], "names": ["opt"], "orgs": ["facebook"]}}
    m = match_catalog(catalog, models, canonical=canonical, hub_orgs={"Facebook": ["facebook"]})
    got = {(r["catalog_name"], r["repo_id"]): r for r in m.iter_rows(named=True)}
    # facebook/opt-999m: name+org for both OPT and (by a bad alias) Galactica -> neither is bet on, both say so
    for name in ("OPT", "Galactica"):
        row = got[(name, "facebook/opt-999m")]
        assert row["confidence"] == 0.6 and "ambiguous" in row["note"]
    assert got[("OPT", "acme/opt-350m")]["confidence"] == 0.55  # exact name, not the lab's org


def test_name_key():
    assert name_key("google/flan-t5-large") == "flant5" == name_key("Flan-T5")
    assert name_key("GPT-2") == "gpt2" == name_key("openai-community/gpt2-medium")
    assert name_key("CompVis/stable-diffusion-v1-4") == "stablediffusion" == name_key("StableDiffusion")
    assert name_key("MT-NLG (Megatron TuringNLG)") == "mtnlg"
    assert name_key("EleutherAI/pythia-1.4b-deduped") == "pythiadeduped"


def test_vectorized_name_keys_equal_the_python_ones(hub_models):
    ids = hub_models["repo_id"].to_list() + ["x/llama-v2-7b", "intfloat/e5-large-v2", "bigscience/T0_3B", "a/b (c)", "weird/___"]
    every = sorted({k for i in ids for k in repo_name_keys(i)})
    hits = _repo_name_hits(pl.Series(ids), pl.DataFrame({"catalog_name": every, "key": every}))
    assert set(zip(hits["repo_id"], hits["key"])) == {(i, k) for i in ids for k in repo_name_keys(i)}


def test_conflicts_are_real_and_explained(reconciled):
    con, counts = reconciled
    conflicts = con.execute("SELECT catalog_name, repo_id, field, catalog_value, hub_value, note FROM reconciliation WHERE status = 'conflict' ORDER BY ALL").fetchall()
    # CompVis/stable-diffusion-v1-4 is under creativeml-openrail-m; the catalog names the SD 2.x license (RAIL++-M)
    assert [(n, r, f) for n, r, f, *_ in conflicts] == [("StableDiffusion", "CompVis/stable-diffusion-v1-4", "license")]
    for *_, cat_value, hub_value, note in conflicts:
        assert cat_value and hub_value and hub_value in note
    assert counts["reconciliation_conflict"] == len(conflicts)


def test_reconciliation_values(reconciled):
    con, counts = reconciled
    rec = {(n, r, f): (s, note) for n, r, f, s, note in con.execute("SELECT catalog_name, repo_id, field, status, note FROM reconciliation").fetchall()}
    assert rec[("BERT", "google-bert/bert-base-uncased", "params")][0] == "agree"
    assert "+0.1% from the listed 110M" in rec[("BERT", "google-bert/bert-base-uncased", "params")][1]
    assert rec[("GPT-2", "openai-community/gpt2", "params")][0] == "agree"  # 137M vs 124M: +10.5%, inside ±15%
    assert rec[("T5", "google-t5/t5-small", "params")] == ("agree", "Hub 60.5M (params_total) is within the catalog's up to 11B (tolerance ±15%)")
    assert rec[("Flan-T5", "google/flan-t5-xxl", "params")][0] == "agree"
    assert rec[("Flan-T5", "google/flan-t5-large", "date")][0] == "agree"
    assert "before the catalog's publication date 11/2022: the release came first" in rec[("Flan-T5", "google/flan-t5-large", "date")][1]
    assert "before the Hub began" in rec[("BERT", "google-bert/bert-base-uncased", "date")][1]
    assert "placeholder" in rec[("T5", "google-t5/t5-small", "date")][1]
    assert rec[("CLIP", "openai/clip-vit-base-patch32", "params")][0] == "missing_on_hub"
    assert rec[("RoBERTa", "FacebookAI/roberta-base", "license")][0] == "missing_in_catalog"  # catalog: N/A, Hub: mit
    assert rec[("RoBERTa", "FacebookAI/roberta-base", "date")][0] == "missing_on_hub"  # assembled body: no createdAt
    assert all(k[0] in {n for n, _ in KNOWN_PAIRS} for k in rec)
    assert counts["reconciliation"] == len(rec) == 4 * counts["matched_repos"]


def test_gaps_rank_families_the_catalog_lacks(reconciled):
    con, counts = reconciled
    gaps = catalog_gaps(con, limit=50)
    assert gaps.height == counts["catalog_gaps"] > 0
    assert gaps["rank"].to_list() == list(range(1, gaps.height + 1))
    assert gaps["downloads"].fill_null(0).to_list() == sorted(gaps["downloads"].fill_null(0).to_list(), reverse=True)
    by_key = {(r["gap_kind"], r["gap_key"]): r for r in gaps.iter_rows(named=True)}
    assert by_key[("model_type", "llama")]["reason"].startswith("newer than the catalog")
    assert "LLaMA (02/2023)" in by_key[("model_type", "llama")]["reason"]
    for key in ("mixtral", "detr", "wav2vec2", "qwen3"):
        assert by_key[("model_type", key)]["reason"] == f"no catalog entry covers model_type '{key}'"
    assert ("base_model", "mistral-community/Mixtral-8x22B-v0.1") in by_key
    for covered in ("bert", "t5", "gpt2", "roberta", "bart", "albert", "electra", "clip"):
        assert ("model_type", covered) not in by_key
    assert catalog_gaps(con, limit=3).height == 3


def test_reconcile_is_repeatable_and_in_the_callers_transaction(con):
    first = reconcile(con)
    assert reconcile(con) == first
    con.execute("DELETE FROM catalog_models")
    con.execute("BEGIN")
    reconcile(con)
    con.execute("ROLLBACK")
    assert con.execute("SELECT count(*) FROM catalog_models").fetchone() == (0,)


def test_matching_the_warehouse_in_small_batches_finds_the_pairs_of_one_whole_frame(con, hub_models):
    """Batches bound memory; lineage evidence still reaches a child whose parent sits in another batch."""
    catalog = load_catalog()
    whole = match_catalog(catalog, hub_models, con.sql("SELECT child_id, parent_id FROM model_lineage").pl())
    assert whole.filter(pl.col("evidence").list.contains("lineage")).height, "the snapshot has derived repos"
    covering, n = match_warehouse(con, catalog, batch_rows=5)
    batched = con.sql("SELECT * EXCLUDE (confident) FROM catalog_matches").pl()
    key = ["catalog_name", "repo_id"]
    assert n == whole.height == batched.height == batched.unique(key).height
    assert batched.sort(key).to_dicts() == whole.sort(key).to_dicts()
    expected_covering = whole.filter((pl.col("confidence") >= BET) | pl.col("method").is_in(["curated_related", "lineage"]))
    assert sorted(covering["repo_id"]) == sorted(expected_covering["repo_id"])


def test_user_catalog_layers_into_reconcile(con, tmp_path):
    extra = tmp_path / "extra.csv"
    extra.write_text("Name,Pretraining Architecture,Date,Num. Params,Lab\nQwen3,Decoder,04/2025,\"0.6B, 8B, 235B\",Alibaba\n", encoding="utf-8")
    counts = reconcile(con, [extra])
    assert counts["catalog_models"] == 78
    assert con.execute("SELECT params_max, catalog_file FROM catalog_models WHERE name = 'Qwen3'").fetchone() == (235 * 10**9, str(extra))
    bad = tmp_path / "bad.csv"
    bad.write_text("Name,Pretraining Architecture,Date,Num. Params\nX,Transformer,04/2025,1B\n", encoding="utf-8")
    with pytest.raises(CatalogError) as info:
        reconcile(con, [bad])
    assert info.value.row == 2
    assert con.execute("SELECT count(*) FROM catalog_models").fetchone() == (78,), "a refused catalog writes nothing"


def test_every_table_and_column_has_a_comment(con):
    tables = ("catalog_models", "catalog_matches", "reconciliation", "catalog_gaps")
    assert con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name IN ? AND comment IS NOT NULL", [list(tables)]).fetchone() == (4,)
    assert con.execute("SELECT table_name, column_name FROM duckdb_columns() WHERE table_name IN ? AND comment IS NULL", [list(tables)]).fetchall() == []


# the comparison rules on their own
CAT = {"params_min": 110 * 10**6, "params_max": 340 * 10**6, "params_sizes": [110 * 10**6, 340 * 10**6], "params_kind": "sizes",
       "params_note": None, "arch_class": "encoder", "architecture": "Encoder", "arch_note": None,
       "license": "Open, Apache-2.0", "license_id": "apache-2.0", "license_class": "open", "date": dt.date(2018, 10, 1), "date_precision": "month"}


def test_compare_params_rules():
    assert compare_params(CAT, 335_000_000)[0] == "agree"
    status, note = compare_params(CAT, 220_000_000)
    assert status == "conflict" and "not within ±15% of any listed size (110M, 340M)" in note
    rng = CAT | {"params_min": 10 * 10**6, "params_max": 52 * 10**9, "params_kind": "range"}
    assert compare_params(rng, 7 * 10**9)[0] == "agree"
    assert compare_params(rng, 70 * 10**9)[0] == "conflict"
    unknown = CAT | {"params_min": None, "params_max": None, "params_sizes": [], "params_kind": "unknown", "params_note": "depends on the base model"}
    assert compare_params(unknown, 10**9) == ("missing_in_catalog", "catalog size not comparable: depends on the base model")
    assert compare_params(CAT, None)[0] == "missing_on_hub"


def test_compare_arch_and_license_rules():
    assert compare_arch(CAT, "encoder")[0] == "agree"
    assert compare_arch(CAT, "decoder") == ("conflict", "catalog says encoder ('Encoder'), the Hub's config is decoder")
    assert compare_arch(CAT | {"arch_class": None, "arch_note": "depends"}, "decoder") == ("missing_in_catalog", "depends")
    assert compare_license(CAT, "apache-2.0")[0] == "agree"
    assert compare_license(CAT, "mit")[0] == "conflict"
    limited = CAT | {"license": "Limited, Non-commercial bespoke license", "license_id": None, "license_class": "limited"}
    assert compare_license(limited, "llama3")[0] == "agree"  # class level, said in the note
    assert compare_license(limited, "apache-2.0")[0] == "conflict"
    assert compare_license(limited, "other")[0] == "missing_in_catalog"
    code = CAT | {"license": "the code is open sourced, with MIT-license", "license_id": "mit", "license_class": "open-code"}
    assert compare_license(code, "cc-by-nc-4.0")[0] == "missing_in_catalog"


def test_compare_date_rules():
    utc = dt.timezone.utc
    cat_2022 = CAT | {"date": dt.date(2022, 11, 1)}
    assert compare_date(cat_2022, dt.datetime(2023, 5, 1, tzinfo=utc))[0] == "agree"
    assert compare_date(cat_2022, dt.datetime(2022, 10, 21, tzinfo=utc))[0] == "agree"  # release before the paper
    status, note = compare_date(cat_2022, dt.datetime(2021, 1, 5, tzinfo=utc))
    assert status == "conflict" and "22 months before" in note
    assert compare_date(CAT | {"date": dt.date(2023, 6, 1)}, dt.datetime(2022, 3, 2, 23, 29, 4, tzinfo=utc))[0] == "conflict"
    year_only = CAT | {"date": dt.date(2020, 1, 1), "date_precision": "year"}
    assert compare_date(year_only, dt.datetime(2020, 3, 1, tzinfo=utc))[0] == "agree"
    assert compare_date(CAT, None)[0] == "missing_on_hub"


def test_against_the_real_warehouse_when_present(tmp_path):
    database = pytest.importorskip("warehouse.database")
    con = database.open_warehouse(tmp_path / "w.duckdb")
    try:
        counts = reconcile(con)
        assert counts["catalog_models"] == 77
    finally:
        con.close()
