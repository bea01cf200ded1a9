"""Ad-hoc SQL over the warehouse (``hubcensus sql``): a sandboxed read-only connection, read statements only.

Only SELECT (with WITH/FROM-first/SHOW/DESCRIBE/SUMMARIZE forms, which DuckDB parses as SELECT) and
EXPLAIN [ANALYZE] of a SELECT run; anything else (INSERT, COPY ... TO, ATTACH, SET, PRAGMA, CALL, EXPLAIN
ANALYZE COPY, ...) is refused before it reaches the database, with ``SQLWriteRefused``. The connection is
read-only and sandboxed as well (``warehouse.database.sandbox``: no files but ``allow_files``, no network,
no extensions, settings locked): a second guard. Each statement opens and closes its own connection, so an
open prompt never holds DuckDB's lock between statements and the nightly writer is not kept waiting.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable, TextIO

import duckdb
import polars as pl

from warehouse.database import WarehouseError, open_warehouse

AllowFiles = Path | str | None

FORMATS = ("table", "csv", "json", "parquet")
READ_STATEMENTS = {duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN}
NESTED = ("[]", "STRUCT", "MAP", "UNION", "JSON")


class SQLError(WarehouseError):
    """The query failed (syntax, unknown table, ...): one line for the CLI."""


class SQLWriteRefused(SQLError):
    """A statement that is not a read was refused."""


def check_read_only(query: str) -> list[duckdb.Statement]:
    """Parse ``query``; raise SQLWriteRefused unless every statement is a read."""
    try:
        statements = duckdb.extract_statements(query)
    except duckdb.Error as exc:
        raise SQLError(_one_line(exc)) from None
    if not statements:
        raise SQLError("empty query")
    for statement in statements:
        if statement.type not in READ_STATEMENTS:
            raise SQLWriteRefused(f"refused: {_kind(statement)} statement (hubcensus sql is read-only: SELECT/EXPLAIN only)")
        if statement.type == duckdb.StatementType.EXPLAIN:
            explained = _explained(statement.query)
            if explained is None or explained.type != duckdb.StatementType.SELECT:
                what = "this statement" if explained is None else f"a {_kind(explained)} statement"
                raise SQLWriteRefused(f"refused: EXPLAIN of {what} (hubcensus sql is read-only: only a SELECT may be explained)")
    return statements


def _kind(statement: duckdb.Statement) -> str:
    return str(statement.type).rsplit(".", 1)[-1]


def _explained(query: str) -> duckdb.Statement | None:
    """The statement an ``EXPLAIN [ANALYZE] [(options)]`` wraps, or None when it cannot be told.

    EXPLAIN ANALYZE runs its statement, so what it wraps is checked like a statement of its own.
    """
    tokens = _tokens(query)
    words = [query[start:end].strip().upper() for start, end in tokens]
    at = 1 if words[:1] == ["EXPLAIN"] else None
    if at is None:
        return None
    if at < len(words) and words[at] in ("ANALYZE", "ANALYSE"):
        at += 1
    candidates = [at]
    if at < len(words) and words[at] == "(":  # "(options) stmt", or a parenthesized "(SELECT ...)"
        depth = 0
        for i in range(at, len(words)):
            depth += {"(": 1, ")": -1}.get(words[i], 0)
            if depth == 0:
                candidates.append(i + 1)
                break
    for start in candidates:
        if start >= len(tokens):
            continue
        try:
            inner = duckdb.extract_statements(query[tokens[start][0]:])
        except duckdb.Error:
            continue
        if len(inner) == 1:
            return inner[0]
    return None


def _tokens(query: str) -> list[tuple[int, int]]:
    """(start, end) of each token that is not a comment."""
    found = duckdb.tokenize(query)
    spans = [(pos, found[i + 1][0] if i + 1 < len(found) else len(query), kind) for i, (pos, kind) in enumerate(found)]
    return [(start, end) for start, end, kind in spans if kind != duckdb.token_type.comment]


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:500]


def _flat(rel: duckdb.DuckDBPyRelation) -> duckdb.DuckDBPyRelation:
    """Nested columns (lists, structs, maps, JSON) cast to text, for CSV."""
    exprs = []
    for name, dtype in zip(rel.columns, rel.dtypes):
        quoted = '"' + name.replace('"', '""') + '"'
        exprs.append(f"CAST({quoted} AS VARCHAR) AS {quoted}" if any(n in str(dtype).upper() for n in NESTED) else quoted)
    return rel.project(", ".join(exprs))


def query_frame(con: duckdb.DuckDBPyConnection, query: str, flat: bool = False) -> pl.DataFrame:
    statements = check_read_only(query)
    try:
        for statement in statements[:-1]:
            con.sql(statement.query).fetchall()
        rel = con.sql(statements[-1].query)
        if rel is None:
            return pl.DataFrame()
        return (_flat(rel) if flat else rel).pl()
    except duckdb.Error as exc:
        raise SQLError(_one_line(exc)) from None


def render(frame: pl.DataFrame, fmt: str) -> str:
    if fmt == "table":
        with pl.Config(tbl_rows=1000, tbl_cols=-1, fmt_str_lengths=80, tbl_width_chars=200, fmt_table_cell_list_len=6):
            return str(frame)
    if fmt == "csv":
        return frame.write_csv()
    if fmt == "json":
        return frame.write_json()
    raise SQLError(f"--format {fmt} cannot be printed: give --output FILE")


def query_once(db_path: Path | str, query: str, flat: bool = False, allow_files: AllowFiles = None) -> pl.DataFrame:
    """Open a sandboxed read-only connection, run ``query``, close: DuckDB's lock is held for one statement."""
    check_read_only(query)  # refuse before even opening the file
    con = open_warehouse(db_path, read_only=True, allow_files=allow_files)
    try:
        return query_frame(con, query, flat=flat)
    finally:
        con.close()


