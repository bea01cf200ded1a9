"""The catalog's four figures in the report set built from the real pipeline's warehouse (report_fixtures).

Labels are counted against catalog_models, the Hub overlay against catalog_matches and v_lineage; the figures are
read back as XML from the pages, as a browser would parse them.
"""

from __future__ import annotations

import html
import re
import shutil
import xml.etree.ElementTree as ET

import duckdb
import polars as pl
import pytest

from report_data import DATE, EVIL_STRINGS

pytest_plugins = ("report_fixtures",)

SVG_NS = "{http://www.w3.org/2000/svg}"
DOT = shutil.which("dot")
needs_dot = pytest.mark.skipif(DOT is None, reason="Graphviz dot is not installed: run `make graphviz`")
TREE = "The catalog's family tree"
TIMELINE = "The catalog's timeline, with the Hub's arrival of each model"
SIZES = "The catalog's size axis, with the Hub's largest models beside it"
GRID = "The catalog's taxonomy: architecture × pretraining task, with the Hub's matched families"


def figure(page: str, title: str) -> ET.Element:
    """The inline SVG whose aria-label is ``title``, parsed as XML (it must be well-formed to inline safely)."""
    label = html.escape(title, quote=True).replace("&#x27;", "&#39;")
    found = re.findall(r'<svg\b[^>]*aria-label="' + re.escape(label) + r'".*?</svg>', page, flags=re.S)
    assert len(found) == 1, f"{title!r}: {len(found)} figures"
    return ET.fromstring(found[0])


def texts(el: ET.Element) -> list[str]:
    return ["".join(t.itertext()) for t in el.iter(f"{SVG_NS}text")]


def groups(svg: ET.Element, id_prefix: str = "", klass: str = "") -> list[ET.Element]:
    return [g for g in svg.iter(f"{SVG_NS}g")
            if (id_prefix and g.get("id", "").startswith(id_prefix)) or (klass and klass in g.get("class", "").split())]


@pytest.fixture(scope="module")
def setup(real_reports):
    con = duckdb.connect(str(real_reports.db), read_only=True)
    names = sorted(r[0] for r in con.sql("SELECT name FROM catalog_models").fetchall())
    assert len(names) == 77
    pages = {p: (real_reports.out / f"{p}.html").read_text() for p in ("family_tree", "timeline", "sizes", "taxonomy")}
    yield con, names, pages, real_reports.out
    con.close()


@pytest.mark.parametrize("page,title,prefix", [("timeline", TIMELINE, "timeline-entry-"), ("sizes", SIZES, "sizes-entry-")])
def test_matplotlib_figures_name_every_catalog_entry_as_text(setup, page, title, prefix):
    _, names, pages, _ = setup
    svg = figure(pages[page], title)
    labelled = groups(svg, id_prefix=prefix)
    assert sorted(t for g in labelled for t in texts(g)) == names  # one <text> per entry, its name as written
    assert not [p for p in svg.iter(f"{SVG_NS}path") if p.get("id", "").startswith("DejaVu")]  # text, not glyph paths


@needs_dot
def test_family_tree_names_every_entry_with_the_hub_over_it(setup):
    con, names, pages, out = setup
    svg = figure(pages["family_tree"], TREE)
    nodes = groups(svg, klass="entry")
    assert len(nodes) == len(names)
    assert sorted(_name_of(n) for n in nodes) == names
    matched = {r[0]: r[1] for r in con.sql(
        "SELECT catalog_name, arg_min(repo_id, struct_pack(d := -coalesce(downloads, -1), r := repo_id)) FROM catalog_matches x "
        "JOIN v_models m USING (repo_id) WHERE confidence >= 0.8 GROUP BY 1").fetchall()}
    drawn = {_name_of(n): n for n in nodes}
    assert {n for n, g in drawn.items() if "matched" in g.get("class").split()} == set(matched)
    for name, top_repo in matched.items():  # the most downloaded match is written in the node, with the descendants count
        assert any(t.startswith(top_repo) for t in texts(drawn[name])), name
        assert any("Hub descendant" in t for t in texts(drawn[name])), name
    for name in set(names) - set(matched):
        assert "no Hub match" in texts(drawn[name]) and "unmatched" in drawn[name].get("class").split()
    tree = pl.read_parquet(out / "family_tree-catalog_tree.parquet")
    assert len(groups(svg, klass="derives")) == tree["derives_from"].list.len().sum() > 30
    assert tree.filter(pl.col("name") == "AlexaTM 20B")["derives_from"].to_list() == [["BART"]]
    descendants = dict(con.sql("""SELECT x.catalog_name, count(DISTINCT l.child_id) FROM catalog_matches x
                                  JOIN v_lineage l ON l.parent_id = x.repo_id WHERE x.confidence >= 0.8 GROUP BY 1""").fetchall())
    assert dict(tree.filter(pl.col("hub_descendants") > 0).select("name", "hub_descendants").iter_rows()) == descendants  # one generation here
    assert not svg.findall(f".//{SVG_NS}title") and not [e for e in svg.iter() if e.get("id")]  # dot's titles and ids stripped
    assert "<!--" not in pages["family_tree"] and "graphviz version" not in pages["family_tree"]


