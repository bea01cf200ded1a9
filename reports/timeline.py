"""Timeline: every catalog entry named at its publication date, in lanes by family, with the Hub laid over it.

The figure: one lane per catalog family branch (single-entry families share a lane), each entry a labelled point at
its publication month; where its confident Hub matches exist, a second mark at the first one's creation date, joined to
the entry (the publication-to-Hub lag). Below, on the same time axis, Hub repos created per month (v_timeline).

The Hub stamps every repo older than its records with createdAt 2022-03-02T23:29:0xZ (v_timeline.created_at_is_floor):
those repos were created *on or before* that day, so they are counted apart, never as a March 2022 spike.

Data tables
- ``timeline``: one row per month: Hub repos created, Hub repos at the placeholder date (on the 2022-03 row),
  catalog entries published, and both running totals.
- ``timeline-catalog``: catalog entries by date, with the earliest creation date among their matched Hub repos.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import polars as pl

from reports import catalog_hub, charts, labels
from reports.base import CONFIDENT, Context, Report, Section, Table
from reports.charts import CATALOG_COLOUR, HUB_COLOUR, Chart

SLUG = "timeline"
RECENT = 25
PLACEHOLDER = datetime(2022, 3, 2, tzinfo=UTC)  # the Hub's createdAt for every repo older than its records
SHARED_LANE = "single-entry families"
LANE_COLOURS = ("#4c78a8", "#e45756", "#54a24b", "#b279a2", "#f58518", "#72b7b2", "#9d755d", "#eeca3b", "#ff9da6", "#79706e")


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
        LEFT JOIN catalog_matches x ON x.catalog_name = c.name AND x.confident
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


def _lanes(entries: pl.DataFrame) -> list[tuple[str, list[dict]]]:
    """Family branches with two entries or more, oldest first, then one lane for the single-entry families."""
    rows = entries.filter(pl.col("date").is_not_null()).sort(["date", "name"]).to_dicts()
    by: dict[str, list[dict]] = {}
    for r in rows:
        by.setdefault(r["branch"], []).append(r)
    lanes = [(b, rs) for b, rs in by.items() if len(rs) > 1]
    single = sorted((rs[0] for rs in by.values() if len(rs) == 1), key=lambda r: (r["date"], r["name"]))
    return lanes + ([(SHARED_LANE, single)] if single else [])


def _lane_heights(lanes: list[tuple[str, list[dict]]]) -> list[float]:
    return [1.0 + len(rows) / 4.5 for _, rows in lanes]  # room for the rows of labels a crowded family needs


def _draw_hub_marks(ax, rows: list[dict], y: float, colour: str) -> list[tuple[datetime, float]]:
    """A hollow mark at each entry's first matched Hub repo, joined to the entry: the publication-to-Hub lag."""
    marks = []
    for r in rows:
        hub = r["first_hub_created_at"]
        if hub is None:
            continue
        x0 = datetime(r["date"].year, r["date"].month, r["date"].day, tzinfo=UTC)
        floor = bool(r["first_hub_created_is_floor"])
        x1 = PLACEHOLDER if floor else hub
        ax.plot([x0, x1], [y, y], color=colour, linewidth=1.0, alpha=0.55, zorder=2)
        ax.scatter([x1], [y], marker="<" if floor else "D", s=30, facecolors="white", edgecolors=colour, linewidths=1.2, zorder=3)
        steps = max(1, abs((x1 - x0).days) // 45)  # the line too: labels keep off it
        marks += [(x0 + (x1 - x0) * k / steps, y) for k in range(1, steps + 1)]
    return marks


def _catalog_chart(entries: pl.DataFrame, monthly: pl.DataFrame) -> Chart:
    """The catalog timeline (every entry named, lanes by family, Hub arrival marks) over the Hub's monthly series."""
    title = "The catalog's timeline, with the Hub's arrival of each model"
    lanes = _lanes(entries)
    heights = _lane_heights(lanes)
    total = sum(heights)
    index = {n: i for i, n in enumerate(entries["name"].to_list())}
    with charts.style():
        fig = charts.figure(11, 0.32 * total + 4.2)
        top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[0.32 * total + 0.8, 2.4])
        items, markers, ticks = [], [], []
        y = total
        for k, ((branch, rows), h) in enumerate(zip(lanes, heights)):
            colour = "#6e7781" if branch == SHARED_LANE else LANE_COLOURS[k % len(LANE_COLOURS)]
            centre, band = y - h / 2, (y - h, y)
            top.axhspan(y - h, y, color="#f6f8fa" if k % 2 else "#ffffff", zorder=0, linewidth=0)
            xs = [datetime(r["date"].year, r["date"].month, r["date"].day, tzinfo=UTC) for r in rows]
            top.scatter(xs, [centre] * len(xs), s=26, color=colour, edgecolors="white", linewidths=0.6, zorder=4)
            markers += [(x, centre) for x in xs] + _draw_hub_marks(top, rows, centre, colour)
            items += [labels.Label(x, centre, charts.label(r["name"], 40), colour, f"timeline-entry-{index[r['name']]}", band)
                      for x, r in zip(xs, rows)]
            ticks.append((centre, f"{branch} ({len(rows)})"))
            y -= h
        top.set_ylim(0, total)
        top.set_yticks([t for t, _ in ticks], [charts.label(n, 36) for _, n in ticks], fontsize=8)
        top.grid(axis="y", visible=False)
        top.set_title(title, pad=22)
        top.scatter([], [], s=26, color="#444444", label="catalog entry, at its publication month")
        top.scatter([], [], marker="D", s=30, facecolors="white", edgecolors="#444444", label="its first matched Hub repo (created)")
        top.scatter([], [], marker="<", s=30, facecolors="white", edgecolors="#444444", label="… created on or before 2022-03-02 (Hub placeholder)")
        top.legend(loc="lower left", bbox_to_anchor=(0, 1.0), ncols=3, fontsize=8, borderaxespad=0.2)
        _hub_monthly(bottom, monthly)
        labels.freeze_layout(fig)
        labels.place(top, items, fontsize=7.5, markers=markers, candidates=labels.offsets(steps=8, step=8.5))
        svg = charts.to_svg(fig, title)
    n_hub = int(entries["first_hub_created_at"].is_not_null().sum())
    n_floor = int(entries["first_hub_created_is_floor"].fill_null(False).sum())
    caption = (f"All {len(index)} catalog entries, named at their publication month. {n_hub} have a confident Hub match "
               f"(≥ {CONFIDENT}): the line runs to the creation date of the first one")
    caption += (f"; for {n_floor} of them that date is the Hub's 2022-03-02 placeholder (◁), so the repo is only known to be "
                "that old or older." if n_floor else ".")
    return Chart(title, svg, caption + " Below: Hub repos created per month, the hatched bar gathering the placeholder-dated ones.")


