"""Tables as big as the Hub are written from their query in batches; the files match the in-memory path."""

from __future__ import annotations

import duckdb
import polars as pl

from reports.base import Context
from reports.build import _csv_frame, _stream_table, _write_table

SQL = "SELECT repo_id, n, tags, created_at FROM t ORDER BY n DESC, repo_id"


def _context(con) -> Context:
    con.execute("""CREATE TABLE t AS SELECT 'org/m-' || i AS repo_id, i % 7 AS n,
                   CASE WHEN i % 3 = 0 THEN NULL ELSE ['a', 'b,"c"'] END AS tags,
                   TIMESTAMPTZ '2024-01-01 00:00:00+00' + to_days(i::INTEGER) AS created_at
                   FROM range(23) r(i)""")
    return Context(con, None, frozenset({"t"}), frozenset())


def test_a_query_table_streamed_in_batches_writes_the_files_of_the_whole_frame(tmp_path):
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    ctx = _context(con)
    table = ctx.query_table("big", "Big", SQL, preview_rows=5)
    assert table.n_rows == 23 and table.frame.height == 5
    assert table.frame.to_dicts() == ctx.df(SQL).head(5).to_dicts(), "the preview is the query's first rows"

    streamed, whole = tmp_path / "streamed", tmp_path / "whole"
    streamed.mkdir(), whole.mkdir()
    _stream_table(streamed, table, con, batch_rows=4)  # six batches, the last one short
    info = _write_table(whole, type(table)("big", "Big", ctx.df(SQL)), con)
    assert info["rows"] == 23

    assert (streamed / "big.csv").read_text(encoding="utf-8") == (whole / "big.csv").read_text(encoding="utf-8")
    assert pl.read_parquet(streamed / "big.parquet").to_dicts() == pl.read_parquet(whole / "big.parquet").to_dicts()
    assert pl.read_csv(streamed / "big.csv").height == 23
    assert _csv_frame(ctx.df(SQL))["tags"][1] == '["a", "b,\\"c\\""]'


def test_an_empty_query_table_still_writes_its_header_and_schema(tmp_path):
    con = duckdb.connect()
    ctx = _context(con)
    table = ctx.query_table("none", "None", "SELECT repo_id, n FROM t WHERE n < 0")
    _stream_table(tmp_path, table, con)
    assert (tmp_path / "none.csv").read_text(encoding="utf-8") == "repo_id,n\n"
    assert pl.read_parquet(tmp_path / "none.parquet").schema == pl.Schema({"repo_id": pl.String, "n": pl.Int64})