def _name_of(node: ET.Element) -> str:
    """The entry's name: its first line, the bold text before the month."""
    bold = [t for t in node.iter(f"{SVG_NS}text") if t.get("font-weight") == "bold"]
    return "".join(bold[0].itertext())


@needs_dot
def test_hub_subtrees_fold_what_they_do_not_draw(setup):
    _, _, pages, _ = setup
    subtrees = re.findall(r'aria-label="([^"]*) family on the Hub"', pages["family_tree"])
    assert 1 <= len(subtrees) <= 4 and "BERT" in subtrees  # RoBERTa's match has a descendant: BERT's family ranks first
    bert = figure(pages["family_tree"], "BERT family on the Hub")
    assert any(t.startswith("deepset/roberta-base-squad2") for t in texts(bert))


def test_taxonomy_grid_lists_every_entry_once(setup):
    con, names, pages, out = setup
    svg = figure(pages["taxonomy"], GRID)
    grid = pl.read_parquet(out / "taxonomy-grid.parquet")
    assert sorted(n for ns in grid["entries"].to_list() for n in ns) == names
    assert grid["catalog_entries"].sum() == len(names)
    cells = groups(svg, id_prefix="grid-cell-")
    assert len(cells) == grid.height
    drawn = " ".join(" ".join(texts(c)) for c in cells)
    assert all(n.split(" ")[0] in drawn for n in names)  # wrapped lines may break a long name, never drop it
    mlm = grid.filter((pl.col("arch_class") == "encoder") & (pl.col("task_class") == "MLM")).row(0, named=True)
    assert {"BERT", "RoBERTa", "ALBERT"} <= set(mlm["entries"])
    reached = con.sql("""SELECT count(DISTINCT repo_id) FROM (
                           SELECT x.repo_id FROM catalog_matches x JOIN catalog_models c ON c.name = x.catalog_name
                           WHERE x.confidence >= 0.8 AND c.arch_class = 'encoder' AND c.pretraining_task IN ('MLM', 'MLM/NSP', 'MLM (Dynamic)', 'RTD')
                           UNION SELECT l.child_id FROM v_lineage l JOIN catalog_matches x ON x.repo_id = l.parent_id AND x.confidence >= 0.8
                           JOIN catalog_models c ON c.name = x.catalog_name
                           WHERE c.arch_class = 'encoder' AND c.pretraining_task IN ('MLM', 'MLM/NSP', 'MLM (Dynamic)', 'RTD'))""").fetchall()[0][0]
    assert mlm["hub_repos"] == reached


def test_reconciliation_numbers_for_people_raw_in_the_files(setup):
    con, _, _, out = setup
    page = (out / "reconciliation.html").read_text()
    raw = [r[0] for r in con.sql("SELECT DISTINCT hub_value FROM reconciliation WHERE field = 'params' AND hub_value IS NOT NULL").fetchall()]
    assert "13672192" in raw
    for value in raw:
        assert f">{value}<" not in page, value  # never a bare 13672192 in a cell
    assert '<span title="13,672,192">13.7M</span>' in page
    csv = pl.read_csv(out / "reconciliation.csv", infer_schema=False)
    assert "13672192" in csv["hub_value"].to_list()
    assert "13672192" in pl.read_parquet(out / "reconciliation.parquet")["hub_value"].to_list()


