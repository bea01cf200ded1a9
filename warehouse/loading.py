"""Load one raw run into the warehouse: pages normalized ahead (bounded), written by one writer, one transaction.

The one normalize-and-load path, used by the flow, ``rebuild`` and the benchmarks (``load_run``):

1. ``stage_run_facts``: the run's fetch outcomes and the facts stored by earlier runs go to the run's staging
   folder (``warehouse.pages.RunFacts``), so pages are normalized without the warehouse;
2. ``pages_in_order``: at most ``pages_in_flight`` listing pages are read, normalized or waiting to be written
   at any time (threads here, Prefect tasks or Dask workers in the flow: the caller's ``submit``);
3. ``write_run``: each page is written by ``PAGE_STEPS`` in file order, then the run's own rows
   (file_fetches, harvest_runs, deletions), all inside one transaction.

Idempotent: loading the same run again leaves every table's content unchanged. Keys and rules:

- ``models``, ``model_files``, ``model_lineage`` reflect each repo's newest run: a run older than the
  one a repo was last loaded from does not overwrite it (it can only move ``first_seen_run`` back).
  ``models`` has no key (migration 063: its index could not be evicted): a page's known repos are deleted,
  then inserted, which keeps one row per repo.
- ``model_stats_history``: one row per (repo, UTC day of the run); the latest run of the day wins. It and
  ``model_versions`` have no index (they grow with the Hub): a run's rows are staged, then merged once (``merge_history``).
- ``model_versions``: one row per (repo, sha), first seen = the earliest run that listed it.
- ``model_configs`` / ``model_cards``: one row per (repo, sha fetched at), from the newest run.
- ``quarantine``: the run's rows are replaced; ``harvest_runs``: the run's row is upserted.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter, deque
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Protocol

import duckdb
import polars as pl

from harvesters.landing import DataDir, ListingSpan, RawRun
from hubcensus import progress
from hubcensus.errors import HubcensusError
from warehouse.changes import record_page_changes, record_run_changes
from warehouse.database import WarehouseError, open_warehouse, transaction
from warehouse.lineage import settle_lineage
from warehouse.normalize.documents import CARD_FAILURES
from warehouse.normalize.listing import PAGE_BYTES
from warehouse.pages import (
    CARD_FILE,
    CONFIG_FILE,
    IN_PAGE,
    NormalizedPage,
    PageError,
    PagePlan,
    RunFacts,
    fetch_rows,
    normalize_page,
    page_keys,
    parse_ts,
    release_staged_pages,
    run_context,
)
from warehouse.schemas import FETCH_SCHEMA, MODELS_SCHEMA, QUARANTINE_SCHEMA, STATS_SCHEMA, VERSIONS_SCHEMA, conform

PAGES_IN_FLIGHT = 2  # 64 MB pages: ~140 MB each once normalized (benchmarks/README.md)
WRITER_MEMORY = "768MB"  # DuckDB's cap during a load: pages and staged rows beyond it are evicted or spilled; what it cannot evict (primary-key indexes) must fit. With the models key (until migration 063) a 2.5M reload of the same run ran out of memory at 1GB (953 MiB used); without it 768MB holds that reload (99 MiB of indexes left) and a 1M second night fits in 512MB
WRITER_THREADS = 1  # the pages are normalized on other threads meanwhile: DuckDB's own threads made the writer's inserts dearer (the 1M load alone: 27.6 / 27.6 s of CPU on one thread, 30.6 / 29.5 s on two; benchmarks/README.md)
CORE_TABLES = (
    "models", "model_configs", "model_cards", "model_files", "model_lineage",
    "model_stats_history", "model_versions", "harvest_runs", "quarantine", "file_fetches", "model_changes",
)  # fmt: skip


class LoadError(WarehouseError):
    """A raw run that cannot be loaded (missing or unreadable manifest)."""


class PageFuture(Protocol):
    def result(self) -> NormalizedPage: ...


Submit = Callable[[PagePlan, ListingSpan], PageFuture]


class FilesInFlight(Protocol):
    """A files stage still running when the load begins (the flow's): each page waits for its own files."""

    awaited: list[tuple[str, str]]  # (repo_id, path) of every file the stage was asked to fetch

    def wait(self) -> bool:
        """Any thread: block until the stage is over; True when it settled every file."""
        ...

    def finish(self) -> None:
        """The writer's thread, after the last page: raise the stage's error, or complete the harvest."""
        ...


# ------------------------------------------------------------------ 1. the run's staged facts
STORED_CONFIGS_SQL = (
    "SELECT repo_id, sha, model_type AS cfg_model_type, architectures AS cfg_architectures, "
    "quant_method AS cfg_quant_method, quant_bits AS cfg_quant_bits, "
    "params_estimate AS cfg_params_estimate, params_formula AS cfg_params_formula, "
    "is_encoder_decoder AS cfg_is_encoder_decoder FROM model_configs"
)
STORED_CARDS_SQL = (
    "SELECT repo_id, sha, front_matter::VARCHAR AS front_matter FROM model_cards "
    "WHERE front_matter IS NOT NULL AND parse_status NOT IN (SELECT unnest(?::VARCHAR[]))"
)


def stage_fetches(run: RawRun, facts: RunFacts) -> None:
    """The run's fetch log, last outcome per (repo_id, path) (a line torn by a crash is skipped); without a log
    (hand-made runs) every landed config.json / README.md counts as fetched ok."""
    (fetch_rows(list(run.fetch_outcomes().values())) if run.fetches_path.exists() else _landed_files(run)).write_parquet(facts.fetches)


def _landed_files(run: RawRun) -> pl.DataFrame:
    rows = [
        {"repo_id": repo_id, "sha": None, "path": name, "status": "ok", "http_status": None, "reason": None, "bytes": path.stat().st_size}
        for repo_id, name, path in run.landed_files((CONFIG_FILE, CARD_FILE))
    ]
    return pl.DataFrame(rows, schema=FETCH_SCHEMA)


def stage_run_facts(con: duckdb.DuckDBPyConnection, run: RawRun, directory: Path, awaited: list[tuple[str, str]] | None = None) -> PagePlan:
    """Write what every page needs besides its span (see ``RunFacts``), read before this run writes anything.

    ``awaited``: the files a stage still running will fetch; pages then read the fetch log as it grows, and the
    run's fetch outcomes are staged once that stage is over (``write_run``)."""
    try:
        manifest = run.read_manifest()
        ctx = run_context(run.run_id, manifest)
    except (OSError, json.JSONDecodeError) as exc:
        raise LoadError(f"run {run.run_id!r}: cannot read run.json ({exc})") from exc
    except PageError as exc:
        raise LoadError(str(exc)) from exc
    facts = RunFacts(Path(directory))
    facts.directory.mkdir(parents=True, exist_ok=True)
    if awaited is None:
        stage_fetches(run, facts)
    else:
        pl.DataFrame(awaited, schema={"repo_id": pl.String, "path": pl.String}, orient="row").write_parquet(facts.awaited)
    con.sql(STORED_CONFIGS_SQL).to_parquet(str(facts.stored_configs))
    con.sql(STORED_CARDS_SQL, params=[list(CARD_FAILURES)]).to_parquet(str(facts.stored_cards))
    return PagePlan(run, ctx, facts, files_in_flight=awaited is not None)


# ------------------------------------------------------------------ 2. pages in flight
def pages_in_order(submit: Submit, plan: PagePlan, spans: Iterable[ListingSpan], limit: int) -> Iterator[NormalizedPage]:
    """Normalized pages in file order, with at most ``limit`` pages submitted and not yet written.

    A page counts from its submission until the caller, having written it, asks for the next one; the caller
    must drop its reference to a written page before asking (``write_run`` does).
    """
    if limit < 1:
        raise ValueError(f"pages_in_flight must be at least 1, not {limit}")
    waiting: deque[PageFuture] = deque()
    total = len(spans) if isinstance(spans, list) else None
    todo = iter(spans)
    ready = 0

    def fill() -> None:
        while len(waiting) < limit and (span := next(todo, None)) is not None:
            waiting.append(submit(plan, span))

    fill()
    while waiting:
        page = waiting.popleft().result()
        ready += 1
        progress.advance("normalize", ready, total, unit="pages")
        yield page
        del page  # written: release it before the next page is submitted
        fill()


@contextmanager
def thread_submit(pages_in_flight: int) -> Iterator[Submit]:
    """Normalize pages on a thread pool of this process (Polars releases the GIL): rebuild and benchmarks."""
    pool = ThreadPoolExecutor(max_workers=max(1, pages_in_flight - 1), thread_name_prefix="normalize-page")
    try:
        yield lambda plan, span: pool.submit(normalize_page, plan, span)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def record_file_fetches(con: duckdb.DuckDBPyConnection, run_id: str, fetches: pl.DataFrame) -> int:
    """Upsert each file's latest fetch outcome (a run never overwrites a newer run's outcome)."""
    frame = fetches.select("repo_id", "path", "sha", "status", "http_status", "reason", "bytes").with_columns(
        pl.lit(run_id).alias("run_id")
    )
    run_fetches = arrow(frame)  # noqa: F841 - read by name in the SQL (see ``arrow``)
    con.execute(
        "INSERT INTO file_fetches BY NAME SELECT * FROM run_fetches ON CONFLICT (repo_id, path) DO UPDATE SET "
        "sha = excluded.sha, status = excluded.status, http_status = excluded.http_status, "
        "reason = excluded.reason, bytes = excluded.bytes, run_id = excluded.run_id "
        "WHERE excluded.run_id >= file_fetches.run_id"
    )
    return frame.height


def mark_deleted(con: duckdb.DuckDBPyConnection, run_id: str, scope: str | None, day: date) -> int:
    """Models a newer listing of the same scope no longer returns are gone from the Hub: mark, never drop.

    Only the newest run of a scope decides (reloading an older run marks nothing), and a model listed
    again is un-marked by the model upsert itself.
    """
    if not scope:
        return 0
    newer = con.execute("SELECT count(*) FROM harvest_runs WHERE scope = ? AND run_id > ?", [scope, run_id]).fetchall()[0][0]
    if newer:
        return 0
    return con.execute(
        "UPDATE models SET deleted_on = ? WHERE deleted_on IS NULL AND last_seen_run < ? "
        "AND last_seen_run IN (SELECT run_id FROM harvest_runs WHERE scope = ?)",
        [day, run_id, scope],
    ).fetchall()[0][0]



# ------------------------------------------------------------------ frames handed to DuckDB
def arrow(frame: pl.DataFrame) -> Any:
    """A Polars frame as an Arrow table DuckDB reads in place, by the name of the local variable holding it.

    DuckDB's replacement scan finds a Python variable named in the SQL among the calling function's locals.
    Not ``con.register``: a view unregistered inside a transaction keeps its Arrow table alive until the
    commit, so a run loaded in one transaction would keep every page in memory (~70 MB a page, measured).
    ``CompatLevel.newest()`` hands Polars' string views and list buffers over as they are; DuckDB's own
    Polars adapter converts to the oldest Arrow layout, a copy of every string (~0.5 s per 20k-model page).
    """
    return frame.to_arrow(compat_level=pl.CompatLevel.newest())


def _cols(schema: dict) -> str:
    return ", ".join(schema)


def _upsert_sql(table: str, schema: dict, key: tuple[str, ...], source: str, where: str = "", extra_set: dict[str, str] | None = None) -> str:
    """INSERT ... ON CONFLICT DO UPDATE built from constant column names (no data ever enters SQL text)."""
    extra_set = extra_set or {}
    sets = [f"{c} = {extra_set.get(c, 'excluded.' + c)}" for c in schema if c not in key]
    return (
        f"INSERT INTO {table} ({_cols(schema)}) SELECT {_cols(schema)} FROM {source} "
        f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {', '.join(sets)}" + (f" WHERE {where}" if where else "")
    )


# ------------------------------------------------------------------ 3. the writer: one page, table by table
@dataclass
class PageWrite:
    """One page being written: the connection, the run, the page, and which of its repos this run may overwrite.

    ``fresh`` (repo_id, old_sha, old_first_seen_run, known) holds the page's repos not loaded yet, or last
    loaded from this run or an older one; its old_* columns are the stored values before this page's write.
    ``keys`` is the page's repo id range: every statement reads stored rows through it (see ``page_keys``).
    """

    con: duckdb.DuckDBPyConnection
    run_id: str
    page: NormalizedPage
    fresh: pl.DataFrame
    keys: dict[str, str | None]
    models_arrow: Any = None  # the page's models and ``fresh`` as Arrow, read by name in the steps' SQL
    fresh_arrow: Any = None

    @property
    def any_known(self) -> bool:  # every statement touches only this page's repos: skip what has nothing to do
        return bool(self.fresh["known"].any())


def find_fresh(con: duckdb.DuckDBPyConnection, run_id: str, page_models: Any, keys: dict[str, str | None]) -> pl.DataFrame:
    """``page_models`` (Arrow) is read by name in the SQL (see ``arrow``)."""
    return con.sql(
        "SELECT p.repo_id, m.sha AS old_sha, m.first_seen_run AS old_first_seen_run, m.repo_id IS NOT NULL AS known "
        f"FROM page_models p LEFT JOIN (SELECT * FROM models WHERE {IN_PAGE.format('repo_id')}) m USING (repo_id) "
        "WHERE m.repo_id IS NULL OR m.last_seen_run <= $run_id",
        params={"run_id": run_id, **keys},
    ).pl()


def write_models(w: PageWrite) -> dict[str, int]:
    """Delete + insert (much cheaper in DuckDB than ON CONFLICT updates of list columns)."""
    cols = [c for c in MODELS_SCHEMA if c != "first_seen_run"]
    page_models, fresh = w.models_arrow, w.fresh_arrow  # noqa: F841 - read by name in the SQL
    if w.any_known:
        w.con.execute(f"DELETE FROM models WHERE {IN_PAGE.format('repo_id')} AND repo_id IN (SELECT repo_id FROM fresh WHERE known)", w.keys)
    w.con.execute(
        f"INSERT INTO models ({', '.join(cols)}, first_seen_run, deleted_on) "
        f"SELECT {', '.join('p.' + c for c in cols)}, least(p.first_seen_run, coalesce(f.old_first_seen_run, p.first_seen_run)), NULL "
        "FROM page_models p JOIN fresh f USING (repo_id)"
    )
    if w.fresh.height < w.page.models.height:  # repos a newer run already loaded: this older run may predate them
        w.con.execute(
            f"UPDATE models SET first_seen_run = $run_id WHERE {IN_PAGE.format('repo_id')} AND first_seen_run > $run_id "
            "AND repo_id IN (SELECT repo_id FROM page_models)",
            {"run_id": w.run_id, **w.keys},
        )
    return {"models": w.fresh.height}


def write_model_files(w: PageWrite) -> dict[str, int]:
    """Siblings are a function of the commit: a known repo's files are replaced only when its sha moved."""
    replace = (
        w.fresh.join(w.page.models.select("repo_id", "sha"), on="repo_id")
        .join(w.page.has_siblings, on="repo_id", how="semi")
        .filter(~pl.col("known") | pl.col("sha").ne_missing(pl.col("old_sha")))
    )
    if replace["known"].any():
        replace_files = arrow(replace.filter("known").select("repo_id"))  # noqa: F841 - read by name in the SQL
        w.con.execute(f"DELETE FROM model_files WHERE {IN_PAGE.format('repo_id')} AND repo_id IN (SELECT repo_id FROM replace_files)", w.keys)
    new_files = w.page.frames["model_files"]
    if replace["repo_id"].n_unique() < w.page.has_siblings.height:  # else every repo with files is new or moved
        new_files = new_files.join(replace.select("repo_id"), on="repo_id", how="semi")
    page_files = arrow(new_files)  # noqa: F841 - read by name in the SQL
    w.con.execute("INSERT INTO model_files SELECT repo_id, path, size, run_id FROM page_files")
    return {"model_files": new_files.height}


def write_lineage(w: PageWrite) -> dict[str, int]:
    lineage = w.page.frames["model_lineage"].join(w.fresh.select(pl.col("repo_id").alias("child_id")), on="child_id", how="semi")
    fresh, page_lineage = w.fresh_arrow, arrow(lineage)  # noqa: F841 - read by name in the SQL
    if w.any_known:
        w.con.execute(f"DELETE FROM model_lineage WHERE {IN_PAGE.format('child_id')} AND child_id IN (SELECT repo_id FROM fresh WHERE known)", w.keys)
    w.con.execute("INSERT INTO model_lineage SELECT child_id, parent_id, relation, source, note, run_id FROM page_lineage")
    return {"model_lineage": lineage.height}


def _upsert_frame(w: PageWrite, table: str, frame: pl.DataFrame, key: tuple[str, ...], where: str) -> dict[str, int]:
    page_rows = arrow(frame)  # noqa: F841 - read by name in the SQL
    w.con.execute(_upsert_sql(table, dict.fromkeys(frame.columns), key, "page_rows", where=where))
    return {table: frame.height}


def stage_history(w: PageWrite) -> dict[str, int]:
    """The page's stats and versions rows join the run's staged rows; ``merge_history`` writes them once per run.

    Per page they would need a keyed upsert into tables that grow with the Hub (an ART index the load cannot
    evict, or a scan of the table per page); per run it is one hash join each."""
    for table, staged in HISTORY_STAGES.items():
        frame = w.page.frames[table].with_columns(page=pl.lit(w.page.index, pl.Int32))
        page_rows = arrow(frame)  # noqa: F841 - read by name in the SQL
        w.con.execute(f"INSERT INTO {staged} ({_cols(frame.schema)}) SELECT {_cols(frame.schema)} FROM page_rows")
    return {}


HISTORY_STAGES = {"model_stats_history": "staged_stats", "model_versions": "staged_versions"}
STATS_COLUMNS = tuple(STATS_SCHEMA)
VERSIONS_COLUMNS = tuple(VERSIONS_SCHEMA)


def stage_history_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Empty temporary tables for the run's history rows (this connection only; spilled to disk if need be)."""
    for table, staged in HISTORY_STAGES.items():
        con.execute(f"CREATE OR REPLACE TEMP TABLE {staged} AS SELECT *, 0::INTEGER AS page FROM {table} LIMIT 0")


def merge_history(con: duckdb.DuckDBPyConnection, one_page_each: bool = False) -> dict[str, int]:
    """The run's staged history rows, merged as the keyed upserts they replace would have left them.

    ``model_stats_history`` (repo_id, observed_on): the latest run of the day wins (within a run, its latest
    page). ``model_versions`` (repo_id, sha): the earliest run that listed the sha. Every statement is a hash
    aggregate or a hash join, which DuckDB spills under its memory cap; ``DISTINCT ON ... ORDER BY`` does not
    (at a 100MB cap it ran out of memory on 1M staged rows where these finished in 3.5 s).
    ``one_page_each``: no repo was on two pages (``RunTally.one_page_each``), so each staged row is already its
    key's one row and the two aggregates are skipped (4.6 s of CPU at 2.5M models)."""
    if one_page_each:
        con.execute(f"CREATE OR REPLACE TEMP VIEW merging_stats AS SELECT {_cols(STATS_COLUMNS)} FROM staged_stats")
        con.execute(f"CREATE OR REPLACE TEMP VIEW merging_versions AS SELECT {_cols(VERSIONS_COLUMNS)} FROM staged_versions")
    else:
        con.execute(  # a page holds a repo once: its latest page's row is the one whose page is the repo's max
            f"CREATE OR REPLACE TEMP TABLE merging_stats AS SELECT {_cols('s.' + c for c in STATS_COLUMNS)} "
            "FROM staged_stats s SEMI JOIN (SELECT repo_id, observed_on, max(page) AS page FROM staged_stats GROUP BY ALL) "
            "USING (repo_id, observed_on, page)"
        )
        con.execute(  # every staged row carries this run's id and time: the earliest is the minimum of each
            "CREATE OR REPLACE TEMP TABLE merging_versions AS SELECT repo_id, sha, min(first_seen_run) AS first_seen_run, "
            "min(first_seen_at) AS first_seen_at FROM staged_versions GROUP BY repo_id, sha"
        )
    con.execute(
        "DELETE FROM model_stats_history h USING merging_stats r "
        "WHERE h.repo_id = r.repo_id AND h.observed_on = r.observed_on AND h.run_id <= r.run_id"
    )
    stats = con.execute(
        f"INSERT INTO model_stats_history ({_cols(STATS_COLUMNS)}) SELECT {_cols('r.' + c for c in STATS_COLUMNS)} FROM merging_stats r "
        "ANTI JOIN model_stats_history h ON h.repo_id = r.repo_id AND h.observed_on = r.observed_on"
    ).fetchone()[0]
    earlier = con.execute(
        "UPDATE model_versions v SET first_seen_run = r.first_seen_run, first_seen_at = r.first_seen_at "
        "FROM merging_versions r WHERE v.repo_id = r.repo_id AND v.sha = r.sha AND r.first_seen_run < v.first_seen_run"
    ).fetchone()[0]
    versions = earlier + con.execute(
        f"INSERT INTO model_versions ({_cols(VERSIONS_COLUMNS)}) SELECT {_cols('r.' + c for c in VERSIONS_COLUMNS)} FROM merging_versions r "
        "ANTI JOIN model_versions v USING (repo_id, sha)"
    ).fetchone()[0]
    kind = "VIEW" if one_page_each else "TABLE"
    for temp in ("merging_stats", "merging_versions"):
        con.execute(f"DROP {kind} {temp}")
    for temp in HISTORY_STAGES.values():
        con.execute(f"DROP TABLE {temp}")
    return {"model_stats_history": stats, "model_versions": versions}


def write_documents(w: PageWrite) -> dict[str, int]:
    written: dict[str, int] = {}
    for table, frame in (("model_configs", w.page.files.configs), ("model_cards", w.page.files.cards)):
        frame = frame.unique(["repo_id", "sha"], keep="last", maintain_order=True)
        written |= _upsert_frame(w, table, frame, ("repo_id", "sha"), f"excluded.run_id >= {table}.run_id")
    return written


def write_quarantine(w: PageWrite) -> dict[str, int]:
    files = conform(pl.DataFrame(w.page.files.quarantine, schema=QUARANTINE_SCHEMA), QUARANTINE_SCHEMA)
    quarantine = pl.concat([w.page.frames["quarantine"], files])
    page_quarantine = arrow(quarantine)  # noqa: F841 - read by name in the SQL
    w.con.execute("INSERT INTO quarantine SELECT run_id, repo_id, stage, reason, excerpt FROM page_quarantine")
    return {"quarantine": quarantine.height}


def record_changes(w: PageWrite) -> dict[str, int]:
    """What this page changes against the stored rows (warehouse/changes.py): must run before ``write_models``."""
    return {"model_changes": record_page_changes(w.con, w.run_id, w.page.models, w.keys)}


# The per-page steps, in order. A step that compares a page with what is stored (e.g. recording changes) goes
# before ``write_models``; one that derives rows from the written models (e.g. aliases) goes after it. Each
# takes the ``PageWrite`` and returns {table: rows written}.
PAGE_STEPS: tuple[Callable[[PageWrite], dict[str, int]], ...] = (
    record_changes,
    write_models,
    write_model_files,
    write_lineage,
    stage_history,
    write_documents,
    write_quarantine,
)


def write_page(con: duckdb.DuckDBPyConnection, run_id: str, page: NormalizedPage) -> Counter:
    """Every table's rows of one page (``PAGE_STEPS``); returns rows written per table."""
    written: Counter = Counter()
    models, keys = arrow(page.models), page_keys(page.models)
    fresh = find_fresh(con, run_id, models, keys)
    step = PageWrite(con, run_id, page, fresh, keys, models, arrow(fresh))
    for write in PAGE_STEPS:
        written.update(write(step))
    return written


# ------------------------------------------------------------------ 3. the writer: the run
@dataclass
class RunTally:
    """What the run's pages added up to: rows written, rows normalized, file outcomes, the watermark."""

    written: Counter = field(default_factory=Counter)  # a reload writes fewer: unchanged files are skipped
    normalized: Counter = field(default_factory=Counter)  # rows the raw landing yields: harvest_runs.counts
    files: Counter = field(default_factory=Counter)
    pages: int = 0
    models: int = 0
    watermark: datetime | None = None
    last_index: int = -1
    ranges: list[tuple[str, str]] = field(default_factory=list)  # each page's repo id range

    def one_page_each(self) -> bool:
        """Whether no repo was on two pages: the pages' id ranges do not overlap (a page holds a repo once)."""
        ranges = sorted(self.ranges)
        return all(earlier[1] < later[0] for earlier, later in zip(ranges, ranges[1:]))

    def add(self, run_id: str, page: NormalizedPage, written: Counter) -> None:
        if page.index <= self.last_index:
            raise LoadError(f"run {run_id!r}: page {page.index} written after page {self.last_index} (pages must come in file order)")
        self.last_index, self.pages, self.models = page.index, self.pages + 1, self.models + page.models.height
        self.written.update(written)
        self.files.update(page.files.statuses)
        self.normalized.update({name: frame.height for name, frame in page.frames.items()})
        self.normalized.update(model_configs=page.files.configs.height, model_cards=page.files.cards.height)
        if page.models.height:
            keys = page_keys(page.models)
            self.ranges.append((keys["lo"], keys["hi"]))
        newest = page.models["last_modified"].max()
        if newest is not None and (self.watermark is None or newest > self.watermark):
            self.watermark = newest


def _record_run(con: duckdb.DuckDBPyConnection, run: RawRun, manifest: dict[str, Any], counts: dict, watermark: datetime | None) -> None:
    con.execute(
        "INSERT INTO harvest_runs (run_id, started_at, finished_at, status, counts, endpoint, scope, watermark) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (run_id) DO UPDATE SET started_at = excluded.started_at, "
        "finished_at = excluded.finished_at, status = excluded.status, counts = excluded.counts, "
        "endpoint = excluded.endpoint, scope = excluded.scope, watermark = excluded.watermark",
        [
            run.run_id, parse_ts(manifest.get("started_at")), parse_ts(manifest.get("finished_at")),
            manifest.get("status"), json.dumps(counts, sort_keys=True, default=str),
            manifest.get("endpoint"), manifest.get("scope"), parse_ts(manifest.get("watermark")) or watermark,
        ],
    )  # fmt: skip


def write_run(con: duckdb.DuckDBPyConnection, plan: PagePlan, pages: Iterable[NormalizedPage], on_page: Callable[[int], None] | None = None,
              files: FilesInFlight | None = None) -> dict[str, Any]:  # fmt: skip
    """Everything of one run, inside the caller's transaction. Returns rows written per table (+ deleted).

    With ``files`` (still being fetched when the load began), the run's own rows wait for that stage to finish."""
    run = plan.run
    con.execute("DELETE FROM quarantine WHERE run_id = ?", [run.run_id])
    stage_history_tables(con)
    tally = RunTally()
    for page in pages:
        tally.add(run.run_id, page, write_page(con, run.run_id, page))
        progress.advance("load", tally.pages, unit="pages", text=f"{tally.models:,} models")
        if on_page is not None:
            on_page(page.index)
        del page  # before the next page is asked for: see pages_in_order
    if files is not None:
        files.finish()
        stage_fetches(run, plan.facts)
    manifest = run.read_manifest()
    tally.written.update(merge_history(con, tally.one_page_each()))
    fetches = pl.read_parquet(plan.facts.fetches)
    tally.written["file_fetches"] = record_file_fetches(con, run.run_id, fetches)
    tally.written.update(settle_lineage(con, run))  # aliases, then sizes through lineage (warehouse/lineage.py)
    quarantined = dict(con.execute("SELECT stage, count(*) FROM quarantine WHERE run_id = ? GROUP BY stage ORDER BY stage", [run.run_id]).fetchall())
    counts = {
        "listing": {"landed": run.listing_complete, "models": tally.models, "pages": tally.pages},
        "fetches": dict(sorted(Counter(fetches["status"].drop_nulls().to_list()).items())),
        "files": dict(sorted(tally.files.items())),
        "quarantine": quarantined,
        "rows": dict(sorted(tally.normalized.items())),
        "harvest": manifest.get("counts"),
    }
    _record_run(con, run, manifest, counts, tally.watermark)
    out = dict(sorted(tally.written.items()))
    out["harvest_runs"] = 1
    if tally.models:
        out["deleted"] = mark_deleted(con, run.run_id, manifest.get("scope"), plan.ctx.observed_on)
        out["model_changes"] = record_run_changes(con, run.run_id, plan.ctx.observed_on)  # deletions, renames
    return out


# ------------------------------------------------------------------ the one path: load_run
def load_run(
    data: DataDir,
    run: RawRun,
    *,
    db_path: Path | str | None = None,
    submit: Submit | None = None,
    pages_in_flight: int = PAGES_IN_FLIGHT,
    page_bytes: int = PAGE_BYTES,
    on_page: Callable[[int], None] | None = None,
    empty_first: bool = False,
    files: FilesInFlight | None = None,
) -> dict[str, Any]:
    """Normalize and load one run in ONE transaction; returns rows written per table. Idempotent.

    ``submit(plan, span)`` normalizes one page somewhere and returns a future (default: a thread pool here);
    at most ``pages_in_flight`` pages are submitted and not yet written. ``on_page(index)`` is told of each
    page written; ``empty_first`` empties the core tables in the same transaction. ``files``: the run's files
    stage, still running; the load starts on the listing anyway, each page once its files have settled.
    """
    staging = data.staging_for(run.run_id)
    con = open_warehouse(db_path or data.warehouse, memory_limit=WRITER_MEMORY, threads=WRITER_THREADS)
    plan = None
    try:
        plan = stage_run_facts(con, run, staging, awaited=files.awaited if files is not None else None)
        if files is not None:
            threading.Thread(target=_watch_files, args=(files, plan.facts), name="files-watch", daemon=True).start()
        spans = run.listing_spans(page_bytes)
        started = time.monotonic()
        progress.start("normalize", total=len(spans), unit="pages")
        progress.start("load", unit="pages")
        with _submitter(submit, pages_in_flight) as submit_page, transaction(con):
            if empty_first:
                for table in CORE_TABLES:
                    con.execute(f"DELETE FROM {table}")
            written = write_run(con, plan, pages_in_order(submit_page, plan, spans, pages_in_flight), on_page, files)
            progress.note("load", "committing")
        progress.finish("load", len(spans), len(spans), unit="pages", seconds=time.monotonic() - started, text=f"{written.get('models', 0):,} models written")
        return written
    finally:
        con.close()
        if plan is not None:
            release_staged_pages(plan)
        data.remove(staging)


def _watch_files(files: FilesInFlight, facts: RunFacts) -> None:
    """Tell the waiting pages when the files stage is over, and how it went."""
    try:
        settled = files.wait()
    except BaseException:
        settled = False
    facts.mark_files_over(settled)


@contextmanager
def _submitter(submit: Submit | None, pages_in_flight: int) -> Iterator[Submit]:
    if submit is not None:
        yield submit
    else:
        with thread_submit(pages_in_flight) as pooled:
            yield pooled


def _open_run(raw_run_dir: Path | str) -> tuple[DataDir, RawRun]:
    """A run from its folder: the folder's name is its id, and its manifest must agree."""
    root = Path(raw_run_dir)
    data = DataDir(root.parent.parent)
    try:
        run = RawRun.open(data, root.name)
        run_id = run.read_manifest().get("run_id") or root.name
    except HubcensusError as exc:
        raise LoadError(f"no raw run at {root}: {exc}") from exc
    except (OSError, json.JSONDecodeError) as exc:
        raise LoadError(f"cannot read the manifest of {root}: {exc}") from exc
    if run_id != root.name:
        raise LoadError(f"the manifest says run_id {run_id!r} but the folder is {root.name!r}")
    return data, run


def load_raw_run(db_path: Path | str, raw_run_dir: Path | str, page_bytes: int = PAGE_BYTES, pages_in_flight: int = PAGES_IN_FLIGHT) -> dict[str, int]:
    """``load_run`` for a run folder into the warehouse at ``db_path`` (tests, benchmarks)."""
    data, run = _open_run(raw_run_dir)
    return load_run(data, run, db_path=db_path, page_bytes=page_bytes, pages_in_flight=pages_in_flight)


def pruned_runs(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Runs whose raw landing was pruned: a full rebuild cannot bring their history back."""
    return [r[0] for r in con.execute("SELECT run_id FROM harvest_runs WHERE raw_pruned_at IS NOT NULL ORDER BY run_id").fetchall()]


def rebuild(data_dir: DataDir | Path | str, run_id: str | None = None, page_bytes: int = PAGE_BYTES, include_abandoned: bool = False,
            pages_in_flight: int = PAGES_IN_FLIGHT) -> dict[str, dict[str, int]]:  # fmt: skip
    """Re-normalize from the raw landing, without the Hub.

    With ``run_id``: reload that run (an idempotent upsert). Without: empty the core tables and reload
    every run in order (runs a crash left ``abandoned`` only when asked), each in its own transaction
    (emptying happens in the first run's transaction, so the warehouse is never seen empty). The catalog's
    tables are left alone. Refused when runs were pruned from raw/: their history lives only in the warehouse.
    """
    data = DataDir.of(data_dir)
    if run_id:
        runs = [RawRun.open(data, run_id)]  # a clear error when it does not exist
    else:
        runs = [run for run in data.runs() if include_abandoned or run.status != "abandoned"]
        _refuse_if_pruned(data)
    if not runs:
        raise LoadError(f"no raw runs under {data.raw}: nothing to rebuild")
    return {
        run.run_id: load_run(data, run, page_bytes=page_bytes, pages_in_flight=pages_in_flight, empty_first=number == 0 and not run_id)
        for number, run in enumerate(runs)
    }


def _refuse_if_pruned(data: DataDir) -> None:
    if not data.warehouse.exists():
        return
    con = open_warehouse(data.warehouse)
    try:
        pruned = pruned_runs(con)
    finally:
        con.close()
    if pruned:
        raise LoadError(
            f"{len(pruned)} run(s) were pruned from {data.raw} (the oldest {pruned[0]}): a full rebuild would drop "
            "their history from the warehouse; reload single runs with `hubcensus rebuild --run RUN_ID`"
        )


def table_contents(con: duckdb.DuckDBPyConnection, tables: tuple[str, ...] = CORE_TABLES) -> dict[str, list[tuple]]:
    """Every row of each table, in a stable order (for comparing two warehouses' content)."""
    out = {}
    for table in tables:
        cols = [r[0] for r in con.execute("SELECT column_name FROM duckdb_columns() WHERE table_name = ? ORDER BY column_index", [table]).fetchall()]
        order = ", ".join(f"CAST({c} AS VARCHAR) NULLS FIRST" for c in cols)
        out[table] = con.execute(f"SELECT * FROM {table} ORDER BY {order}").fetchall()
    return out
