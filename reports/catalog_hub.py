"""The catalog with the Hub laid over it: one row per catalog entry, for the four catalog figures.

Per entry: the structure its text gives (family branch, family root, the entries its Extension says it derives from,
its pretraining-task class: reports.catalog_text) and the Hub side: its confident matches (catalog_matches.confident), the
Hub repos that descend from them through lineage, their downloads and when the first of them appeared. Computed once
per build (``ctx.memo``): the family tree, timeline, sizes and taxonomy builders all read it.
"""

from __future__ import annotations

import polars as pl

from reports import catalog_text
from reports.base import Context

MAX_DEPTH = 12  # lineage generations walked below a matched repo (as the family tree's walk)

_REACH = f"""
WITH RECURSIVE matched AS (
    SELECT DISTINCT catalog_name, repo_id FROM catalog_matches WHERE confident
), edges AS (
    SELECT DISTINCT child_id, parent_id FROM v_lineage WHERE child_id <> parent_id
), walk(catalog_name, repo_id, depth) AS (
    SELECT catalog_name, repo_id, 0 FROM matched
    UNION
    SELECT w.catalog_name, e.child_id, w.depth + 1
    FROM walk w JOIN edges e ON e.parent_id = w.repo_id
    WHERE w.depth < {MAX_DEPTH}
), reach AS (
    SELECT catalog_name, repo_id, min(depth) AS depth FROM walk GROUP BY ALL
)
SELECT r.catalog_name, r.repo_id, r.depth, m.downloads, m.created_at, coalesce(t.created_at_is_floor, FALSE) AS created_at_is_floor
FROM reach r
JOIN v_models m ON m.repo_id = r.repo_id AND m.{{live}}
LEFT JOIN v_timeline t ON t.repo_id = r.repo_id
"""

ENTRY_SCHEMA = {
    "name": pl.String, "branch": pl.String, "other_branches": pl.List(pl.String),
    "family_root": pl.String, "derives_from": pl.List(pl.String),
}


def reach(ctx: Context) -> pl.DataFrame:
    """(catalog_name, repo_id, depth, downloads, created_at, created_at_is_floor): depth 0 = a confident match,
    depth n = n lineage generations below one (each repo once per entry, at its smallest depth)."""
    if "reach" not in ctx.memo:
        ctx.memo["reach"] = ctx.con.sql(_REACH.replace("{live}", ctx.live)).pl()
    return ctx.memo["reach"]


def _structure(rows: pl.DataFrame) -> pl.DataFrame:
    """Branch, family root and derivations of every entry, read from Family and Extension (reports.catalog_text)."""
    r = catalog_text.rules()
    names = rows["name"].to_list()
    finder = catalog_text.NameFinder(names, r.names)
    out = []
    for row in rows.iter_rows(named=True):
        branches = catalog_text.family_branches(row["family"], r)
        out.append({
            "name": row["name"], "branch": branches[0], "other_branches": branches[1:],
            "family_root": catalog_text.family_root(branches[0], names, r),
            "derives_from": catalog_text.derives_from(row["name"], row["extension"], finder, r),
        })
    return pl.DataFrame(out, schema=ENTRY_SCHEMA)


def _hub(reached: pl.DataFrame) -> pl.DataFrame:
    matched = reached.filter(pl.col("depth") == 0).sort(["downloads", "repo_id"], descending=[True, False], nulls_last=True)
    first = (
        matched.filter(pl.col("created_at").is_not_null()).sort(["created_at", "repo_id"])
        .group_by("catalog_name", maintain_order=True).first()
        .select("catalog_name", pl.col("created_at").alias("first_hub_created_at"),
                pl.col("created_at_is_floor").alias("first_hub_created_is_floor"), pl.col("repo_id").alias("first_hub_repo"))
    )
    per_entry = reached.group_by("catalog_name").agg(
        (pl.col("depth") == 0).sum().cast(pl.Int64).alias("hub_repos_matched"),
        (pl.col("depth") > 0).sum().cast(pl.Int64).alias("hub_descendants"),
        pl.col("downloads").sum().cast(pl.Int64).alias("hub_downloads"),
    )
    repos = matched.group_by("catalog_name", maintain_order=True).agg(pl.col("repo_id").alias("matched_repos"))
    return per_entry.join(repos, on="catalog_name", how="left").join(first, on="catalog_name", how="left")


def catalog_entries(ctx: Context) -> pl.DataFrame:
    """One row per catalog entry: its fields, its structure and the Hub side (zeros where nothing matched)."""
    if "entries" in ctx.memo:
        return ctx.memo["entries"]
    rows = ctx.df(
        """SELECT name, family, arch_class, pretraining_task, extension, date, date_precision, params_text,
                  params_min, params_max, params_sizes, params_kind, lab
           FROM catalog_models ORDER BY date NULLS LAST, name"""
    )
    hub = _hub(reach(ctx))
    entries = (
        rows.join(_structure(rows), on="name", how="left", maintain_order="left")
        .with_columns(pl.Series("task_class", [catalog_text.task_class(t) for t in rows["pretraining_task"].to_list()], dtype=pl.String))
        .join(hub, left_on="name", right_on="catalog_name", how="left", maintain_order="left")
        .with_columns(
            pl.col("hub_repos_matched").fill_null(0), pl.col("hub_descendants").fill_null(0), pl.col("hub_downloads").fill_null(0),
            pl.col("matched_repos").fill_null(pl.lit([], dtype=pl.List(pl.String))),
        )
    )
    ctx.memo["entries"] = entries
    return entries
