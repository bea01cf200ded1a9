"""Taxonomy: Hub models by architecture class × pipeline tag × family (model_type), the catalog's view beside.

Data tables
- ``taxonomy``: v_taxonomy summed over library_name, one row per (arch_class, pipeline_tag, model_type), with
  the catalog entries, families, pretraining tasks and arch classes matched (catalog_matches.confident) to the group.
- ``taxonomy-arch_class``: Hub models and downloads per arch_class beside catalog entries per arch_class.
- ``taxonomy-catalog``: catalog entries per arch_class × pretraining task × family, with the Hub repos matched.
- ``taxonomy-grid``: the catalog's taxonomy grid: architecture class × pretraining-task class (Pretraining Task read
  through warehouse/catalog/vocabulary.yaml ``pretraining_task_classes``), each cell's entries and the Hub repos of
  the matched families (confident matches and their lineage descendants) with their downloads.
"""

from __future__ import annotations

import textwrap

import polars as pl

from reports import catalog_hub, catalog_text, charts
from reports.base import CONFIDENT, Context, Report, Section, Table
from reports.charts import ARCH_COLOURS, CATALOG_COLOUR, HUB_COLOUR, Chart, arch_label, label

SLUG = "taxonomy"
TOP_TAGS = 15
GRID_CLASSES = ("encoder", "decoder", "encoder-decoder", None)
CELL_FONT = 7.5


def _grid(ctx: Context) -> pl.DataFrame:
    """arch_class × task_class: the cell's entries, and the Hub repos reached from their matches (counted once)."""
    entries = catalog_hub.catalog_entries(ctx).select("name", "arch_class", "task_class", "date")
    reach = catalog_hub.reach(ctx).join(entries.rename({"name": "catalog_name"}), on="catalog_name")
    hub = reach.unique(["arch_class", "task_class", "repo_id"]).group_by("arch_class", "task_class").agg(
        pl.len().cast(pl.Int64).alias("hub_repos"), pl.col("downloads").sum().cast(pl.Int64).alias("hub_downloads"))
    cells = entries.sort(["date", "name"], nulls_last=True).group_by("arch_class", "task_class", maintain_order=True).agg(
        pl.len().cast(pl.Int64).alias("catalog_entries"), pl.col("name").alias("entries"))
    order = {t: i for i, t in enumerate(catalog_text.task_order())}
    arch = {a: i for i, a in enumerate(GRID_CLASSES)}
    return (
        cells.join(hub, on=["arch_class", "task_class"], how="left", nulls_equal=True)
        .with_columns(pl.col("hub_repos").fill_null(0), pl.col("hub_downloads").fill_null(0))
        .with_columns(pl.col("arch_class").replace_strict(arch, default=len(arch), return_dtype=pl.Int64).alias("_a"),
                      pl.col("task_class").replace_strict(order, default=len(order), return_dtype=pl.Int64).alias("_t"))
        .sort(["_a", "_t"]).drop("_a", "_t")
    )


def _grid_chart(grid: pl.DataFrame) -> Chart:
    """The catalog's taxonomy as a grid of architecture class × pretraining task, each cell naming its entries."""
    title = "The catalog's taxonomy: architecture × pretraining task, with the Hub's matched families"
    tasks = [t for t in catalog_text.task_order() if t in set(grid["task_class"].to_list())]
    rows = [a for a in GRID_CLASSES if grid.filter(pl.col("arch_class").is_null() if a is None else pl.col("arch_class") == a).height]
    col_in = 11.0 / max(len(tasks), 1)
    chars = max(12, int(col_in * 72 / (CELL_FONT * 0.52)))
    cell = {(r["arch_class"], r["task_class"]): r for r in grid.to_dicts()}
    wrapped = {k: textwrap.wrap(", ".join(label(n, 40) for n in v["entries"]), chars) for k, v in cell.items()}
    heights = [max([len(wrapped.get((a, t), [])) for t in tasks] + [1]) + 1.6 for a in rows]
    with charts.style():
        fig = charts.figure(12.5, 0.135 * sum(heights) + 1.4)
        ax = fig.add_subplot()
        ax.set_xlim(0, len(tasks))
        ax.set_ylim(0, sum(heights))
        ax.invert_yaxis()
        ax.grid(False)
        for side in ("top", "right", "bottom", "left"):
            ax.spines[side].set_visible(False)
        y = 0.0
        for a, h in zip(rows, heights):
            for x, t in enumerate(tasks):
                c = cell.get((a, t))
                ax.add_patch(charts.plt.Rectangle((x, y), 1, h, facecolor=ARCH_COLOURS.get(a, ARCH_COLOURS[None]) if c else "white",
                                                  alpha=0.13 if c else 1, edgecolor="#d0d7de", linewidth=0.8))
                if c:
                    ax.text(x + 0.04, y + 0.35, "\n".join(wrapped[(a, t)]), va="top", ha="left", fontsize=CELL_FONT, color="#1f2328",
                            linespacing=1.15, gid=f"grid-cell-{a or 'none'}-{t}".replace(" ", "_").replace("/", "_"))
                    hub = f"Hub: {charts.plural(c['hub_repos'], 'repo')} · {charts.human(c['hub_downloads'])} dl" if c["hub_repos"] else "no Hub match"
                    ax.text(x + 0.04, y + h - 0.3, hub, va="bottom", ha="left", fontsize=7, color=HUB_COLOUR if c["hub_repos"] else "#8c959f")
            y += h
        ax.set_xticks([x + 0.5 for x in range(len(tasks))], [label(t, 24) for t in tasks], fontsize=8.5)
        ax.xaxis.tick_top()
        ax.tick_params(length=0)
        starts = [sum(heights[:i]) for i in range(len(rows))]
        ax.set_yticks([s + h / 2 for s, h in zip(starts, heights)], [arch_label(a) if a else "no single class" for a in rows], fontsize=9)
        ax.set_title(title, pad=26)
        svg = charts.to_svg(fig, title)
    caption = ("Rows: the catalog's pretraining architecture; columns: its Pretraining Task, read through "
               "warehouse/catalog/vocabulary.yaml (pretraining_task_classes; 'other' = a text not listed there, 'not given' = empty). "
               f"Each cell names its entries by date and counts the Hub repos matched to them (confidence ≥ {CONFIDENT}) "
               "plus their lineage descendants, with those repos' downloads (30 days).")
    return Chart(title, svg, caption)


