"""Family tree: the catalog's family tree with the Hub over it, and each base model's lineage on the Hub.

The catalog tree and the Hub sub-trees of its largest families are laid out by Graphviz ``dot``
(reports.family_graph, reports.graphviz); without ``dot`` the page says so and keeps their tables.

A *family* is a root of v_lineage: a parent that is nobody's child. Every repo reachable from it through
child -> parent edges belongs to it (a merge of two families belongs to both). Counting is SQL over v_lineage.

Data tables
- ``family_tree``: one row per family: descendants, edges per relation, downloads, most downloaded descendant,
  and the catalog's family for the root (matched with confidence >= BET, warehouse/matching.py).
- ``family_tree-edges``: every edge with its family root and depth (1 = a direct child of the root).
- ``family_tree-catalog_tree``: the catalog tree's data: one row per catalog entry with its family branch, family
  root, the entries its Extension text derives it from, its confident Hub matches and their Hub descendants.
- ``family_tree-catalog_families``: the catalog's grouping: each catalog family, its entries, the Hub repos
  matched to them and the Hub families (lineage roots) those repos sit in.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from reports import catalog_hub, charts, family_graph, graphviz
from reports.base import CONFIDENT, Context, Report, Section, Table
from reports.charts import RELATION_COLOURS, Chart, label

SLUG = "family_tree"
RELATIONS = ("finetune", "adapter", "quantized", "merge", "base")
TREES = 6  # families drawn as trees
NODES_PER_TREE = 14  # most downloaded descendants drawn per tree (plus the path to the root)
MAX_DEPTH = 12
SUBTREES = 4  # catalog families drawn as Hub sub-trees (most Hub descendants first)
TREE_COLUMNS = ("name", "family", "branch", "other_branches", "family_root", "derives_from", "date", "arch_class",
                "hub_repos_matched", "hub_descendants", "hub_downloads", "matched_repos")

_FAMILY_EDGES = f"""
WITH RECURSIVE edges AS (
    SELECT child_id, parent_id, min(relation) AS relation, max(child_downloads) AS child_downloads
    FROM v_lineage WHERE child_id <> parent_id GROUP BY child_id, parent_id
), walk(root_id, node, depth) AS (
    SELECT DISTINCT parent_id, parent_id, 0 FROM edges
    WHERE parent_id NOT IN (SELECT child_id FROM edges)
    UNION
    SELECT w.root_id, e.child_id, w.depth + 1
    FROM walk w JOIN edges e ON e.parent_id = w.node
    WHERE w.depth < {MAX_DEPTH}
), member AS (
    SELECT root_id, node, min(depth) AS depth FROM walk GROUP BY root_id, node
)
SELECT m.root_id, e.child_id, e.parent_id, e.relation, m.depth, e.child_downloads
FROM member m JOIN edges e ON e.child_id = m.node
JOIN member p ON p.root_id = m.root_id AND p.node = e.parent_id
"""


def _edges(ctx: Context) -> pl.DataFrame:
    return ctx.df(_FAMILY_EDGES + " ORDER BY m.root_id, m.depth, e.child_downloads DESC NULLS LAST, e.child_id, e.parent_id")


def _families(ctx: Context) -> pl.DataFrame:
    rel_cols = ",\n".join(f"count(*) FILTER (WHERE relation = '{r}') AS {r}" for r in RELATIONS)
    catalog = ""
    catalog_join = ""
    if ctx.catalog_loaded:
        catalog = ", cat.catalog_family, cat.catalog_entries"
        catalog_join = """
        LEFT JOIN (
            SELECT x.repo_id, string_agg(DISTINCT c.family, '; ' ORDER BY c.family) AS catalog_family,
                   string_agg(DISTINCT c.name, '; ' ORDER BY c.name) AS catalog_entries
            FROM catalog_matches x JOIN catalog_models c ON c.name = x.catalog_name
            WHERE x.confident GROUP BY x.repo_id
        ) cat ON cat.repo_id = f.root_id"""
    return ctx.df(
        f"""
        WITH fe AS ({_FAMILY_EDGES}),
        kids AS (  -- one row per (family, descendant)
            SELECT root_id, child_id, any_value(child_downloads) AS downloads, min(depth) AS depth
            FROM fe GROUP BY root_id, child_id
        ), per_family AS (
            SELECT root_id, count(*) AS descendants, count(*) FILTER (WHERE depth = 1) AS direct_children,
                   max(depth) AS generations, CAST(coalesce(sum(downloads), 0) AS BIGINT) AS descendant_downloads,
                   arg_max(child_id, struct_pack(d := coalesce(downloads, -1), c := child_id)) AS top_child,
                   max(downloads) AS top_child_downloads
            FROM kids GROUP BY root_id
        ), per_relation AS (
            SELECT root_id, {rel_cols} FROM fe GROUP BY root_id
        )
        SELECT f.root_id, r.repo_id IS NOT NULL AS root_in_warehouse, r.model_type AS root_model_type,
               r.downloads AS root_downloads, f.descendants, f.direct_children, f.generations,
               {", ".join("pr." + x for x in RELATIONS)},
               f.descendant_downloads, f.top_child, f.top_child_downloads{catalog}
        FROM per_family f JOIN per_relation pr USING (root_id)
        LEFT JOIN v_models r ON r.repo_id = f.root_id {catalog_join}
        ORDER BY f.descendants DESC, f.descendant_downloads DESC, f.root_id"""
    )


def _catalog_families(ctx: Context) -> pl.DataFrame:
    return ctx.df(
        f"""
        WITH fe AS ({_FAMILY_EDGES}),
        membership AS (  -- the lineage families a repo sits in (a root is in its own)
            SELECT DISTINCT child_id AS repo_id, root_id FROM fe
            UNION SELECT DISTINCT root_id, root_id FROM fe
        ), matched AS (
            SELECT DISTINCT c.family, x.repo_id
            FROM catalog_models c
            JOIN catalog_matches x ON x.catalog_name = c.name AND x.confident
        ), per_family AS (
            SELECT mt.family, count(*) AS hub_repos_matched, CAST(coalesce(sum(m.downloads), 0) AS BIGINT) AS hub_downloads_matched
            FROM matched mt LEFT JOIN v_models m ON m.repo_id = mt.repo_id
            GROUP BY mt.family
        ), roots AS (
            SELECT mt.family, string_agg(DISTINCT ms.root_id, '; ' ORDER BY ms.root_id) AS hub_lineage_roots
            FROM matched mt JOIN membership ms ON ms.repo_id = mt.repo_id
            GROUP BY mt.family
        ), entries AS (
            SELECT family, count(*) AS catalog_entries, string_agg(name, '; ' ORDER BY name) AS entries
            FROM catalog_models GROUP BY family
        )
        SELECT e.family AS catalog_family, e.catalog_entries, e.entries,
               coalesce(f.hub_repos_matched, 0) AS hub_repos_matched,
               coalesce(f.hub_downloads_matched, 0) AS hub_downloads_matched, r.hub_lineage_roots
        FROM entries e
        LEFT JOIN per_family f ON f.family IS NOT DISTINCT FROM e.family
        LEFT JOIN roots r ON r.family IS NOT DISTINCT FROM e.family
        ORDER BY hub_repos_matched DESC, e.catalog_entries DESC, e.family NULLS LAST"""
    )


@dataclass
class DrawnTree:
    """The part of a family drawn: each node's generation, its one drawn parent, its downloads, its children."""

    depth: dict[str, int]
    parent_of: dict[str, tuple[str, str]]  # node -> (parent, relation)
    downloads: dict[str, int | None]
    children: dict[str, list[str]]


