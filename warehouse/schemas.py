"""Declared schemas: what normalization reads from the raw landing and what it hands to DuckDB.

Reading ``models.ndjson`` with a declared schema is ~10x faster than letting Polars infer one, and it
pins the shapes we rely on. Leaves we do not trust are declared ``String``: Polars then keeps scalars as
their text and arrays/objects as their JSON text (e.g. cardData.language may be ``en`` or ``["en","de"]``),
so a surprising shape never fails a page; ``warehouse.normalize.jsontext`` turns those texts into values.
Counts are ``String`` too and cast non-strictly (``"7"`` -> 7, ``7.5`` -> null) for the same reason.
Only ``tags``, ``siblings`` and the two objects ``cardData`` / ``config`` are typed containers: a record
breaking those falls back to the per-line path (``warehouse.normalize.listing``) and is quarantined.
"""

from __future__ import annotations

import polars as pl

S = pl.String

CARD_DATA_FIELDS = ("license", "language", "datasets", "base_model", "base_model_relation")
CONFIG_FIELDS = ("model_type", "architectures", "quantization_config")

# One line of models.ndjson: the Hub's listing JSON with expand=[...] (harvesters/settings.py LISTING_EXPAND).
LISTING_SCHEMA: dict[str, pl.DataType] = {
    "id": S,
    "author": S,
    "sha": S,
    "createdAt": S,
    "lastModified": S,
    "downloads": S,
    "downloadsAllTime": S,
    "likes": S,
    "pipeline_tag": S,
    "library_name": S,
    "tags": pl.List(S),
    "gated": S,
    "private": S,
    "disabled": S,
    "cardData": pl.Struct({name: S for name in CARD_DATA_FIELDS}),
    "config": pl.Struct({name: S for name in CONFIG_FIELDS}),
    "safetensors": S,  # JSON text: {"parameters": {"BF16": n, ...}, "total": n}
    "gguf": S,  # JSON text: {"total": n, "architecture": ..., "context_length": ...}
    "siblings": pl.List(pl.Struct({"rfilename": S, "size": S})),
    "baseModels": S,  # JSON text: {"relation": ..., "models": [{"id": ...}]} (or a list of ids)
    "transformersInfo": S,  # JSON text: {"auto_model": "AutoModelForCausalLM", ...}
}
# Python types a fallback line must have for the typed containers above (else the field is dropped).
LISTING_CONTAINERS: dict[str, type] = {"tags": list, "cardData": dict, "config": dict, "siblings": list}

FETCH_SCHEMA: dict[str, pl.DataType] = {
    "repo_id": S,
    "sha": S,
    "path": S,
    "status": S,
    "http_status": pl.Int64,
    "reason": S,
    "bytes": pl.Int64,
}

# ---- tidy frames handed to DuckDB (column order = table column order)
MODELS_SCHEMA: dict[str, pl.DataType] = {
    "repo_id": S,
    "author": S,
    "sha": S,
    "created_at": pl.Datetime("us", "UTC"),
    "last_modified": pl.Datetime("us", "UTC"),
    "downloads": pl.Int64,
    "downloads_all_time": pl.Int64,
    "likes": pl.Int64,
    "pipeline_tag": S,
    "library_name": S,
    "license": S,
    "gated": S,
    "private": pl.Boolean,
    "disabled": pl.Boolean,
    "model_type": S,
    "architectures": pl.List(S),
    "arch_class": S,
    "arch_note": S,
    "params_total": pl.Int64,
    "params_source": S,
    "params_effective": pl.Int64,
    "params_note": S,
    "params_by_dtype": S,  # JSON text -> DuckDB JSON
    "languages": pl.List(S),
    "datasets": pl.List(S),
    "base_models": pl.List(S),
    "tags": pl.List(S),
    "first_seen_run": S,
    "last_seen_run": S,
}

CONFIGS_SCHEMA: dict[str, pl.DataType] = {
    "repo_id": S,
    "sha": S,
    "model_type": S,
    "architectures": pl.List(S),
    "hidden_size": pl.Int64,
    "num_layers": pl.Int64,
    "num_heads": pl.Int64,
    "num_kv_heads": pl.Int64,
    "vocab_size": pl.Int64,
    "context_length": pl.Int64,
    "intermediate_size": pl.Int64,
    "torch_dtype": S,
    "quant_method": S,
    "quant_bits": pl.Int64,
    "params_estimate": pl.Int64,
    "params_formula": S,
    "raw_json": S,
    "run_id": S,
    "is_encoder_decoder": pl.Boolean,
}

CARDS_SCHEMA: dict[str, pl.DataType] = {
    "repo_id": S,
    "sha": S,
    "front_matter": S,
    "card_length": pl.Int64,
    "parse_status": S,
    "parse_error": S,
    "run_id": S,
}

FILES_SCHEMA: dict[str, pl.DataType] = {"repo_id": S, "path": S, "size": pl.Int64, "run_id": S}

LINEAGE_SCHEMA: dict[str, pl.DataType] = {
    "child_id": S,
    "parent_id": S,
    "relation": S,
    "source": pl.List(S),
    "note": S,
    "run_id": S,
}

STATS_SCHEMA: dict[str, pl.DataType] = {
    "repo_id": S,
    "observed_on": pl.Date,
    "downloads": pl.Int64,
    "likes": pl.Int64,
    "run_id": S,
}

VERSIONS_SCHEMA: dict[str, pl.DataType] = {
    "repo_id": S,
    "sha": S,
    "first_seen_run": S,
    "first_seen_at": pl.Datetime("us", "UTC"),
}

QUARANTINE_SCHEMA: dict[str, pl.DataType] = {
    "run_id": S,
    "repo_id": S,
    "stage": S,
    "reason": S,
    "excerpt": S,
}


def empty(schema: dict[str, pl.DataType]) -> pl.DataFrame:
    return pl.DataFrame(schema=schema)


def conform(frame: pl.DataFrame, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """``frame`` with exactly ``schema``'s columns, in order and types (missing ones null)."""
    return frame.select(
        [
            (pl.col(name) if name in frame.columns else pl.lit(None)).cast(dtype).alias(name)
            for name, dtype in schema.items()
        ]
    )
