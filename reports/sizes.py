"""Size axis: parameter counts (log scale) against creation time, coloured by architecture class; size buckets.

Data tables
- ``sizes``: v_sizes as it is (one row per model with a known parameter count).
- ``sizes-buckets``: the five v_models size buckets in order, with counts and downloads, plus the models of
  unknown size.
- ``sizes-catalog``: the catalog's sizes (params_min .. params_max at its publication date), drawn beside.
"""

from __future__ import annotations

import math
from datetime import datetime

import polars as pl

from reports import charts
from reports.base import Context, Report, Section, Table
from reports.charts import ARCH_COLOURS, CATALOG_COLOUR, Chart, arch_label, label

SLUG = "sizes"
BUCKETS = ("<100M", "100M-1B", "1-10B", "10-100B", ">100B")
THRESHOLDS = (1e8, 1e9, 1e10, 1e11)
RASTER_ABOVE = 3000  # more points than this are drawn as an embedded image inside the SVG
LABELLED = 6


def _buckets(ctx: Context) -> pl.DataFrame:
    values = ", ".join(f"('{b}', {i})" for i, b in enumerate(BUCKETS))
    return ctx.df(
        f"""
        WITH b(size_bucket, ord) AS (VALUES {values}),
        s AS (SELECT size_bucket, count(*) AS n_models, CAST(sum(downloads) AS BIGINT) AS downloads FROM v_sizes GROUP BY 1),
        unknown AS (
            SELECT 'unknown' AS size_bucket, count(*) AS n_models, CAST(sum(downloads) AS BIGINT) AS downloads
            FROM v_models WHERE {ctx.live} AND coalesce(params_effective, params_total) IS NULL
        )
        SELECT b.size_bucket, coalesce(s.n_models, 0) AS n_models, coalesce(s.downloads, 0) AS downloads
        FROM b LEFT JOIN s USING (size_bucket)
        UNION ALL SELECT size_bucket, n_models, coalesce(downloads, 0) FROM unknown
        ORDER BY CASE size_bucket {" ".join(f"WHEN '{b}' THEN {i}" for i, b in enumerate(BUCKETS))} ELSE 9 END"""
    )


def _floor_flag(ctx: Context) -> pl.DataFrame:
    return ctx.df("SELECT repo_id, created_at_is_floor FROM v_timeline")


def _scatter(sizes: pl.DataFrame, floor: pl.DataFrame, catalog: pl.DataFrame | None) -> Chart:
    title = "Parameter count against creation date"
    dated = sizes.filter(pl.col("created_at").is_not_null() & (pl.col("params") > 0))
    if dated.is_empty():
        return Chart(title, charts.empty_chart(title, "no model has both a parameter count and a creation date"))
    dated = dated.join(floor, on="repo_id", how="left").with_columns(pl.col("created_at_is_floor").fill_null(False))
    raster = dated.height > RASTER_ABOVE
    with charts.style():
        fig = charts.figure(10, 6.2)
        ax = fig.add_subplot()
        ax.set_yscale("log")
        for cls in ("encoder", "decoder", "encoder-decoder", None):
            sub = dated.filter(pl.col("arch_class").is_null() if cls is None else pl.col("arch_class") == cls)
            if sub.is_empty():
                continue
            real = sub.filter(~pl.col("created_at_is_floor"))
            old = sub.filter(pl.col("created_at_is_floor"))
            n = sub.height
            if real.height:
                ax.scatter(real["created_at"].to_list(), real["params"].to_list(), s=26, color=ARCH_COLOURS[cls], alpha=0.8,
                           edgecolors="white", linewidths=0.5, label=f"{arch_label(cls)} ({n:,})", rasterized=raster, zorder=3)
            if old.height:
                ax.scatter(old["created_at"].to_list(), old["params"].to_list(), s=26, facecolors="none", edgecolors=ARCH_COLOURS[cls],
                           linewidths=1.1, label=None if real.height else f"{arch_label(cls)} ({n:,})", rasterized=raster, zorder=3)
        if catalog is not None and catalog.height:
            cat = catalog.filter(pl.col("date").is_not_null() & pl.col("params_max").is_not_null())
            if cat.height:
                xs = [datetime(d.year, d.month, d.day) for d in cat["date"].to_list()]
                lo = [a if a else b for a, b in zip(cat["params_min"].to_list(), cat["params_max"].to_list())]
                hi = cat["params_max"].to_list()
                ax.vlines(xs, lo, hi, colors=CATALOG_COLOUR, linewidth=1.2, alpha=0.55, zorder=2)
                ax.scatter(xs + xs, lo + hi, marker="_", s=60, color=CATALOG_COLOUR, alpha=0.7, zorder=2,
                           label=f"catalog entry: published size range ({cat.height:,})")
        if dated["created_at_is_floor"].any():
            ax.scatter([], [], s=26, facecolors="none", edgecolors="#666666", label="hollow: created on or before 2022-03-02")
        for t, name in zip(THRESHOLDS, ("100M", "1B", "10B", "100B")):
            ax.axhline(t, color="#bbbbbb", linewidth=0.8, linestyle="--", zorder=1)
            ax.annotate(name, xy=(1, t), xycoords=("axes fraction", "data"), xytext=(3, 0), textcoords="offset points",
                        va="center", fontsize=8, color="#777777")
        placed: list[tuple[datetime, float]] = []
        for row in _to_name(dated).sort("params", descending=True).iter_rows(named=True):
            # stagger labels whose points are close (within ~4 months and half a decade) so names do not overprint
            y = math.log10(row["params"])
            near = sum(1 for x0, y0 in placed if abs((row["created_at"] - x0).days) < 120 and abs(y - y0) < 0.6)
            placed.append((row["created_at"], y))
            ax.annotate(label(row["repo_id"], 36), xy=(row["created_at"], row["params"]), xytext=(-8, (8, -16, 22, -30)[near % 4]),
                        textcoords="offset points", ha="right", fontsize=7.5, color="#333333", zorder=4,
                        arrowprops={"arrowstyle": "-", "color": "#999999", "linewidth": 0.6})
        ax.set_title(title)
        ax.set_xlabel("created on the Hub (UTC); catalog entries at their publication date")
        ax.set_ylabel("parameters (log scale)")
        ax.yaxis.set_major_formatter(charts.plt.FuncFormatter(lambda v, _: charts.human(v)))
        # below the axes, not over them: catalog ranges and points fill every corner on real data
        fig.legend(title="architecture class (models)", loc="outside lower center", ncols=3, fontsize=8, title_fontsize=8)
        svg = charts.to_svg(fig, title)
    caption = (f"{dated.height:,} models with a parameter count and a creation date; the largest and most downloaded are named. "
               "Dashed lines: the size bucket edges.")
    return Chart(title, svg, caption)


