"""reports.build: the dated report set, its files, and its numbers against SQL over the same warehouse.

The warehouse is the real pipeline's (report_fixtures.real_reports: replay Hub → harvest → load → reconcile),
with a hostile model whose card and config carry markup.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import duckdb
import polars as pl
import pytest

from report_data import DATE, EVIL_BASE, EVIL_TAG, EVIL_TYPE, HOSTILE_CHILD, HOSTILE_ID, RUN_ID
from reports.build import ReportError, build_reports, resolve_latest, summary_tables

# the session's real warehouse and report set (fixture real_reports), registered once for all report modules
pytest_plugins = ("report_fixtures",)

REPORTS = ("taxonomy", "family_tree", "timeline", "sizes", "reconciliation", "coverage", "changes")
# Where each markup-laden value is displayed (as text), page by page, on the real warehouse:
#   the card's base_model is a lineage root (family tree, its headline on the index) and a catalog gap key;
#   the config's model_type is a taxonomy/size/timeline dimension and a gap key; the tags show in the timeline's
#   newest-repos table; the digest (changes) lists the hostile model as new, its type as a new model type, its base as a
#   new family. Pages not listed for a value must not show it at all (not even escaped: a leak check).
SHOWN_IN = {  # every EVIL_STRINGS value is a key
    EVIL_BASE: {"index", "family_tree", "timeline", "reconciliation", "changes"},
    EVIL_TYPE: {"taxonomy", "timeline", "sizes", "reconciliation", "changes"},
    EVIL_TAG: {"timeline"},
    HOSTILE_ID: {"family_tree", "timeline", "sizes", "reconciliation", "changes"},
}


@pytest.fixture(scope="module")
def built(real_reports) -> tuple[Path, Path]:
    """(warehouse path, report set dir) of the session's real pipeline run (read only: never write into it)."""
    return real_reports.db, real_reports.out


def escaped(s: str) -> str:
    """As jinja's autoescape writes it."""
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&#34;").replace("'", "&#39;")


def manifest(report_dir: Path) -> dict:
    return json.loads((report_dir / "manifest.json").read_text())


# --- reading a table back, and what the warehouse says it should hold ---------------------------------------

def read_csv_like(path_or_bytes, parquet: pl.DataFrame) -> pl.DataFrame:
    """Read a report CSV back with the Parquet's types (lists were written as JSON arrays)."""
    schema = {k: (pl.String if isinstance(v, (pl.List, pl.Struct)) else v) for k, v in parquet.schema.items()}
    frame = pl.read_csv(path_or_bytes, schema=schema)
    casts = []
    for name, dtype in parquet.schema.items():
        if isinstance(dtype, (pl.List, pl.Struct)):
            casts.append(pl.col(name).str.json_decode(dtype))
    return frame.with_columns(casts) if casts else frame


def parsed_markup(html: str) -> tuple[set[str], list[tuple[str, str]]]:
    """The element names in a page and any on* event-handler attributes, as a browser's parser sees them."""
    from html.parser import HTMLParser

    tags: set[str] = set()
    handlers: list[tuple[str, str]] = []

    class P(HTMLParser):
        def handle_starttag(self, tag, attrs):
            tags.add(tag)
            handlers.extend((tag, k) for k, _ in attrs if k.lower().startswith("on"))

        handle_startendtag = handle_starttag

    P().feed(html)
    return tags, handlers


def _sql(con, sql: str) -> pl.DataFrame:
    return con.sql(sql).pl()


def _same_rows(got: pl.DataFrame, want: pl.DataFrame, columns: list[str]) -> None:
    def norm(f: pl.DataFrame) -> list[tuple]:
        return sorted((tuple(r) for r in f.select(columns).rows()), key=repr)

    assert norm(got) == norm(want), f"rows differ on {columns}"


