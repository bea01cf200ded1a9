"""Reconciliation: the catalog against the Hub: agreements, conflicts, unmatched entries and catalog gaps.

Reads the tables warehouse.reconcile writes (catalog_models, catalog_matches, reconciliation, catalog_gaps);
when they are absent or empty the page says "catalog not loaded" instead of failing.

Data tables
- ``reconciliation``: every field comparison, conflicts first.
- ``reconciliation-summary``: per field, how many comparisons agree / conflict / are missing on either side.
- ``reconciliation-matches``: catalog entry ↔ Hub repo candidates with method and confidence.
- ``reconciliation-unmatched``: catalog entries with no confident match (catalog_matches.confident), with their best candidate.
- ``reconciliation-gaps``: Hub families the catalog lacks, ranked.
- ``reconciliation-proposals``: those families as proposed catalog rows (``hubcensus catalog propose``), most downloaded first.
"""

from __future__ import annotations

import polars as pl

from reports import charts
from reports.base import CONFIDENT, Context, Report, Section, Table
from reports.charts import STATUS_COLOURS, Chart

SLUG = "reconciliation"
STATUSES = ("agree", "conflict", "missing_on_hub", "missing_in_catalog")


def _chart(summary: pl.DataFrame) -> Chart:
    title = "Catalog vs Hub, field by field"
    if summary.is_empty():
        return Chart(title, charts.empty_chart(title, f"no comparisons: no catalog entry matched a Hub repo with confidence ≥ {CONFIDENT}"))
    fields = summary["field"].to_list()[::-1]
    with charts.style():
        fig = charts.figure(9, 0.5 * len(fields) + 1.6)
        ax = fig.add_subplot()
        left = [0] * len(fields)
        for st in STATUSES:
            values = summary[st].to_list()[::-1]
            if not any(values):
                continue
            ax.barh([charts.label(f) for f in fields], values, left=left, color=STATUS_COLOURS[st], label=st.replace("_", " "), height=0.6)
            for y, (l, v) in enumerate(zip(left, values)):
                if v:
                    ax.text(l + v / 2, y, str(v), ha="center", va="center", fontsize=8, color="white" if st in ("agree", "conflict") else "#222222")
            left = [a + b for a, b in zip(left, values)]
        ax.set_title(title)
        ax.set_xlabel("comparisons (catalog entry × matched repo)")
        charts.count_axis(ax.xaxis)
        ax.grid(axis="y", visible=False)
        ax.legend(ncols=4, loc="upper center", bbox_to_anchor=(0.5, -0.35 if len(fields) < 3 else -0.18), fontsize=8)
        svg = charts.to_svg(fig, title)
    return Chart(title, svg, f"Only matches with confidence ≥ {CONFIDENT} are compared.")


def _not_loaded(ctx: Context) -> Report:
    why = "the catalog tables are absent" if not ctx.has("catalog_models") else "the catalog tables are empty"
    empty = pl.DataFrame({"field": [], **{s: [] for s in STATUSES}}, schema={"field": pl.String, **{s: pl.Int64 for s in STATUSES}})
    table = Table(f"{SLUG}-summary", "Comparisons per field", empty)
    text = (f"Catalog not loaded ({why}): run the reconciliation (`hubcensus refresh` runs it after loading) and build the reports again.")
    return Report(SLUG, "Reconciliation", "Catalog not loaded: nothing to reconcile", {"catalog_loaded": False},
                  [Section("Catalog not loaded", text, charts=[_chart(empty)])], [table], [text])


PROPOSALS_SHOWN = 15


def proposals_section(ctx: Context) -> Section:
    """The top ``hubcensus catalog propose`` rows against the catalog reconciled here (its default thresholds)."""
    from warehouse.catalog.propose import propose

    found = propose(ctx.con, ctx.df("SELECT name, family FROM catalog_models"))
    table = Table(f"{SLUG}-proposals", "Proposed catalog entries", found.rows,
                  "Rows in the catalog's columns, evidence after: copy one into your catalog file and pass --catalog FILE.",
                  preview_rows=PROPOSALS_SHOWN)
    text = (f"{found.rows.height:,} Hub model type(s) the catalog lacks, as catalog rows derived from the Hub; "
            f"{len(found.in_catalog):,} already in the catalog (through its aliases too); {len(found.skipped):,} without an "
            "architecture class or date. `hubcensus catalog propose` lists them all.")
    return Section("Proposed catalog entries", text, tables=[table], anchor="proposals")


