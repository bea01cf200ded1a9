"""The one normalize-and-load path: pages read alone, normalized ahead (bounded), written by one writer.

Whatever the page size, the number of pages in flight and whether the run was landed compressed or not,
the warehouse ends up the same.
"""

from __future__ import annotations

import dataclasses
import gc
import json
import pickle
import threading
import time
import weakref
from concurrent.futures import ThreadPoolExecutor

import duckdb
import polars as pl
import pytest

from harvesters.landing import DataDir
from warehouse.database import open_warehouse
from harvesters.replay.fixtures import DEMO_SNAPSHOT, make_raw_run, snapshot_bodies
from warehouse.loading import LoadError, load_raw_run, load_run, rebuild, stage_run_facts, table_contents, write_run
from warehouse.normalize.listing import PAGE_BYTES, read_page
from warehouse.pages import PageError, StagedPage, normalize_page

RUN1 = "20250101T060000Z-aaaaaa"
RUN2 = "20250102T060000Z-bbbbbb"
BAD_LINES = [
    b'{"id": "broken/json", "likes": ',
    b'["not", "a", "record"]',
    b'{"id": "odd/shapes", "tags": "not-a-list", "cardData": [1], "downloads": "12", "likes": 1.5, "gated": true}',
]


def contents(db, pages_counted=True):
    """Every core table's rows; without the run's page count (harvest_runs.counts) when pages differ in size."""
    with duckdb.connect(str(db), read_only=True) as con:
        tables = table_contents(con)
        if not pages_counted:
            tables["harvest_runs"] = con.execute("SELECT run_id, json_remove(counts, '$.listing.pages') FROM harvest_runs ORDER BY run_id").fetchall()
        return tables


def two_runs(data_dir, compressed=True):
    """A full first run (with bad lines and a malformed config), then an incremental one: three shas moved
    (only their files fetched: the others carry their stored facts forward) and one model gone."""
    bodies = snapshot_bodies()
    first = make_raw_run(data_dir, RUN1, extra_lines=BAD_LINES, compressed=compressed)
    moved = ["google-bert/bert-base-uncased", "sentence-transformers/all-MiniLM-L6-v2", "google-t5/t5-small"]
    second_bodies = [dict(b, sha="f" * 40) if b["id"] in moved else b for b in bodies if b["id"] != "facebook/bart-base"]
    files = {
        (repo_id, name): path.read_bytes()
        for repo_id in moved
        for name in ("config.json", "README.md")
        if (path := DEMO_SNAPSHOT / "files" / repo_id / name).is_file()
    }
    files[("google-bert/bert-base-uncased", "config.json")] = b'{"model_type": "bert", "hidden_size": 768,'  # quarantined
    second = make_raw_run(data_dir, RUN2, bodies=second_bodies, files=files, compressed=compressed)
    return [first, second]


@pytest.mark.parametrize("compressed", [True, False])
@pytest.mark.parametrize("page_bytes", [997, PAGE_BYTES])
def test_spans_read_alone_give_the_whole_listing(data_dir, page_bytes, compressed):
    run = make_raw_run(data_dir, RUN1, bodies=snapshot_bodies()[:12], files={}, extra_lines=BAD_LINES, compressed=compressed)
    whole = b"".join(run.read_span(span) for span in run.listing_spans(1 << 28))
    spans = run.listing_spans(page_bytes)
    assert [s.index for s in spans] == list(range(len(spans))) and spans[-1].end == run.listing_path.stat().st_size
    assert b"".join(run.read_span(span) for span in spans) == whole
    assert all(s.start == prev.end for prev, s in zip(spans, spans[1:]))
    # each page, read alone, numbers its lines as in the whole listing
    frames, bad = zip(*(read_page(run.read_span(span), span.first_line, RUN1) for span in spans))
    want_frame, want_bad = read_page(whole, 1, RUN1)
    assert pl.concat(frames).equals(want_frame) and [q for page in bad for q in page] == want_bad
    assert len(spans) == (1 if page_bytes == PAGE_BYTES else 3 if compressed else len(spans))
    assert run.listing_compressed == compressed and run.listing_sizes()["uncompressed_bytes"] == len(whole)