def check_against_warehouse(name: str, frame: pl.DataFrame, con: duckdb.DuckDBPyConnection) -> bool:
    """Assert a downloaded table holds the warehouse's rows (or totals); return False if there is no check for it."""
    con.execute("SET TimeZone = 'UTC'")
    if name == "sizes":
        _same_rows(frame, _sql(con, "SELECT * FROM v_sizes"), list(frame.columns))
    elif name == "taxonomy":
        want = _sql(con, """SELECT arch_class, pipeline_tag, model_type, sum(n_models)::BIGINT AS n_models,
                                   sum(downloads)::BIGINT AS downloads, sum(likes)::BIGINT AS likes FROM v_taxonomy GROUP BY ALL""")
        _same_rows(frame, want, ["arch_class", "pipeline_tag", "model_type", "n_models", "downloads", "likes"])
    elif name == "taxonomy-arch_class":
        want = _sql(con, "SELECT arch_class, sum(n_models)::BIGINT AS hub_models, sum(downloads)::BIGINT AS hub_downloads FROM v_taxonomy GROUP BY ALL")
        _same_rows(frame.filter(pl.col("hub_models") > 0), want, ["arch_class", "hub_models", "hub_downloads"])
        assert frame["catalog_entries"].sum() == con.sql("SELECT count(*) FROM catalog_models").fetchall()[0][0]
    elif name == "taxonomy-catalog":
        assert frame["catalog_entries"].sum() == con.sql("SELECT count(*) FROM catalog_models").fetchall()[0][0]
    elif name == "family_tree":
        roots = _sql(con, "SELECT DISTINCT parent_id AS root_id FROM v_lineage WHERE parent_id NOT IN (SELECT child_id FROM v_lineage)")
        _same_rows(frame, roots, ["root_id"])
    elif name == "family_tree-edges":
        _same_rows(frame.unique(["child_id", "parent_id"]), _sql(con, "SELECT * FROM v_lineage"),
                   ["child_id", "parent_id", "relation", "child_downloads"])
    elif name == "family_tree-catalog_tree":
        _same_rows(frame, _sql(con, "SELECT name, family, date, arch_class FROM catalog_models"), ["name", "family", "date", "arch_class"])
        matched = dict(con.sql("SELECT catalog_name, count(DISTINCT repo_id) FROM catalog_matches WHERE confidence >= 0.8 GROUP BY 1").fetchall())
        assert {r[0]: r[1] for r in frame.select("name", "hub_repos_matched").iter_rows() if r[1]} == matched
    elif name == "taxonomy-grid":
        assert frame["catalog_entries"].sum() == con.sql("SELECT count(*) FROM catalog_models").fetchall()[0][0]
        assert frame.unique(["arch_class", "task_class"]).height == frame.height
    elif name == "sizes-hub_largest":
        want = _sql(con, """SELECT arch_class, repo_id, params FROM v_models WHERE deleted_on IS NULL AND params IS NOT NULL
                            QUALIFY row_number() OVER (PARTITION BY arch_class ORDER BY params DESC, repo_id) <= 3""")
        _same_rows(frame, want, ["arch_class", "repo_id", "params"])
    elif name == "family_tree-catalog_families":
        _same_rows(frame, _sql(con, "SELECT DISTINCT family AS catalog_family FROM catalog_models"), ["catalog_family"])
    elif name == "timeline":
        want = _sql(con, """SELECT created_month AS month, count(*) FILTER (WHERE NOT created_at_is_floor) AS hub_created,
                                   count(*) FILTER (WHERE created_at_is_floor) AS hub_created_on_or_before
                            FROM v_timeline GROUP BY 1""")
        got = frame.filter((pl.col("hub_created") + pl.col("hub_created_on_or_before")) > 0)
        _same_rows(got, want, ["month", "hub_created", "hub_created_on_or_before"])
        assert frame["catalog_published"].sum() == con.sql("SELECT count(*) FROM catalog_models WHERE date IS NOT NULL").fetchall()[0][0]
    elif name == "timeline-catalog":
        _same_rows(frame, _sql(con, "SELECT name, family, arch_class, date, lab FROM catalog_models"), ["name", "family", "arch_class", "date", "lab"])
    elif name == "sizes-buckets":
        want = _sql(con, """SELECT size_bucket, count(*) AS n_models, sum(downloads)::BIGINT AS downloads FROM v_sizes GROUP BY 1
                            UNION ALL SELECT 'unknown', count(*), sum(downloads)::BIGINT FROM v_models
                            WHERE deleted_on IS NULL AND coalesce(params_effective, params_total) IS NULL""")
        _same_rows(frame.filter(pl.col("n_models") > 0), want, ["size_bucket", "n_models", "downloads"])
        assert frame["size_bucket"].to_list() == ["<100M", "100M-1B", "1-10B", "10-100B", ">100B", "unknown"]
    elif name == "sizes-catalog":
        _same_rows(frame, _sql(con, "SELECT name, params_min, params_max FROM catalog_models"), ["name", "params_min", "params_max"])
    elif name == "reconciliation":
        _same_rows(frame, _sql(con, "SELECT * FROM reconciliation"), ["catalog_name", "repo_id", "field", "catalog_value", "hub_value", "status", "note"])
    elif name == "reconciliation-summary":
        want = _sql(con, "SELECT field, status, count(*) AS n FROM reconciliation GROUP BY ALL")
        got = frame.unpivot(index="field", on=["agree", "conflict", "missing_on_hub", "missing_in_catalog"], variable_name="status", value_name="n").filter(pl.col("n") > 0)
        _same_rows(got, want, ["field", "status", "n"])
    elif name == "reconciliation-matches":
        _same_rows(frame, _sql(con, "SELECT * FROM catalog_matches"), ["catalog_name", "repo_id", "method", "confidence", "note"])
    elif name == "reconciliation-unmatched":
        want = _sql(con, "SELECT name FROM catalog_models WHERE name NOT IN (SELECT catalog_name FROM catalog_matches WHERE confidence >= 0.8)")
        _same_rows(frame, want, ["name"])
    elif name == "coverage":
        want = _sql(con, """SELECT 'all' AS dimension, count(*) AS n_models,
                                   round(100.0 * count(arch_class) / count(*), 1) AS pct_models_arch_class,
                                   round(100.0 * count(license) / count(*), 1) AS pct_models_license,
                                   round(100.0 * count(params) / count(*), 1) AS pct_models_params
                            FROM v_models WHERE deleted_on IS NULL""")
        _same_rows(frame.filter(pl.col("dimension") == "all"), want, list(want.columns))
    elif name == "coverage-library":
        want = _sql(con, "SELECT coalesce(library_name, '(none)') AS value, count(*) AS n_models FROM v_models WHERE deleted_on IS NULL GROUP BY 1")
        _same_rows(frame, want, ["value", "n_models"])
    elif name == "reconciliation-gaps":
        _same_rows(frame, _sql(con, "SELECT * FROM catalog_gaps"), list(frame.columns))
    elif name == "changes":
        want = _sql(con, f"SELECT change, repo_id, field, before, after FROM model_changes WHERE run_id = '{RUN_ID}'")
        _same_rows(frame, want, ["change", "repo_id", "field", "before", "after"])
    elif name == "changes-counts":
        want = _sql(con, f"SELECT change, count(*) AS n_changes FROM model_changes WHERE run_id = '{RUN_ID}' GROUP BY ALL")
        _same_rows(frame.filter(pl.col("n_changes") > 0), want, ["change", "n_changes"])
    else:
        return False
    return True