def _hub_monthly(ax, monthly: pl.DataFrame) -> None:
    months = [datetime(m.year, m.month, 1, tzinfo=UTC) for m in monthly["month"].to_list()]
    ax.bar(months, monthly["hub_created"].to_list(), width=25, color=HUB_COLOUR, label="Hub repos created")
    floor = [(m, n) for m, n in zip(months, monthly["hub_created_on_or_before"].to_list()) if n]
    if floor:
        ax.bar([m for m, _ in floor], [n for _, n in floor], width=25, color="#c9d6e8", hatch="///", edgecolor=HUB_COLOUR,
               linewidth=0.5, label="created on or before 2022-03-02 (placeholder date)")
    ax.set_ylabel("repos / month")
    charts.count_axis(ax.yaxis, nbins=4)
    ax.margins(y=0.12)
    ax.set_xlabel("month (UTC)")
    ax.set_title("Hub: repos created per month", fontsize=10)
    ax.legend(loc="upper left", fontsize=8)


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
    notes = []
    if ctx.catalog_loaded and monthly.height:
        entries = catalog_hub.catalog_entries(ctx)
        sections = [Section("The catalog over time", "Every catalog entry at its publication date, by family, and when the Hub got it.",
                            charts=[_catalog_chart(entries, monthly)], anchor="catalog-timeline")]
    else:
        sections = [Section("Over time", "", charts=[_chart(monthly, ctx.catalog_loaded)])]
    if ctx.catalog_loaded:
        cat = _catalog(ctx)
        tables.append(Table(f"{SLUG}-catalog", "Catalog entries by publication date", cat,
                            f"With the earliest createdAt among the Hub repos matched to each entry (confidence ≥ {CONFIDENT}).", preview_rows=40))
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
