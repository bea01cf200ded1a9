"""Load one raw run into the warehouse: normalize page by page (Polars), write through Arrow, one transaction.

Idempotent: loading the same run again leaves every table's content unchanged. Keys and rules:

- ``models``, ``model_files``, ``model_lineage`` reflect each repo's newest run: a run older than the
  one a repo was last loaded from does not overwrite it (it can only move ``first_seen_run`` back).
- ``model_stats_history``: one row per (repo, UTC day of the run); the latest run of the day wins.
- ``model_versions``: one row per (repo, sha), first seen = the earliest run that listed it.
- ``model_configs`` / ``model_cards``: one row per (repo, sha fetched at), from the newest run.
- ``quarantine``: the run's rows are replaced; ``harvest_runs``: the run's row is upserted.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Iterable, Iterator

import duckdb
import polars as pl

from hubcensus.errors import HubcensusError

from harvesters.landing import DataDir, RawRun
from warehouse.changes import record_page_changes, record_run_changes
from warehouse.database import WarehouseError, open_warehouse, pending, transaction
from warehouse.lineage import settle_lineage
from warehouse.normalize import mappings
from warehouse.normalize.documents import CARD_FAILURES, DocumentError, card_lineage_fields, parse_card, parse_config
from warehouse.normalize.listing import (
    CARD_FACTS_SCHEMA,
    CONFIG_FACTS_SCHEMA,
    EXCERPT,
    PAGE_BYTES,
    RunContext,
    normalize_listing,
    read_listing,
    read_page,
)
from warehouse.schemas import CARDS_SCHEMA, CONFIGS_SCHEMA, FETCH_SCHEMA, MODELS_SCHEMA, QUARANTINE_SCHEMA, conform

CONFIG_FILE = "config.json"
CARD_FILE = "README.md"
CORE_TABLES = (
    "models", "model_configs", "model_cards", "model_files", "model_lineage",
    "model_stats_history", "model_versions", "harvest_runs", "quarantine", "file_fetches", "model_changes",
)  # fmt: skip


class LoadError(WarehouseError):
    """A raw run that cannot be loaded (missing or unreadable manifest)."""


# ------------------------------------------------------------------ the run's context
def _parse_ts(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        ts = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def run_context(run_id: str, manifest: dict[str, Any]) -> RunContext:
    started = _parse_ts(manifest.get("started_at"))
    if started is None:
        try:
            started = datetime.strptime(run_id[:16], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        except ValueError:
            raise LoadError(f"run {run_id!r}: run.json has no started_at and the run id carries no timestamp") from None
    return RunContext(run_id=run_id, observed_on=started.date(), seen_at=started)


def _fetch_outcomes(run: RawRun) -> pl.DataFrame:
    """The run's fetch log, last outcome per (repo_id, path) (a line torn by a crash is skipped)."""
    rows = [{name: row.get(name) for name in FETCH_SCHEMA} for row in run.fetch_outcomes().values()]
    return conform(pl.DataFrame(rows, schema=FETCH_SCHEMA, strict=False), FETCH_SCHEMA)


def _landed_files(run: RawRun) -> pl.DataFrame:
    """Without a fetch log (hand-made runs): every landed config.json / README.md counts as fetched ok."""
    rows = [
        {"repo_id": repo_id, "sha": None, "path": name, "status": "ok", "http_status": None, "reason": None, "bytes": path.stat().st_size}
        for repo_id, name, path in run.landed_files((CONFIG_FILE, CARD_FILE))
    ]
    return pl.DataFrame(rows, schema=FETCH_SCHEMA)


# ------------------------------------------------------------------ per page: the few fetched files
@dataclass
class FilePage:
    configs: pl.DataFrame
    cards: pl.DataFrame
    config_facts: pl.DataFrame
    card_facts: pl.DataFrame
    quarantine: list[dict] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)


