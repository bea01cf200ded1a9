"""Timeline: Hub repos created per month (v_timeline) beside catalog publications per month (catalog_models.date).

The Hub stamps every repo older than its records with createdAt 2022-03-02T23:29:0xZ (v_timeline.created_at_is_floor):
those repos were created *on or before* that day, so they are counted apart, never as a March 2022 spike.

Data tables
- ``timeline``: one row per month: Hub repos created, Hub repos at the placeholder date (on the 2022-03 row),
  catalog entries published, and both running totals.
- ``timeline-catalog``: catalog entries by date, with the earliest creation date among their matched Hub repos.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from reports import charts
from reports.base import CONFIDENT, Context, Report, Section, Table
from reports.charts import CATALOG_COLOUR, HUB_COLOUR, Chart

SLUG = "timeline"
RECENT = 25


def _monthly(ctx: Context) -> pl.DataFrame:
    catalog = (
        "SELECT CAST(date_trunc('month', date) AS DATE) AS month, count(*) AS n FROM catalog_models WHERE date IS NOT NULL GROUP BY 1"
        if ctx.catalog_loaded
        else "SELECT NULL::DATE AS month, 0::BIGINT AS n WHERE FALSE"
    )
    return ctx.df(
        f"""
        WITH hub AS (
            SELECT created_month AS month,
                   count(*) FILTER (WHERE NOT created_at_is_floor) AS hub_created,
                   count(*) FILTER (WHERE created_at_is_floor) AS hub_created_on_or_before
            FROM v_timeline GROUP BY 1
        ), cat AS ({catalog})
        SELECT coalesce(hub.month, cat.month) AS month,
               coalesce(hub.hub_created, 0) AS hub_created,
               coalesce(hub.hub_created_on_or_before, 0) AS hub_created_on_or_before,
               coalesce(cat.n, 0) AS catalog_published,
               CAST(sum(coalesce(hub.hub_created, 0) + coalesce(hub.hub_created_on_or_before, 0))
                    OVER (ORDER BY coalesce(hub.month, cat.month)) AS BIGINT) AS hub_cumulative,
               CAST(sum(coalesce(cat.n, 0)) OVER (ORDER BY coalesce(hub.month, cat.month)) AS BIGINT) AS catalog_cumulative
        FROM hub FULL JOIN cat ON hub.month = cat.month
        ORDER BY month"""
    )


def _catalog(ctx: Context) -> pl.DataFrame:
    return ctx.df(
        f"""
        SELECT c.name, c.family, c.arch_class, c.date, c.lab,
               count(DISTINCT m.repo_id) AS hub_repos_matched,
               min(m.created_at) AS first_hub_created_at,
               bool_or(t.created_at_is_floor) AS first_hub_created_is_floor
        FROM catalog_models c
        LEFT JOIN catalog_matches x ON x.catalog_name = c.name AND x.confidence >= {CONFIDENT}
        LEFT JOIN v_models m ON m.repo_id = x.repo_id AND m.{ctx.live}
        LEFT JOIN v_timeline t ON t.repo_id = m.repo_id
        GROUP BY ALL
        ORDER BY c.date NULLS LAST, c.name"""
    )


def _recent(ctx: Context) -> pl.DataFrame:
    return ctx.df(
        f"""
        SELECT t.repo_id, t.created_at, t.model_type, t.arch_class, m.pipeline_tag, m.tags
        FROM v_timeline t LEFT JOIN v_models m ON m.repo_id = t.repo_id
        ORDER BY t.created_at DESC, t.repo_id LIMIT {RECENT}"""
    )


def _chart(monthly: pl.DataFrame, catalog_loaded: bool) -> Chart:
    title = "Models over time: catalog publications and Hub repo creations"
    if monthly.is_empty():
        return Chart(title, charts.empty_chart(title, "no dated models or catalog entries"))
    months = monthly["month"].to_list()
    floor = int(monthly["hub_created_on_or_before"].sum())
    with charts.style():
        fig = charts.figure(10, 5.6 if catalog_loaded else 3.6)
        axes = fig.subplots(2 if catalog_loaded else 1, 1, sharex=True, height_ratios=[1, 1.6] if catalog_loaded else None)
        axes = list(axes) if catalog_loaded else [axes]
        width = 25  # days
        if catalog_loaded:
            ax = axes[0]
            ax.bar(months, monthly["catalog_published"].to_list(), width=width, color=CATALOG_COLOUR, label="catalog entries published")
            ax.set_ylabel("entries / month")
            ax.set_title("Catalog: first publication of each entry")
            tw = ax.twinx()
            tw.plot(months, monthly["catalog_cumulative"].to_list(), color="#999999", linewidth=1.2, label="cumulative")
            tw.set_ylabel("cumulative", color="#777777")
            tw.grid(False)
            tw.spines["right"].set_visible(True)
            charts.count_axis(ax.yaxis)
            charts.count_axis(tw.yaxis)
            ax.legend(loc="upper left", bbox_to_anchor=(0, 1), fontsize=8)
        ax = axes[-1]
        ax.bar(months, monthly["hub_created"].to_list(), width=width, color=HUB_COLOUR, label="Hub repos created")
        if floor:
            fm = [m for m, n in zip(months, monthly["hub_created_on_or_before"].to_list()) if n]
            fn = [n for n in monthly["hub_created_on_or_before"].to_list() if n]
            ax.bar(fm, fn, width=width, bottom=[0] * len(fm), color="#c9d6e8", hatch="///", edgecolor=HUB_COLOUR, linewidth=0.5,
                   label="created on or before 2022-03-02 (Hub placeholder date)")
            ax.annotate(f"{floor:,} repos older than the Hub's records", xy=(fm[0], fn[0] * 0.9), xytext=(8, -2),
                        textcoords="offset points", ha="left", va="top", fontsize=8, color="#333333")
        ax.set_ylabel("repos / month")
        charts.count_axis(ax.yaxis)
        ax.margins(y=0.12)
        ax.set_xlabel("month (UTC)")
        ax.set_title("Hub: repos created")
        ax.legend(loc="upper left", fontsize=8)
        svg = charts.to_svg(fig, title)
    return Chart(title, svg, "Monthly counts; the hatched bar gathers repos whose createdAt is the Hub's 2022-03-02 placeholder.")


def build(ctx: Context) -> Report:
    monthly = _monthly(ctx)
    recent = _recent(ctx)
    tables = [Table(SLUG, "Per month: Hub repos created, catalog entries published", monthly,
                    "From v_timeline.created_month (placeholder dates counted apart) and catalog_models.date.", preview_rows=36)]
    sections = [Section("Over time", "", charts=[_chart(monthly, ctx.catalog_loaded)])]
    notes = []
    if ctx.catalog_loaded:
        cat = _catalog(ctx)
        tables.append(Table(f"{SLUG}-catalog", "Catalog entries by publication date", cat,
                            "With the earliest createdAt among the Hub repos matched to each entry (confidence ≥ 0.8).", preview_rows=40))
        sections.append(Section("Catalog publications and their Hub arrival", "When each catalog entry was published, and when its matched Hub repos appeared.", tables=[tables[-1]]))
    else:
        notes.append("Catalog not loaded: Hub creation dates only.")
    sections.append(Section("Most recently created Hub repos", "", tables=[Table(f"{SLUG}-recent", "Newest repos", recent, preview_rows=RECENT)]))
    sections.append(Section("Month by month", "", tables=[tables[0]]))
    n_hub = int(monthly["hub_created"].sum() + monthly["hub_created_on_or_before"].sum()) if monthly.height else 0
    n_floor = int(monthly["hub_created_on_or_before"].sum()) if monthly.height else 0
    n_cat = int(monthly["catalog_published"].sum()) if monthly.height else 0
    busiest = monthly.filter(pl.col("hub_created") > 0).sort(["hub_created", "month"], descending=[True, False]).head(1)
    headline = {"hub_dated_repos": n_hub, "hub_placeholder_dated": n_floor, "catalog_dated_entries": n_cat}
    summary = f"{n_hub:,} dated Hub repos ({n_floor:,} at the 2022-03-02 placeholder), {n_cat:,} dated catalog entries"
    if busiest.height:
        m: date = busiest["month"][0]
        summary += f"; busiest month {m:%Y-%m} ({int(busiest['hub_created'][0]):,})"
        headline["busiest_month"] = f"{m:%Y-%m}"
    return Report(SLUG, "Timeline", summary, headline, sections, tables, notes)
