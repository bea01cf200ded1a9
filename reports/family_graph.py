"""DOT text for the family tree figures: the catalog's tree with the Hub over it, and one Hub sub-tree per large family.

The catalog tree (Amatriain's family tree, redrawn): one node per catalog entry, in one cluster per family branch,
entries ordered by date within their family; an edge from each entry to its family's root entry (or to a family node
when no entry is named after the family) and to every entry its Extension text says it derives from
(reports.catalog_text). Edges run parent -> child for the layout and are drawn with the arrowhead at the parent
(``dir=back``): "this model derives from that one". Each node carries the Hub over it: its most downloaded confident
match, how many more, and how many Hub repos descend from them; a node with no Hub match is dashed and grey.

A Hub sub-tree: a family's matched entries -> their matched repos -> the repos' lineage children, most downloaded
first, with the rest folded into one node that gives their count per relation; so a family of 100,000 derived repos
draws as a few dozen nodes.

Every label goes through :func:`reports.graphviz.text` (escaped); node ids are ours (``e3``, ``r1``), never data.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date

import polars as pl

from reports.charts import RELATION_COLOURS, human
from reports.catalog_text import family_root
from reports.graphviz import FONT, attr, text

ARCH_FILL = {"encoder": "#dbe7f3", "decoder": "#f8dede", "encoder-decoder": "#dcefd9", None: "#ececec"}
FAMILY_EDGE = "#aab2bb"
DERIVES_EDGE = "#24292f"
MUTED = "#6e7781"
REPO_COLOUR = "#0b4f8a"

ENTRIES_PER_SUBTREE = 5  # matched entries drawn per family sub-tree (most descendants first); the rest folded
REPOS_PER_ENTRY = 3  # matched repos drawn per entry; the rest folded
CHILDREN_PER_REPO = 6  # lineage children drawn per matched repo; the rest folded


def _header(name: str, extra: str = "") -> list[str]:
    return [
        f"digraph {name} {{",
        f'  graph [rankdir=LR, nodesep=0.10, ranksep=0.32, fontname="{FONT}", fontsize=11, '
        f'bgcolor="transparent", pad=0.15, labeljust=l{extra}];',
        f'  node [fontname="{FONT}", fontsize=10, shape=box, style="rounded,filled", fillcolor="#ffffff", '
        f'color="#57606a", penwidth=1.0, margin="0.14,0.03", height=0.3];',  # wide: browsers set text a few % wider than pango measures
        f'  edge [dir=back, arrowtail=normal, arrowsize=0.55, color="{FAMILY_EDGE}", penwidth=0.9];',
    ]


def _month(d: date | None) -> str:
    return "" if d is None else f"{d:%Y-%m}"


def _lines(*lines: str) -> str:
    """An HTML-like label from already-escaped lines, left-aligned (empty lines dropped)."""
    return "<" + "".join(f'{line}<br align="left"/>' for line in lines if line) + ">"


def _small(escaped: str, colour: str = MUTED) -> str:
    """A small-print line; empty when there is nothing to say (dot refuses an empty <font></font>)."""
    return f'<font point-size="8" color="{colour}">{escaped}</font>' if escaped else ""


def entry_label(row: dict, with_hub: bool = True) -> str:
    month = _month(row["date"])
    head = f"<b>{text(row['name'], 40) or '(no name)'}</b>" + (f' <font color="{MUTED}" point-size="8">{month}</font>' if month else "")
    if not with_hub:
        return _lines(head)
    repos = row["matched_repos"] or []
    if not repos:
        return _lines(head, f'<font color="{MUTED}" point-size="8">no Hub match</font>')
    more = f" +{len(repos) - 1:,}" if len(repos) > 1 else ""
    desc = row["hub_descendants"]
    return _lines(
        head,
        f'<font color="{REPO_COLOUR}" point-size="8">{text(repos[0], 44)}{more}</font>',
        f'<font point-size="8">{desc:,} Hub descendant{"" if desc == 1 else "s"} · {human(row["hub_downloads"])} downloads</font>',
    )


def _entry_node(node_id: str, row: dict, with_hub: bool = True) -> str:
    matched = bool(row["matched_repos"])
    style = (f'fillcolor="{ARCH_FILL.get(row["arch_class"], ARCH_FILL[None])}", class="entry matched"' if matched
             else 'style="rounded,dashed", color="#8c959f", fontcolor="#57606a", class="entry unmatched"')
    return f"  {node_id} [label={entry_label(row, with_hub)}, {style}];"


def _family_node(node_id: str, branch: str) -> str:
    label = _lines(f'<i>{text(branch, 40)}</i> <font color="{MUTED}" point-size="8">family</font>')
    return f'  {node_id} [label={label}, shape=plain, style="", margin="0.05", class="family"];'


def catalog_tree_dot(entries: pl.DataFrame) -> str:
    """The catalog tree: clusters per branch (oldest family first), entries by date, family and derivation edges."""
    rows = entries.sort(["date", "name"], nulls_last=True).to_dicts()
    names = [r["name"] for r in rows]
    node_of = {name: f"e{i}" for i, name in enumerate(names)}
    order = {name: i for i, name in enumerate(names)}
    by_branch: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        by_branch[r["branch"]].append(r)
    branches = sorted(by_branch, key=lambda b: (order[by_branch[b][0]["name"]], b))
    root_of: dict[str, str | None] = {}
    family_nodes: dict[str, str] = {}  # a branch no entry is named after gets a family node
    for r in rows:
        for b in [r["branch"], *(r["other_branches"] or [])]:
            if b not in root_of:
                root_of[b] = family_root(b, names)
                if root_of[b] is None:
                    family_nodes[b] = f"f{len(family_nodes)}"
    lines = _header("catalog", ", newrank=true")
    for i, b in enumerate(branches):
        members = by_branch[b]
        lines.append(f"  subgraph cluster_{i} {{")
        lines.append(f'    label=<<b>{text(b, 50)}</b> <font color="{MUTED}" point-size="9">{len(members)} entr{"y" if len(members) == 1 else "ies"}</font>>;')
        lines.append('    style="rounded"; color="#d0d7de"; fontsize=11; margin=8;')
        if b in family_nodes:
            lines.append("  " + _family_node(family_nodes[b], b))
        lines += ["  " + _entry_node(node_of[r["name"]], r) for r in members]
        lines.append("  }")
    lines += [_family_node(nid, b) for b, nid in family_nodes.items() if b not in by_branch]
    lines += _time_axis(rows, node_of, family_nodes)
    lines += _tree_edges(rows, node_of, order, root_of, family_nodes)
    lines.append("}")
    return "\n".join(lines) + "\n"


def _time_axis(rows: list[dict], node_of: dict, family_nodes: dict) -> list[str]:
    """Ranks by year: a column per publication year (left to right), family nodes in a column before the first."""
    years = sorted({r["date"].year for r in rows if r["date"] is not None})
    if not years:
        return []
    lines = ['  node [shape=plaintext, style="", fontsize=12, fontcolor="#57606a", class="year"];', '  y_family [label="families"];']
    lines += [f'  y{y} [label="{y}"];' for y in years]
    chain = " -> ".join(["y_family", *(f"y{y}" for y in years)])
    lines.append(f"  {chain} [style=invis, weight=100];")
    lines.append("  { rank=same; y_family; " + " ".join(f"{nid};" for nid in family_nodes.values()) + " }")
    for y in years:
        members = " ".join(f"{node_of[r['name']]};" for r in rows if r["date"] is not None and r["date"].year == y)
        lines.append(f"  {{ rank=same; y{y}; {members} }}")
    # within a family and a year, older entries above newer ones: invisible flat edges fix the order in the column
    column: dict[tuple[str, int], list[str]] = defaultdict(list)
    for r in rows:  # rows are sorted by date
        if r["date"] is not None:
            column[(r["branch"], r["date"].year)].append(node_of[r["name"]])
    for ids in column.values():
        if len(ids) > 1:
            lines.append("  " + " -> ".join(reversed(ids)) + " [style=invis];")  # LR: a flat edge's head sits above its tail
    return lines


def _tree_edges(rows: list[dict], node_of: dict, order: dict, root_of: dict, family_nodes: dict) -> list[str]:
    """Family edges (to each named branch's root entry or family node) and derivation edges; one per pair."""
    edges: dict[tuple[str, str], str] = {}
    for r in rows:
        for b in [r["branch"], *(r["other_branches"] or [])]:
            root = root_of[b]
            parent = node_of[root] if root else family_nodes[b]
            if root != r["name"]:
                edges.setdefault((parent, r["name"]), "family")
        for p in r["derives_from"] or []:
            if p in node_of:
                edges[(node_of[p], r["name"])] = "derives"
    out = []
    for (parent, child), kind in sorted(edges.items(), key=lambda kv: (kv[0][0], order[kv[0][1]])):
        style = f'color="{DERIVES_EDGE}", penwidth=1.2, class="derives"' if kind == "derives" else 'style="dashed", class="family"'
        out.append(f"  {parent} -> {node_of[child]} [{style}];")
    return out


# --- a Hub sub-tree -------------------------------------------------------------------------------------------

def _repo_label(repo: str, downloads: int | None, n_children: int | None, relation: str | None = None) -> str:
    parts = ([relation] if relation else []) + ([f"{human(downloads)} downloads"] if downloads is not None else [])
    if n_children:
        parts.append(f"{n_children:,} child{'' if n_children == 1 else 'ren'}")
    return _lines(f'<font color="{REPO_COLOUR}">{text(repo, 48)}</font>', _small(text(" · ".join(parts), 70)))


def _fold_label(count: int, what: str, by_relation: dict[str, int] | None = None) -> str:
    lines = [f"<b>+{count:,} more {text(what)}</b>"]
    if by_relation:
        lines.append(_small(text(" · ".join(f"{n:,} {rel}" for rel, n in by_relation.items()), 80)))
    return _lines(*lines)


def hub_subtree_dot(branch: str, entries: pl.DataFrame, repos: pl.DataFrame, children: pl.DataFrame) -> str:
    """One family's Hub: entries (most descendants first) -> matched repos -> lineage children, folded past the limits.

    ``repos``: (repo_id, downloads, n_children); ``children``: (parent_id, child_id, relation, downloads, n_children),
    every lineage child of those repos."""
    lines = _header("subtree")
    lines.append(_family_node("f0", branch))
    ranked = entries.filter(pl.col("hub_repos_matched") > 0).sort(["hub_descendants", "hub_downloads", "name"], descending=[True, True, False])
    shown, folded = ranked.head(ENTRIES_PER_SUBTREE), ranked.slice(ENTRIES_PER_SUBTREE)
    repo_info = {r["repo_id"]: r for r in repos.to_dicts()}
    kids = children.sort(["downloads", "child_id"], descending=[True, False], nulls_last=True)
    edges: list[str] = []
    repo_nodes: dict[str, str] = {}
    for i, e in enumerate(shown.to_dicts()):
        lines.append(_entry_node(f"e{i}", e, with_hub=False))
        edges.append(f"  f0 -> e{i} [style=dashed];")
        matched = e["matched_repos"]
        for repo in matched[:REPOS_PER_ENTRY]:
            if repo not in repo_nodes:
                repo_nodes[repo] = f"r{len(repo_nodes)}"
                info = repo_info.get(repo, {})
                lines.append(f'  {repo_nodes[repo]} [label={_repo_label(repo, info.get("downloads"), info.get("n_children"))}, class="repo"];')
                lines += _children_nodes(repo_nodes[repo], kids.filter(pl.col("parent_id") == repo), edges)
            edges.append(f'  e{i} -> {repo_nodes[repo]} [color="{REPO_COLOUR}", style=dotted, arrowtail=none];')
        if len(matched) > REPOS_PER_ENTRY:
            lines.append(f'  e{i}_more [label={_fold_label(len(matched) - REPOS_PER_ENTRY, "matched repos")}, class="folded", fillcolor="#f6f8fa"];')
            edges.append(f'  e{i} -> e{i}_more [color="{REPO_COLOUR}", style=dotted, arrowtail=none];')
    if folded.height:
        desc = int(folded["hub_descendants"].sum())
        lines.append(f'  e_more [label={_fold_label(folded.height, "matched entries", {"Hub descendants": desc})}, class="folded", fillcolor="#f6f8fa"];')
        edges.append("  f0 -> e_more [style=dashed];")
    lines += edges
    lines.append("}")
    return "\n".join(lines) + "\n"


def _children_nodes(parent: str, kids: pl.DataFrame, edges: list[str]) -> list[str]:
    lines = []
    for j, c in enumerate(kids.head(CHILDREN_PER_REPO).to_dicts()):
        nid = f"{parent}c{j}"
        colour = RELATION_COLOURS.get(c["relation"], "#999999")
        lines.append(f'  {nid} [label={_repo_label(c["child_id"], c["downloads"], c["n_children"], c["relation"])}, class="child", color={attr(colour)}];')
        edges.append(f"  {parent} -> {nid} [color={attr(colour)}];")
    rest = kids.slice(CHILDREN_PER_REPO)
    if rest.height:
        counts = rest.group_by("relation").agg(pl.len()).sort(["len", "relation"], descending=[True, False])
        by_rel = {(r or "unknown"): int(n) for r, n in counts.iter_rows()}
        lines.append(f'  {parent}_more [label={_fold_label(rest.height, "children", by_rel)}, class="folded", fillcolor="#f6f8fa"];')
        edges.append(f"  {parent} -> {parent}_more;")
    return lines
