"""The real long tail: 2,952 models as the Hub listed them in February 2022, with their cards.

``tests/data/longtail-2022-sample.tar.zst`` (see its SOURCES.md) is unpacked once into a temp dir and served
by the replay Hub; the real flow runs once over it (module fixture): the whole listing, and the files of a
file scope that holds the legacy repos whose names are longer than 96 characters. Every card of the sample
is then loaded through the warehouse's normalization (a raw run of the whole sample, no HTTP) to check that
each is parsed or quarantined with a reason. Floors are the coverage measured on this sample.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import duckdb
import pytest

from harvesters.landing import DataDir
from harvesters.replay.fixtures import make_raw_run, snapshot_bodies
from warehouse.loading import load_raw_run
from warehouse.normalize.documents import CARD_FAILURES
from warehouse.normalize.mappings import arch_classes

SAMPLE = Path(__file__).resolve().parent / "data" / "longtail-2022-sample.tar.zst"
ARCH_FLOOR = 1.0  # measured: every model with a transformers model type gets a class (2,052 of 2,052)
ARCH_ANY_TYPE_FLOOR = 0.994  # measured 99.4% (2,055 of 2,067): custom model types (awesome, A2N, ...) are classed by their names or stay unknown
LICENSE_TAG_FLOOR = 1.0  # measured: 767 of 767 models that tag a licence
LICENSE_CARD_FLOOR = 1.0  # measured: 762 of 762 models whose card front matter states one
CONFIG = """
[files]
catalog = false
top_downloads = 10
authors = ["espnet", "luffycodes"]
search = []
[rate_limit]
api = 100000
resolvers = 100000
"""


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("longtail")
    subprocess.run(["tar", "--zstd", "-xf", str(SAMPLE), "-C", str(target)], check=True)
    return target


@pytest.fixture(scope="module")
def bodies(snapshot) -> list[dict]:
    return snapshot_bodies(snapshot)


@pytest.fixture(scope="module")
def flow_run(snapshot, tmp_path_factory, prefect_harness):
    from flows.refresh import nightly_refresh
    from harvesters.replay import ReplayHub

    work = tmp_path_factory.mktemp("longtail-run")
    (work / "hubcensus.toml").write_text(CONFIG)
    with ReplayHub(snapshot, port=0) as hub:
        result = nightly_refresh(endpoint=hub.url, data_dir=str(work / "data"), config_path=str(work / "hubcensus.toml"))
        unservable = dict(hub.snapshot.unservable)
    con = duckdb.connect(str(work / "data" / "warehouse.duckdb"), read_only=True)
    yield result, con, unservable
    con.close()


@pytest.fixture(scope="module")
def all_cards(bodies, snapshot, tmp_path_factory):
    """Every card the sample's listing names (siblings list README.md), loaded without HTTP."""
    data = tmp_path_factory.mktemp("longtail-cards")
    files = {}
    for body in bodies:
        if "README.md" in {s.get("rfilename") for s in body.get("siblings") or []}:
            files[(body["id"], "README.md")] = (snapshot / "files" / body["id"] / "README.md").read_bytes()
    run = make_raw_run(data, "20220221T000000Z-lt2022", bodies=bodies, files=files, snapshot=None)
    load_raw_run(DataDir(data).warehouse, run.root)
    con = duckdb.connect(str(DataDir(data).warehouse), read_only=True)
    yield files, con
    con.close()


def one(con, sql: str, params: list | None = None):
    return con.execute(sql, params or []).fetchall()[0][0]


def test_no_model_is_lost(flow_run, bodies):
    result, con, unservable = flow_run
    listed = {b["id"] for b in bodies}
    assert unservable == {}
    assert result["models"] == len(listed) == 2952
    stored = {r[0] for r in con.execute("SELECT repo_id FROM models").fetchall()}
    assert stored == listed
    long_names = {i for i in listed if len(i.split("/")[-1]) > 96}
    assert len(long_names) == 4 and long_names <= stored


def test_the_long_named_legacy_repos_have_their_files_fetched(flow_run):
    _, con, _ = flow_run
    rows = con.execute(
        "SELECT f.repo_id, f.path, f.status FROM file_fetches f WHERE length(f.repo_id) > 100 AND f.path = 'README.md'"
    ).fetchall()
    assert rows and all(status == "ok" for _, _, status in rows)
    assert one(con, "SELECT count(*) FROM model_cards WHERE length(repo_id) > 100") == len(rows)


def test_every_card_is_parsed_or_quarantined_with_a_reason(all_cards):
    files, con = all_cards
    cards = dict(con.execute("SELECT repo_id, parse_status FROM model_cards").fetchall())
    assert set(cards) == {repo_id for repo_id, _ in files}
    failed = {r for r, status in cards.items() if status in CARD_FAILURES}
    quarantined = dict(con.execute("SELECT repo_id, reason FROM quarantine WHERE stage = 'card'").fetchall())
    assert set(quarantined) == failed and all(quarantined.values())
    assert one(con, "SELECT count(*) FROM model_cards WHERE parse_status = 'ok'") >= 1385  # measured 1,385 of 1,672 (287 have no front matter)
    assert one(con, "SELECT count(*) FROM quarantine WHERE stage = 'listing'") == 0