def test_any_page_size_and_pages_in_flight_give_the_same_warehouse(tmp_path, page_bytes=3_000, in_flight=3):
    runs = two_runs(tmp_path / "data")
    one, paged = tmp_path / "one" / "warehouse.duckdb", tmp_path / "paged" / "warehouse.duckdb"
    for run in runs:
        expected = load_raw_run(one, run.root, page_bytes=PAGE_BYTES, pages_in_flight=1)
        assert load_raw_run(paged, run.root, page_bytes=page_bytes, pages_in_flight=in_flight) == expected
        assert contents(paged, pages_counted=False) == contents(one, pages_counted=False)
    # the second run took carried facts and marked the gone model; staging is gone
    with duckdb.connect(str(paged), read_only=True) as con:
        assert con.execute("SELECT deleted_on IS NOT NULL FROM models WHERE repo_id = 'facebook/bart-base'").fetchall() == [(True,)]
        assert con.execute("SELECT count(*) FROM models WHERE model_type IS NOT NULL").fetchall()[0][0] > 3
    assert not any(DataDir(tmp_path / "data").staging.glob("*"))


def test_a_repo_listed_on_two_pages_keeps_one_history_row_the_later_one(tmp_path):
    """Pages whose id ranges overlap (a Hub whose pages shifted while it was listed) take the merge's full path;
    pages that do not, the short one: both leave what one page holding every line leaves."""
    bodies = snapshot_bodies()
    first = min(bodies, key=lambda b: b["id"])
    again = dict(first, downloads=int(first.get("downloads") or 0) + 12345)  # listed again, last
    run = make_raw_run(tmp_path / "data", RUN1, bodies=[*bodies, again])
    one_page, paged = tmp_path / "one" / "warehouse.duckdb", tmp_path / "paged" / "warehouse.duckdb"
    load_raw_run(one_page, run.root, page_bytes=PAGE_BYTES)
    load_raw_run(paged, run.root, page_bytes=997)
    tables, expected = contents(paged), contents(one_page)
    del tables["harvest_runs"], expected["harvest_runs"]  # its counts: the rows each page normalized (37 against 36)
    assert tables == expected
    with duckdb.connect(str(paged), read_only=True) as con:
        assert con.execute("SELECT downloads FROM model_stats_history WHERE repo_id = ?", [first["id"]]).fetchall() == [(again["downloads"],)]
        assert con.execute("SELECT count(*) FROM model_versions WHERE repo_id = ?", [first["id"]]).fetchone()[0] == 1


def test_a_compressed_and_an_uncompressed_run_rebuild_to_the_same_warehouse(tmp_path):
    compressed, plain = DataDir(tmp_path / "zst"), DataDir(tmp_path / "plain")
    zst_runs, plain_runs = two_runs(compressed.root), two_runs(plain.root, compressed=False)
    assert all(r.listing_path.name == "models.ndjson.zst" for r in zst_runs)
    assert all(r.listing_path.name == "models.ndjson" for r in plain_runs)
    sizes = zst_runs[0].read_manifest()["listing"]
    assert sizes["bytes"] < sizes["uncompressed_bytes"] == plain_runs[0].listing_path.stat().st_size
    rebuild(compressed)
    rebuild(plain)
    assert contents(compressed.warehouse) == contents(plain.warehouse)


def test_reloading_a_run_changes_nothing(tmp_path):
    (run, _) = two_runs(tmp_path / "data")
    db = tmp_path / "w" / "warehouse.duckdb"
    load_raw_run(db, run.root)
    first = contents(db)
    load_raw_run(db, run.root)
    assert contents(db) == first


def _plan(tmp_path, run):
    con = open_warehouse(tmp_path / "w" / "warehouse.duckdb")
    try:
        return stage_run_facts(con, run, tmp_path / "staging")
    finally:
        con.close()