def _drawn_tree(root: str, edges: pl.DataFrame) -> DrawnTree:
    """The most downloaded descendants, each with one parent a generation up, and the paths to the root."""
    kids = (
        edges.group_by("child_id").agg(pl.col("child_downloads").first(), pl.col("depth").min())
        .sort(["child_downloads", "child_id"], descending=[True, False], nulls_last=True)
    )
    shown = set(kids.head(NODES_PER_TREE)["child_id"].to_list())
    depth = dict(zip(kids["child_id"].to_list(), kids["depth"].to_list()))
    depth[root] = 0
    dl = dict(zip(kids["child_id"].to_list(), kids["child_downloads"].to_list()))
    parent_of: dict[str, tuple[str, str]] = {}  # one drawn parent per node, so the drawing is a tree
    for row in edges.sort(["child_id", "parent_id"]).iter_rows(named=True):
        c, p = row["child_id"], row["parent_id"]
        if depth.get(p, -9) != depth[c] - 1:
            continue
        best = parent_of.get(c)
        if best is None or (dl.get(p) or -1) > (dl.get(best[0]) or -1):
            parent_of[c] = (p, row["relation"])
    frontier = list(shown)
    while frontier:  # keep the path to the root of every node drawn
        node = frontier.pop()
        if node in parent_of:
            p = parent_of[node][0]
            if p != root and p not in shown:
                shown.add(p)
                frontier.append(p)
    children: dict[str, list[str]] = {}
    for c in shown:
        if c in parent_of:
            children.setdefault(parent_of[c][0], []).append(c)
    for v in children.values():
        v.sort(key=lambda c: (-(dl.get(c) or -1), c))
    return DrawnTree(depth, parent_of, dl, children)


