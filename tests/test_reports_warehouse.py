"""The report tests' warehouse: a DuckDB file holding TABLES named and shaped like the marts (the contract).

The reports depend only on those names and columns, so until the lead switches these tests to a real harvested
warehouse, this fixture stands in: the demo snapshot's real model_info bodies mapped to v_models rows, plus
realistic derivatives (fine-tunes, adapters, quantizations, merges) for the family trees, a few catalog rows,
and, with ``evil=True``, a model whose card fields carry markup.

The tests in this file check the fixture against the real migrations (same relation names, same columns).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SNAPSHOT_MODELS = REPO_ROOT / "harvesters" / "demo_snapshot" / "api" / "models"

EVIL_BASE = "<img src=x onerror=alert(1)>"
EVIL_TAG = "<script>alert(2)</script>"
EVIL_REPO = 'mallory/x"><svg onload=alert(3)>'
EVIL_STRINGS = (EVIL_BASE, EVIL_TAG, EVIL_REPO)

MART_COLUMNS: dict[str, list[tuple[str, str]]] = {
    "v_models": [
        ("repo_id", "VARCHAR"), ("author", "VARCHAR"), ("sha", "VARCHAR"), ("created_at", "TIMESTAMPTZ"),
        ("last_modified", "TIMESTAMPTZ"), ("downloads", "BIGINT"), ("downloads_all_time", "BIGINT"), ("likes", "BIGINT"),
        ("pipeline_tag", "VARCHAR"), ("library_name", "VARCHAR"), ("license", "VARCHAR"), ("gated", "VARCHAR"),
        ("private", "BOOLEAN"), ("disabled", "BOOLEAN"), ("model_type", "VARCHAR"), ("architectures", "VARCHAR[]"),
        ("arch_class", "VARCHAR"), ("params_total", "BIGINT"), ("params_source", "VARCHAR"), ("params_effective", "BIGINT"),
        ("params_note", "VARCHAR"), ("params_by_dtype", "JSON"), ("languages", "VARCHAR[]"), ("datasets", "VARCHAR[]"),
        ("base_models", "VARCHAR[]"), ("tags", "VARCHAR[]"), ("first_seen_run", "VARCHAR"), ("last_seen_run", "VARCHAR"),
        ("deleted_on", "DATE"), ("hidden_size", "BIGINT"), ("num_layers", "BIGINT"), ("num_heads", "BIGINT"),
        ("num_kv_heads", "BIGINT"), ("vocab_size", "BIGINT"), ("context_length", "BIGINT"), ("intermediate_size", "BIGINT"),
        ("torch_dtype", "VARCHAR"), ("quant_method", "VARCHAR"), ("quant_bits", "BIGINT"), ("card_parse_status", "VARCHAR"),
        ("card_length", "BIGINT"), ("params", "BIGINT"), ("size_bucket", "VARCHAR"), ("n_children", "BIGINT"),
    ],
}

ARCH = {
    "bert": "encoder", "roberta": "encoder", "distilbert": "encoder", "albert": "encoder", "electra": "encoder",
    "tapas": "encoder", "wav2vec2": "encoder", "clip": "encoder", "gpt2": "decoder", "llama": "decoder",
    "mixtral": "decoder", "qwen2": "decoder", "qwen3": "decoder", "t5": "encoder-decoder", "bart": "encoder-decoder",
    "mbart": "encoder-decoder", "vision-encoder-decoder": "encoder-decoder", "blip": "encoder-decoder",
}

RUN_ID = "20250301T020000Z-a1b2c3"


def _ts(text: str | None) -> datetime | None:
    return None if not text else datetime.fromisoformat(text.replace("Z", "+00:00"))


def _snapshot_rows() -> list[dict]:
    rows = []
    for path in sorted(SNAPSHOT_MODELS.rglob("*.json")):
        body = json.loads(path.read_text())
        card = body.get("cardData") or {}
        config = body.get("config") or {}
        base = card.get("base_model")
        base = [base] if isinstance(base, str) else list(base or [])
        lang = card.get("language")
        lang = [lang] if isinstance(lang, str) else list(lang or [])
        total = (body.get("safetensors") or {}).get("total")
        mt = config.get("model_type")
        rows.append({
            "repo_id": body["id"], "author": body.get("author") or (body["id"].split("/")[0] if "/" in body["id"] else None),
            "sha": body.get("sha"), "created_at": _ts(body.get("createdAt")), "last_modified": _ts(body.get("lastModified")),
            "downloads": body.get("downloads"), "downloads_all_time": body.get("downloadsAllTime"), "likes": body.get("likes"),
            "pipeline_tag": body.get("pipeline_tag"), "library_name": body.get("library_name"),
            "license": card.get("license") if isinstance(card.get("license"), str) else None,
            "gated": None if body.get("gated") is None else str(body["gated"]).lower(),
            "model_type": mt, "architectures": config.get("architectures"), "arch_class": ARCH.get(mt),
            "params_total": total, "params_source": "safetensors" if total else None, "params_effective": total,
            "languages": lang, "datasets": card.get("datasets") if isinstance(card.get("datasets"), list) else [],
            "base_models": base, "tags": body.get("tags") or [],
        })
    return rows


# Derivatives as the Hub shows them (names after real repos; figures realistic): (row, [(parent, relation)])
_L31 = "meta-llama/Llama-3.1-8B-Instruct"


def _derived_rows() -> list[tuple[dict, list[tuple[str, str]]]]:
    def m(repo_id, created, downloads, model_type, params=None, source=None, effective=None, pipeline="text-generation",
          library="transformers", tags=(), likes=0, note=None):
        return {
            "repo_id": repo_id, "author": repo_id.split("/")[0], "created_at": _ts(created), "last_modified": _ts(created),
            "downloads": downloads, "likes": likes, "pipeline_tag": pipeline, "library_name": library, "license": None,
            "model_type": model_type, "arch_class": ARCH.get(model_type), "params_total": params, "params_source": source,
            "params_effective": effective if effective is not None else params, "params_note": note, "tags": list(tags),
            "architectures": [], "languages": [], "datasets": [], "base_models": [], "gated": "false",
        }

    return [
        (m("bartowski/Meta-Llama-3.1-8B-Instruct-GGUF", "2024-07-23T15:00:00Z", 152340, "llama", 8030261248, "gguf", library="gguf", tags=["gguf", "base_model:quantized:" + _L31]), [(_L31, "quantized")]),
        (m("unsloth/Meta-Llama-3.1-8B-Instruct-bnb-4bit", "2024-07-23T18:00:00Z", 98211, "llama", 4650177024, "safetensors", 8030261248, note="bitsandbytes 4-bit: uint8 packs 2 weights"), [(_L31, "quantized")]),
        (m("NousResearch/Hermes-3-Llama-3.1-8B", "2024-08-05T12:00:00Z", 40512, "llama", 8030261248, "safetensors", likes=320), [(_L31, "finetune")]),
        (m("bartowski/Hermes-3-Llama-3.1-8B-GGUF", "2024-08-16T09:00:00Z", 12004, "llama", 8030261248, "gguf", library="gguf"), [("NousResearch/Hermes-3-Llama-3.1-8B", "quantized")]),
        (m("mlabonne/Meta-Llama-3.1-8B-Instruct-abliterated", "2024-07-24T10:00:00Z", 8803, "llama", 8030261248, "safetensors"), [(_L31, "finetune")]),
        (m("ruslanmv/llama31-8b-text2sql-lora", "2024-09-02T11:00:00Z", 301, None, library="peft"), [(_L31, "adapter")]),
        (m("mergekit-community/Llama-3.1-Hermes-Instruct-slerp", "2024-09-10T08:00:00Z", 57, "llama", 8030261248, "safetensors"), [(_L31, "merge"), ("NousResearch/Hermes-3-Llama-3.1-8B", "merge")]),
        (m("dslim/bert-base-NER", "2022-03-02T23:29:05Z", 2314001, "bert", 108317193, "safetensors", pipeline="token-classification"), [("google-bert/bert-base-uncased", "finetune")]),
        (m("textattack/bert-base-uncased-imdb", "2022-03-02T23:29:05Z", 15890, "bert", 109483778, "safetensors", pipeline="text-classification"), [("google-bert/bert-base-uncased", "finetune")]),
        (m("Intel/bert-base-uncased-mrpc-int8-static", "2022-06-01T08:00:00Z", 520, "bert", None, pipeline="text-classification", library="transformers"), [("google-bert/bert-base-uncased", "quantized")]),
        (m("cardiffnlp/twitter-roberta-base-sentiment-latest", "2022-03-15T13:40:00Z", 3101020, "roberta", 124647939, "safetensors", pipeline="text-classification"), [("FacebookAI/roberta-base", "finetune")]),
        (m("MBZUAI/LaMini-Flan-T5-783M", "2023-04-11T16:00:00Z", 9120, "t5", 783150080, "safetensors", pipeline="text2text-generation"), [("google/flan-t5-large", "finetune")]),
        (m("Qwen/Qwen2.5-7B-Instruct", "2024-09-16T11:55:00Z", 1604500, "qwen2", 7615616512, "safetensors", likes=500), [("Qwen/Qwen2.5-7B", "finetune")]),
        (m("Qwen/Qwen2.5-7B-Instruct-AWQ", "2024-09-19T10:00:00Z", 210300, "qwen2", 1982900224, "safetensors", 7615616512, note="AWQ int32 packs 8 weights"), [("Qwen/Qwen2.5-7B-Instruct", "quantized")]),
        (m("Tristan/olm-gpt2-dec-2022", "2023-01-05T00:00:00Z", 12, "gpt2", 124439808, "config-estimate"), [("openai-community/gpt2", "base")]),
    ]


def _evil_rows() -> list[tuple[dict, list[tuple[str, str]]]]:
    row = {
        "repo_id": EVIL_REPO, "author": "mallory", "created_at": _ts("2025-01-15T10:00:00Z"),
        "last_modified": _ts("2025-01-15T10:00:00Z"), "downloads": 666, "likes": 1, "pipeline_tag": "text-generation",
        "library_name": "transformers", "license": EVIL_TAG, "model_type": EVIL_TAG, "arch_class": None,
        "params_total": 6_660_000_000, "params_source": "safetensors", "params_effective": 6_660_000_000,
        "params_note": EVIL_BASE, "tags": [EVIL_TAG, "text-generation"], "architectures": [EVIL_TAG],
        "languages": [], "datasets": [EVIL_BASE], "base_models": [], "gated": "false",
    }
    child = dict(row, repo_id="mallory/innocent-quant", downloads=7, model_type="llama", arch_class="decoder",
                 license=None, params_note=None, tags=["gguf"], architectures=[], datasets=[], created_at=_ts("2025-01-20T10:00:00Z"))
    return [(row, [(EVIL_BASE, "finetune")]), (child, [(EVIL_REPO, "quantized")])]


CATALOG = [
    # name, family, architecture, arch_class, pretraining_task, extension, application, date, params_text, min, max, license, lab, link
    ("BERT", "BERT", "Encoder", "encoder", "MLM/NSP", "", "General Language Understanding", date(2018, 10, 1), "Base = 110M, Large = 340M", 110_000_000, 340_000_000, "Open, Apache-2.0", "Google", "https://huggingface.co/docs/transformers/model_doc/bert"),
    ("RoBERTa", "BERT", "Encoder", "encoder", "MLM (Dynamic)", "", "Same as BERT", date(2019, 7, 1), "125M Base, and 356M Large", 125_000_000, 356_000_000, "Open, MIT license", "UW/Google", "https://huggingface.co/docs/transformers/model_doc/roberta"),
    ("DistilBERT", "BERT", "Encoder", "encoder", "MLM/NSP", "", "Same as BERT", date(2019, 10, 1), "66M", 66_000_000, 66_000_000, "Open, Apache-2.0", "Huggingface", "https://huggingface.co/docs/transformers/model_doc/distilbert"),
    ("ALBERT", "BERT", "Encoder", "encoder", "MLM/NSP", "", "Same as BERT", date(2019, 9, 1), "Base = 12M, Large = 18M, XLarge = 60M", 12_000_000, 60_000_000, "Open, Apache-2.0", "Google", "https://huggingface.co/docs/transformers/model_doc/albert"),
    ("ELECTRA", "BERT", "Encoder", "encoder", "RTD", "", "Same as BERT", date(2020, 3, 1), "Small = 14M, Base = 110M, Large = 335M", 14_000_000, 335_000_000, "Open, Apache-2.0", "Stanford/Google", "https://huggingface.co/docs/transformers/model_doc/electra"),
    ("GPT-2", "GPT", "Decoder", "decoder", "LM", "", "Text generation", date(2019, 2, 1), "124M, 355M, 774M, 1.5B", 124_000_000, 1_500_000_000, "Open, Modified MIT license", "OpenAI", "https://huggingface.co/docs/transformers/model_doc/gpt2"),
    ("T5", "T5", "Encoder/Decoder", "encoder-decoder", "DAE", "", "General Language Understanding", date(2019, 10, 1), "60M, 220M, 770M, 3B, and 11B", 60_000_000, 11_000_000_000, "Open, Apache-2.0", "Google", "https://huggingface.co/docs/transformers/model_doc/t5"),
    ("Flan-T5", "T5", "Encoder/Decoder", "encoder-decoder", "DAE", "", "Same as T5", date(2022, 11, 1), "80M (Flan-T5-Small) to 11B (Flan-T5-XXL)", 80_000_000, 11_000_000_000, "Open, Apache-2.0", "Google", "https://github.com/google-research/t5x"),
    ("BART", "BERT for encoder, GPT for Decoder", "Encoder/Decoder", "encoder-decoder", "DAE", "", "Mostly text generation", date(2019, 10, 1), "Base = 140M, Large = 400M", 140_000_000, 400_000_000, "Open, Apache-2.0", "Facebook", "https://huggingface.co/docs/transformers/model_doc/bart"),
    ("LLaMA", "LLaMA", "Decoder", "decoder", "LM", "", "Zero and few shot commonsense reasoning", date(2023, 2, 1), "7B, 13B, 33B and 65B", 7_000_000_000, 65_000_000_000, "Limited, Non-commercial bespoke license", "Meta", "https://huggingface.co/docs/transformers/main/model_doc/llama"),
    ("CLIP", "CLIP (Also using Resnet, ViT, and vanilla transformer for text)", "Encoder", "encoder", "predict which of the N × N possible (image, text) pairings across a batch actually occurred", "", "Image/Object classification", date(2021, 2, 1), "", None, None, "Open, MIT license", "OpenAI", "javascript:alert(5)"),
    ("AlexaTM 20B", "Transformer", "Encoder/Decoder", "encoder-decoder", "Optimizes denoising (80%) and Prefix LM (20%)", "", "Summarization", date(2022, 8, 1), "20B", 20_000_000_000, 20_000_000_000, "Limited, non-commercial", "Amazon", "https://github.com/amazon-science/alexa-teacher-models"),
    ("Chinchilla", "GPT", "Decoder", "decoder", "LM", "", "Same as Gopher", date(2022, 3, 1), "70B", 70_000_000_000, 70_000_000_000, "Closed source.", "Deepmind", "https://arxiv.org/abs/2203.15556"),
    ("Transformer XL", "Transformer", "Decoder", "decoder", "LM", "", "General language tasks", date(2019, 1, 1), "151M", 151_000_000, 151_000_000, "Open", "CMU/Google", "https://huggingface.co/docs/transformers/model_doc/transfo-xl"),
]

MATCHES = [
    ("BERT", "google-bert/bert-base-uncased", "curated", 1.0, "canonical repo"),
    ("RoBERTa", "FacebookAI/roberta-base", "curated", 1.0, "canonical repo"),
    ("DistilBERT", "distilbert/distilbert-base-uncased-finetuned-sst-2-english", "name+org", 0.85, "name distilbert, org distilbert"),
    ("ALBERT", "sentence-transformers/paraphrase-albert-small-v2", "name_partial", 0.55, "albert in name; not the authors' org"),
    ("ELECTRA", "google/electra-small-discriminator", "name+org", 0.9, "name electra, org google"),
    ("ELECTRA", "google/electra-small-generator", "name+org", 0.9, "name electra, org google"),
    ("GPT-2", "openai-community/gpt2", "curated", 1.0, "canonical repo"),
    ("GPT-2", "gpt2", "curated_related", 0.9, "legacy id of openai-community/gpt2"),
    ("T5", "google-t5/t5-small", "curated", 1.0, "canonical repo"),
    ("Flan-T5", "google/flan-t5-large", "name+org", 0.9, "name flan-t5, org google"),
    ("Flan-T5", "google/flan-t5-xxl", "name+org", 0.9, "name flan-t5, org google"),
    ("BART", "facebook/bart-base", "curated", 1.0, "canonical repo"),
    ("LLaMA", "meta-llama/Llama-3.1-8B-Instruct", "model_type+org", 0.6, "model_type llama, org meta-llama; later generation"),
    ("CLIP", "openai/clip-vit-base-patch32", "name+org", 0.9, "name clip, org openai"),
    ("BERT", EVIL_REPO, "name_partial", 0.3, EVIL_TAG),
]

RECONCILIATION = [
    ("BERT", "google-bert/bert-base-uncased", "params", "Base = 110M, Large = 340M", "110106428", "agree", "within 10% of 110M"),
    ("BERT", "google-bert/bert-base-uncased", "arch_class", "encoder", "encoder", "agree", None),
    ("BERT", "google-bert/bert-base-uncased", "license", "Open, Apache-2.0", "apache-2.0", "agree", None),
    ("BERT", "google-bert/bert-base-uncased", "date", "2018-10", "2022-03", "missing_on_hub", "Hub createdAt is the 2022-03-02 placeholder"),
    ("RoBERTa", "FacebookAI/roberta-base", "params", "125M Base, and 356M Large", None, "missing_on_hub", "no parameter count on the Hub"),
    ("RoBERTa", "FacebookAI/roberta-base", "arch_class", "encoder", "encoder", "agree", None),
    ("RoBERTa", "FacebookAI/roberta-base", "license", "Open, MIT license", None, "missing_on_hub", None),
    ("DistilBERT", "distilbert/distilbert-base-uncased-finetuned-sst-2-english", "params", "66M", "66955010", "agree", "within 10% of 66M"),
    ("DistilBERT", "distilbert/distilbert-base-uncased-finetuned-sst-2-english", "license", "Open, Apache-2.0", "apache-2.0", "agree", None),
    ("GPT-2", "openai-community/gpt2", "params", "124M, 355M, 774M, 1.5B", "137022720", "conflict", "10.5% above 124M (tied embeddings counted twice)"),
    ("GPT-2", "openai-community/gpt2", "arch_class", "decoder", "decoder", "agree", None),
    ("GPT-2", "openai-community/gpt2", "license", "Open, Modified MIT license", "mit", "agree", "license classes: open"),
    ("T5", "google-t5/t5-small", "params", "60M, 220M, 770M, 3B, and 11B", "60506880", "agree", "within 10% of 60M"),
    ("T5", "google-t5/t5-small", "arch_class", "encoder-decoder", "encoder-decoder", "agree", None),
    ("Flan-T5", "google/flan-t5-xxl", "params", "80M (Flan-T5-Small) to 11B (Flan-T5-XXL)", "11266928640", "agree", "in range"),
    ("Flan-T5", "google/flan-t5-xxl", "date", "2022-11", "2022-10", "agree", "Hub repo one month before the paper"),
    ("BART", "facebook/bart-base", "params", "Base = 140M, Large = 400M", "139420416", "agree", "within 10% of 140M"),
    ("BART", "facebook/bart-base", "license", "Open, Apache-2.0", "apache-2.0", "agree", None),
    ("CLIP", "openai/clip-vit-base-patch32", "params", None, None, "missing_in_catalog", "catalog gives no size"),
    ("CLIP", "openai/clip-vit-base-patch32", "arch_class", "encoder", None, "missing_on_hub", "clip is not in arch_classes.csv"),
]

GAPS = [
    ("model_type", "qwen2", 3, 1814800, "2024-09-19T10:00:00Z", 1, "no catalog entry claims the model_type", ["Qwen/Qwen2.5-7B-Instruct", "Qwen/Qwen2.5-7B-Instruct-AWQ"]),
    ("model_type", "llama", 11, 7653231, "2025-01-20T10:00:00Z", 2, "the entry that claims it (LLaMA, 2023-02) predates these repos", ["meta-llama/Llama-3.1-8B-Instruct"]),
    ("model_type", "mixtral", 1, 200, "2024-04-10T16:00:24Z", 3, "no catalog entry claims the model_type", ["HuggingFaceH4/zephyr-orpo-141b-A35b-v0.1"]),
    ("base_model", EVIL_BASE, 1, 666, "2025-01-15T10:00:00Z", 4, "a parent repo with derivatives", [EVIL_REPO]),
]


def _bucket(p):
    if p is None:
        return None
    return "<100M" if p < 1e8 else "100M-1B" if p < 1e9 else "1-10B" if p < 1e10 else "10-100B" if p < 1e11 else ">100B"


def make_report_warehouse(path: Path, *, catalog: bool = True, evil: bool = True, runs: bool = True) -> Path:
    """Write a warehouse file at ``path`` with the mart contract's tables filled; return ``path``."""
    rows = _snapshot_rows()
    edges: list[tuple[str, str, str, list[str]]] = []
    for r in rows:
        for parent in r["base_models"]:
            edges.append((r["repo_id"], parent, "finetune", ["cardData"]))
    extra = _derived_rows() + (_evil_rows() if evil else [])
    for r, parents in extra:
        r["base_models"] = sorted(p for p, _ in parents)
        rows.append(r)
        for parent, relation in parents:
            edges.append((r["repo_id"], parent, relation, ["baseModels", "tag"]))
    n_children: dict[str, int] = {}
    for _, parent, _, _ in edges:
        n_children[parent] = n_children.get(parent, 0) + 1
    cols = MART_COLUMNS["v_models"]
    for r in rows:
        r.setdefault("first_seen_run", RUN_ID)
        r.setdefault("last_seen_run", RUN_ID)
        r["params"] = r.get("params_effective") or r.get("params_total")
        r["size_bucket"] = _bucket(r["params"])
        r["n_children"] = n_children.get(r["repo_id"], 0)
        r["card_parse_status"] = "ok" if r["repo_id"] in {"google-bert/bert-base-uncased", EVIL_REPO} else None
    # one model the Hub no longer lists: in v_models only, like the real views
    gone = dict(rows[0], repo_id="sshleifer/tiny-gpt2-deleted", deleted_on=date(2025, 2, 1), downloads=3, n_children=0)
    rows.append(gone)

    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path))
    con.execute("SET TimeZone = 'UTC'")
    con.execute("CREATE TABLE v_models (" + ", ".join(f'"{n}" {t}' for n, t in cols) + ")")
    con.executemany(
        "INSERT INTO v_models VALUES (" + ", ".join("?" for _ in cols) + ")",
        [[r.get(n) if t != "JSON" else None for n, t in cols] for r in rows],
    )
    con.execute("CREATE TABLE _edges (child_id VARCHAR, parent_id VARCHAR, relation VARCHAR, source VARCHAR[])")
    con.executemany("INSERT INTO _edges VALUES (?, ?, ?, ?)", edges)
    con.execute("""CREATE TABLE v_taxonomy AS
        SELECT arch_class, pipeline_tag, model_type, library_name,
               count(*) AS n_models, sum(downloads) AS downloads, sum(likes) AS likes
        FROM v_models WHERE deleted_on IS NULL GROUP BY ALL""")
    con.execute("""CREATE TABLE v_sizes AS
        SELECT repo_id, model_type, arch_class, pipeline_tag, created_at, params, params_source, size_bucket, downloads
        FROM v_models WHERE deleted_on IS NULL AND params IS NOT NULL""")
    con.execute("""CREATE TABLE v_timeline AS
        SELECT repo_id, created_at, CAST(date_trunc('month', created_at AT TIME ZONE 'UTC') AS DATE) AS created_month,
               model_type, arch_class, created_at < TIMESTAMPTZ '2022-03-02 23:30:00+00' AS created_at_is_floor
        FROM v_models WHERE deleted_on IS NULL AND created_at IS NOT NULL""")
    con.execute("""CREATE TABLE v_lineage AS
        SELECT l.child_id, l.parent_id, l.relation, l.source, c.downloads AS child_downloads,
               p.repo_id IS NOT NULL AS parent_in_warehouse
        FROM _edges l LEFT JOIN v_models c ON c.repo_id = l.child_id LEFT JOIN v_models p ON p.repo_id = l.parent_id""")
    con.execute("DROP TABLE _edges")
    if runs:
        con.execute("""CREATE TABLE harvest_runs (run_id VARCHAR PRIMARY KEY, started_at TIMESTAMPTZ, finished_at TIMESTAMPTZ,
                       status VARCHAR, counts JSON, endpoint VARCHAR, scope VARCHAR, watermark TIMESTAMPTZ)""")
        con.execute("INSERT INTO harvest_runs VALUES ('20250201T020000Z-000000', '2025-02-01 02:00:00+00', '2025-02-01 02:09:00+00', 'complete', '{}', 'http://127.0.0.1:8765', 'all', NULL)")
        con.execute("INSERT INTO harvest_runs VALUES (?, '2025-03-01 02:00:00+00', '2025-03-01 02:11:40+00', 'complete', ?, 'http://127.0.0.1:8765', 'all', '2025-01-20 10:00:00+00')",
                    [RUN_ID, json.dumps({"listing": {"models": len(rows)}})])
    if catalog:
        con.execute("""CREATE TABLE catalog_models (name VARCHAR PRIMARY KEY, family VARCHAR, architecture VARCHAR, arch_class VARCHAR,
                       pretraining_task VARCHAR, extension VARCHAR, application VARCHAR, date DATE, date_precision VARCHAR,
                       params_text VARCHAR, params_min BIGINT, params_max BIGINT, corpus VARCHAR, license VARCHAR, lab VARCHAR,
                       link VARCHAR, source VARCHAR)""")
        con.executemany("INSERT INTO catalog_models VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'month', ?, ?, ?, NULL, ?, ?, ?, 'fixture')", CATALOG)
        con.execute("""CREATE TABLE catalog_matches (catalog_name VARCHAR, repo_id VARCHAR, method VARCHAR, confidence DOUBLE,
                       evidence VARCHAR[], note VARCHAR)""")
        con.executemany("INSERT INTO catalog_matches VALUES (?, ?, ?, ?, [?], ?)", [(a, b, c, d, c, e) for a, b, c, d, e in MATCHES])
        con.execute("""CREATE TABLE reconciliation (catalog_name VARCHAR, repo_id VARCHAR, field VARCHAR, catalog_value VARCHAR,
                       hub_value VARCHAR, status VARCHAR, note VARCHAR)""")
        con.executemany("INSERT INTO reconciliation VALUES (?, ?, ?, ?, ?, ?, ?)", RECONCILIATION)
        con.execute("""CREATE TABLE catalog_gaps (gap_kind VARCHAR, gap_key VARCHAR, n_models BIGINT, downloads BIGINT,
                       newest_created_at TIMESTAMPTZ, rank INTEGER, reason VARCHAR, sample_repos VARCHAR[])""")
        con.executemany("INSERT INTO catalog_gaps VALUES (?, ?, ?, ?, ?, ?, ?, ?)", GAPS)
    con.close()
    return path