def parse_files(run: RawRun, page_fetches: pl.DataFrame, model_shas: dict[str, str | None], formulas: dict[str, str]) -> FilePage:
    """Parse the page's fetched config.json / README.md (per document: only the few fetched files)."""
    configs: list[dict] = []
    cards: list[dict] = []
    config_facts: list[dict] = []
    card_facts: list[dict] = []
    quarantine: list[dict] = []
    statuses: Counter = Counter()
    for repo_id, sha, path in page_fetches.filter(pl.col("status") == "ok").select("repo_id", "sha", "path").iter_rows():
        sha = sha or model_shas.get(repo_id) or ""
        try:
            raw = run.file_path(repo_id, path).read_bytes()
        except (OSError, ValueError) as exc:
            quarantine.append({"repo_id": repo_id, "stage": "fetch", "reason": f"{path} recorded as fetched but unreadable: {type(exc).__name__}", "excerpt": str(exc)[:EXCERPT]})
            statuses[f"{path}:unreadable"] += 1
            continue
        if path == CONFIG_FILE:
            try:
                row = parse_config(raw, formulas)
            except DocumentError as exc:
                quarantine.append({"repo_id": repo_id, "stage": "config", "reason": str(exc), "excerpt": raw[:EXCERPT].decode("utf-8", "replace")})
                statuses["config:quarantined"] += 1
                continue
            quarantine.extend({"repo_id": repo_id, "stage": "config", "reason": note, "excerpt": None} for note in row.pop("notes", []))
            configs.append({"repo_id": repo_id, "sha": sha, **row, "run_id": run.run_id})
            config_facts.append({
                "repo_id": repo_id, "cfg_model_type": row["model_type"], "cfg_architectures": row["architectures"],
                "cfg_quant_method": row["quant_method"], "cfg_quant_bits": row["quant_bits"],
                "cfg_params_estimate": row["params_estimate"], "cfg_params_formula": row["params_formula"],
                "cfg_is_encoder_decoder": row["is_encoder_decoder"],
            })  # fmt: skip
            statuses["config:ok"] += 1
        else:
            row = parse_card(raw)
            cards.append({"repo_id": repo_id, "sha": sha, **row, "run_id": run.run_id})
            statuses[f"card:{row['parse_status']}"] += 1
            if row["parse_status"] in CARD_FAILURES:
                quarantine.append({"repo_id": repo_id, "stage": "card", "reason": row["parse_error"], "excerpt": raw[:EXCERPT].decode("utf-8", "replace")})
            elif row["front_matter"]:
                card_facts.append({"repo_id": repo_id, **{f"card_{k}": v for k, v in card_lineage_fields(row["front_matter"]).items()}})
    return FilePage(
        configs=pl.DataFrame(configs, schema=CONFIGS_SCHEMA),
        cards=pl.DataFrame(cards, schema=CARDS_SCHEMA),
        config_facts=pl.DataFrame(config_facts, schema=CONFIG_FACTS_SCHEMA).unique("repo_id", keep="last"),
        card_facts=pl.DataFrame(card_facts, schema=CARD_FACTS_SCHEMA).unique("repo_id", keep="last"),
        quarantine=[{"run_id": run.run_id, **q} for q in quarantine],
        statuses=statuses,
    )


