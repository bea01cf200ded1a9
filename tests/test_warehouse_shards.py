"""Sharded loading: listing pages normalized independently (read-only), then written by one writer.

Whatever the page size, the number of shards and whether pages travel in memory or staged on disk, the
warehouse ends up exactly as ``load_raw_run`` leaves it.
"""

from __future__ import annotations

import pickle

import duckdb
import polars as pl
import pytest

from harvesters.landing import DataDir
from warehouse.fixtures import DEMO_SNAPSHOT, make_raw_run, snapshot_bodies
from warehouse.loading import (
    PAGE_BYTES,
    iter_normalized,
    load_raw_run,
    migrate_warehouse,
    normalize_page,
    plan_pages,
    read_span,
    read_staged,
    stage_page,
    table_contents,
    write_normalized,
)
from warehouse.normalize.listing import read_listing

RUN1 = "20250101T060000Z-aaaaaa"
RUN2 = "20250102T060000Z-bbbbbb"
BAD_LINES = [
    b'{"id": "broken/json", "likes": ',
    b'["not", "a", "record"]',
    b'{"id": "odd/shapes", "tags": "not-a-list", "cardData": [1], "downloads": "12", "likes": 1.5, "gated": true}',
]


def groups(spans, shards):
    size, extra = divmod(len(spans), shards)
    out, start = [], 0
    for i in range(shards):
        end = start + size + (i < extra)
        out.append(spans[start:end])
        start = end
    return [g for g in out if g]


def load_in_shards(db, run, page_bytes, shards, staging=None):
    """What the flow does: migrate, plan, normalize every shard (read-only), then one writer."""
    migrate_warehouse(db)
    pages = [page for group in groups(plan_pages(run, page_bytes), shards) for page in iter_normalized(run, group, db)]
    if staging is not None:
        pages = [read_staged(stage_page(page, staging)) for page in pages]
    return write_normalized(db, run, pages)


def contents(db):
    with duckdb.connect(str(db), read_only=True) as con:
        return table_contents(con)


def two_runs(data_dir):
    """A full first run (with bad lines and a malformed config), then an incremental one: three shas moved
    (only their files fetched: the others carry their stored facts forward) and one model gone."""
    bodies = snapshot_bodies()
    first = make_raw_run(data_dir / "raw-src", RUN1, extra_lines=BAD_LINES)
    moved = ["google-bert/bert-base-uncased", "sentence-transformers/all-MiniLM-L6-v2", "google-t5/t5-small"]
    second_bodies = [dict(b, sha="f" * 40) if b["id"] in moved else b for b in bodies if b["id"] != "facebook/bart-base"]
    files = {
        (repo_id, name): path.read_bytes()
        for repo_id in moved
        for name in ("config.json", "README.md")
        if (path := DEMO_SNAPSHOT / "files" / repo_id / name).is_file()
    }
    files[("google-bert/bert-base-uncased", "config.json")] = b'{"model_type": "bert", "hidden_size": 768,'  # quarantined
    second = make_raw_run(data_dir / "raw-src", RUN2, bodies=second_bodies, files=files)
    return [first, second]


@pytest.mark.parametrize("page_bytes", [1, 997, 4_000, PAGE_BYTES])
def test_spans_cut_the_listing_exactly_as_read_listing(data_dir, page_bytes):
    run = make_raw_run(data_dir, RUN1, bodies=snapshot_bodies()[:12], files={}, extra_lines=BAD_LINES)
    with open(run.models_path, "ab") as fh:  # blank lines and a last line without its newline
        fh.write(b"\n  \n" + BAD_LINES[0])
    expected = list(read_listing(run.models_path, run.run_id, page_bytes))
    spans = plan_pages(run, page_bytes)
    got = [read_span(run, span) for span in spans]
    assert len(got) == len(expected) and [s.index for s in spans] == list(range(len(spans)))
    for (frame, bad), (want_frame, want_bad) in zip(got, expected):
        assert frame.equals(want_frame) and bad == want_bad
    assert spans[-1].end == run.models_path.stat().st_size
    if page_bytes == PAGE_BYTES:
        assert len(spans) == 2  # every full line, then the unterminated last one (as read_listing yields them)


@pytest.mark.parametrize(("page_bytes", "shards", "staged"), [(3_000, 4, False), (3_000, 3, True), (1, 1, False), (PAGE_BYTES, 1, True)])
def test_sharded_load_gives_the_same_warehouse_as_load_raw_run(tmp_path, page_bytes, shards, staged):
    runs = two_runs(tmp_path)
    one, sharded = tmp_path / "one" / "warehouse.duckdb", tmp_path / "sharded" / "warehouse.duckdb"
    for run in runs:
        expected = load_raw_run(one, run.root, page_bytes=page_bytes)
        got = load_in_shards(sharded, run, page_bytes, shards, staging=tmp_path / "staging" / run.run_id if staged else None)
        assert got == expected
        assert contents(sharded) == contents(one)
    if page_bytes == 3_000:
        assert len(plan_pages(runs[0], page_bytes)) > shards  # several spans per shard
    # the second run took carried facts and marked the gone model
    with duckdb.connect(str(sharded), read_only=True) as con:
        assert con.execute("SELECT deleted_on IS NOT NULL FROM models WHERE repo_id = 'facebook/bart-base'").fetchall() == [(True,)]
        assert con.execute("SELECT count(*) FROM models WHERE model_type IS NOT NULL").fetchall()[0][0] > 3


def test_reloading_a_run_in_shards_changes_nothing(tmp_path):
    (run, _) = two_runs(tmp_path)
    db = DataDir(tmp_path / "w").warehouse
    load_in_shards(db, run, 2_000, 3)
    first = contents(db)
    load_in_shards(db, run, 2_000, 2)  # another shard count, the same pages (harvest_runs counts them)
    assert contents(db) == first


def test_a_normalized_page_survives_pickling_and_staging(tmp_path):
    (run, _) = two_runs(tmp_path)
    span = plan_pages(run, 4_000)[0]
    page = normalize_page(run, span, DataDir(tmp_path / "none-yet").warehouse)
    assert not (tmp_path / "none-yet").exists()  # no warehouse: nothing carried, nothing created
    for copy in (pickle.loads(pickle.dumps(page)), read_staged(stage_page(page, tmp_path / "staging"))):
        assert copy.index == page.index and list(copy.frames) == list(page.frames)
        assert all(copy.frames[name].equals(frame) for name, frame in page.frames.items())
        assert copy.files.configs.equals(page.files.configs) and copy.files.cards.equals(page.files.cards)
        assert copy.files.quarantine == page.files.quarantine and copy.files.statuses == page.files.statuses
        assert copy.has_siblings.equals(page.has_siblings)
        assert all(isinstance(f, pl.DataFrame) for f in copy.frames.values())


def test_pages_must_be_written_in_file_order(tmp_path):
    from warehouse.loading import LoadError

    (run, _) = two_runs(tmp_path)
    db = DataDir(tmp_path / "w").warehouse
    pages = list(iter_normalized(run, plan_pages(run, 4_000)[:2], None))
    with pytest.raises(LoadError, match="file order"):
        write_normalized(db, run, pages[::-1])