# --- the set on disk -----------------------------------------------------------------------------------------

def test_writes_a_dated_set_and_latest(built):
    db, out = built
    assert out.name == DATE and out.parent.name == "reports"
    assert resolve_latest(out.parent) == DATE
    assert (out.parent / "latest").is_symlink()  # the documented form; a text file only where symlinks fail
    for name in ("index.html", "summary.md", "manifest.json", *(f"{r}.html" for r in REPORTS)):
        assert (out / name).is_file(), name
    m = manifest(out)
    assert [r["slug"] for r in m["reports"]] == list(REPORTS)
    for report in m["reports"]:
        assert report["tables"][0]["name"] == report["slug"]
        for t in report["tables"]:
            assert (out / t["csv"]).is_file() and (out / t["parquet"]).is_file()
    assert m["run"]["run_id"] == RUN_ID and m["run"]["status"] == "complete"
    index = (out / "index.html").read_text()
    for r in REPORTS:
        assert f'href="{r}.html"' in index
    assert RUN_ID in index
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")], "staging left behind"


def test_every_table_parses_back_and_matches_the_warehouse(built):
    db, out = built
    con = duckdb.connect(str(db), read_only=True)
    checked = []
    for report in manifest(out)["reports"]:
        for t in report["tables"]:
            parquet = pl.read_parquet(out / t["parquet"])
            assert parquet.height == t["rows"]
            csv = read_csv_like(out / t["csv"], parquet)
            assert csv.equals(parquet), t["name"]
            if check_against_warehouse(t["name"], parquet, con):
                checked.append(t["name"])
    assert len(checked) >= 19, checked


