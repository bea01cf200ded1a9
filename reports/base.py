"""What every report builder shares: the read-only warehouse context, and the shape of a built report.

A builder is ``build(ctx: Context) -> Report``. It runs SQL over the marts (aggregating is fine, inventing
facts is not), returns its data tables (written as CSV and Parquet beside the page) and the sections of its
page (charts and display tables). It never writes files and never renders HTML itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import duckdb
import polars as pl

from reports.charts import Chart
from warehouse.matching import BET

CONFIDENT = BET  # shown in the pages' text; queries read catalog_matches.confident

CATALOG_TABLES = ("catalog_models", "catalog_matches", "reconciliation", "catalog_gaps")


@dataclass
class Table:
    """A data table: written as ``<name>.csv`` and ``<name>.parquet``, previewed in the page."""

    name: str
    title: str
    frame: pl.DataFrame
    description: str = ""
    preview_rows: int = 25
    number_text: frozenset[str] = frozenset()  # text columns holding numbers: shown for people (13.7M), raw in the files
    query: str | None = None  # a table that grows with the Hub: its files are written from this SQL in batches, frame is a preview
    rows: int | None = None  # the row count once the frame is only a preview

    @property
    def n_rows(self) -> int:
        return self.frame.height if self.rows is None else self.rows

    @property
    def files(self) -> dict[str, str]:
        return {"csv": f"{self.name}.csv", "parquet": f"{self.name}.parquet"}


@dataclass
class Section:
    """A block of a page: a heading, a paragraph, charts, and previews of data tables (by name) or ad-hoc frames."""

    title: str
    text: str = ""
    charts: list[Chart] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    anchor: str = ""


@dataclass
class Report:
    slug: str
    title: str
    summary: str  # one line, for index.html
    headline: dict[str, Any]  # the numbers for summary.md and the Prefect artifact
    sections: list[Section]
    tables: list[Table]  # data tables, tables[0] is the main one (<slug>.csv)
    notes: list[str] = field(default_factory=list)

    def table(self, name: str) -> Table:
        for t in self.tables:
            if t.name == name:
                return t
        raise KeyError(name)


@dataclass
class Context:
    """The read-only connection and what the builders need to know about the warehouse."""

    con: duckdb.DuckDBPyConnection
    run: dict[str, Any] | None
    relations: frozenset[str]
    model_columns: frozenset[str]
    memo: dict[str, Any] = field(default_factory=dict)  # frames several builders share (reports.catalog_hub)

    @classmethod
    def open(cls, con: duckdb.DuckDBPyConnection, run_id: str | None = None) -> "Context":
        if con.execute("SELECT current_setting('TimeZone')").fetchall()[0][0] != "UTC":  # sandboxed: already UTC, locked
            con.execute("SET TimeZone = 'UTC'")
        rels = frozenset(
            r[0] for r in con.sql("SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'").fetchall()
        )
        cols: frozenset[str] = frozenset()
        if "v_models" in rels:
            cols = frozenset(r[0] for r in con.sql("SELECT column_name FROM information_schema.columns WHERE table_name = 'v_models'").fetchall())
        ctx = cls(con=con, run=None, relations=rels, model_columns=cols)
        ctx.run = ctx._run_info(run_id)
        return ctx

    def has(self, *names: str) -> bool:
        return all(n in self.relations for n in names)

    @property
    def catalog_loaded(self) -> bool:
        """True when the catalog tables exist and hold entries (reconciliation has run)."""
        if not self.has("catalog_models", "catalog_matches"):
            return False
        return self.scalar("SELECT count(*) FROM catalog_models") > 0

    @property
    def live(self) -> str:
        """SQL predicate on v_models keeping models still listed (the marts other than v_models already do)."""
        return "deleted_on IS NULL" if "deleted_on" in self.model_columns else "TRUE"

    def df(self, sql: str, params: list | None = None) -> pl.DataFrame:
        return self.con.sql(sql, params=params or None).pl()

    def query_table(self, name: str, title: str, sql: str, description: str = "", preview_rows: int = 25, **kw: Any) -> Table:
        """A table as big as the Hub (one row per model or candidate): never held whole, written from ``sql`` in batches."""
        preview = self.df(f"{sql}\nLIMIT {int(preview_rows)}")
        n = self.scalar(f"SELECT count(*) FROM ({sql})")
        return Table(name, title, preview, description, preview_rows, query=sql, rows=n, **kw)

    def rows(self, sql: str, params: list | None = None) -> list[tuple]:
        return self.con.sql(sql, params=params or None).fetchall()

    def scalar(self, sql: str, params: list | None = None) -> Any:
        rows = self.rows(sql, params)
        return rows[0][0] if rows else None

    def _run_info(self, run_id: str | None) -> dict[str, Any] | None:
        if not self.has("harvest_runs"):
            return {"run_id": run_id} if run_id else None
        where, params = ("WHERE run_id = ?", [run_id]) if run_id else ("", [])
        rows = self.df(
            f"""SELECT run_id, started_at, finished_at, status, CAST(counts AS VARCHAR) AS counts, endpoint, scope, watermark
                FROM harvest_runs {where} ORDER BY started_at DESC NULLS LAST, run_id DESC LIMIT 1""",
            params,
        ).to_dicts()
        if rows:
            return rows[0]
        return {"run_id": run_id, "status": "not in harvest_runs"} if run_id else None