def test_long_cells_are_shortened_with_the_rest_behind_details(setup):
    con, _, _, out = setup
    page = (out / "reconciliation.html").read_text()
    notes = [r[0] for r in con.sql("SELECT note FROM catalog_matches WHERE length(note) > 160 ORDER BY catalog_name, confidence DESC, repo_id").fetchall()]
    assert notes
    cells = re.findall(r'<td class="long"><details><summary>(.*?)</summary>(.*?)</details></td>', page, flags=re.S)
    shown = {html.unescape(full) for _, full in cells}
    assert notes[0] in shown
    assert all(len(html.unescape(summary)) <= 101 for summary, _ in cells)


def test_without_dot_the_family_tree_says_so_and_keeps_its_tables(real_reports, tmp_path, monkeypatch):
    """A user without Graphviz: the same builder, ``dot`` off the PATH; the page explains and the tables stay."""
    from reports import family_tree
    from reports.base import Context
    from reports.build import REPO_COLUMNS
    from reports.site import environment

    monkeypatch.setenv("PATH", str(tmp_path))
    con = duckdb.connect(str(real_reports.db), read_only=True)
    report = family_tree.build(Context.open(con))
    con.close()
    page = environment().get_template("report.html.j2").render(
        report=report, current=report.slug, data_files={t.name for t in report.tables}, nav=[report], date=DATE,
        built_at="now", db_name="warehouse.duckdb", run=None, repo_columns=REPO_COLUMNS)
    assert "Graphviz `dot` is not installed" in page and 'class="graph"' not in page
    assert "family_tree-catalog_tree.csv" in page and page.count("<svg") >= 1  # the matplotlib charts still draw
    assert [t.name for t in report.tables][:3] == ["family_tree", "family_tree-edges", "family_tree-catalog_tree"]


@needs_dot
def test_hostile_labels_stay_text_in_dot_output():
    """Names with markup, quotes, DOT syntax and control characters: laid out, and back as the same text."""
    from reports import graphviz

    hostile = [*EVIL_STRINGS, 'a" -> b [label="x', "<b>bold</b> & &amp; ]]; }", "bell\x07 and \\N \\G"]
    nodes = "\n".join(f'  n{i} [label=<{graphviz.text(v, 200)}>, class="probe"];' for i, v in enumerate(hostile))
    svg = ET.fromstring(str(graphviz.render("digraph g {\n" + nodes + "\n}\n", "probe <script>")))
    assert svg.get("aria-label") == "probe <script>"
    assert [t for g in groups(svg, klass="probe") for t in texts(g)] == [" ".join(v.replace("\x07", "").split()) for v in hostile]
    assert {e.tag.removeprefix(SVG_NS) for e in svg.iter()} <= {"svg", "g", "polygon", "path", "text", "ellipse", "polyline"}
    assert not [k for e in svg.iter() for k in e.attrib if k.lower().startswith("on")]


@needs_dot
def test_missing_values_still_make_valid_dot_labels(real_reports):
    """A date or a download count the warehouse lacks must not leave an empty <font></font> (dot refuses it)."""
    from reports import catalog_hub, family_graph, graphviz
    from reports.base import Context

    con = duckdb.connect(str(real_reports.db), read_only=True)
    entries = catalog_hub.catalog_entries(Context.open(con)).with_columns(pl.lit(None, dtype=pl.Date).alias("date"))
    con.close()
    assert 'class="graph"' in graphviz.render(family_graph.catalog_tree_dot(entries), "no dates")
    bert = entries.filter(pl.col("branch") == "BERT")
    repos = pl.DataFrame({"repo_id": [r for rs in bert["matched_repos"].to_list() for r in rs]}).with_columns(
        pl.lit(None, dtype=pl.Int64).alias("downloads"), pl.lit(None, dtype=pl.Int64).alias("n_children"))
    children = pl.DataFrame({"parent_id": repos["repo_id"][:1], "child_id": ["x/child"], "relation": [None], "downloads": [None],
                             "n_children": [None]}, schema={"parent_id": pl.String, "child_id": pl.String, "relation": pl.String,
                                                             "downloads": pl.Int64, "n_children": pl.Int64})
    svg = graphviz.render(family_graph.hub_subtree_dot("BERT", bert, repos, children), "no downloads")
    assert "x/child" in svg