def _hub_groups(ctx: Context) -> pl.DataFrame:
    cat_cols = ""
    cat_join = ""
    if ctx.catalog_loaded:
        cat_cols = """, cat.catalog_entries, cat.catalog_families, cat.catalog_pretraining_tasks, cat.catalog_arch_classes"""
        cat_join = f"""
        LEFT JOIN (
            SELECT m.arch_class, m.pipeline_tag, m.model_type,
                   string_agg(DISTINCT c.name, '; ' ORDER BY c.name) AS catalog_entries,
                   string_agg(DISTINCT c.family, '; ' ORDER BY c.family) AS catalog_families,
                   string_agg(DISTINCT c.pretraining_task, '; ' ORDER BY c.pretraining_task) AS catalog_pretraining_tasks,
                   string_agg(DISTINCT c.arch_class, '; ' ORDER BY c.arch_class) AS catalog_arch_classes
            FROM v_models m
            JOIN catalog_matches x ON x.repo_id = m.repo_id AND x.confident
            JOIN catalog_models c ON c.name = x.catalog_name
            WHERE m.{ctx.live}
            GROUP BY ALL
        ) cat ON cat.arch_class IS NOT DISTINCT FROM hub.arch_class
             AND cat.pipeline_tag IS NOT DISTINCT FROM hub.pipeline_tag
             AND cat.model_type IS NOT DISTINCT FROM hub.model_type"""
    return ctx.df(
        f"""
        SELECT hub.arch_class, hub.pipeline_tag, hub.model_type, hub.n_models, hub.downloads, hub.likes{cat_cols}
        FROM (
            SELECT arch_class, pipeline_tag, model_type,
                   CAST(sum(n_models) AS BIGINT) AS n_models,
                   CAST(sum(downloads) AS BIGINT) AS downloads,
                   CAST(sum(likes) AS BIGINT) AS likes
            FROM v_taxonomy GROUP BY ALL
        ) hub {cat_join}
        ORDER BY hub.n_models DESC, hub.downloads DESC NULLS LAST, hub.arch_class NULLS LAST, hub.pipeline_tag NULLS LAST,
                 hub.model_type NULLS LAST"""
    )


def _arch_compare(ctx: Context) -> pl.DataFrame:
    catalog = (
        "SELECT arch_class, count(*) AS catalog_entries FROM catalog_models GROUP BY ALL"
        if ctx.catalog_loaded
        else "SELECT NULL::VARCHAR AS arch_class, NULL::BIGINT AS catalog_entries WHERE FALSE"
    )
    return ctx.df(
        f"""
        WITH hub AS (
            SELECT arch_class, CAST(sum(n_models) AS BIGINT) AS hub_models, CAST(sum(downloads) AS BIGINT) AS hub_downloads
            FROM v_taxonomy GROUP BY ALL
        ), cat AS ({catalog})
        SELECT coalesce(hub.arch_class, cat.arch_class) AS arch_class,
               coalesce(hub.hub_models, 0) AS hub_models, coalesce(hub.hub_downloads, 0) AS hub_downloads,
               coalesce(cat.catalog_entries, 0) AS catalog_entries
        FROM hub FULL JOIN cat ON hub.arch_class IS NOT DISTINCT FROM cat.arch_class
        ORDER BY CASE coalesce(hub.arch_class, cat.arch_class)
                 WHEN 'encoder' THEN 1 WHEN 'decoder' THEN 2 WHEN 'encoder-decoder' THEN 3 ELSE 4 END"""
    )