def carry_forward_facts(con: duckdb.DuckDBPyConnection, ids: pl.DataFrame, files: FilePage) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Config and card facts for the page, with stored ones for repos whose files were not fetched this run.

    An incremental run fetches files only for repos whose sha changed; the others keep what their
    config.json and README.md said at that same sha, read back from model_configs / model_cards.
    """
    _register(con, "page_ids", ids)
    try:
        stored_configs = con.sql(
            "SELECT c.repo_id, c.model_type AS cfg_model_type, c.architectures AS cfg_architectures, "
            "c.quant_method AS cfg_quant_method, c.quant_bits AS cfg_quant_bits, "
            "c.params_estimate AS cfg_params_estimate, c.params_formula AS cfg_params_formula, c.is_encoder_decoder AS cfg_is_encoder_decoder "
            "FROM model_configs c JOIN page_ids p ON c.repo_id = p.repo_id AND c.sha = p.sha"
        ).pl()
        stored_cards = con.execute(
            "SELECT c.repo_id, c.front_matter::VARCHAR FROM model_cards c "
            "JOIN page_ids p ON c.repo_id = p.repo_id AND c.sha = p.sha "
            "WHERE c.front_matter IS NOT NULL AND c.parse_status NOT IN (SELECT unnest(?::VARCHAR[]))",
            [list(CARD_FAILURES)],
        ).fetchall()
    finally:
        con.unregister("page_ids")
    fetched_configs = set(files.config_facts["repo_id"].to_list())
    fetched_cards = set(files.card_facts["repo_id"].to_list())
    carried_configs = conform(stored_configs.filter(~pl.col("repo_id").is_in(fetched_configs)), CONFIG_FACTS_SCHEMA)
    carried_cards = pl.DataFrame(
        [
            {"repo_id": repo_id, **{f"card_{k}": v for k, v in card_lineage_fields(front_matter).items()}}
            for repo_id, front_matter in stored_cards
            if repo_id not in fetched_cards
        ],
        schema=CARD_FACTS_SCHEMA,
    )
    return pl.concat([files.config_facts, carried_configs]), pl.concat([files.card_facts, carried_cards])


def record_file_fetches(con: duckdb.DuckDBPyConnection, run_id: str, fetches: pl.DataFrame) -> int:
    """Upsert each file's latest fetch outcome (a run never overwrites a newer run's outcome)."""
    frame = fetches.select("repo_id", "path", "sha", "status", "http_status", "reason", "bytes").with_columns(
        pl.lit(run_id).alias("run_id")
    )
    _register(con, "run_fetches", frame)
    try:
        con.execute(
            "INSERT INTO file_fetches BY NAME SELECT * FROM run_fetches ON CONFLICT (repo_id, path) DO UPDATE SET "
            "sha = excluded.sha, status = excluded.status, http_status = excluded.http_status, "
            "reason = excluded.reason, bytes = excluded.bytes, run_id = excluded.run_id "
            "WHERE excluded.run_id >= file_fetches.run_id"
        )
    finally:
        con.unregister("run_fetches")
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


# ------------------------------------------------------------------ writing
def _register(con: duckdb.DuckDBPyConnection, name: str, frame: pl.DataFrame) -> None:
    """Register a Polars frame as an Arrow view DuckDB reads in place.

    ``CompatLevel.newest()`` hands Polars' string views and list buffers over as they are; DuckDB's own
    Polars adapter converts to the oldest Arrow layout, a copy of every string (~0.5 s per 20k-model page).
    """
    con.register(name, frame.to_arrow(compat_level=pl.CompatLevel.newest()))


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


def _write_page(con: duckdb.DuckDBPyConnection, run_id: str, frames: dict[str, pl.DataFrame], files: FilePage, has_siblings: pl.DataFrame) -> dict[str, int]:
    written: dict[str, int] = {}
    page_models = frames["models"]
    record_page_changes(con, run_id, page_models)  # before the page replaces the stored rows (warehouse/changes.py)
    _register(con, "page_models", page_models)
    # repos this run may overwrite: not loaded yet, or last loaded from this run or an older one
    fresh = con.sql(
        "SELECT p.repo_id, m.sha AS old_sha, m.first_seen_run AS old_first_seen_run, m.repo_id IS NOT NULL AS known "
        "FROM page_models p LEFT JOIN models m USING (repo_id) "
        "WHERE m.repo_id IS NULL OR m.last_seen_run <= ?",
        params=[run_id],
    ).pl()
    _register(con, "fresh", fresh)
    # delete + insert: much cheaper in DuckDB than ON CONFLICT updates of list columns
    cols = [c for c in MODELS_SCHEMA if c != "first_seen_run"]
    any_known = bool(fresh["known"].any())
    if any_known:  # every statement below touches only this page's repos; skip what has nothing to do
        con.execute("DELETE FROM models WHERE repo_id IN (SELECT repo_id FROM fresh WHERE known)")
    con.execute(
        f"INSERT INTO models ({', '.join(cols)}, first_seen_run, deleted_on) "
        f"SELECT {', '.join('p.' + c for c in cols)}, least(p.first_seen_run, coalesce(f.old_first_seen_run, p.first_seen_run)), NULL "
        "FROM page_models p JOIN fresh f USING (repo_id)"
    )
    if fresh.height < page_models.height:  # repos a newer run already loaded: this older run may predate them
        con.execute(
            "UPDATE models SET first_seen_run = ? WHERE first_seen_run > ? AND repo_id IN (SELECT repo_id FROM page_models)",
            [run_id, run_id],
        )
    written["models"] = fresh.height

    # siblings are a function of the commit: a known repo's files are replaced only when its sha moved
    replace = (
        fresh.join(page_models.select("repo_id", "sha"), on="repo_id")
        .join(has_siblings, on="repo_id", how="semi")
        .filter(~pl.col("known") | pl.col("sha").ne_missing(pl.col("old_sha")))
    )
    if replace["known"].any():
        _register(con, "replace_files", replace.filter("known").select("repo_id"))
        con.execute("DELETE FROM model_files WHERE repo_id IN (SELECT repo_id FROM replace_files)")
        con.unregister("replace_files")
    new_files = frames["model_files"].join(replace.select("repo_id"), on="repo_id", how="semi")
    _register(con, "page_files", new_files)
    con.execute("INSERT INTO model_files SELECT repo_id, path, size, run_id FROM page_files")
    written["model_files"] = new_files.height

    _register(con, "page_lineage", frames["model_lineage"])
    if any_known:
        con.execute("DELETE FROM model_lineage WHERE child_id IN (SELECT repo_id FROM fresh WHERE known)")
    con.execute(
        "INSERT INTO model_lineage SELECT child_id, parent_id, relation, source, note, run_id FROM page_lineage "
        "WHERE child_id IN (SELECT repo_id FROM fresh)"
    )
    written["model_lineage"] = frames["model_lineage"].join(fresh.select(pl.col("repo_id").alias("child_id")), on="child_id").height

    stats = frames["model_stats_history"]
    _register(con, "page_stats", stats)
    con.execute(_upsert_sql("model_stats_history", dict.fromkeys(stats.columns), ("repo_id", "observed_on"), "page_stats",
                            where="excluded.run_id >= model_stats_history.run_id"))  # fmt: skip
    written["model_stats_history"] = stats.height

    versions = frames["model_versions"]
    _register(con, "page_versions", versions)
    con.execute(_upsert_sql("model_versions", dict.fromkeys(versions.columns), ("repo_id", "sha"), "page_versions",
                            where="excluded.first_seen_run < model_versions.first_seen_run"))  # fmt: skip
    written["model_versions"] = versions.height

    for table, frame in (("model_configs", files.configs), ("model_cards", files.cards)):
        frame = frame.unique(["repo_id", "sha"], keep="last", maintain_order=True)
        _register(con, "page_docs", frame)
        con.execute(_upsert_sql(table, dict.fromkeys(frame.columns), ("repo_id", "sha"), "page_docs",
                                where=f"excluded.run_id >= {table}.run_id"))  # fmt: skip
        con.unregister("page_docs")
        written[table] = frame.height

    quarantine = pl.concat([frames["quarantine"], conform(pl.DataFrame(files.quarantine, schema=QUARANTINE_SCHEMA), QUARANTINE_SCHEMA)])
    _register(con, "page_quarantine", quarantine)
    con.execute("INSERT INTO quarantine SELECT run_id, repo_id, stage, reason, excerpt FROM page_quarantine")
    written["quarantine"] = quarantine.height
    for name in ("page_models", "fresh", "page_files", "page_lineage", "page_stats", "page_versions", "page_quarantine"):
        con.unregister(name)
    return written


@dataclass
class PreparedPage:
    """One listing page with everything that needs no warehouse access: its ids, fetched files, siblings flags."""

    page: pl.DataFrame
    bad: list[dict]
    ids: pl.DataFrame
    files: FilePage
    has_siblings: pl.DataFrame


def _prepare_page(run: RawRun, page: pl.DataFrame, bad: list[dict], fetches: pl.DataFrame, formulas: dict[str, str]) -> PreparedPage:
    ids = page.select(pl.col("id").str.strip_chars().alias("repo_id"), "sha").filter(pl.col("repo_id").is_not_null())
    page_fetches = fetches.join(ids.select("repo_id"), on="repo_id", how="semi")
    files = parse_files(run, page_fetches, dict(ids.iter_rows()), formulas)
    has_siblings = page.select(pl.col("id").str.strip_chars().alias("repo_id"), pl.col("siblings").is_not_null().alias("known"))
    has_siblings = has_siblings.filter("known").select("repo_id").unique()
    return PreparedPage(page, bad, ids, files, has_siblings)


def _normalize_page(prepared: PreparedPage, ctx: RunContext, config_facts: pl.DataFrame, card_facts: pl.DataFrame) -> dict[str, pl.DataFrame]:
    frames = normalize_listing(prepared.page, ctx, config_facts, card_facts)
    bad = conform(pl.DataFrame(prepared.bad, schema=QUARANTINE_SCHEMA), QUARANTINE_SCHEMA)
    frames["quarantine"] = pl.concat([bad, frames["quarantine"]])
    return frames


@dataclass
class RunInputs:
    """What every page of a run needs besides its own lines: the manifest, the run's context, fetch outcomes."""

    manifest: dict[str, Any]
    ctx: RunContext
    formulas: dict[str, str]
    fetches: pl.DataFrame