def test_arch_class_coverage_stays_at_its_floor_and_flaubert_is_an_encoder(flow_run):
    _, con, _ = flow_run
    known = arch_classes()["model_type"].to_list()
    with_type = one(con, "SELECT count(*) FROM models WHERE list_contains(?, model_type)", [known])
    classed = one(con, "SELECT count(*) FROM models WHERE list_contains(?, model_type) AND arch_class IS NOT NULL", [known])
    assert with_type > 2000 and classed / with_type >= ARCH_FLOOR
    any_type = one(con, "SELECT count(*) FROM models WHERE model_type IS NOT NULL")
    any_classed = one(con, "SELECT count(*) FROM models WHERE model_type IS NOT NULL AND arch_class IS NOT NULL")
    assert any_classed / any_type >= ARCH_ANY_TYPE_FLOOR
    assert set(r[0] for r in con.execute("SELECT arch_class FROM models WHERE model_type = 'flaubert'").fetchall()) == {"encoder"}
    assert one(con, "SELECT count(*) FROM models WHERE arch_note IS NULL") == 0


def test_licence_coverage_stays_at_its_floor(flow_run, all_cards):
    _, con, _ = flow_run
    tagged = "len(list_filter(tags, lambda t: t LIKE 'license:%')) > 0"
    assert one(con, f"SELECT count(*) FILTER (WHERE license IS NOT NULL) / count(*) FROM models WHERE {tagged}") >= LICENSE_TAG_FLOOR
    _, cards = all_cards
    stated = cards.execute(
        "SELECT count(*), count(m.license) FROM model_cards c JOIN models m USING (repo_id) "
        "WHERE json_extract_string(c.front_matter, '$.license') IS NOT NULL"
    ).fetchall()[0]
    assert stated[0] > 500 and stated[1] / stated[0] >= LICENSE_CARD_FLOOR


def test_the_coverage_page_is_in_the_report_set(flow_run):
    result, con, _ = flow_run
    out = Path(result["reports"])
    page = (out / "coverage.html").read_text()
    assert "espnet" in page and "Coverage" in page
    manifest = json.loads((out / "manifest.json").read_text())
    coverage = next(r for r in manifest["reports"] if r["slug"] == "coverage")
    assert coverage["headline"]["models"] == 2952
    assert (out / "coverage.csv").is_file() and (out / "coverage.parquet").is_file()


def test_the_listing_index_reads_as_the_listing_does(flow_run):
    """The flow's run lands an index beside its listing (the client's parsed pages): the file scope and the
    unlisted parents read from it agree with parsing every landed line, on 2,952 real listing entries."""
    from harvesters.aliases import unlisted_parents
    from harvesters.harvest import files_in_scope
    from harvesters.landing import RawRun
    from harvesters.listing_index import index_entry, named_parents
    from harvesters.scope import FileScope, select_models

    result, _, _ = flow_run
    run = RawRun.open(DataDir(Path(result["raw_dir"]).parent.parent), Path(result["raw_dir"]).name)
    assert run.index_path.exists()
    entries = list(run.iter_index())
    assert entries == [index_entry(m) for m in run.iter_models()]
    assert sum(1 for e in entries if e["siblings"]) > 1000  # (2022: no card named a base model yet; see test_lineage_truth)
    for scope in (FileScope(top_downloads=300), FileScope(authors=("espnet",), search=("bert",)), FileScope(everything=True)):
        assert list(files_in_scope(select_models(run.iter_index, scope))) == list(files_in_scope(select_models(run.iter_models, scope)))
    named = set().union(*(named_parents(m) for m in run.iter_models()))
    listed = {m["id"] for m in run.iter_models() if isinstance(m.get("id"), str)}
    assert unlisted_parents(run) == sorted(named - listed)


def test_duckdb_reads_the_real_listing_as_polars_does(flow_run, tmp_path):
    """The listing's pages are read by DuckDB (``read_page_file``) and, when it refuses, by Polars: on 2,952 real
    listing entries DuckDB takes every page, and each normalizes to the same rows as Polars' reading of it."""
    import datetime as dt

    from harvesters.landing import RawRun
    from warehouse.normalize.listing import RunContext, normalize_listing, read_page, read_page_file

    result, _, _ = flow_run
    run = RawRun.open(DataDir(Path(result["raw_dir"]).parent.parent), Path(result["raw_dir"]).name)
    ctx = RunContext(run.run_id, dt.date(2022, 2, 21), dt.datetime(2022, 2, 21, tzinfo=dt.UTC))
    spans = run.listing_spans(256 * 1024)
    assert len(spans) == 3 and all(span.frames for span in spans)  # a frame a listing page of 1,000
    for span in spans:
        stored = tmp_path / f"page-{span.index}.ndjson.zst"
        stored.write_bytes(run.stored_span(span))
        by_duckdb = read_page_file(stored, compressed=True)
        by_polars, bad = read_page(run.read_span(span), span.first_line, run.run_id)
        assert by_duckdb is not None and bad == []
        assert by_duckdb.height == by_polars.height
        duckdb_tables, polars_tables = normalize_listing(by_duckdb, ctx), normalize_listing(by_polars, ctx)
        for table, frame in polars_tables.items():
            assert duckdb_tables[table].equals(frame), (span.index, table)