def _catalog_view(ctx: Context) -> pl.DataFrame:
    return ctx.df(
        f"""
        WITH matched AS (
            SELECT DISTINCT c.arch_class, c.pretraining_task, c.family, m.repo_id, m.downloads
            FROM catalog_models c
            JOIN catalog_matches x ON x.catalog_name = c.name AND x.confident
            JOIN v_models m ON m.repo_id = x.repo_id AND m.{ctx.live}
        ), entries AS (
            SELECT arch_class, pretraining_task, family, count(*) AS catalog_entries,
                   string_agg(name, '; ' ORDER BY name) AS entries
            FROM catalog_models GROUP BY ALL
        ), hub AS (
            SELECT arch_class, pretraining_task, family, count(*) AS hub_repos_matched,
                   CAST(sum(downloads) AS BIGINT) AS hub_downloads_matched
            FROM matched GROUP BY ALL
        )
        SELECT e.arch_class, e.pretraining_task, e.family, e.catalog_entries, e.entries,
               coalesce(h.hub_repos_matched, 0) AS hub_repos_matched, coalesce(h.hub_downloads_matched, 0) AS hub_downloads_matched
        FROM entries e LEFT JOIN hub h
          ON h.arch_class IS NOT DISTINCT FROM e.arch_class AND h.pretraining_task IS NOT DISTINCT FROM e.pretraining_task
         AND h.family IS NOT DISTINCT FROM e.family
        ORDER BY e.catalog_entries DESC, h.hub_downloads_matched DESC NULLS LAST, e.family NULLS LAST, e.pretraining_task NULLS LAST"""
    )


def _tag_chart(groups: pl.DataFrame) -> Chart:
    title = "Hub models by pipeline tag, split by architecture class"
    if groups.is_empty():
        return Chart(title, charts.empty_chart(title, "no models in the warehouse"))
    none_tag = "(no pipeline tag)"
    by = groups.with_columns(pl.col("pipeline_tag").fill_null(none_tag).alias("tag"))
    totals = by.group_by("tag").agg(pl.col("n_models").sum().alias("t")).sort(["t", "tag"], descending=[True, False])
    top = totals.head(TOP_TAGS)["tag"].to_list()
    rest = totals.height - len(top)
    other_tag = f"(other {rest} tags)"
    by = (
        by.with_columns(pl.when(pl.col("tag").is_in(top)).then(pl.col("tag")).otherwise(pl.lit(other_tag)).alias("tag"))
        .group_by("tag", "arch_class")
        .agg(pl.col("n_models").sum())
    )
    order = by.group_by("tag").agg(pl.col("n_models").sum().alias("t")).sort(["t", "tag"], descending=[False, True])["tag"].to_list()
    # the catch-all bars ("(no pipeline tag)", "(other N tags)") go last (drawn at the bottom), not among the real tags
    catch_all = [t for t in (none_tag, other_tag) if t in order]  # a real tag spelled the same is counted in it anyway
    order = catch_all[::-1] + [t for t in order if t not in catch_all]
    with charts.style():
        fig = charts.figure(9, 0.34 * len(order) + 2.1)
        ax = fig.add_subplot()
        left = [0] * len(order)
        for cls in ("encoder", "decoder", "encoder-decoder", None):
            sub = by.filter(pl.col("arch_class").is_null() if cls is None else pl.col("arch_class") == cls)
            counts = dict(zip(sub["tag"].to_list(), sub["n_models"].to_list()))
            values = [counts.get(t, 0) for t in order]
            if not any(values):
                continue
            ax.barh([label(t, 40) for t in order], values, left=left, color=ARCH_COLOURS[cls], label=arch_label(cls), height=0.7)
            left = [a + b for a, b in zip(left, values)]
        for y, total in enumerate(left):
            ax.text(total, y, f" {total:,}", va="center", fontsize=8, color="#444444")
        ax.set_title(title)
        ax.set_xlabel("models on the Hub (count)")
        charts.count_axis(ax.xaxis)
        ax.grid(axis="y", visible=False)
        # below the axes: inside, it covers the longest bars whichever corner it takes
        fig.legend(title="architecture class", loc="outside lower center", ncols=4, fontsize=8.5, title_fontsize=8.5)
        svg = charts.to_svg(fig, title)
    return Chart(title, svg, f"Top {min(TOP_TAGS, totals.height)} pipeline tags by number of models; the rest are grouped.")