def run_inputs(run: RawRun) -> RunInputs:
    try:
        manifest = run.read_manifest()
    except (OSError, json.JSONDecodeError) as exc:
        raise LoadError(f"run {run.run_id!r}: cannot read run.json ({exc})") from exc
    fetches = _fetch_outcomes(run) if run.fetches_path.exists() else _landed_files(run)
    return RunInputs(manifest, run_context(run.run_id, manifest), mappings.params_formulas(), fetches)


@dataclass
class NormalizedPage:
    """One listing page ready to write: normalized frames, its parsed files, which repos listed siblings.

    Plain Polars frames, a list and a Counter: picklable, so a Dask worker can ship it back (or stage it).
    """

    index: int
    frames: dict[str, pl.DataFrame]
    files: FilePage
    has_siblings: pl.DataFrame


def _pipelined_pages(
    con: duckdb.DuckDBPyConnection, run: RawRun, inputs: RunInputs, page_bytes: int
) -> Iterator[NormalizedPage]:
    """Normalized pages in file order, computed ahead of the caller's writes.

    While the caller writes page k (DuckDB, this thread), page k+1 is normalized and page k+2 read and its
    files parsed, each in a worker thread (Polars and DuckDB release the GIL). Only this thread touches the
    connection: page k+1's stored facts are read (``carry_forward_facts``) before page k is written, which
    gives the same facts as after it: a page's writes to model_configs/model_cards are of files fetched in
    this run, and a repo whose files this run fetched never takes carried facts on any page. The same
    argument makes it safe to read every page's facts before any page is written (``iter_normalized``).
    """
    pages = read_listing(run.models_path, run.run_id, page_bytes)

    def prepare() -> PreparedPage | None:  # one at a time: each is submitted once the previous one is done
        item = next(pages, None)
        return None if item is None else _prepare_page(run, item[0], item[1], inputs.fetches, inputs.formulas)

    pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="load-page")
    index = 0
    try:
        ahead = pool.submit(prepare)
        pending_page: tuple[PreparedPage, Future] | None = None
        while (prepared := ahead.result()) is not None:
            ahead = pool.submit(prepare)
            config_facts, card_facts = carry_forward_facts(con, prepared.ids, prepared.files)
            normalizing = pool.submit(_normalize_page, prepared, inputs.ctx, config_facts, card_facts)
            if pending_page is not None:
                yield NormalizedPage(index, pending_page[1].result(), pending_page[0].files, pending_page[0].has_siblings)
                index += 1
            pending_page = (prepared, normalizing)
        if pending_page is not None:
            yield NormalizedPage(index, pending_page[1].result(), pending_page[0].files, pending_page[0].has_siblings)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        pages.close()


