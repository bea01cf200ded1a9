"""Catalog gaps: Hub families with repos and downloads that no catalog entry covers, ranked.

A Hub repo is *covered* when it is matched to a catalog entry with confidence >= 0.8, or is a curated
'related' repo, or derives (lineage) from an entry's repo. Groups with no covered repo are gaps:

- ``model_type`` no catalog entry claims (canonical_repos.yaml ``model_types``): e.g. mixtral, detr;
- ``model_type`` an entry claims, but whose repos are all newer than the catalog (created after its newest
  date) and none covered: a newer generation (e.g. Llama 3 under the 2023 catalog's LLaMA);
- ``base_model``: a parent repo with derivatives on the Hub that is itself not covered;
- ``library``: repos without a model_type (diffusers, espnet, ...), grouped by library_name.
Ranked by summed downloads, then number of repos.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from warehouse.catalog import load_canonical_repos
from warehouse.matching import BET

HUB_PLACEHOLDER_CREATED = dt.date(2022, 3, 2)  # createdAt of every repo older than that date
COVERING_METHODS = ("curated_related", "lineage")  # below BET, yet the repo is the entry's family
COVERS = (pl.col("confidence") >= BET) | pl.col("method").is_in(COVERING_METHODS)  # a match that covers its repo
GAP_SCHEMA = {
    "gap_kind": pl.String,
    "gap_key": pl.String,
    "n_models": pl.Int64,
    "downloads": pl.Int64,
    "newest_created_at": pl.Datetime("us", "UTC"),
    "rank": pl.Int32,
    "reason": pl.String,
    "sample_repos": pl.List(pl.String),
}


def _claims(catalog: pl.DataFrame, canonical: dict) -> dict[str, list[str]]:
    """model_type -> the catalog entries that claim it (canonical_repos.yaml ``model_types``)."""
    names = set(catalog["name"].to_list())
    claims: dict[str, list[str]] = {}
    for name, entry in canonical.items():
        if name in names:
            for t in entry.get("model_types", []):
                claims.setdefault(t, []).append(name)
    return claims


_HUB_SIDE = """
    SELECT m.repo_id, m.model_type, m.library_name, m.base_models, coalesce(m.downloads, 0)::BIGINT AS downloads,
           m.created_at, timezone('UTC', m.created_at)::DATE AS created_day, c.repo_id IS NOT NULL AS covered
    FROM models m LEFT JOIN (SELECT DISTINCT repo_id FROM _hubcensus_covered) c USING (repo_id)