def build(ctx: Context) -> Report:
    if not ctx.catalog_loaded or not ctx.has("reconciliation"):
        return _not_loaded(ctx)
    pivot = ",\n".join(f"count(*) FILTER (WHERE status = '{s}') AS {s}" for s in STATUSES)
    summary = ctx.df(f"SELECT field, {pivot}, count(*) AS total FROM reconciliation GROUP BY field ORDER BY field")
    rows = ctx.df(
        """SELECT catalog_name, repo_id, field, catalog_value, hub_value, status, note FROM reconciliation
           ORDER BY CASE status WHEN 'conflict' THEN 0 WHEN 'missing_on_hub' THEN 1 WHEN 'missing_in_catalog' THEN 2 ELSE 3 END,
                    catalog_name, repo_id, field"""
    )
    unmatched = ctx.df(
        """SELECT c.name, c.family, c.lab, c.date,
                   arg_max(x.repo_id, struct_pack(a := x.confidence, b := x.repo_id)) AS best_candidate,
                   max(x.confidence) AS best_confidence
            FROM catalog_models c
            LEFT JOIN catalog_matches x ON x.catalog_name = c.name
            GROUP BY ALL
            HAVING NOT coalesce(bool_or(x.confident), false)
            ORDER BY best_confidence DESC NULLS LAST, c.name"""
    )
    has_gaps = ctx.has("catalog_gaps")
    gaps = ctx.df("SELECT * FROM catalog_gaps ORDER BY rank, gap_kind, gap_key") if has_gaps else pl.DataFrame()
    hub_unmatched = ctx.scalar(
        f"""SELECT count(*) FROM v_models m WHERE {ctx.live}
            AND NOT EXISTS (SELECT 1 FROM catalog_matches x WHERE x.repo_id = m.repo_id AND x.confident)"""
    )
    n_entries = ctx.scalar("SELECT count(*) FROM catalog_models")
    n_matched = ctx.scalar("SELECT count(DISTINCT catalog_name) FROM catalog_matches WHERE confident")
    totals = {s: int(summary[s].sum()) for s in STATUSES}
    tables = [
        Table(SLUG, "Field comparisons", rows, "reconciliation: conflicts first. Counts are shown rounded (hover for the exact figure); the CSV/Parquet keep them raw.",
              preview_rows=60, number_text=frozenset({"catalog_value", "hub_value"})),
        Table(f"{SLUG}-summary", "Comparisons per field", summary, "reconciliation counted by field and status."),
        ctx.query_table(f"{SLUG}-matches", "Catalog ↔ Hub matches",
                        """SELECT catalog_name, repo_id, method, confidence, confident, note
                           FROM catalog_matches ORDER BY catalog_name, confidence DESC, repo_id""",
                        f"catalog_matches; confident = confidence ≥ {CONFIDENT}.", preview_rows=40),
        Table(f"{SLUG}-unmatched", "Catalog entries without a confident match", unmatched, f"Best candidate below {CONFIDENT}, if any.", preview_rows=40),
    ]
    if has_gaps:
        tables.append(Table(f"{SLUG}-gaps", "Catalog gaps: Hub families the catalog lacks", gaps, "catalog_gaps, by rank.", preview_rows=30))
    sections = [
        Section("Agreement", f"{n_matched:,} of {n_entries:,} catalog entries matched a Hub repo with confidence ≥ {CONFIDENT}; "
                f"{hub_unmatched:,} Hub repos match no catalog entry.", charts=[_chart(summary)], tables=[tables[1]]),
        Section("Conflicts and missing values", "", tables=[tables[0]]),
        Section("Unmatched catalog entries", "", tables=[tables[3]]),
        Section("Catalog gaps", "What the Hub holds that the catalog does not describe." if has_gaps else "catalog_gaps not built.",
                tables=[tables[4]] if has_gaps else []),
        Section("All matches", "", tables=[tables[2]]),
    ]
    headline = {"catalog_entries": int(n_entries), "entries_matched": int(n_matched), "hub_repos_unmatched": int(hub_unmatched),
                **totals, "gaps": gaps.height}
    proposals = proposals_section(ctx)  # hubcensus catalog propose (warehouse/catalog/propose.py)
    sections.append(proposals)
    tables.append(proposals.tables[0])
    headline["proposals"] = proposals.tables[0].frame.height
    line = (f"{totals['agree']:,} agree, {totals['conflict']:,} conflict, {totals['missing_on_hub'] + totals['missing_in_catalog']:,} missing; "
            f"{unmatched.height:,} catalog entries unmatched; {gaps.height:,} gaps")
    return Report(SLUG, "Reconciliation", line, headline, sections, tables)
