"""Catalog vs Hub: load the catalog, match it, compare field by field, list the gaps.

``reconcile(con)`` rebuilds catalog_models, catalog_matches, reconciliation and catalog_gaps in the caller's
transaction (it neither begins nor commits). Only pairs matched with confidence >= 0.8 are reconciled, so a
conflict is between a catalog entry and a repo we would bet is its release.

Rules (each note states the one applied):
- params: the Hub's params_effective, else params_total, against the catalog's sizes. ``sizes`` agree when within
  PARAMS_TOLERANCE (±15%: the catalog rounds) of one listed size; ``range`` when inside [min, max] widened by the
  tolerance; ``open`` (an upper bound: "11 B (up to)", "13B (largest)") when below max + tolerance.
- arch_class: equal classes agree; the catalog's "depends on the base model" texts are missing_in_catalog.
- license: the catalog's license id (apache-2.0, mit, ...) against the Hub's; when the catalog names no id
  ("Limited, non-commercial") only classes (open/limited/closed) are compared, and a catalog license that covers only
  the code, or an unclassifiable one, is reported missing_in_catalog with a note, not as a conflict.
- date: the catalog's publication month against the Hub's created_at. Either may come first (a release before the
  paper is common), so a Hub repo up to DATE_SLACK_MONTHS before the publication agrees, with the order in the note;
  repos created before 2022-03-02 all carry that placeholder date, so then only "on or before" is known.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import polars as pl

from warehouse.catalog import load_catalog
from warehouse.catalog.parse import format_params, hub_license_class
from warehouse.gaps import COVERS, HUB_PLACEHOLDER_CREATED, compute_gaps
from warehouse.matching import BET, MATCH_SCHEMA, CatalogMatcher

PARAMS_TOLERANCE = 0.15
DATE_SLACK_MONTHS = 6
HUB_START = dt.date(2019, 1, 1)  # no model repo predates the Hub (model hosting began in 2019)
MODEL_COLUMNS = ["repo_id", "author", "created_at", "downloads", "license", "model_type", "arch_class",
                 "params_total", "params_effective", "base_models", "library_name"]
REC_SCHEMA = {
    "catalog_name": pl.String,
    "repo_id": pl.String,
    "field": pl.String,
    "catalog_value": pl.String,
    "hub_value": pl.String,
    "status": pl.String,
    "note": pl.String,
}


def compare_params(cat: dict, hub_n: int | None, hub_source: str = "params") -> tuple[str, str]:
    if hub_n is None:
        return "missing_on_hub", "the Hub reports no parameter count"
    lo, hi, sizes, kind = cat["params_min"], cat["params_max"], cat["params_sizes"] or [], cat["params_kind"]
    hub_txt = f"Hub {format_params(hub_n)} ({hub_source})"
    tol = f"±{PARAMS_TOLERANCE:.0%}"
    if lo is None and hi is None:
        return "missing_in_catalog", f"catalog size not comparable: {cat.get('params_note') or 'no number'}"
    if kind == "sizes" and sizes:
        nearest = min(sizes, key=lambda s: abs(hub_n / s - 1))
        dev = hub_n / nearest - 1
        listed = ", ".join(format_params(s) for s in sizes)
        if abs(dev) <= PARAMS_TOLERANCE:
            return "agree", f"{hub_txt} is {dev:+.1%} from the listed {format_params(nearest)} (listed: {listed}; tolerance {tol})"
        return "conflict", f"{hub_txt} is not within {tol} of any listed size ({listed}); nearest {format_params(nearest)} at {dev:+.0%}"
    low = 0 if lo is None else lo * (1 - PARAMS_TOLERANCE)
    high = hi * (1 + PARAMS_TOLERANCE)
    bounds = f"up to {format_params(hi)}" if lo is None else f"{format_params(lo)}-{format_params(hi)}"
    if low <= hub_n <= high:
        return "agree", f"{hub_txt} is within the catalog's {bounds} (tolerance {tol})"
    return "conflict", f"{hub_txt} is outside the catalog's {bounds} (tolerance {tol})"


def compare_arch(cat: dict, hub_class: str | None) -> tuple[str, str]:
    if hub_class is None:
        return "missing_on_hub", "the Hub config gives no architecture class"
    if cat["arch_class"] is None:
        return "missing_in_catalog", cat.get("arch_note") or "the catalog names no single architecture class"
    if cat["arch_class"] == hub_class:
        return "agree", f"both {hub_class}"
    return "conflict", f"catalog says {cat['arch_class']} ('{cat['architecture']}'), the Hub's config is {hub_class}"


def compare_license(cat: dict, hub_license: str | None) -> tuple[str, str]:
    text, cat_id, cat_class = cat["license"], cat["license_id"], cat["license_class"]
    if not hub_license:
        return "missing_on_hub", "the Hub repo declares no license"
    if not text:
        return "missing_in_catalog", "the catalog entry has no License"
    hub_class = hub_license_class(hub_license)
    if cat_class == "open-code":
        if cat_id and cat_id == hub_license.lower():
            return "agree", f"both {hub_license} (the catalog's license is stated for the code)"
        return "missing_in_catalog", f"not comparable: the catalog's license covers the code only, the Hub's ({hub_license}) the weights"
    if cat_id:
        if cat_id == hub_license.lower():
            return "agree", f"both {hub_license}"
        return "conflict", f"catalog names {cat_id}, the Hub repo declares {hub_license} ({hub_class})"
    if cat_class == "unknown" or hub_class == "unknown":
        return "missing_in_catalog", f"not comparable: the catalog names no license id ({cat_class}) and the Hub's {hub_license} is {hub_class}"
    if cat_class == hub_class:
        return "agree", f"class only: the catalog names no license id; both {cat_class} (Hub {hub_license})"
    return "conflict", f"catalog says {cat_class}, the Hub repo declares {hub_license} ({hub_class})"


def _months(a: dt.date, b: dt.date) -> int:
    return (b.year - a.year) * 12 + (b.month - a.month)


def compare_date(cat: dict, hub_created: dt.datetime | dt.date | None) -> tuple[str, str]:
    if hub_created is None:
        return "missing_on_hub", "the Hub gives no createdAt"
    if cat["date"] is None:
        return "missing_in_catalog", "the catalog entry has no date"
    hub_day = hub_created.date() if isinstance(hub_created, dt.datetime) else hub_created
    pub = cat["date"]
    pub_txt = f"{pub:%Y}" if cat.get("date_precision") == "year" else f"{pub:%m/%Y}"
    if pub < HUB_START:
        prefix = f"published {pub_txt}, before the Hub began (2019): publication came first"
        return "agree", prefix + (f"; the repo's createdAt is the {HUB_PLACEHOLDER_CREATED} placeholder (created on or before it)"
                                  if hub_day == HUB_PLACEHOLDER_CREATED else f"; on the Hub {hub_day}")
    if hub_day == HUB_PLACEHOLDER_CREATED:
        gap = _months(HUB_PLACEHOLDER_CREATED, pub)
        if gap <= DATE_SLACK_MONTHS:
            return "agree", (f"published {pub_txt}; the repo's createdAt is the {HUB_PLACEHOLDER_CREATED} placeholder "
                             "(created on or before it), so which came first is unknown")
        return "conflict", (f"published {pub_txt}, but the repo existed on the Hub by {HUB_PLACEHOLDER_CREATED} "
                            f"(placeholder date), at least {gap} months earlier: one of the dates is wrong")
    months = _months(pub.replace(day=1), hub_day.replace(day=1))
    if cat.get("date_precision") == "year":
        months = 0 if hub_day.year == pub.year else months
    if months >= 0:
        return "agree", f"published {pub_txt}, on the Hub {hub_day}: publication came first ({months} month(s) earlier)"
    if -months <= DATE_SLACK_MONTHS:
        return "agree", f"on the Hub {hub_day}, {-months} month(s) before the catalog's publication date {pub_txt}: the release came first"
    return "conflict", f"on the Hub {hub_day}, {-months} months before the catalog's publication date {pub_txt}: one of the dates is wrong"


def reconcile_fields(catalog: pl.DataFrame, models: pl.DataFrame, matches: pl.DataFrame) -> pl.DataFrame:
    pairs = matches.filter(pl.col("confidence") >= BET).select("catalog_name", "repo_id")  # BET: the one threshold
    joined = pairs.join(catalog.rename({"name": "catalog_name"}), on="catalog_name").join(models, on="repo_id", suffix="_hub")
    rows = []
    for r in joined.iter_rows(named=True):
        hub_n = r["params_effective"] if r["params_effective"] is not None else r["params_total"]
        source = "params_effective" if r["params_effective"] is not None else "params_total"
        hub_date = r["created_at"]
        checks = {
            "params": (r["params_text"], None if hub_n is None else str(hub_n), compare_params(r, hub_n, source)),
            "arch_class": (r["arch_class"] or r["architecture"], r["arch_class_hub"], compare_arch(r, r["arch_class_hub"])),
            "license": (r["license"], r["license_hub"], compare_license(r, r["license_hub"])),
            "date": (r["date_text"], None if hub_date is None else f"{hub_date:%Y-%m-%d}", compare_date(r, hub_date)),
        }
        for field, (cat_value, hub_value, (status, note)) in checks.items():
            rows.append((r["catalog_name"], r["repo_id"], field, cat_value, hub_value, status, note))
    return pl.DataFrame(rows, schema=REC_SCHEMA, orient="row")


MATCH_BATCH_ROWS = 200_000  # repos matched at a time: bounds the reconciliation's memory whatever the Hub's size
RECONCILER_MEMORY = "512MB"  # DuckDB's cap while reconciling: a bound, not a saving today (1M: peak 742 MiB capped, 751 uncapped)


def _model_batches(con, columns: list[str], rows: int = MATCH_BATCH_ROWS) -> Iterator[pl.DataFrame]:
    """``models`` in rowid ranges, read on the caller's connection (its transaction) one range at a time."""
    [(last,)] = con.sql("SELECT max(rowid) FROM models").fetchall()
    for start in range(0, (last or 0) + 1, rows):
        yield con.sql(
            f"SELECT {', '.join(columns)} FROM models WHERE rowid >= $lo AND rowid < $hi", params={"lo": start, "hi": start + rows}
        ).pl()