@pytest.mark.parametrize("handover", ["pickle", "staging folder", "in process"])
def test_a_normalized_page_survives_its_handover(tmp_path, handover):
    """Dask pickles pages; a page normalized in another process than the writer's is staged in the run's folder
    (frames as Arrow IPC), read once and removed; one normalized in the writer's process waits in memory."""
    (run, _) = two_runs(tmp_path / "data")
    plan = _plan(tmp_path, run)
    page = normalize_page(plan, run.listing_spans(4_000)[0])
    if handover == "pickle":
        copy = pickle.loads(pickle.dumps(page))
    elif handover == "staging folder":
        staged = StagedPage.write(dataclasses.replace(plan, writer_pid=-1), page)  # as on a Dask worker
        assert staged.path.parent == plan.facts.directory and staged.path.is_file()
        copy = staged.read()
        assert not staged.path.exists()
    else:
        staged = StagedPage.write(plan, page)
        assert not staged.path.exists()
        copy = staged.read()
        assert copy is page
        with pytest.raises(FileNotFoundError):
            staged.read()  # handed over once
    assert copy.index == page.index and list(copy.frames) == list(page.frames)
    assert all(copy.frames[name].equals(frame) for name, frame in page.frames.items())
    assert copy.files.configs.equals(page.files.configs) and copy.files.cards.equals(page.files.cards)
    assert copy.files.quarantine == page.files.quarantine and copy.files.statuses == page.files.statuses
    assert copy.has_siblings.equals(page.has_siblings)


def test_pages_must_be_written_in_file_order(tmp_path):
    (run, _) = two_runs(tmp_path / "data")
    plan = _plan(tmp_path, run)
    pages = [normalize_page(plan, span) for span in run.listing_spans(4_000)[:2]]
    con = open_warehouse(tmp_path / "w" / "warehouse.duckdb")
    try:
        with pytest.raises(LoadError, match="file order"):
            write_run(con, plan, pages[::-1])
    finally:
        con.close()


@pytest.mark.parametrize("in_flight", [1, 3])
def test_the_loader_never_holds_more_than_pages_in_flight_pages(tmp_path, in_flight):
    """Counted, not timed: every page object still alive (weak references, after a collection) each time a
    page is submitted, and the pages submitted but not yet written."""
    (run, _) = two_runs(tmp_path / "data")
    alive = [0]  # pages created and not yet freed
    submitted, written, seen = [], [], []
    pool = ThreadPoolExecutor(max_workers=4)

    def normalize_counted(plan, span):
        page = normalize_page(plan, span)
        alive[0] += 1
        weakref.finalize(page, lambda: alive.__setitem__(0, alive[0] - 1))
        return page

    def submit(plan, span):
        gc.collect()
        submitted.append(span.index)
        seen.append((alive[0], len(submitted) - len(written)))
        return pool.submit(normalize_counted, plan, span)

    try:
        load_run(DataDir(tmp_path / "data"), run, submit=submit, pages_in_flight=in_flight, page_bytes=1_500, on_page=written.append)
    finally:
        pool.shutdown()
    assert len(written) == len(run.listing_spans(1_500)) > 2 * in_flight and written == sorted(written)
    assert max(in_flight_now for _, in_flight_now in seen) == in_flight
    assert max(live for live, _ in seen) <= in_flight - 1  # a submission waits until a written page is released


def test_a_load_that_stops_leaves_no_page_waiting_in_memory(tmp_path):
    """Pages staged ahead in the writer's process (the flow's thread runner) wait in memory until written: a
    load that stops drops them."""
    from flows.refresh import _StagedResult  # how the flow hands a normalize-page task's result to the loader
    from warehouse import pages
    from warehouse.loading import load_run
    from warehouse.pages import stage_normalized_page

    (run, _) = two_runs(tmp_path / "data")
    pool = ThreadPoolExecutor(max_workers=2)

    def stop(index: int) -> None:
        raise RuntimeError("the writer stopped")

    with pytest.raises(RuntimeError, match="the writer stopped"):
        load_run(DataDir(tmp_path / "data"), run, page_bytes=4_000, pages_in_flight=3, on_page=stop,
                 submit=lambda plan, span: _StagedResult(pool.submit(stage_normalized_page, plan, span)))  # fmt: skip
    pool.shutdown(wait=True)
    assert len(run.listing_spans(4_000)) > 3
    assert [path for path in pages._in_process if run.run_id in str(path)] == []