def _rows(root: str, children: dict[str, list[str]]) -> tuple[dict[str, float], int]:
    """Layered layout: leaves in depth-first order, a parent centred on its children; (row of each node, rows)."""
    ypos: dict[str, float] = {}
    counter = [0]

    def place(node: str) -> float:
        kids = children.get(node, [])
        if not kids:
            ypos[node] = counter[0]
            counter[0] += 1
        else:
            ys = [place(k) for k in kids]
            ypos[node] = (ys[0] + ys[-1]) / 2
        return ypos[node]

    place(root)
    return ypos, max(counter[0], 1)


def _draw_edges(ax, tree: DrawnTree, ypos: dict[str, float]) -> None:
    for node, y in ypos.items():
        if node in tree.parent_of and tree.parent_of[node][0] in ypos:
            p, rel = tree.parent_of[node]
            x0, y0, x1 = tree.depth[p], ypos[p], tree.depth[node]
            xm = x1 - 0.08  # elbow just before the child: the line runs between the parent's name and its subtitle
            ax.plot([x0, xm, xm], [y0, y0, y], color="#b8b8b8", linewidth=1.2, solid_joinstyle="round", zorder=1)
            ax.plot([xm, x1], [y, y], color=RELATION_COLOURS.get(rel, "#999999"), linewidth=1.8, zorder=1)


def _draw_nodes(ax, root: str, fam: dict, tree: DrawnTree, ypos: dict[str, float], chars: int) -> None:
    for node, y in ypos.items():
        x = tree.depth[node]
        if node == root:
            colour = "#222222"
            sub = "root" + ("" if fam.get("root_in_warehouse") else " (not harvested)")
        else:
            rel = tree.parent_of.get(node, (None, "base"))[1]
            colour = RELATION_COLOURS.get(rel, "#999999")
            sub = f"{rel} · {charts.human(tree.downloads.get(node))} downloads"
        ax.scatter([x], [y], s=46, color=colour, zorder=3, edgecolors="white", linewidths=0.8)
        ax.text(x + 0.02, y - 0.07, label(node, chars), fontsize=8.5, va="bottom", ha="left", color="#222222",
                fontweight="bold" if node == root else "normal", zorder=2)
        ax.text(x + 0.02, y + 0.07, sub, fontsize=7.5, va="top", ha="left", color="#666666", zorder=2)


def _tree_chart(root: str, fam: dict, edges: pl.DataFrame) -> Chart:
    """Draw one family: root on the left, generations to the right, the most downloaded descendants only."""
    tree = _drawn_tree(root, edges)
    ypos, n_rows = _rows(root, tree.children)
    max_depth = max((tree.depth[n] for n in ypos), default=0)
    width = 11.0
    chars = max(18, int(width / (max_depth + 1) * 15) - 3)  # what fits in one generation's column at 8.5 pt
    hidden = int(fam["descendants"]) - (len(ypos) - 1)
    subtitle = f"{charts.plural(int(fam['descendants']), 'descendant')} over {charts.plural(int(fam['generations']), 'generation')}"
    if hidden > 0:
        subtitle += f"; the {len(ypos) - 1} most downloaded (and their parents) drawn, {hidden:,} more in the CSV"
    with charts.style():
        fig = charts.figure(width, 0.46 * n_rows + 1.0)
        ax = fig.add_subplot()
        ax.set_xlim(-0.03, max_depth + 1)
        ax.set_ylim(n_rows - 0.45, -0.6)
        ax.axis("off")
        _draw_edges(ax, tree, ypos)
        _draw_nodes(ax, root, fam, tree, ypos, chars)
        handles = [
            charts.plt.Line2D([], [], color=RELATION_COLOURS[r], marker="o", linewidth=1.4, label=r)
            for r in RELATIONS if r in set(edges["relation"].to_list())
        ]
        ax.set_title(label(root, 90), loc="left")
        if handles:
            ax.legend(handles=handles, loc="lower right", bbox_to_anchor=(1, 1), ncols=len(handles), fontsize=8)
        svg = charts.to_svg(fig, f"lineage tree of {root}")
    return Chart(f"Lineage of {root}", svg, subtitle)