def _to_name(dated: pl.DataFrame) -> pl.DataFrame:
    """The points worth a name: the largest and the most downloaded with a real creation date (placeholder-dated
    points sit in one column, where names would pile up)."""
    real = dated.filter(~pl.col("created_at_is_floor"))
    big = real.sort(["params", "repo_id"], descending=[True, False]).head(LABELLED // 2)
    popular = real.sort(["downloads", "repo_id"], descending=[True, False], nulls_last=True).head(LABELLED)
    out = pl.concat([big, popular]).unique("repo_id", keep="first", maintain_order=True).head(LABELLED)
    return out.sort("params")


def _bucket_chart(buckets: pl.DataFrame) -> Chart:
    title = "Models per size bucket"
    names = [label(b) for b in buckets["size_bucket"].to_list()]
    counts = buckets["n_models"].to_list()
    with charts.style():
        fig = charts.figure(9, 3.2)
        ax = fig.add_subplot()
        colours = ["#4c78a8"] * len(BUCKETS) + ["#bab0ac"] * (len(names) - len(BUCKETS))
        ax.bar(names, counts, color=colours[: len(names)], width=0.65)
        for x, (n, d) in enumerate(zip(counts, buckets["downloads"].to_list())):
            ax.annotate(f"{n:,}\n{charts.human(d)} dl", xy=(x, n), xytext=(0, 3), textcoords="offset points", ha="center", fontsize=8)
        ax.margins(y=0.25)
        ax.set_title(title)
        ax.set_xlabel("parameters (params_effective, else params_total)")
        ax.set_ylabel("models (count)")
        charts.count_axis(ax.yaxis)
        ax.grid(axis="x", visible=False)
        svg = charts.to_svg(fig, title)
    return Chart(title, svg, "Annotated with the bucket's downloads (30 days). 'unknown': no parameter count on the Hub or from the config.")


def build(ctx: Context) -> Report:
    sizes = ctx.df("SELECT * FROM v_sizes ORDER BY params DESC, repo_id")
    buckets = _buckets(ctx)
    catalog = None
    tables = [
        Table(SLUG, "Models with a known parameter count", sizes, "v_sizes, largest first."),
        Table(f"{SLUG}-buckets", "Size buckets", buckets, "Counts and downloads per v_models size bucket, and the models of unknown size."),
    ]
    notes = []
    from_parent = sizes.filter(pl.col("params_source") == "base-model").height
    if from_parent:  # sizes through lineage: say so (params_note names each parent)
        notes.append(f"{from_parent:,} of these counts are their base model's (params_source = base-model): adapters, "
                     "quantizations and finetunes without a count of their own; an adapter's own weights are not its size.")
    if ctx.catalog_loaded:
        catalog = ctx.df("SELECT name, family, arch_class, date, params_text, params_min, params_max FROM catalog_models ORDER BY date NULLS LAST, name")
        tables.append(Table(f"{SLUG}-catalog", "Catalog sizes", catalog, "catalog_models: size as written and as parsed."))
    else:
        notes.append("Catalog not loaded: the catalog's sizes are not drawn.")
    sections = [
        Section("Size against time", "", charts=[_scatter(sizes, _floor_flag(ctx), catalog)]),
        Section("Size buckets", "", charts=[_bucket_chart(buckets)], tables=[tables[1]]),
        Section("Largest models", "", tables=[tables[0]]),
    ]
    if catalog is not None:
        sections.append(Section("The catalog's sizes", "", tables=[tables[2]]))
    known = int(buckets.filter(pl.col("size_bucket") != "unknown")["n_models"].sum())
    unknown = int(buckets.filter(pl.col("size_bucket") == "unknown")["n_models"].sum())
    headline = {"with_size": known, "unknown_size": unknown, "from_base_model": from_parent}
    headline.update({f"bucket {b}": int(n) for b, n in zip(buckets["size_bucket"].to_list(), buckets["n_models"].to_list()) if b != "unknown"})
    parts = ", ".join(f"{b}: {int(n):,}" for b, n in zip(buckets["size_bucket"].to_list(), buckets["n_models"].to_list()) if b != "unknown")
    summary = f"{known:,} models with a parameter count ({parts}); {unknown:,} unknown"
    if sizes.height:
        summary += f"; largest {sizes['repo_id'][0]} ({charts.human(sizes['params'][0])})"
    return Report(SLUG, "Size axis", summary, headline, sections, tables, notes)