# --- the fixture against the contract ------------------------------------------------------------------------

def _columns(con, name) -> list[str]:
    return [r[0] for r in con.sql("SELECT column_name FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position", params=[name]).fetchall()]


def test_fixture_has_the_contract_names(tmp_path):
    con = duckdb.connect(str(make_report_warehouse(tmp_path / "w.duckdb")), read_only=True)
    names = {r[0] for r in con.sql("SELECT table_name FROM information_schema.tables").fetchall()}
    assert {"v_models", "v_taxonomy", "v_sizes", "v_timeline", "v_lineage", "harvest_runs",
            "catalog_models", "catalog_matches", "reconciliation", "catalog_gaps"} <= names
    assert con.sql("SELECT count(*) FROM v_lineage WHERE parent_id = ?", params=[EVIL_BASE]).fetchall()[0][0] == 1
    assert con.sql("SELECT count(*) FROM v_models WHERE list_contains(tags, ?)", params=[EVIL_TAG]).fetchall()[0][0] == 1


def test_fixture_columns_match_the_real_migrations(tmp_path):
    """Every column the fixture gives a mart is one the real migrations give it (the reports read no others)."""
    database = pytest.importorskip("warehouse.database")
    real = duckdb.connect(str(tmp_path / "real.duckdb"))
    try:
        database.migrate(real)
    except Exception as exc:  # another engineer's migration mid-edit must not fail the reports suite
        pytest.skip(f"migrations do not apply right now: {exc}")
    fake = duckdb.connect(str(make_report_warehouse(tmp_path / "w.duckdb")), read_only=True)
    for name in ("v_models", "v_taxonomy", "v_sizes", "v_timeline", "v_lineage", "harvest_runs",
                 "catalog_models", "catalog_matches", "reconciliation", "catalog_gaps"):
        real_cols = _columns(real, name)
        if not real_cols:
            continue  # not built yet upstream
        missing = [c for c in _columns(fake, name) if c not in real_cols]
        assert not missing, f"{name}: fixture columns not in the real schema: {missing}"