# ------------------------------------------------------------------ shards: plan, normalize (read-only), write (one writer)
@dataclass(frozen=True)
class PageSpan:
    """A page of models.ndjson: bytes [start, end), cut at line ends exactly as ``read_listing`` cuts them."""

    index: int
    start: int
    end: int
    first_line: int  # 1-based number of the span's first line (quarantine reasons name lines)


def plan_pages(run: RawRun, page_bytes: int = PAGE_BYTES) -> list[PageSpan]:
    """The run's listing pages as byte spans (one pass over the file, counting lines; nothing is parsed)."""
    if not run.models_path.exists():
        return []
    spans: list[PageSpan] = []
    start = pos = 0
    line = 1
    tail_blank = True  # the bytes after the last cut hold no newline; do they hold anything but whitespace?
    with open(run.models_path, "rb") as fh:
        while chunk := fh.read(page_bytes):
            pos += len(chunk)
            cut = chunk.rfind(b"\n")
            if cut < 0:
                tail_blank = tail_blank and not chunk.strip()
                continue
            end = pos - len(chunk) + cut + 1
            spans.append(PageSpan(len(spans), start, end, line))
            line += chunk.count(b"\n", 0, cut + 1)
            start, tail_blank = end, not chunk[cut + 1 :].strip()
    if start < pos and not tail_blank:
        spans.append(PageSpan(len(spans), start, pos, line))
    return spans