class FilesBeingFetched:
    """A files stage still running when the load begins (``warehouse.loading.FilesInFlight``): it appends the
    fetch log of an already harvested run line by line, holding the last line back until ``release`` is set."""

    def __init__(self, run, lines: list[bytes], release: threading.Event, fail_after: int | None = None) -> None:
        self.run, self.lines, self.release, self.fail_after = run, lines, release, fail_after
        self.awaited = [(row["repo_id"], row["path"]) for row in map(json.loads, lines)]
        self.finished, self.held_back = False, None
        self.thread = threading.Thread(target=self.fetch)
        self.thread.start()

    def fetch(self) -> None:
        begun = DataDir(self.run.root.parent.parent).staging_for(self.run.run_id) / "awaited_files.parquet"
        while not begun.exists():  # fetching starts with the load, and takes longer than normalizing every page
            time.sleep(0.01)
        for number, line in enumerate(self.lines):
            if number == self.fail_after:
                return
            if number == len(self.lines) - 1:
                self.held_back = self.release.wait(timeout=30)  # False: no page was written without this file
            with self.run.fetches_path.open("ab") as log:
                log.write(line + b"\n")
            time.sleep(0.1)

    def wait(self) -> bool:
        self.thread.join()
        return self.fail_after is None

    def finish(self) -> None:
        self.thread.join()
        if self.fail_after is not None:
            raise RuntimeError("a shard failed")
        self.finished = True


def _run_without_fetch_log(data_dir):
    """A harvested run (files landed) and its fetch log's lines, the log itself removed: 'still being fetched'."""
    run = make_raw_run(data_dir, RUN1, extra_lines=BAD_LINES)
    lines = run.fetches_path.read_bytes().splitlines()
    run.fetches_path.unlink()
    return run, lines


def test_a_load_begun_while_files_are_fetched_writes_pages_as_their_files_settle(tmp_path):
    """The flow starts the load beside the files stage: each page waits for its own files only, and the warehouse
    is the one a load after the files stage would have made."""
    after = make_raw_run(tmp_path / "after", RUN1, extra_lines=BAD_LINES)
    load_raw_run(tmp_path / "after.duckdb", after.root, page_bytes=3_000)
    run, lines = _run_without_fetch_log(tmp_path / "beside")
    first_page_written = threading.Event()
    files = FilesBeingFetched(run, lines, release=first_page_written)
    load_run(DataDir(tmp_path / "beside"), run, db_path=tmp_path / "beside.duckdb", page_bytes=3_000, pages_in_flight=2,
             on_page=lambda index: first_page_written.set(), files=files)  # fmt: skip
    assert files.held_back and files.finished  # a page was written while a file was still awaited
    assert contents(tmp_path / "beside.duckdb") == contents(tmp_path / "after.duckdb")
    with duckdb.connect(str(tmp_path / "beside.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM model_configs").fetchone()[0] > 3


def test_a_files_stage_that_fails_fails_the_load_begun_beside_it(tmp_path):
    run, lines = _run_without_fetch_log(tmp_path / "data")
    files = FilesBeingFetched(run, lines, release=threading.Event(), fail_after=len(lines) // 2)
    db = tmp_path / "w.duckdb"
    with pytest.raises((PageError, RuntimeError), match="files stage failed|a shard failed"):
        load_run(DataDir(tmp_path / "data"), run, db_path=db, page_bytes=3_000, pages_in_flight=2, files=files)
    with duckdb.connect(str(db), read_only=True) as con:  # one transaction: nothing of the run was kept
        assert con.execute("SELECT count(*) FROM models").fetchone()[0] == 0
    assert not any(DataDir(tmp_path / "data").staging.glob("*"))