"""


def _group(con, kind: str, key: str, rows: str) -> list[dict]:
    """Groups of ``rows`` (a query over _HUB_SIDE) by ``key`` with no covered repo: counts, downloads, dates, top five.

    Grouped in DuckDB, so memory follows the number of groups, not of repos.
    """
    frame = con.sql(
        f"""
        SELECT $kind AS gap_kind, {key} AS gap_key, count(*) AS n_models, sum(downloads)::BIGINT AS downloads,
               timezone('UTC', max(created_at)) AS newest_created_at,
               min(created_day) FILTER (WHERE created_day > $placeholder) AS oldest_real,
               coalesce(bool_or(created_day <= $placeholder), false) AS any_placeholder,
               min_by(repo_id, {{'downloads': -downloads, 'repo_id': repo_id}}, 5) AS sample_repos
        FROM ({rows}) GROUP BY {key} HAVING NOT bool_or(covered)
        """,
        params={"kind": kind, "placeholder": HUB_PLACEHOLDER_CREATED},
    ).pl()
    return frame.with_columns(pl.col("newest_created_at").dt.replace_time_zone("UTC")).to_dicts()


def _model_type_gaps(con, catalog: pl.DataFrame, claims: dict[str, list[str]]) -> list[dict]:
    """Model types no entry claims, or claimed but only by repos newer than the catalog (a newer generation)."""
    edition = catalog["date"].max()
    dates = dict(zip(catalog["name"], catalog["date"]))
    rows = []
    for g in _group(con, "model_type", "model_type", f"SELECT * FROM ({_HUB_SIDE}) WHERE model_type IS NOT NULL"):
        claimants = claims.get(g["gap_key"], [])
        if not claimants:
            g["reason"] = f"no catalog entry covers model_type '{g['gap_key']}'"
        elif g["oldest_real"] is not None and not g["any_placeholder"] and edition is not None and g["oldest_real"] > edition:
            who = ", ".join(f"{c} ({dates[c]:%m/%Y})" for c in sorted(claimants))
            g["reason"] = (f"newer than the catalog: model_type '{g['gap_key']}' is claimed by {who}, but these repos date from "
                           f"{g['oldest_real']:%Y-%m} on and none is a catalog release or derivative (a newer generation?)")
        else:
            continue  # older repos of a claimed family: the canonical repo is just not harvested
        rows.append(g)
    return rows


def _library_gaps(con) -> list[dict]:
    """Repos without a model_type (diffusers, espnet, ...), by library."""
    rows = _group(con, "library", "library", f"SELECT *, coalesce(library_name, '(none)') AS library FROM ({_HUB_SIDE}) WHERE model_type IS NULL")
    for g in rows:
        g["reason"] = f"{g['n_models']} repo(s) with no model_type (library {g['gap_key']}) and no catalog entry"
    return rows


def _base_model_gaps(con, catalog: pl.DataFrame, canonical: dict, covered_ids: pl.Series) -> list[dict]:
    """Parents whose derivatives are on the Hub, the parent itself covered by nothing."""
    names = set(catalog["name"].to_list())
    parent_covered = set(covered_ids.to_list()) | {r.lower() for r in covered_ids.to_list()}
    for name, entry in canonical.items():
        if name in names:
            parent_covered |= {r.lower() for r in entry.get("repos", []) + entry.get("related", [])}
    con.register("_hubcensus_parent_covered", pl.DataFrame({"parent": sorted(parent_covered)}, schema={"parent": pl.String}))
    try:
        rows = _group(con, "base_model", "parent", f"""
            SELECT * FROM (SELECT *, unnest(base_models) AS parent FROM ({_HUB_SIDE}))
            WHERE parent IS NOT NULL AND parent NOT IN (SELECT parent FROM _hubcensus_parent_covered)
              AND lower(parent) NOT IN (SELECT parent FROM _hubcensus_parent_covered)""")
    finally:
        con.unregister("_hubcensus_parent_covered")
    for g in rows:
        g["reason"] = f"{g['n_models']} Hub repo(s) derive from {g['gap_key']}, which no catalog entry covers"
    return rows


def _ranked(rows: list[dict]) -> pl.DataFrame:
    if not rows:
        return pl.DataFrame(schema=GAP_SCHEMA)
    out = pl.DataFrame(
        [{k: r[k] for k in GAP_SCHEMA if k != "rank"} for r in rows],
        schema={k: v for k, v in GAP_SCHEMA.items() if k != "rank"},
    )
    out = out.sort(["downloads", "n_models", "gap_kind", "gap_key"], descending=[True, True, False, False])
    return out.with_row_index("rank", offset=1).with_columns(pl.col("rank").cast(pl.Int32)).select(list(GAP_SCHEMA))


def compute_gaps(con, catalog: pl.DataFrame, matches: pl.DataFrame, canonical: dict | None = None) -> pl.DataFrame:
    """Every gap (model type, library, base model) no catalog entry covers among ``models``, ranked by downloads then repos.

    ``matches`` needs catalog_name, repo_id, method, confidence: only the pairs that cover a repo are read.
    """
    canonical = load_canonical_repos() if canonical is None else canonical
    covered = matches.filter(COVERS)
    covered_ids = covered["repo_id"].unique()
    con.register("_hubcensus_covered", covered_ids.to_frame("repo_id"))
    try:
        rows = _model_type_gaps(con, catalog, _claims(catalog, canonical)) + _library_gaps(con) + _base_model_gaps(con, catalog, canonical, covered_ids)
    finally:
        con.unregister("_hubcensus_covered")
    return _ranked(rows)


def catalog_gaps(con, limit: int = 20) -> pl.DataFrame:
    """The top ``limit`` gaps from the last reconciliation, for ``hubcensus catalog gaps``."""
    return con.sql(
        "SELECT gap_kind, gap_key, n_models, downloads, newest_created_at, rank, reason, sample_repos "
        "FROM catalog_gaps ORDER BY rank LIMIT $limit",
        params={"limit": limit},
    ).pl()