def read_span(run: RawRun, span: PageSpan) -> tuple[pl.DataFrame, list[dict]]:
    """One span of models.ndjson as (LISTING_SCHEMA frame, quarantine rows), the same as ``read_listing``'s page."""
    with open(run.models_path, "rb") as fh:
        fh.seek(span.start)
        buf = fh.read(span.end - span.start)
    return read_page(buf, span.first_line, run.run_id)


def _stored_facts_reader(db_path: Path | str | None) -> duckdb.DuckDBPyConnection | None:
    """A READ-ONLY connection for carried-forward facts, or None when there is no warehouse yet."""
    if db_path is None or not Path(db_path).exists():
        return None
    con = open_warehouse(db_path, read_only=True)
    if pending(con):
        con.close()
        raise LoadError(f"warehouse {db_path} has pending migrations: migrate it (migrate_warehouse) before normalizing shards")
    return con


def iter_normalized(run: RawRun, spans: Iterable[PageSpan], db_path: Path | str | None, inputs: RunInputs | None = None) -> Iterator[NormalizedPage]:
    """Normalize spans of a run, carrying stored facts forward through one read-only connection.

    The facts read are those stored before this run's load: call it before the writer opens (a writer
    holds DuckDB's file lock, and the facts must not include this run's own writes anyway, see
    ``_pipelined_pages`` on why that gives the same result as the one-connection load).
    """
    inputs = inputs or run_inputs(run)
    con = _stored_facts_reader(db_path)
    try:
        for span in spans:
            page, bad = read_span(run, span)
            prepared = _prepare_page(run, page, bad, inputs.fetches, inputs.formulas)
            if con is None:
                config_facts, card_facts = prepared.files.config_facts, prepared.files.card_facts
            else:
                config_facts, card_facts = carry_forward_facts(con, prepared.ids, prepared.files)
            frames = _normalize_page(prepared, inputs.ctx, config_facts, card_facts)
            yield NormalizedPage(span.index, frames, prepared.files, prepared.has_siblings)
    finally:
        if con is not None:
            con.close()


def normalize_page(run: RawRun, span: PageSpan, db_path: Path | str | None, inputs: RunInputs | None = None) -> NormalizedPage:
    """One span, normalized with stored facts read through a read-only connection (see ``iter_normalized``)."""
    (page,) = iter_normalized(run, [span], db_path, inputs)  # runs the generator to its end: the connection closes
    return page


def migrate_warehouse(db_path: Path | str) -> None:
    """Bring the warehouse to the latest schema (a brief writer) so that shards can read it read-only."""
    open_warehouse(db_path).close()


def write_normalized(db_path: Path | str, run: RawRun, pages: Iterable[NormalizedPage], inputs: RunInputs | None = None) -> dict[str, int]:
    """Write normalized pages (in index order) plus file_fetches, harvest_runs and deletions: ONE transaction."""
    inputs = inputs or run_inputs(run)
    con = open_warehouse(db_path)
    try:
        return _in_transaction(con, lambda: _write_run(con, run, inputs, pages))
    finally:
        con.close()


# a staged page: one Arrow IPC file per frame (exact Polars dtypes) and a JSON sidecar for the small rest
STAGED_FILE_FRAMES = ("configs", "cards")


