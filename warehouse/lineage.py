"""After a run's pages are written: load its resolved aliases, then give sizes through lineage.

``settle_lineage`` runs inside the load's transaction, after every page:

1. ``model_aliases``: the run's ``aliases.ndjson`` (what the Hub answered for lineage parents the listing
   did not return), upserted by alias. ``v_lineage`` folds them into canonical ids.
2. Sizes through lineage: a model with no count of its own, or an adapter (whose own weights are not the
   model's size), whose lineage has exactly one parent (aliases folded) with a count, takes that count:
   ``params_source = 'base-model'``, ``params_note`` naming the parent. Chains resolve (a quantization of a
   finetune of a base), a merge of several parents does not. Derived counts are recomputed from scratch on
   every load (first put back to what the model itself says), so a reload gives the same rows.
"""

from __future__ import annotations

import duckdb
import polars as pl

from harvesters.landing import RawRun

ALIAS_SCHEMA = {"alias": pl.String, "canonical_id": pl.String, "resolved_at": pl.String}
MAX_DEPTH = 8  # lineage chains longer than this keep no derived count (and cycles end)
ADAPTER_LIBRARIES = ("peft", "adapter-transformers")

_OWN_WEIGHTS = "list_sum(CAST(json_extract(params_by_dtype, '$.*') AS BIGINT[]))"
_IS_ADAPTER = (
    f"(m.library_name IN {ADAPTER_LIBRARIES} OR list_contains(m.tags, 'peft') "
    "OR EXISTS (SELECT 1 FROM model_lineage a WHERE a.child_id = m.repo_id AND a.relation = 'adapter'))"
)


def load_aliases(con: duckdb.DuckDBPyConnection, run: RawRun) -> int:
    """Upsert the run's aliases.ndjson into model_aliases (a later answer for the same alias wins)."""
    path = run.aliases_path
    if not path.exists() or path.stat().st_size == 0:
        return 0
    frame = pl.read_ndjson(path, schema=ALIAS_SCHEMA, ignore_errors=True).filter(pl.col("alias").is_not_null())
    frame = frame.unique("alias", keep="last", maintain_order=True).with_columns(
        pl.col("resolved_at").str.to_datetime(time_zone="UTC", strict=False), pl.lit(run.run_id).alias("run_id")
    ).filter(pl.col("resolved_at").is_not_null())
    con.register("run_aliases", frame.to_arrow())
    try:
        con.execute(
            "INSERT INTO model_aliases (alias, canonical_id, resolved_at, run_id) "
            "SELECT alias, canonical_id, resolved_at, run_id FROM run_aliases ON CONFLICT (alias) DO UPDATE SET "
            "canonical_id = excluded.canonical_id, resolved_at = excluded.resolved_at, run_id = excluded.run_id "
            "WHERE excluded.resolved_at >= model_aliases.resolved_at"
        )
    finally:
        con.unregister("run_aliases")
    return frame.height


def _reset_derived(con: duckdb.DuckDBPyConnection) -> None:
    """Put every base-model count back to what the model itself says (an adapter's own safetensors weights)."""
    con.execute(
        f"UPDATE models SET params_total = {_OWN_WEIGHTS}, params_effective = {_OWN_WEIGHTS}, "
        f"params_source = CASE WHEN {_OWN_WEIGHTS} IS NOT NULL THEN 'safetensors' END, params_note = NULL "
        "WHERE params_source = 'base-model'"
    )


def _derive_once(con: duckdb.DuckDBPyConnection) -> int:
    """One step down every lineage chain: rows that take their single parent's count now. Returns how many."""
    return con.execute(
        f"""
        WITH single AS (
            SELECT child_id, any_value(parent_id) AS parent_id, any_value(relation) AS relation
            FROM v_lineage GROUP BY child_id HAVING count(*) = 1
        ), candidates AS (
            SELECT m.repo_id, s.parent_id, s.relation, {_IS_ADAPTER} AS adapter,
                   CASE WHEN m.params_source = 'safetensors' THEN {_OWN_WEIGHTS} END AS own
            FROM models m JOIN single s ON s.child_id = m.repo_id
            WHERE m.params_source IS NULL OR (m.params_source = 'safetensors' AND {_IS_ADAPTER})
        ), parents AS (
            SELECT repo_id, coalesce(params_effective, params_total) AS params, params_source
            FROM models WHERE params_source IS NOT NULL AND coalesce(params_effective, params_total) IS NOT NULL
        ), derived AS (
            SELECT c.repo_id, p.params,
                   CASE WHEN c.adapter AND c.own IS NOT NULL THEN
                        format('adapter of {{}}: its own weights ({{}} parameters, safetensors) are not the model size; '
                               'the count of its base model ({{}})', c.parent_id, c.own, p.params_source)
                   ELSE format('no count of its own: the count of its base model {{}} ({{}}, {{}})', c.parent_id, c.relation, p.params_source)
                   END AS note
            FROM candidates c JOIN parents p ON p.repo_id = c.parent_id
        )
        UPDATE models SET params_total = d.params, params_effective = d.params, params_source = 'base-model', params_note = d.note
        FROM derived d WHERE models.repo_id = d.repo_id
        """
    ).fetchall()[0][0]


def derive_base_model_sizes(con: duckdb.DuckDBPyConnection) -> int:
    """Recompute every base-model count; returns how many models carry one."""
    _reset_derived(con)
    for _ in range(MAX_DEPTH):
        if not _derive_once(con):
            break
    return con.execute("SELECT count(*) FROM models WHERE params_source = 'base-model'").fetchall()[0][0]


def settle_lineage(con: duckdb.DuckDBPyConnection, run: RawRun) -> dict[str, int]:
    """The loader's one call after a run's pages: aliases, then sizes through lineage (same transaction)."""
    return {"model_aliases": load_aliases(con, run), "params_from_base_model": derive_base_model_sizes(con)}