def run_sql(
    db_path: Path | str, query: str, fmt: str = "table", output: Path | str | None = None, allow_files: AllowFiles = None
) -> str | None:
    """Run a read-only query; return the rendered result, or write it to ``output`` (and return None)."""
    if fmt not in FORMATS:
        raise SQLError(f"unknown --format {fmt!r}: choose one of {', '.join(FORMATS)}")
    if fmt == "parquet" and output is None:
        raise SQLError("--format parquet needs --output FILE")
    frame = query_once(db_path, query, flat=fmt == "csv", allow_files=allow_files)
    if output is None:
        return render(frame, fmt)
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "parquet":
        frame.write_parquet(output)
    else:
        output.write_text(render(frame, fmt))
    return None


HELP = """Enter SQL ending with ';' (several lines allowed). Read-only.
  .tables   list tables and views      .help   this text      .quit   leave (or Ctrl-D)"""
TABLES_QUERY = (
    "SELECT table_name AS name, 'table' AS kind, comment FROM duckdb_tables() WHERE schema_name = 'main' "
    "UNION ALL SELECT view_name, 'view', comment FROM duckdb_views() WHERE schema_name = 'main' AND NOT internal "
    "ORDER BY kind, name"
)


def interactive_sql(
    db_path: Path | str,
    read_line: Callable[[str], str] = input,
    out: TextIO | None = None,
    allow_files: AllowFiles = None,
) -> int:
    """A small prompt: statements end with ';'. Returns the number of statements run.

    Each statement opens, queries and closes the warehouse (``query_once``): an idle prompt holds no lock.
    """
    out = out or sys.stdout
    open_warehouse(db_path, read_only=True, allow_files=allow_files).close()  # a missing file or bad folder: fail now
    ran = 0
    print(f"hubcensus sql on {db_path} (read-only). {HELP}", file=out)
    buffer: list[str] = []
    while True:
        try:
            line = read_line("hubcensus> " if not buffer else "      ...> ")
        except (EOFError, KeyboardInterrupt):
            print(file=out)
            break
        stripped = line.strip()
        if not buffer and stripped in (".quit", ".exit", "\\q"):
            break
        if not buffer and stripped == ".help":
            print(HELP, file=out)
            continue
        if not buffer and stripped == ".tables":
            stripped = TABLES_QUERY + ";"
        if not stripped:
            continue
        buffer.append(stripped)
        if not stripped.endswith(";"):
            continue
        query = "\n".join(buffer)
        buffer = []
        try:
            print(render(query_once(db_path, query, allow_files=allow_files), "table"), file=out)
            ran += 1
        except WarehouseError as exc:
            print(f"error: {exc}", file=out)
    return ran


EXAMPLES_FILE = Path(__file__).resolve().parent / "examples.sql"


def example_queries(path: Path = EXAMPLES_FILE) -> dict[str, str]:
    """The README's example queries: name -> SQL (the text after each `-- name:` line)."""
    examples: dict[str, str] = {}
    name: str | None = None
    lines: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("-- name:"):
            if name:
                examples[name] = "\n".join(lines).strip()
            name, lines = line.split(":", 1)[1].strip(), []
        elif name is not None:
            lines.append(line)
    if name:
        examples[name] = "\n".join(lines).strip()
    return examples