def test_headline_numbers_are_the_warehouses(built):
    db, out = built
    con = duckdb.connect(str(db), read_only=True)
    one = lambda sql: con.sql(sql).fetchall()[0][0]  # noqa: E731
    heads = {r["slug"]: r["headline"] for r in manifest(out)["reports"]}
    assert heads["taxonomy"]["models"] == one("SELECT sum(n_models) FROM v_taxonomy")
    assert heads["taxonomy"]["downloads"] == one("SELECT sum(downloads) FROM v_taxonomy")
    assert heads["family_tree"]["edges"] == one("SELECT count(*) FROM v_lineage")
    assert heads["family_tree"]["derived_repos"] == one("SELECT count(DISTINCT child_id) FROM v_lineage")
    assert heads["timeline"]["hub_dated_repos"] == one("SELECT count(*) FROM v_timeline")
    assert heads["timeline"]["hub_placeholder_dated"] == one("SELECT count(*) FROM v_timeline WHERE created_at_is_floor")
    assert heads["sizes"]["with_size"] == one("SELECT count(*) FROM v_sizes")
    for bucket in ("<100M", "100M-1B", "1-10B", "10-100B", ">100B"):
        assert heads["sizes"][f"bucket {bucket}"] == one(f"SELECT count(*) FROM v_sizes WHERE size_bucket = '{bucket}'")
    for status in ("agree", "conflict", "missing_on_hub", "missing_in_catalog"):
        assert heads["reconciliation"][status] == one(f"SELECT count(*) FROM reconciliation WHERE status = '{status}'")
    assert heads["reconciliation"]["gaps"] == one("SELECT count(*) FROM catalog_gaps")
    summary = (out / "summary.md").read_text()
    assert f"| models | {heads['taxonomy']['models']:,} |" in summary
    assert f"{heads['taxonomy']['models']:,} models" in (out / "index.html").read_text()


def test_the_hostile_values_went_through_the_real_pipeline(built):
    """The markup is in the warehouse as the harvest landed it: normalized, not pre-escaped, not dropped."""
    db, _ = built
    con = duckdb.connect(str(db), read_only=True)
    one = lambda sql, *p: con.execute(sql, list(p)).fetchall()  # noqa: E731
    assert one("SELECT model_type, architectures, list_contains(tags, ?) FROM v_models WHERE repo_id = ?", EVIL_TAG, HOSTILE_ID) == [(EVIL_TYPE, [EVIL_TAG], True)]
    assert one("SELECT parent_id, relation FROM v_lineage WHERE child_id = ?", HOSTILE_ID) == [(EVIL_BASE, "finetune")]
    assert one("SELECT parent_id, relation FROM v_lineage WHERE child_id = ?", HOSTILE_CHILD) == [(HOSTILE_ID, "quantized")]
    assert one("SELECT count(*) FROM catalog_gaps WHERE gap_key IN (?, ?)", EVIL_BASE, EVIL_TYPE) == [(2,)]


def test_markup_in_card_fields_is_escaped_in_every_page(built):
    _, out = built
    for page in ("index", *REPORTS):
        html = (out / f"{page}.html").read_text()
        tags, handlers = parsed_markup(html)
        assert not tags & {"script", "img", "iframe", "object", "embed", "svg:script"}, (page, tags)
        assert not handlers, (page, handlers)
        assert 'href="javascript:' not in html
        for value, pages in SHOWN_IN.items():
            assert escaped(value) == value or value not in html, (page, value)  # markup never raw
            if page in pages:
                assert escaped(value) in html, f"{page} should show {value!r} as text"
            else:
                assert escaped(value) not in html, f"{page} shows {value!r}: update SHOWN_IN if that is intended"
    summary = (out / "summary.md").read_text()
    assert "<script" not in summary and "<img" not in summary and "<svg" not in summary


@pytest.fixture(scope="module")
def rebuilt(built, tmp_path_factory) -> Path:
    """A second build from the same warehouse, dated 2025-03-02, over a stale copy of that date: the reports root."""
    db, out = built
    root = tmp_path_factory.mktemp("rebuilt") / "reports"
    shutil.copytree(out, root / "2025-03-02")
    (root / "2025-03-02" / "stale.csv").write_text("x\n")
    build_reports(db, root, today="2025-03-02")  # the same date again: replaced whole
    return root


def test_charts_are_inline_svg_and_deterministic(built, rebuilt):
    _, out = built
    strip = lambda html: re.sub(r"<footer>.*?</footer>", "", html, flags=re.S)  # noqa: E731  (build time, date)
    for r in REPORTS:
        html = (out / f"{r}.html").read_text()
        assert html.count("<svg") >= 1 and "<?xml" not in html and "http://www.w3.org/2000/svg" in html
        assert not re.search(r"""(src|href)=["']?(https?:)?//(?!huggingface\.co/|www\.w3\.org/)""", html), r  # no CDN
        assert strip(html) == strip((rebuilt / "2025-03-02" / f"{r}.html").read_text()), f"{r}.html differs between two builds"