def _overview_chart(families: pl.DataFrame) -> Chart:
    title = "Largest families: descendants by relation"
    if families.is_empty():
        return Chart(title, charts.empty_chart(title, "no lineage edges in the warehouse"))
    top = families.head(15)
    names = [label(r, 50) for r in top["root_id"].to_list()][::-1]
    with charts.style():
        fig = charts.figure(9, 0.36 * top.height + 1.5)
        ax = fig.add_subplot()
        left = [0] * top.height
        for rel in RELATIONS:
            values = top[rel].to_list()[::-1]
            if not any(values):
                continue
            ax.barh(names, values, left=left, color=RELATION_COLOURS[rel], label=rel, height=0.68)
            left = [a + b for a, b in zip(left, values)]
        ax.set_title(title)
        ax.set_xlabel("derivation edges in the family (count)")
        charts.count_axis(ax.xaxis)
        ax.grid(axis="y", visible=False)
        ax.legend(title="relation", loc="lower right")
        svg = charts.to_svg(fig, title)
    return Chart(title, svg, "Each bar is a lineage root (a base model nobody derives from); edges are counted once per family.")


def _dot_chart(title: str, dot_source: str, caption: str) -> tuple[list[Chart], list[str]]:
    """([the chart], []) or ([], [why it is not drawn]) when Graphviz is absent or fails."""
    try:
        return [Chart(title, graphviz.render(dot_source, title), caption)], []
    except graphviz.DotUnavailable as exc:
        return [], [str(exc)]


def _catalog_tree_section(entries: pl.DataFrame, table: Table) -> Section:
    n_matched = int((entries["hub_repos_matched"] > 0).sum())
    n_derives = int(entries["derives_from"].list.len().sum())
    title = "The catalog's family tree"
    charts_, notes = _dot_chart(
        title, family_graph.catalog_tree_dot(entries),
        f"{entries.height} catalog entries in {entries['branch'].n_unique()} family branches, one column per publication year. "
        f"Dashed grey edge: to the family's root entry (or family); solid black edge: the entry's Extension text says it derives "
        f"from that entry ({n_derives} such edges; the patterns are in warehouse/catalog/derivations.yaml). Arrowheads point to "
        f"what a model derives from. Filled nodes: {n_matched} entries with a Hub match (confidence ≥ {CONFIDENT}), coloured by "
        "architecture class (blue encoder, red decoder, green encoder-decoder), with their most downloaded repo and how many "
        "Hub repos descend from their matches; dashed nodes have no Hub match.")
    return Section(title, "Amatriain's family tree redrawn from the catalog, with the Hub laid over it.",
                   charts=charts_, tables=[table], notes=notes, anchor="catalog-tree")


