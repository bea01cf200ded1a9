"""reports.build: the dated report set, its files, and its numbers against SQL over the same warehouse."""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb
import polars as pl
import pytest

from reports.build import ReportError, build_reports, resolve_latest, summary_tables
from test_reports_warehouse import EVIL_BASE, EVIL_REPO, EVIL_STRINGS, EVIL_TAG, make_report_warehouse

DATE = "2025-03-01"
REPORTS = ("taxonomy", "family_tree", "timeline", "sizes", "reconciliation")


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, Path]:
    """(warehouse path, report set dir) built once for the module."""
    base = tmp_path_factory.mktemp("reports-build")
    db = make_report_warehouse(base / "data" / "warehouse.duckdb")
    return db, build_reports(db, base / "data" / "reports", today=DATE)


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
    elif name == "reconciliation-gaps":
        _same_rows(frame, _sql(con, "SELECT * FROM catalog_gaps"), list(frame.columns))
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
    assert m["run"]["run_id"] == "20250301T020000Z-a1b2c3"
    index = (out / "index.html").read_text()
    for r in REPORTS:
        assert f'href="{r}.html"' in index
    assert "20250301T020000Z-a1b2c3" in index
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
    assert len(checked) >= 16, checked


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


def test_markup_in_card_fields_is_escaped_in_every_page(built):
    _, out = built
    escaped = {s: s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&#34;") for s in EVIL_STRINGS}
    for page in [f"{r}.html" for r in REPORTS] + ["index.html"]:
        html = (out / page).read_text()
        tags, handlers = parsed_markup(html)
        assert not tags & {"script", "img", "iframe", "object", "embed"}, (page, tags)
        assert not handlers, (page, handlers)
        if page != "index.html":
            assert any(e in html for e in escaped.values()), f"{page} shows none of the markup-laden values"
        assert 'href="javascript:' not in html
    summary = (out / "summary.md").read_text()
    assert "<script" not in summary and "<img" not in summary


def test_charts_are_inline_svg_and_deterministic(built, tmp_path):
    db, out = built
    again = build_reports(db, tmp_path / "reports", today=DATE)
    strip = lambda html: re.sub(r"<footer>.*?</footer>", "", html, flags=re.S)  # noqa: E731  (build time)
    for r in REPORTS:
        html = (out / f"{r}.html").read_text()
        assert html.count("<svg") >= 1 and "<?xml" not in html and "http://www.w3.org/2000/svg" in html
        assert not re.search(r"""(src|href)=["']?(https?:)?//(?!huggingface\.co/|www\.w3\.org/)""", html), r  # no CDN
        assert strip(html) == strip((again / f"{r}.html").read_text()), f"{r}.html differs between two builds"


def test_catalog_absent_says_so(tmp_path):
    db = make_report_warehouse(tmp_path / "w.duckdb", catalog=False, evil=False, runs=False)
    out = build_reports(db, tmp_path / "reports", today=DATE)
    assert "Catalog not loaded" in (out / "reconciliation.html").read_text()
    assert "not loaded" in (out / "index.html").read_text()
    m = manifest(out)
    assert m["catalog_loaded"] is False and m["run"] is None
    assert "taxonomy-catalog" not in [t["name"] for r in m["reports"] for t in r["tables"]]


def test_latest_follows_the_newest_date_and_rebuilds_replace(built, tmp_path):
    import shutil

    db, out = built
    root = tmp_path / "reports"
    shutil.copytree(out, root / "2025-03-02")
    (root / "2025-03-02" / "stale.csv").write_text("x\n")
    build_reports(db, root, today="2025-03-02")  # the same date again: replaced whole
    assert not (root / "2025-03-02" / "stale.csv").exists()
    assert resolve_latest(root) == "2025-03-02"
    build_reports(db, root, today="2025-02-01")  # a backfill does not move latest back
    assert resolve_latest(root) == "2025-03-02"
    assert sorted(p.name for p in root.iterdir()) == ["2025-02-01", "2025-03-02", "latest"]


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
    assert "<script" not in result["markdown"]
    _ = (EVIL_BASE, EVIL_REPO, EVIL_TAG)
