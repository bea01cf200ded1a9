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
GAP_COLUMNS = ["repo_id", "model_type", "library_name", "base_models", "downloads", "created_at"]
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


def _utc(expr: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """created_at as Datetime(us, UTC) whatever it came as (TIMESTAMPTZ in any session zone, naive, or Date)."""
    if isinstance(dtype, pl.Datetime):
        expr = expr.dt.replace_time_zone("UTC") if dtype.time_zone is None else expr.dt.convert_time_zone("UTC")
    else:
        expr = expr.cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
    return expr.dt.cast_time_unit("us")


def _claims(catalog: pl.DataFrame, canonical: dict) -> dict[str, list[str]]:
    """model_type -> the catalog entries that claim it (canonical_repos.yaml ``model_types``)."""
    names = set(catalog["name"].to_list())
    claims: dict[str, list[str]] = {}
    for name, entry in canonical.items():
        if name in names:
            for t in entry.get("model_types", []):
                claims.setdefault(t, []).append(name)
    return claims


def _hub_side(models: pl.DataFrame, covered_ids: pl.Series) -> pl.DataFrame:
    """One row per repo: downloads, created_at (UTC), whether a catalog entry covers it, its real date."""
    return models.select(
        "repo_id", "model_type", "library_name", "base_models",
        downloads=pl.col("downloads").fill_null(0).cast(pl.Int64),
        created_at=_utc(pl.col("created_at"), models.schema["created_at"]),
    ).with_columns(
        covered=pl.col("repo_id").is_in(covered_ids.implode()),
        real_date=pl.when(pl.col("created_at").dt.date() > HUB_PLACEHOLDER_CREATED).then(pl.col("created_at").dt.date()),
    )  # fmt: skip


def _group(frame: pl.DataFrame, kind: str, key: str) -> pl.DataFrame:
    """Repos grouped by ``key``: counts, downloads, dates, whether any is covered, the top five as samples."""
    return (
        frame.sort("downloads", descending=True)
        .group_by(key, maintain_order=True)
        .agg(
            n_models=pl.len().cast(pl.Int64),
            downloads=pl.col("downloads").sum(),
            newest_created_at=pl.col("created_at").max(),
            oldest_real=pl.col("real_date").min(),
            any_placeholder=(pl.col("created_at").dt.date() <= HUB_PLACEHOLDER_CREATED).any(),
            any_covered=pl.col("covered").any(),
            sample_repos=pl.col("repo_id").head(5),
        )
        .rename({key: "gap_key"})
        .with_columns(gap_kind=pl.lit(kind))
        .filter(~pl.col("any_covered"))
    )


def _model_type_gaps(m: pl.DataFrame, catalog: pl.DataFrame, claims: dict[str, list[str]]) -> list[dict]:
    """Model types no entry claims, or claimed but only by repos newer than the catalog (a newer generation)."""
    edition = catalog["date"].max()
    dates = dict(zip(catalog["name"], catalog["date"]))
    rows = []
    for g in _group(m.drop_nulls("model_type"), "model_type", "model_type").iter_rows(named=True):
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


def _library_gaps(m: pl.DataFrame) -> list[dict]:
    """Repos without a model_type (diffusers, espnet, ...), by library."""
    frame = m.filter(pl.col("model_type").is_null()).with_columns(pl.col("library_name").fill_null("(none)"))
    rows = list(_group(frame, "library", "library_name").iter_rows(named=True))
    for g in rows:
        g["reason"] = f"{g['n_models']} repo(s) with no model_type (library {g['gap_key']}) and no catalog entry"
    return rows


def _base_model_gaps(m: pl.DataFrame, catalog: pl.DataFrame, canonical: dict, covered_ids: pl.Series) -> list[dict]:
    """Parents whose derivatives are on the Hub, the parent itself covered by nothing."""
    names = set(catalog["name"].to_list())
    kids = m.select("repo_id", "downloads", "created_at", "covered", "real_date", parent=pl.col("base_models")).explode("parent").drop_nulls("parent")
    parent_covered = set(covered_ids.to_list()) | {r.lower() for r in covered_ids.to_list()}
    for name, entry in canonical.items():
        if name in names:
            parent_covered |= {r.lower() for r in entry.get("repos", []) + entry.get("related", [])}
    kids = kids.filter(~pl.col("parent").str.to_lowercase().is_in(list(parent_covered)) & ~pl.col("parent").is_in(list(parent_covered)))
    rows = list(_group(kids.with_columns(model_type=pl.lit(None), library_name=pl.lit(None)), "base_model", "parent").iter_rows(named=True))
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


def compute_gaps(catalog: pl.DataFrame, models: pl.DataFrame, matches: pl.DataFrame, canonical: dict | None = None) -> pl.DataFrame:
    """Every gap (model type, library, base model) no catalog entry covers, ranked by downloads then repos."""
    canonical = load_canonical_repos() if canonical is None else canonical
    covered = matches.filter((pl.col("confidence") >= BET) | pl.col("method").is_in(COVERING_METHODS))
    covered_ids = covered["repo_id"].unique()
    m = _hub_side(models, covered_ids)
    rows = _model_type_gaps(m, catalog, _claims(catalog, canonical)) + _library_gaps(m) + _base_model_gaps(m, catalog, canonical, covered_ids)
    return _ranked(rows)


def catalog_gaps(con, limit: int = 20) -> pl.DataFrame:
    """The top ``limit`` gaps from the last reconciliation, for ``hubcensus catalog gaps``."""
    return con.sql(
        "SELECT gap_kind, gap_key, n_models, downloads, newest_created_at, rank, reason, sample_repos "
        "FROM catalog_gaps ORDER BY rank LIMIT $limit",
        params={"limit": limit},
    ).pl()