def _subtree_data(ctx: Context, repo_ids: list[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The matched repos (downloads, children) and every lineage child of them."""
    params = {"ids": repo_ids}
    repos = ctx.con.sql("SELECT repo_id, downloads, n_children FROM v_models WHERE repo_id IN (SELECT unnest($ids::VARCHAR[]))", params=params).pl()
    children = ctx.con.sql(
        """SELECT l.parent_id, l.child_id, min(l.relation) AS relation, max(l.child_downloads) AS downloads,
                  any_value(m.n_children) AS n_children
           FROM v_lineage l LEFT JOIN v_models m ON m.repo_id = l.child_id
           WHERE l.parent_id IN (SELECT unnest($ids::VARCHAR[])) AND l.child_id <> l.parent_id
           GROUP BY l.parent_id, l.child_id""", params=params).pl()
    return repos, children


def _subtree_section(ctx: Context, entries: pl.DataFrame) -> Section | None:
    reach = catalog_hub.reach(ctx).join(entries.select(pl.col("name").alias("catalog_name"), "branch"), on="catalog_name")
    ranked = (
        reach.group_by("branch").agg(
            pl.col("repo_id").filter(pl.col("depth") > 0).n_unique().alias("descendants"),
            pl.col("repo_id").filter(pl.col("depth") == 0).n_unique().alias("matched"),
            pl.col("downloads").sum().alias("downloads"),
        ).sort(["descendants", "downloads", "branch"], descending=[True, True, False], nulls_last=True).head(SUBTREES)
    )
    if ranked.is_empty():
        return None
    charts_, notes = [], []
    for fam in ranked.iter_rows(named=True):
        members = entries.filter(pl.col("branch") == fam["branch"])
        shown = members.filter(pl.col("hub_repos_matched") > 0).sort("hub_descendants", descending=True).head(family_graph.ENTRIES_PER_SUBTREE)
        repo_ids = sorted({r for repos in shown["matched_repos"].to_list() for r in repos[: family_graph.REPOS_PER_ENTRY]})
        repos, children = _subtree_data(ctx, repo_ids)
        title = f"{fam['branch']} family on the Hub"
        drawn, why = _dot_chart(title, family_graph.hub_subtree_dot(fam["branch"], members, repos, children),
                                f"{charts.plural(fam['matched'], 'matched repo')} and {charts.plural(fam['descendants'], 'Hub descendant')}; "
                                f"the {family_graph.CHILDREN_PER_REPO} most downloaded children of each matched repo are drawn, the rest folded into one node per repo.")
        charts_ += drawn
        notes += why[:1] if not notes else []
    text = (f"The {ranked.height} catalog families with the most Hub repos descending from their matched entries: "
            "catalog entry → matched Hub repos (dotted) → their lineage children, coloured by relation.")
    return Section("The Hub under the catalog's largest families", text, charts=charts_, notes=notes, anchor="catalog-hub")


def build(ctx: Context) -> Report:
    edges = _edges(ctx)
    families = _families(ctx)
    tables = [
        Table(SLUG, "Families (lineage roots)", families,
              "Per root: distinct descendants, edges per relation, downloads of descendants (30 days), most downloaded descendant."),
        Table(f"{SLUG}-edges", "Lineage edges by family", edges, "Every v_lineage edge inside a family, with its depth below the root."),
    ]
    sections: list[Section] = []
    if ctx.catalog_loaded:
        entries = catalog_hub.catalog_entries(ctx)
        tables.append(Table(f"{SLUG}-catalog_tree", "The catalog tree: entries, families, derivations, Hub matches", entries.select(TREE_COLUMNS),
                            "One row per catalog entry: family branch and root, derives_from read from its Extension text, "
                            f"confident Hub matches (≥ {CONFIDENT}) and the Hub repos descending from them.", preview_rows=10))
        sections.append(_catalog_tree_section(entries, tables[-1]))
        sub = _subtree_section(ctx, entries)
        if sub is not None:
            sections.append(sub)
    sections.append(Section("Families at a glance", "Base models ranked by how many repos derive from them on the Hub.",
                            charts=[_overview_chart(families)], tables=[tables[0]]))
    for fam in families.head(TREES).iter_rows(named=True):
        fam_edges = edges.filter(pl.col("root_id") == fam["root_id"])
        top_kids = (
            fam_edges.group_by("child_id").agg(pl.col("relation").first(), pl.col("depth").min(), pl.col("child_downloads").first(), pl.col("parent_id").sort().first())
            .sort(["child_downloads", "child_id"], descending=[True, False], nulls_last=True).head(10)
            .select("child_id", "relation", "parent_id", "depth", pl.col("child_downloads").alias("downloads"))
        )
        sections.append(Section(
            f"Family: {fam['root_id']}",
            f"{charts.plural(fam['descendants'], 'descendant')}: " + ", ".join(f"{fam[r]:,} {r}" for r in RELATIONS if fam[r]) + ".",
            charts=[_tree_chart(fam["root_id"], fam, fam_edges)],
            tables=[Table(f"{SLUG}-top-{len(sections)}", "Most downloaded descendants", top_kids, preview_rows=10)],
            anchor=f"family-{len(sections)}",
        ))
    notes = []
    if ctx.catalog_loaded:
        cf = _catalog_families(ctx)
        tables.append(Table(f"{SLUG}-catalog_families", "The catalog's family grouping", cf,
                            f"Catalog families, their entries, the Hub repos matched to them (confidence ≥ {CONFIDENT}) and the lineage roots those repos belong to."))
        sections.append(Section("The catalog's families", "How the catalog groups models, beside where their Hub repos sit in the lineage.", tables=[tables[-1]]))
    else:
        notes.append("Catalog not loaded: the catalog's family grouping is not shown.")
    n_fam = families.height
    n_desc = int(edges["child_id"].n_unique()) if edges.height else 0
    headline = {"families": n_fam, "derived_repos": n_desc, "edges": int(ctx.scalar("SELECT count(*) FROM v_lineage") or 0)}
    summary = f"{n_fam:,} base-model families, {n_desc:,} derived repos"
    if n_fam:
        top = families.row(0, named=True)
        summary += f"; largest: {top['root_id']} ({charts.plural(top['descendants'], 'descendant')})"
    return Report(SLUG, "Family tree", summary, headline, sections, tables, notes)
