"""Build a dated report set from the warehouse marts: ``<out_dir>/<YYYY-MM-DD>/`` and ``<out_dir>/latest``.

A set holds, per report, ``<slug>.html`` (self-contained: inline CSS and SVG, no script, no external
resource) and each of its data tables as ``<table>.csv`` and ``<table>.parquet``; plus ``index.html``
linking them with one-line summaries and the harvest run they came from, ``summary.md`` with the headline
numbers, and ``manifest.json`` (what was written, for the server and the Prefect artifacts).

``latest`` is a relative symlink to the newest dated directory; where symlinks are unavailable it is a
one-line text file holding that directory's name (``reports serve`` redirects ``/latest/`` either way).

The set is written to a hidden staging directory and renamed into place, so a reader never sees half a
set; building the same date again replaces that date's set.
"""

from __future__ import annotations

import json
import os
import shutil
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.parquet as pq

from hubcensus.errors import HubcensusError
from reports import changes, coverage, family_tree, reconciliation, sizes, taxonomy, timeline
from reports.base import Context, Report, Table
from reports.site import DATE_DIR, LATEST, LIST_SHOWN, TEMPLATES, _cell, environment, resolve_latest  # noqa: F401  (re-exported)
from warehouse.database import WarehouseError, open_warehouse

BUILDERS = (taxonomy, family_tree, timeline, sizes, reconciliation, coverage, changes)
REQUIRED_MARTS = ("v_models", "v_taxonomy", "v_sizes", "v_timeline", "v_lineage")
MANIFEST = "manifest.json"
REPO_COLUMNS = frozenset({"repo_id", "child_id", "parent_id", "root_id", "top_child", "best_candidate"})


class ReportError(HubcensusError):
    """A domain error about building reports (the CLI prints it as one line)."""


# --- data files ------------------------------------------------------------------------------------------

def _csv_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """CSV cannot hold lists or structs: write them as JSON text (parses back unambiguously)."""
    out = []
    for name, dtype in frame.schema.items():
        col = frame[name]
        if isinstance(dtype, (pl.List, pl.Array, pl.Struct)):
            values = [None if v is None else json.dumps(v, default=str, ensure_ascii=False) for v in col.to_list()]
            out.append(pl.Series(name, values, dtype=pl.String))
        else:
            out.append(col)
    return pl.DataFrame(out)


STREAM_BATCH_ROWS = 100_000
READER_MEMORY = "512MB"  # DuckDB's cap while the reports read: joins and aggregates over every model spill beyond it (2.5M: build peak 1.24 GB and 53 s; 1GB: 1.49 GB, 49 s)


def _write_table(directory: Path, table: Table, con) -> dict[str, Any]:
    """The table's CSV and Parquet; then only its preview stays in memory (the page needs no more)."""
    if table.query is None:
        _csv_frame(table.frame).write_csv(directory / table.files["csv"])
        table.frame.write_parquet(directory / table.files["parquet"], statistics=False)
        table.rows = table.frame.height
    else:
        _stream_table(directory, table, con)
    table.frame = table.frame.head(table.preview_rows)
    return {"name": table.name, "title": table.title, "rows": table.n_rows, "columns": table.frame.columns, **table.files}


def _stream_table(directory: Path, table: Table, con, batch_rows: int = STREAM_BATCH_ROWS) -> None:
    """Write a query table batch by batch: memory follows the batch, not the Hub."""
    reader = con.sql(table.query).fetch_record_batch(batch_rows)
    first = pl.from_arrow(reader.schema.empty_table())
    with open(directory / table.files["csv"], "wb") as csv, pq.ParquetWriter(
        directory / table.files["parquet"], first.to_arrow().schema, write_statistics=False
    ) as parquet:
        _csv_frame(first).write_csv(csv)
        for batch in reader:
            frame = pl.from_arrow(batch)
            _csv_frame(frame).write_csv(csv, include_header=False)
            parquet.write_table(frame.to_arrow())


# --- the set ---------------------------------------------------------------------------------------------

def _as_date(today: date | datetime | str | None) -> str:
    if today is None:
        return datetime.now(UTC).date().isoformat()
    if isinstance(today, datetime):
        return today.date().isoformat()
    if isinstance(today, date):
        return today.isoformat()
    if not DATE_DIR.match(str(today)):
        raise ReportError(f"report date must be YYYY-MM-DD, got {today!r}")
    return date.fromisoformat(str(today)).isoformat()


def _jsonable(v: Any) -> Any:
    if isinstance(v, (datetime, date)):
        return v.isoformat()
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    return v