def test_catalog_absent_says_so(real_reports, tmp_path):
    """The same raw run loaded into a fresh warehouse and not reconciled: the marts are full, the catalog empty."""
    from warehouse.loading import load_raw_run

    db = tmp_path / "warehouse.duckdb"
    load_raw_run(db, real_reports.data_dir / "raw" / real_reports.run_id)
    out = build_reports(db, tmp_path / "reports", today=DATE)
    assert "Catalog not loaded" in (out / "reconciliation.html").read_text()
    n_models = duckdb.connect(str(db), read_only=True).sql("SELECT count(*) FROM models").fetchall()[0][0]
    assert f"first run: {n_models} models, nothing to compare" in (out / "changes.html").read_text()  # one run loaded
    assert "not loaded" in (out / "index.html").read_text()
    m = manifest(out)
    assert m["catalog_loaded"] is False and m["run"]["run_id"] == RUN_ID
    assert "taxonomy-catalog" not in [t["name"] for r in m["reports"] for t in r["tables"]]
    real = {r["slug"]: r["headline"] for r in manifest(real_reports.out)["reports"]}
    assert {r["slug"]: r["headline"] for r in m["reports"]}["taxonomy"] == real["taxonomy"]


def test_latest_follows_the_newest_date_and_rebuilds_replace(built, rebuilt):
    db, _ = built
    assert not (rebuilt / "2025-03-02" / "stale.csv").exists()
    assert resolve_latest(rebuilt) == "2025-03-02"
    build_reports(db, rebuilt, today="2025-02-01")  # a backfill does not move latest back
    assert resolve_latest(rebuilt) == "2025-03-02"
    assert sorted(p.name for p in rebuilt.iterdir()) == ["2025-02-01", "2025-03-02", "latest"]


def test_a_latest_folder_that_is_not_a_report_set_is_never_deleted(built, tmp_path):
    """``--out`` may name an operator's folder: its own ``latest`` directory survives, the build says why."""
    db, _ = built
    out = tmp_path / "operators-folder"
    canary = out / "latest" / "keep.txt"
    canary.parent.mkdir(parents=True)
    canary.write_text("mine")
    with pytest.raises(ReportError, match="not a report set"):
        build_reports(db, out, today="2025-03-02")
    assert canary.read_text() == "mine"


def test_domain_errors(tmp_path):
    with pytest.raises(ReportError, match="no warehouse"):
        build_reports(tmp_path / "nope.duckdb", tmp_path / "r")
    empty = tmp_path / "empty.duckdb"
    duckdb.connect(str(empty)).close()
    with pytest.raises(ReportError, match="lacks the marts"):
        build_reports(empty, tmp_path / "r")
    with pytest.raises(ReportError, match="YYYY-MM-DD"):
        build_reports(empty, tmp_path / "r", today="../../etc")


def test_summary_tables_for_prefect_artifacts(built):
    _, out = built
    result = summary_tables(out)
    assert result["index"].endswith("index.html") and result["date"] == DATE
    assert "hubcensus-size-buckets" in result["tables"]
    description, rows = result["tables"]["hubcensus-size-buckets"]
    assert [r["size_bucket"] for r in rows][:5] == ["<100M", "100M-1B", "1-10B", "10-100B", ">100B"]
    assert all(re.fullmatch(r"[a-z0-9-]+", k) for k in result["tables"])
    json.dumps(result["tables"])  # artifact tables must be JSON-serialisable
    assert "<script" not in result["markdown"] and "<img" not in result["markdown"]


def test_links_only_for_repo_ids_and_web_urls():
    """What neither the real Hub (it refuses such ids) nor the curated catalog can carry: hostile link targets."""
    from reports.site import _hub_url, _web_url

    assert _web_url("javascript:alert(5)") == "" and _web_url("data:text/html,<b>x") == "" and _web_url("//evil.example") == ""
    assert _web_url(" https://arxiv.org/abs/2203.15556 ") == "https://arxiv.org/abs/2203.15556"
    assert _hub_url('mallory/x"><svg onload=alert(3)>') == "" and _hub_url(EVIL_BASE) == "" and _hub_url("a/b/c") == ""
    assert _hub_url("gpt2") == "https://huggingface.co/gpt2" and _hub_url(HOSTILE_ID) == f"https://huggingface.co/{HOSTILE_ID}"
