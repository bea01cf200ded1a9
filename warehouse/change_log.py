"""Read what changed, for ``hubcensus changes``: the changes found by the runs after ``--since``, some kinds, the
top N by downloads, rendered as a table, CSV or JSON.

``--since`` is a run id (changes found by later runs) or a day ``YYYY-MM-DD`` (changes found by runs that
started on or after it); by default the previous run, i.e. what the latest run found. With a single run
loaded there is nothing to compare: the answer says "first run: N models, nothing to compare".
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from harvesters.landing import check_run_id
from hubcensus.errors import InvalidInput
from warehouse.adhoc import render
from warehouse.changes import CHANGE_KINDS
from warehouse.database import WarehouseError, open_warehouse, pending

FORMATS = ("table", "csv", "json")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
COLUMNS = "run_id, run_date, change, repo_id, field, before, after, downloads"


class ChangesQueryError(WarehouseError):
    """A bad ``--since``/``--kind``/``--format``, or a warehouse that cannot answer (one line for the CLI)."""


@dataclass(frozen=True)
class ChangeList:
    frame: pl.DataFrame
    headline: str  # one line for a person: what was compared with what, or why nothing was


def check_options(kinds: list[str] | None, fmt: str, top: int | None) -> None:
    """Refuse bad options before the warehouse is opened."""
    unknown = sorted(set(kinds or ()) - set(CHANGE_KINDS))
    if unknown:
        raise ChangesQueryError(f"unknown --kind {', '.join(unknown)}: choose from {', '.join(CHANGE_KINDS)}")
    if fmt not in FORMATS:
        raise ChangesQueryError(f"unknown --format {fmt!r}: choose one of {', '.join(FORMATS)}")
    if top is not None and top < 1:
        raise ChangesQueryError(f"--top must be 1 or more, got {top}")


def _since_filter(con: duckdb.DuckDBPyConnection, since: str | None) -> tuple[str, list, str]:
    """(SQL predicate on v_changes, its parameters, words for the headline)."""
    runs = [r[0] for r in con.execute("SELECT run_id FROM harvest_runs ORDER BY run_id DESC LIMIT 2").fetchall()]
    if since is None:
        if len(runs) < 2:
            return "FALSE", [], "the previous run"
        return "run_id > ?", [runs[1]], f"run {runs[1]} (the previous run)"
    if _DAY.match(since):
        try:
            day = dt.date.fromisoformat(since)
        except ValueError:
            raise ChangesQueryError(f"--since {since!r} is not a valid day (YYYY-MM-DD)") from None
        return "run_date >= ?", [day], f"{day} (runs started that day or later)"
    try:
        check_run_id(since)
    except InvalidInput:
        raise ChangesQueryError(f"--since {since!r} is neither a run id (e.g. 20261127T031500Z-a1b2c3) nor a day YYYY-MM-DD") from None
    if not con.execute("SELECT count(*) FROM harvest_runs WHERE run_id = ?", [since]).fetchall()[0][0]:
        raise ChangesQueryError(f"--since {since}: no such run in the warehouse (see `hubcensus sql \"SELECT run_id FROM harvest_runs\"`)")
    return "run_id > ?", [since], f"run {since}"


def list_changes(con: duckdb.DuckDBPyConnection, since: str | None = None, kinds: list[str] | None = None,
                 top: int | None = None) -> ChangeList:
    """The changes after ``since`` (default: the previous run), of ``kinds`` (default: all), top N by downloads."""
    check_options(kinds, "table", top)
    n_runs = con.execute("SELECT count(*) FROM harvest_runs").fetchall()[0][0]
    if n_runs == 0:
        raise ChangesQueryError("no run loaded yet: run `hubcensus refresh` (or `hubcensus demo`) first")
    where, params, since_words = _since_filter(con, since)
    if kinds:
        where += " AND change IN (SELECT unnest(?::VARCHAR[]))"
        params.append(sorted(set(kinds)))
    order = "downloads DESC NULLS LAST, run_id, change, repo_id, field" if top else "run_id, change, downloads DESC NULLS LAST, repo_id, field"
    limit = f" LIMIT {int(top)}" if top else ""
    frame = con.sql(f"SELECT {COLUMNS} FROM v_changes WHERE {where} ORDER BY {order}{limit}", params=params).pl()
    if n_runs == 1:
        n_models = con.execute("SELECT count(*) FROM models").fetchall()[0][0]
        return ChangeList(frame, f"first run: {n_models:,} models, nothing to compare")
    kind_words = f" ({', '.join(sorted(set(kinds)))})" if kinds else ""
    top_words = f", the top {top:,} by downloads" if top else ""
    return ChangeList(frame, f"{frame.height:,} change(s){kind_words} since {since_words}{top_words}")


def changes_report(db_path: Path | str, since: str | None = None, kinds: list[str] | None = None,
                   top: int | None = None, fmt: str = "table") -> tuple[str, str]:
    """(rendered changes, headline) from the warehouse file, read-only; an empty table renders as ''."""
    check_options(kinds, fmt, top)
    con = open_warehouse(db_path, read_only=True)
    try:
        if pending(con):
            raise ChangesQueryError(f"{db_path} predates model_changes: the next `hubcensus refresh` (or `rebuild`) upgrades it")
        result = list_changes(con, since, kinds, top)
    finally:
        con.close()
    if fmt == "table" and result.frame.is_empty():
        return "", result.headline
    return render(result.frame, fmt), result.headline