def _replace_table(con, table: str, frame: pl.DataFrame, *, delete: bool = True) -> None:
    if delete:
        con.execute(f"DELETE FROM {table}")
    view = f"_hubcensus_{table}_frame"
    con.register(view, frame)
    try:
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM {view}")
    finally:
        con.unregister(view)


def _models_of(con, repo_ids: pl.Series) -> pl.DataFrame:
    """The MODEL_COLUMNS of the given repos (the few a catalog entry is matched to), not of the whole Hub."""
    con.register("_hubcensus_repo_ids", repo_ids.to_frame("repo_id"))
    try:
        return con.sql(f"SELECT {', '.join(MODEL_COLUMNS)} FROM models WHERE repo_id IN (SELECT repo_id FROM _hubcensus_repo_ids)").pl()
    finally:
        con.unregister("_hubcensus_repo_ids")


def match_warehouse(con, catalog: pl.DataFrame, batch_rows: int = MATCH_BATCH_ROWS) -> tuple[pl.DataFrame, int]:
    """Rewrite catalog_matches batch by batch; return the pairs that cover a repo (>= BET, related, lineage) and the row count."""
    matcher = CatalogMatcher(catalog)
    match_columns = ["repo_id", "author", "model_type", "base_models"]
    held = matcher.held(_model_batches(con, match_columns, batch_rows))
    lineage = con.sql("SELECT child_id, parent_id FROM model_lineage").pl()
    lineage = lineage.filter(pl.col("parent_id").str.to_lowercase().is_in(held["parent_lc"].implode()))
    con.execute("DELETE FROM catalog_matches")
    covering, n = [], 0
    for batch in _model_batches(con, match_columns, batch_rows):
        matches = matcher.match(batch, held, lineage).with_columns((pl.col("confidence") >= BET).alias("confident"))
        _replace_table(con, "catalog_matches", matches, delete=False)
        covering.append(matches.filter(COVERS))
        n += matches.height
    return pl.concat(covering) if covering else pl.DataFrame(schema={**MATCH_SCHEMA, "confident": pl.Boolean}), n


