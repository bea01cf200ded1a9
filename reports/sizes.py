"""Size axis: the catalog's entries named at their parameter counts, the Hub's largest beside them; Hub sizes.

The catalog figure: every catalog entry named at its parameter count (log scale) against its publication date; a
size range (several listed sizes, or "X to Y") is drawn as a range with the name at its top; entries whose size the
catalog does not give sit in a strip below, named too. Beside it, on the same scale, the Hub's largest models per
architecture class (params_effective, else params_total), saying when a count is a config estimate.

Data tables
- ``sizes``: v_sizes as it is (one row per model with a known parameter count).
- ``sizes-buckets``: the five v_models size buckets in order, with counts and downloads, plus the models of
  unknown size.
- ``sizes-catalog``: the catalog's sizes (params_min .. params_max at its publication date), drawn beside.
- ``sizes-hub_largest``: the Hub's largest models per architecture class, as drawn beside the catalog.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

import polars as pl

from reports import charts, labels
from reports.base import Context, Report, Section, Table
from reports.charts import ARCH_COLOURS, Chart, arch_label, label

SLUG = "sizes"
BUCKETS = ("<100M", "100M-1B", "1-10B", "10-100B", ">100B")
THRESHOLDS = (1e8, 1e9, 1e10, 1e11)
RASTER_ABOVE = 3000  # more points than this are drawn as an embedded image inside the SVG
LABELLED = 6
HUB_LARGEST = 3  # Hub models named per architecture class beside the catalog
CLASSES = ("encoder", "decoder", "encoder-decoder", None)
CONFIG_ESTIMATE = "config-estimate"


def _hub_largest(ctx: Context) -> pl.DataFrame:
    return ctx.df(
        f"""SELECT arch_class, repo_id, params, params_source, params_effective, params_total, created_at, downloads
            FROM v_models WHERE {ctx.live} AND params IS NOT NULL
            QUALIFY row_number() OVER (PARTITION BY arch_class ORDER BY params DESC, repo_id) <= {HUB_LARGEST}
            ORDER BY CASE arch_class WHEN 'encoder' THEN 1 WHEN 'decoder' THEN 2 WHEN 'encoder-decoder' THEN 3 ELSE 4 END,
                     params DESC, repo_id"""
    )


def _as_dt(d) -> datetime:
    return datetime(d.year, d.month, d.day)


def _draw_catalog(ax, strip, catalog: pl.DataFrame) -> tuple[list, list, list]:
    """Points/ranges on the size axis, dots on the no-size strip; returns (labels, strip labels, markers).

    Marks are gathered and drawn in one call per kind: a collection per entry would cost seconds per figure."""
    main, below, markers = [], [], []
    dots, tops, ticks, bars, none = (defaultdict(list) for _ in range(5))  # colour -> points
    for i, r in enumerate(catalog.to_dicts()):
        colour = ARCH_COLOURS.get(r["arch_class"], ARCH_COLOURS[None])
        item = labels.Label(_as_dt(r["date"]), 0.5, label(r["name"], 40), colour, f"sizes-entry-{i}")
        hi, lo = r["params_max"], r["params_min"]
        if hi is None:
            none[colour].append((item.x, 0.5))
            below.append(item)
            continue
        if lo is not None and lo < hi:
            bars[colour].append((item.x, lo, hi))
            sizes = [v for v in (r["params_sizes"] or []) if v] or [lo, hi]
            ticks[colour] += [(item.x, v) for v in sizes]
            markers += [(item.x, v) for v in sizes]
        (tops if lo is None else dots)[colour].append((item.x, hi))
        item.y = float(hi)
        markers.append((item.x, hi))
        main.append(item)
    for colour in sorted(set(dots) | set(tops) | set(ticks) | set(bars) | set(none)):
        if bars[colour]:
            xs, lo, hi = zip(*bars[colour])
            ax.vlines(xs, lo, hi, colors=colour, linewidth=2.0, alpha=0.6, zorder=2)
        for points, kw in ((ticks[colour], dict(marker="_", s=40)), (dots[colour], dict(marker="o", s=24)), (tops[colour], dict(marker="v", s=24))):
            if points:
                xs, ys = zip(*points)
                ax.scatter(xs, ys, color=colour, zorder=3 if kw["marker"] == "_" else 4, **kw)
        if none[colour]:
            xs, ys = zip(*none[colour])
            strip.scatter(xs, ys, s=22, color=colour, zorder=3)
    return main, below, markers


def _draw_hub(ax, hub: pl.DataFrame) -> tuple[list, list]:
    present = [c for c in CLASSES if hub.filter(pl.col("arch_class").is_null() if c is None else pl.col("arch_class") == c).height]
    items, markers = [], []
    for x, cls in enumerate(present):
        sub = hub.filter(pl.col("arch_class").is_null() if cls is None else pl.col("arch_class") == cls)
        for r in sub.to_dicts():
            estimate = r["params_source"] == CONFIG_ESTIMATE
            ax.scatter([x], [r["params"]], s=26, color=ARCH_COLOURS[cls], facecolors="white" if estimate else ARCH_COLOURS[cls],
                       edgecolors=ARCH_COLOURS[cls], linewidths=1.1, zorder=4)
            text = label(r["repo_id"], 34) + (" (config estimate)" if estimate else "")
            items.append(labels.Label(x, float(r["params"]), text, "#333333"))
            markers.append((x, r["params"]))
    ax.set_xticks(range(len(present)), [arch_label(c) for c in present], rotation=20, ha="right", fontsize=8)
    ax.set_xlim(-0.4, max(len(present), 1) + 0.9)  # room on the right for the names
    return items, markers


def _catalog_chart(catalog: pl.DataFrame, hub: pl.DataFrame) -> Chart:
    title = "The catalog's size axis, with the Hub's largest models beside it"
    catalog = catalog.filter(pl.col("date").is_not_null()).sort(["date", "name"])
    with charts.style():
        fig = charts.figure(11.5, 8.6)
        axes = fig.subplot_mosaic([["main", "hub"], ["none", "."]], height_ratios=[7.4, 0.7], width_ratios=[3.1, 1.45],
                                  gridspec_kw={"hspace": 0.02})
        ax, hub_ax, strip = axes["main"], axes["hub"], axes["none"]
        strip.sharex(ax)
        hub_ax.sharey(ax)
        ax.set_yscale("log")
        main, below, markers = _draw_catalog(ax, strip, catalog)
        hub_items, hub_markers = _draw_hub(hub_ax, hub)
        for t, name in zip(THRESHOLDS, ("100M", "1B", "10B", "100B")):
            for a in (ax, hub_ax):
                a.axhline(t, color="#cccccc", linewidth=0.7, linestyle="--", zorder=1)
        ax.margins(x=0.06, y=0.08)
        ax.set_title(title)
        ax.set_ylabel("parameters (log scale)")
        ax.yaxis.set_major_formatter(charts.plt.FuncFormatter(lambda v, _: charts.human(v)))
        ax.tick_params(labelbottom=False)
        hub_ax.set_title("Hub: largest per class", fontsize=10)
        hub_ax.tick_params(labelleft=False)
        hub_ax.grid(axis="x", visible=False)
        strip.set_ylim(0, 1)
        strip.set_yticks([0.5], ["size not\ngiven"], fontsize=8)
        strip.grid(False)
        strip.set_xlabel("publication date (catalog)")
        labels.freeze_layout(fig)
        labels.place(ax, sorted(main, key=lambda i: -i.y), markers=markers)
        labels.place(strip, below, markers=[(i.x, i.y) for i in below], candidates=labels.offsets(steps=1, step=7))
        labels.place(hub_ax, hub_items, fontsize=7, markers=hub_markers, candidates=labels.offsets(steps=3, step=8)[::2])
        svg = charts.to_svg(fig, title)
    n_est = int((hub["params_source"] == CONFIG_ESTIMATE).sum())
    caption = (f"All {catalog.height} catalog entries, coloured by architecture class (blue encoder, red decoder, green encoder-decoder, "
               "grey unclassified): a dot at the size, a bar for a range of listed sizes (name at its top), ▼ for an upper bound only; "
               f"{len(below)} entries whose size the catalog does not give sit in the strip below. Right: the Hub's {HUB_LARGEST} largest "
               "models per architecture class by params_effective (else params_total)")
    caption += f"; hollow marks and '(config estimate)': {n_est} counts estimated from config.json." if n_est else "."
    return Chart(title, svg, caption)


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


def _points(ctx: Context) -> pl.DataFrame:
    """What the scatter draws and names: one narrow row per dated model with a size, not v_sizes whole."""
    return ctx.df("""SELECT s.repo_id, s.created_at, s.params, s.arch_class, s.downloads,
                            coalesce(t.created_at_is_floor, false) AS created_at_is_floor
                     FROM v_sizes s LEFT JOIN v_timeline t USING (repo_id)
                     WHERE s.created_at IS NOT NULL AND s.params > 0""")


def _scatter(dated: pl.DataFrame) -> Chart:
    title = "Parameter count against creation date"
    if dated.is_empty():
        return Chart(title, charts.empty_chart(title, "no model has both a parameter count and a creation date"))
    dated = dated.with_columns(
        (pl.col("created_at").dt.epoch("us") / 86_400_000_000).alias("x"),  # matplotlib's date numbers: days since 1970
    )
    raster = dated.height > RASTER_ABOVE
    # markers through Line2D (Agg stamps one cached marker): a scatter collection costs ~10 s at 500k points;
    # many points are small, edgeless and rasterized
    size, edge = (2.2, 0.0) if raster else (5.1, 0.5)
    with charts.style():
        fig = charts.figure(10, 6.2)
        ax = fig.add_subplot()
        ax.xaxis_date()
        ax.set_yscale("log")
        for cls in ("encoder", "decoder", "encoder-decoder", None):
            sub = dated.filter(pl.col("arch_class").is_null() if cls is None else pl.col("arch_class") == cls)
            if sub.is_empty():
                continue
            real = sub.filter(~pl.col("created_at_is_floor"))
            old = sub.filter(pl.col("created_at_is_floor"))
            n, colour = sub.height, ARCH_COLOURS[cls]
            if real.height:
                ax.plot(real["x"].to_numpy(), real["params"].to_numpy(), linestyle="none", marker="o", markersize=size,
                        color=colour, alpha=0.8, markeredgecolor="white" if edge else colour, markeredgewidth=edge,
                        label=f"{arch_label(cls)} ({n:,})", rasterized=raster, zorder=3)
            if old.height:
                ax.plot(old["x"].to_numpy(), old["params"].to_numpy(), linestyle="none", marker="o", markersize=size,
                        markerfacecolor="none", markeredgecolor=colour, markeredgewidth=0.6 if raster else 1.1,
                        label=None if real.height else f"{arch_label(cls)} ({n:,})", rasterized=raster, zorder=3)
        if dated["created_at_is_floor"].any():
            ax.scatter([], [], s=26, facecolors="none", edgecolors="#666666", label="hollow: created on or before 2022-03-02")
        for t, name in zip(THRESHOLDS, ("100M", "1B", "10B", "100B")):
            ax.axhline(t, color="#bbbbbb", linewidth=0.8, linestyle="--", zorder=1)
            ax.annotate(name, xy=(1, t), xycoords=("axes fraction", "data"), xytext=(3, 0), textcoords="offset points",
                        va="center", fontsize=8, color="#777777")
        ax.set_title(title)
        ax.set_xlabel("created on the Hub (UTC)")
        ax.set_ylabel("parameters (log scale)")
        ax.yaxis.set_major_formatter(charts.plt.FuncFormatter(lambda v, _: charts.human(v)))
        # below the axes, not over them: points fill every corner on real data
        fig.legend(title="architecture class (models)", loc="outside lower center", ncols=3, fontsize=8, title_fontsize=8)
        named = _to_name(dated).sort(["params", "repo_id"], descending=[True, False])
        items = [labels.Label(x, float(p), label(r, 36), "#333333") for x, p, r in named.select("x", "params", "repo_id").iter_rows()]
        labels.freeze_layout(fig)
        labels.place(ax, items, markers=[(i.x, i.y) for i in items], candidates=labels.offsets(steps=5, step=10))
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
    buckets = _buckets(ctx)
    catalog = None
    tables = [
        ctx.query_table(SLUG, "Models with a known parameter count", "SELECT * FROM v_sizes ORDER BY params DESC, repo_id", "v_sizes, largest first."),
        Table(f"{SLUG}-buckets", "Size buckets", buckets, "Counts and downloads per v_models size bucket, and the models of unknown size."),
    ]
    notes = []
    from_parent = ctx.scalar("SELECT count(*) FROM v_sizes WHERE params_source = 'base-model'")
    if from_parent:  # sizes through lineage: say so (params_note names each parent)
        notes.append(f"{from_parent:,} of these counts are their base model's (params_source = base-model): adapters, "
                     "quantizations and finetunes without a count of their own; an adapter's own weights are not its size.")
    if ctx.catalog_loaded:
        catalog = ctx.df("""SELECT name, family, arch_class, date, params_text, params_min, params_max, params_sizes, params_kind
                            FROM catalog_models ORDER BY date NULLS LAST, name""")
        tables.append(Table(f"{SLUG}-catalog", "Catalog sizes", catalog, "catalog_models: size as written and as parsed."))
    else:
        notes.append("Catalog not loaded: the catalog's sizes are not drawn.")
    sections = []
    if catalog is not None:
        hub = _hub_largest(ctx)
        tables.append(Table(f"{SLUG}-hub_largest", "The Hub's largest models per architecture class", hub,
                            f"The {HUB_LARGEST} largest per arch_class by params (params_effective, else params_total), as drawn beside the catalog."))
        sections.append(Section("The catalog's size axis", "Every catalog entry at its parameter count, and the Hub's largest models beside them.",
                                charts=[_catalog_chart(catalog, hub)], anchor="catalog-sizes"))
    sections += [
        Section("Hub: size against time", "", charts=[_scatter(_points(ctx))]),
        Section("Size buckets", "", charts=[_bucket_chart(buckets)], tables=[tables[1]]),
        Section("Largest models", "", tables=[tables[0]]),
    ]
    if catalog is not None:
        sections.append(Section("The catalog's sizes", "", tables=[tables[2], tables[3]]))
    known = int(buckets.filter(pl.col("size_bucket") != "unknown")["n_models"].sum())
    unknown = int(buckets.filter(pl.col("size_bucket") == "unknown")["n_models"].sum())
    headline = {"with_size": known, "unknown_size": unknown, "from_base_model": from_parent}
    headline.update({f"bucket {b}": int(n) for b, n in zip(buckets["size_bucket"].to_list(), buckets["n_models"].to_list()) if b != "unknown"})
    parts = ", ".join(f"{b}: {int(n):,}" for b, n in zip(buckets["size_bucket"].to_list(), buckets["n_models"].to_list()) if b != "unknown")
    summary = f"{known:,} models with a parameter count ({parts}); {unknown:,} unknown"
    largest = tables[0].frame  # the preview: v_sizes largest first
    if largest.height:
        summary += f"; largest {largest['repo_id'][0]} ({charts.human(largest['params'][0])})"
    return Report(SLUG, "Size axis", summary, headline, sections, tables, notes)