def _md(text: object) -> str:
    """Untrusted text for markdown: no raw HTML, no table breaks (Prefect renders artifacts' markdown)."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "&#124;").replace("\n", " ")


def _summary_md(date_str: str, reports: list[Report], run: dict | None, built_at: str, db_name: str, catalog: bool) -> str:
    lines = [f"# hubcensus report set {date_str}", ""]
    lines.append(f"- harvest run: {_md(run['run_id'])} ({_md(run.get('status') or 'status unknown')})" if run else "- harvest run: unknown")
    lines += [f"- warehouse: `{db_name}`", f"- catalog: {'loaded' if catalog else 'not loaded'}", f"- built: {built_at}", ""]
    for r in reports:
        lines += [f"## [{r.title}]({r.slug}.html)", "", _md(r.summary), "", "| figure | value |", "|---|---:|"]
        for key, value in r.headline.items():
            shown = f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)
            lines.append(f"| {_md(key)} | {_md(shown)} |")
        lines += ["", "Data: " + ", ".join(f"[{t.files['csv']}]({t.files['csv']})" for t in r.tables), ""]
    return "\n".join(lines)


def _headline_line(reports: dict[str, Report]) -> str:
    parts = []
    t = reports["taxonomy"].headline
    parts.append(f"{t['models']:,} models, {t['downloads']:,} downloads in 30 days")
    parts.append(f"{reports['family_tree'].headline['families']:,} base-model families")
    parts.append(f"{reports['sizes'].headline['with_size']:,} with a parameter count")
    rec = reports["reconciliation"].headline
    if rec.get("catalog_loaded", True):
        parts.append(f"catalog: {rec['entries_matched']:,} of {rec['catalog_entries']:,} entries matched, {rec['conflict']:,} conflicts")
    else:
        parts.append("catalog not loaded")
    return " · ".join(parts)


def _newest_set(out_dir: Path) -> str | None:
    dates = sorted(p.name for p in out_dir.iterdir() if p.is_dir() and not p.is_symlink() and DATE_DIR.match(p.name))
    return dates[-1] if dates else None


def _remove_ours(out_dir: Path, path: Path) -> None:
    """Delete a folder this module made directly inside ``out_dir``, checked on the resolved paths first.

    ``out_dir`` may be an operator's ``--out`` folder: nothing outside it, and nothing in it that is not a report
    set or its staging, is ever removed.
    """
    target = path.resolve()
    if path.is_symlink() or target.parent != out_dir.resolve():
        raise ReportError(f"refusing to delete {path}: not a folder of ours directly inside {out_dir}")
    if target.name == LATEST and not (target / MANIFEST).is_file():
        raise ReportError(f"refusing to replace {path}: a folder that is not a report set (no {MANIFEST}); move it away")
    shutil.rmtree(target)


def update_latest(out_dir: Path) -> str | None:
    """Point ``latest`` at the newest dated set: a relative symlink, else a text file naming it."""
    newest = _newest_set(out_dir)
    if newest is None:
        return None
    link = out_dir / LATEST
    tmp = out_dir / f".{LATEST}.{os.getpid()}"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    try:
        os.symlink(newest, tmp, target_is_directory=True)
    except (OSError, NotImplementedError):
        tmp.write_text(newest + "\n", encoding="utf-8")
    if link.is_dir() and not link.is_symlink():
        _remove_ours(out_dir, link)
    os.replace(tmp, link)
    return newest


def build_reports(db_path: Path | str, out_dir: Path | str, run_id: str | None = None,
                  today: date | datetime | str | None = None) -> Path:
    """Build every report from the warehouse at ``db_path`` into ``out_dir/<date>/``; return that directory.

    The set is written into a staging folder beside it and swapped in whole: a reader never sees half a set.
    """
    db_path, out_dir = Path(db_path), Path(out_dir)
    date_str = _as_date(today)
    staging = out_dir / f".{date_str}.building-{os.getpid()}"
    try:
        built, catalog, run = _built_reports(db_path, run_id, staging)
        _write_pages(staging, built, catalog, run, date_str, db_path)
        final = _publish(staging, out_dir / date_str)
    except BaseException:
        if staging.is_dir():  # the build may fail before it made its staging folder
            _remove_ours(out_dir, staging)
        raise
    update_latest(out_dir)
    return final


def _built_reports(db_path: Path, run_id: str | None, staging: Path) -> tuple[list[tuple[Report, list[dict]]], bool, dict | None]:
    """Every builder's report, read from the marts through a sandboxed read-only connection, its data files
    written into ``staging`` as soon as it is built (so one report's tables are in memory at a time)."""
    if not db_path.is_file():
        raise ReportError(f"no warehouse at {db_path}: run `hubcensus refresh` (or `hubcensus demo`) first")
    try:
        con = open_warehouse(db_path, read_only=True, memory_limit=READER_MEMORY)  # sandboxed: reports read marts, nothing else
    except WarehouseError as exc:
        raise ReportError(f"cannot open {db_path} read-only: {exc}") from exc
    try:
        ctx = Context.open(con, run_id)
        missing = [m for m in REQUIRED_MARTS if not ctx.has(m)]
        if missing:
            raise ReportError(f"{db_path} lacks the marts {', '.join(missing)}: is the warehouse migrated and loaded?")
        staging.parent.mkdir(parents=True, exist_ok=True)
        if staging.exists():
            _remove_ours(staging.parent, staging)
        staging.mkdir()
        built = []
        for builder in BUILDERS:
            report = builder.build(ctx)
            built.append((report, [_write_table(staging, t, con) for t in report.tables]))
        return built, ctx.catalog_loaded, ctx.run
    finally:
        con.close()


def _write_pages(staging: Path, built: list[tuple[Report, list[dict]]], catalog: bool, run: dict | None, date_str: str, db_path: Path) -> None:
    """Each report's page, the index, summary.md and the set's manifest, into ``staging`` (beside the data files)."""
    reports = [report for report, _ in built]
    built_at = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    env = environment()
    common = dict(nav=reports, date=date_str, built_at=built_at, db_name=db_path.name, run=run, repo_columns=REPO_COLUMNS)
    manifest: dict[str, Any] = {
        "date": date_str, "built_at": built_at, "warehouse": str(db_path), "run": _jsonable(run),
        "catalog_loaded": catalog, "reports": [],
    }
    for report, files in built:
        html = env.get_template("report.html.j2").render(
            report=report, current=report.slug, data_files={t.name for t in report.tables}, **common
        )
        (staging / f"{report.slug}.html").write_text(html, encoding="utf-8")
        manifest["reports"].append({
            "slug": report.slug, "title": report.title, "html": f"{report.slug}.html", "summary": report.summary,
            "headline": _jsonable(report.headline), "notes": report.notes, "tables": files,
        })
    by_slug = {r.slug: r for r in reports}
    index = env.get_template("index.html.j2").render(
        reports=reports, current="", catalog_loaded=catalog, headline_line=_headline_line(by_slug), **common
    )
    (staging / "index.html").write_text(index, encoding="utf-8")
    (staging / "summary.md").write_text(_summary_md(date_str, reports, run, built_at, db_path.name, catalog), encoding="utf-8")
    (staging / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _publish(staging: Path, final: Path) -> Path:
    """Swap the staged set in for ``final`` (two renames; the old set is removed after)."""
    old = final.parent / f".{final.name}.old-{os.getpid()}"
    if final.exists():
        os.replace(final, old)
    os.replace(staging, final)
    if old.exists():
        _remove_ours(final.parent, old)
    return final


def summary_tables(report_dir: Path | str) -> dict[str, Any]:
    """What a Prefect task needs to publish the set as artifacts.

    Returns ``{"markdown": <summary.md text with the index path>, "index": <path of index.html>,
    "tables": {<artifact key>: (<description>, [row dicts])}}``; keys are lower-case with dashes, as Prefect
    artifact keys must be.
    """
    report_dir = Path(report_dir)
    manifest = json.loads((report_dir / MANIFEST).read_text(encoding="utf-8"))
    picks = {
        "hubcensus-taxonomy-arch-class": ("taxonomy-arch_class", "Architecture classes: Hub models vs catalog entries", None),
        "hubcensus-families": ("family_tree", "Largest base-model families on the Hub", 15),
        "hubcensus-size-buckets": ("sizes-buckets", "Models per size bucket", None),
        "hubcensus-reconciliation": ("reconciliation-summary", "Catalog vs Hub comparisons per field", None),
        "hubcensus-catalog-gaps": ("reconciliation-gaps", "Top catalog gaps", 15),
    }
    tables: dict[str, tuple[str, list[dict]]] = {}
    for key, (name, description, limit) in picks.items():
        path = report_dir / f"{name}.parquet"
        if not path.is_file():
            continue
        frame = pl.read_parquet(path)
        if limit:
            frame = frame.head(limit)
        rows = [{k: _cell(v) if not isinstance(v, (int, float, str)) or isinstance(v, bool) else v for k, v in r.items()} for r in frame.to_dicts()]
        tables[key] = (description, rows)
    index = report_dir / "index.html"
    markdown = (report_dir / "summary.md").read_text(encoding="utf-8")
    markdown += f"\nReport set: `{index}`  \nBrowse: `hubcensus reports serve --data-dir {report_dir.parent.parent}`\n"
    return {"markdown": markdown, "index": str(index), "date": manifest["date"], "tables": tables}