def reconcile(con, catalog_paths: list[Path] | list[str] | None = None) -> dict[str, int]:
    """Rebuild the four catalog tables from ``models``/``model_lineage`` in the caller's transaction; return counts."""
    catalog = load_catalog(catalog_paths)  # raises CatalogError before anything is written
    covering, n_matches = match_warehouse(con, catalog)
    confident = covering.filter("confident")
    rec = reconcile_fields(catalog, _models_of(con, confident["repo_id"].unique()), confident)
    gaps = compute_gaps(con, catalog, covering)
    for table, frame in (("catalog_models", catalog), ("reconciliation", rec), ("catalog_gaps", gaps)):
        _replace_table(con, table, frame)
    statuses = rec.group_by("status").len()
    by_status = dict(zip(statuses["status"], statuses["len"]))
    return {
        "catalog_models": catalog.height,
        "catalog_matches": n_matches,
        "matched_entries": confident["catalog_name"].n_unique(),
        "matched_repos": confident["repo_id"].n_unique(),
        "reconciliation": rec.height,
        **{f"reconciliation_{s}": int(by_status.get(s, 0)) for s in ("agree", "conflict", "missing_on_hub", "missing_in_catalog")},
        "catalog_gaps": gaps.height,
    }


def reconcile_warehouse(db_path: Path | str, catalog_paths: list[Path] | list[str] | None = None) -> dict[str, int]:
    """Open the warehouse and reconcile in one transaction of its own (the flow's step after each load)."""
    from warehouse.database import open_warehouse, transaction

    con = open_warehouse(db_path, memory_limit=RECONCILER_MEMORY)
    try:
        with transaction(con):
            return reconcile(con, catalog_paths)
    finally:
        con.close()


def preview_gaps(db_path: Path | str, catalog_paths: list[Path] | list[str], limit: int = 20) -> pl.DataFrame:
    """The gaps a reconciliation with extra catalog files would find, leaving the stored one untouched."""
    from warehouse.database import open_warehouse, transaction
    from warehouse.gaps import catalog_gaps

    con = open_warehouse(db_path)
    try:
        with transaction(con, commit=False):
            reconcile(con, catalog_paths)
            return catalog_gaps(con, limit)
    finally:
        con.close()