def stage_page(page: NormalizedPage, directory: Path | str) -> Path:
    """Write a normalized page under ``directory/page-<index>/`` (written aside, then renamed: atomic)."""
    final = Path(directory) / f"page-{page.index:06d}"
    tmp = final.with_name(final.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for name, frame in page.frames.items():
        frame.write_ipc(tmp / f"frame.{name}.arrow")
    for name in STAGED_FILE_FRAMES:
        getattr(page.files, name).write_ipc(tmp / f"files.{name}.arrow")
    page.has_siblings.write_ipc(tmp / "has_siblings.arrow")
    meta = {"index": page.index, "frames": list(page.frames), "quarantine": page.files.quarantine, "statuses": dict(page.files.statuses)}
    (tmp / "page.json").write_text(json.dumps(meta, default=str))
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    return final


def read_staged(directory: Path | str) -> NormalizedPage:
    directory = Path(directory)
    meta = json.loads((directory / "page.json").read_text())
    frames = {name: pl.read_ipc(directory / f"frame.{name}.arrow") for name in meta["frames"]}
    files = FilePage(
        configs=pl.read_ipc(directory / "files.configs.arrow"),
        cards=pl.read_ipc(directory / "files.cards.arrow"),
        config_facts=pl.DataFrame(schema=CONFIG_FACTS_SCHEMA),  # used by normalization only, not by the writer
        card_facts=pl.DataFrame(schema=CARD_FACTS_SCHEMA),
        quarantine=meta["quarantine"],
        statuses=Counter(meta["statuses"]),
    )
    return NormalizedPage(meta["index"], frames, files, pl.read_ipc(directory / "has_siblings.arrow"))


def _write_run(con: duckdb.DuckDBPyConnection, run: RawRun, inputs: RunInputs, pages: Iterable[NormalizedPage]) -> dict[str, Any]:
    """Everything of one run, inside the caller's transaction. Returns rows written per table and stage counts."""
    manifest, ctx, fetches = inputs.manifest, inputs.ctx, inputs.fetches
    con.execute("DELETE FROM quarantine WHERE run_id = ?", [run.run_id])

    written: Counter = Counter()  # rows written (a reload writes fewer: unchanged files are skipped)
    normalized: Counter = Counter()  # rows the run's raw landing yields: recorded in harvest_runs.counts
    files_status: Counter = Counter()
    listing = Counter()
    watermark: datetime | None = None
    last_index = -1
    for page in pages:
        if page.index <= last_index:
            raise LoadError(f"run {run.run_id!r}: page {page.index} written after page {last_index} (pages must come in file order)")
        last_index = page.index
        files, frames = page.files, page.frames
        listing["pages"] += 1
        files_status.update(files.statuses)
        written.update(_write_page(con, run.run_id, frames, files, page.has_siblings))
        normalized.update({name: frame.height for name, frame in frames.items()})
        normalized.update(model_configs=files.configs.height, model_cards=files.cards.height)
        listing["models"] += frames["models"].height
        page_max = frames["models"]["last_modified"].max()
        if page_max is not None and (watermark is None or page_max > watermark):
            watermark = page_max
    written["file_fetches"] = record_file_fetches(con, run.run_id, fetches)
    written.update(settle_lineage(con, run))  # aliases, then sizes through lineage (warehouse/lineage.py)
    quarantined = dict(con.execute("SELECT stage, count(*) FROM quarantine WHERE run_id = ? GROUP BY stage ORDER BY stage", [run.run_id]).fetchall())
    counts = {
        "listing": {"landed": run.models_path.exists(), "models": listing["models"], "pages": listing["pages"]},
        "fetches": dict(sorted(Counter(fetches["status"].drop_nulls().to_list()).items())),
        "files": dict(sorted(files_status.items())),
        "quarantine": quarantined,
        "rows": dict(sorted(normalized.items())),
        "harvest": manifest.get("counts"),
    }
    manifest_watermark = _parse_ts(manifest.get("watermark"))
    con.execute(
        "INSERT INTO harvest_runs (run_id, started_at, finished_at, status, counts, endpoint, scope, watermark) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (run_id) DO UPDATE SET started_at = excluded.started_at, "
        "finished_at = excluded.finished_at, status = excluded.status, counts = excluded.counts, "
        "endpoint = excluded.endpoint, scope = excluded.scope, watermark = excluded.watermark",
        [
            run.run_id, _parse_ts(manifest.get("started_at")), _parse_ts(manifest.get("finished_at")),
            manifest.get("status"), json.dumps(counts, sort_keys=True, default=str),
            manifest.get("endpoint"), manifest.get("scope"), manifest_watermark or watermark,
        ],
    )  # fmt: skip
    out = dict(sorted(written.items()))
    out["harvest_runs"] = 1
    if listing["models"]:
        out["deleted"] = mark_deleted(con, run.run_id, manifest.get("scope"), ctx.observed_on)
        out["model_changes"] = record_run_changes(con, run.run_id, ctx.observed_on)  # deletions, renames
    return out


def _load(con: duckdb.DuckDBPyConnection, run: RawRun, page_bytes: int = PAGE_BYTES) -> dict[str, Any]:
    """Everything of one run, inside the caller's transaction: read, normalize and write overlapped."""
    inputs = run_inputs(run)

    def pages() -> Iterator[NormalizedPage]:  # starts once _write_run has cleared the run's quarantine
        if run.models_path.exists():
            yield from _pipelined_pages(con, run, inputs, page_bytes)

    return _write_run(con, run, inputs, pages())


def _open_run(raw_run_dir: Path | str) -> RawRun:
    """A run from its folder: the folder's name is its id, and its manifest must agree."""
    root = Path(raw_run_dir)
    try:
        run = RawRun.open(DataDir(root.parent.parent), root.name)
        run_id = run.read_manifest().get("run_id") or root.name
    except HubcensusError as exc:
        raise LoadError(f"no raw run at {root}: {exc}") from exc
    except (OSError, json.JSONDecodeError) as exc:
        raise LoadError(f"cannot read the manifest of {root}: {exc}") from exc
    if run_id != root.name:
        raise LoadError(f"the manifest says run_id {run_id!r} but the folder is {root.name!r}")
    return run


def _in_transaction(con: duckdb.DuckDBPyConnection, work):
    with transaction(con):
        return work()


def load_raw_run(db_path: Path | str, raw_run_dir: Path | str, page_bytes: int = PAGE_BYTES) -> dict[str, int]:
    """Normalize one raw run and load it in ONE transaction; returns rows written per table. Idempotent."""
    run = _open_run(raw_run_dir)
    con = open_warehouse(db_path)
    try:
        return _in_transaction(con, lambda: _load(con, run, page_bytes))
    finally:
        con.close()


def rebuild(data_dir: DataDir | Path | str, run_id: str | None = None, page_bytes: int = PAGE_BYTES, include_abandoned: bool = False) -> dict[str, dict[str, int]]:
    """Re-normalize from the raw landing, without the Hub.

    With ``run_id``: reload that run (an idempotent upsert). Without: empty the core tables and reload
    every run in order (runs a crash left ``abandoned`` only when asked), each in its own transaction
    (emptying happens in the first run's transaction, so the warehouse is never seen empty). The
    catalog's tables are left alone.
    """
    data = DataDir.of(data_dir)
    if run_id:
        runs = [RawRun.open(data, run_id)]  # a clear error when it does not exist
    else:
        runs = [run for run in data.runs() if include_abandoned or run.status != "abandoned"]
    if not runs:
        raise LoadError(f"no raw runs under {data.raw}: nothing to rebuild")
    con = open_warehouse(data.warehouse)
    results: dict[str, dict[str, int]] = {}
    try:
        for number, run in enumerate(runs):

            def work(run: RawRun = run, first: bool = number == 0) -> dict[str, int]:
                if first and not run_id:
                    for table in CORE_TABLES:
                        con.execute(f"DELETE FROM {table}")
                return _load(con, run, page_bytes)

            results[run.run_id] = _in_transaction(con, work)
    finally:
        con.close()
    return results


def table_contents(con: duckdb.DuckDBPyConnection, tables: tuple[str, ...] = CORE_TABLES) -> dict[str, list[tuple]]:
    """Every row of each table, in a stable order (for comparing two warehouses' content)."""
    out = {}
    for table in tables:
        cols = [r[0] for r in con.execute("SELECT column_name FROM duckdb_columns() WHERE table_name = ? ORDER BY column_index", [table]).fetchall()]
        order = ", ".join(f"CAST({c} AS VARCHAR) NULLS FIRST" for c in cols)
        out[table] = con.execute(f"SELECT * FROM {table} ORDER BY {order}").fetchall()
    return out