def _arch_chart(arch: pl.DataFrame, catalog_loaded: bool) -> Chart:
    title = "Architecture classes: the Hub beside the catalog"
    if arch.is_empty():
        return Chart(title, charts.empty_chart(title, "no models in the warehouse"))
    names = [arch_label(a) for a in arch["arch_class"].to_list()]
    colours = [ARCH_COLOURS.get(a, ARCH_COLOURS[None]) for a in arch["arch_class"].to_list()]
    with charts.style():
        fig = charts.figure(9, 2.9)
        axes = fig.subplots(1, 3 if catalog_loaded else 2)
        panels = [("hub_models", "Hub models", HUB_COLOUR), ("hub_downloads", "Hub downloads (30 days)", HUB_COLOUR)]
        if catalog_loaded:
            panels.append(("catalog_entries", "catalog entries", CATALOG_COLOUR))
        for ax, (col, name, _) in zip(axes, panels):
            values = arch[col].to_list()
            ax.barh(names[::-1], values[::-1], color=colours[::-1], height=0.65)
            ax.set_title(name, fontsize=10)
            ax.set_xlabel("count" if col != "hub_downloads" else "downloads")
            if col == "hub_downloads":
                charts.human_axis(ax.xaxis)
            else:
                charts.count_axis(ax.xaxis, nbins=4)  # a third of the width: more ticks would crowd
            ax.grid(axis="y", visible=False)
            for y, v in enumerate(values[::-1]):
                ax.text(v, y, f" {charts.human(v)}", va="center", fontsize=8, color="#444444")
            ax.margins(x=0.25)
        fig.suptitle(title, x=0.01, ha="left", fontweight="bold", fontsize=12)
        svg = charts.to_svg(fig, title)
    caption = "The catalog classifies each entry's pretraining architecture; the Hub's class comes from model_type/architectures."
    return Chart(title, svg, caption if catalog_loaded else "Catalog not loaded: Hub side only.")


def build(ctx: Context) -> Report:
    groups = _hub_groups(ctx)
    arch = _arch_compare(ctx)
    n_models = int(groups["n_models"].sum() or 0)
    downloads = int(groups["downloads"].sum() or 0)
    n_types = groups["model_type"].drop_nulls().n_unique()
    n_tags = groups["pipeline_tag"].drop_nulls().n_unique()
    tables = [
        Table(SLUG, "Models by arch class × pipeline tag × family (model_type)", groups,
              f"v_taxonomy summed over library_name; catalog columns list the catalog entries matched (confidence ≥ {CONFIDENT}) to the group's repos.",
              preview_rows=60),
        Table(f"{SLUG}-arch_class", "Architecture classes: Hub vs catalog", arch, "Hub models/downloads from v_taxonomy; catalog entries from catalog_models."),
    ]
    sections = []
    if ctx.catalog_loaded:
        grid = _grid(ctx)
        tables.append(Table(f"{SLUG}-grid", "The catalog's taxonomy grid: arch class × pretraining task", grid,
                            "Catalog entries per cell (by date) and the Hub repos matched to them or descending from those, with their downloads."))
        sections.append(Section("The catalog's taxonomy", "The catalog's models classed by pretraining architecture × pretraining task, the Hub laid over each cell.",
                                charts=[_grid_chart(grid)], tables=[tables[-1]], anchor="catalog-grid"))
    sections += [
        Section("Pipeline tags", "What the Hub's models are for, and which transformer class each belongs to.", charts=[_tag_chart(groups)]),
        Section("Architecture classes", "", charts=[_arch_chart(arch, ctx.catalog_loaded)], tables=[tables[1]]),
        Section("Architecture class × pipeline tag × family", "One row per group; the catalog's view beside the Hub's.", tables=[tables[0]]),
    ]
    notes = []
    if ctx.catalog_loaded:
        cat = _catalog_view(ctx)
        tables.append(Table(f"{SLUG}-catalog", "Catalog: arch class × pretraining task × family", cat,
                            f"catalog_models grouped, with the Hub repos matched to the group's entries (confidence ≥ {CONFIDENT})."))
        sections.append(Section("The catalog's taxonomy by family", "How the catalog classifies its entries, and how much of each group the Hub holds.", tables=[tables[-1]]))
    else:
        notes.append("Catalog not loaded: only the Hub's side of the taxonomy is shown.")
    top_class = arch.sort("hub_models", descending=True).head(1)
    headline = {"models": n_models, "downloads": downloads, "model_types": n_types, "pipeline_tags": n_tags}
    summary = f"{n_models:,} models in {n_types:,} model types and {n_tags:,} pipeline tags"
    if not top_class.is_empty():
        summary += f"; largest class: {arch_label(top_class['arch_class'][0])} ({int(top_class['hub_models'][0]):,})"
    return Report(SLUG, "Taxonomy", summary, headline, sections, tables, notes)
