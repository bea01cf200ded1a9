"""The ``hubcensus`` command: thin wrappers over the flows and library functions.

Domain errors become one clear line on stderr and exit code 1, never a traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

import flows  # noqa: F401  (sets Prefect's offline defaults before prefect is imported)

app = typer.Typer(
    help="hubcensus: harvest Hugging Face Hub metadata into a DuckDB warehouse and report on it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True)

DEFAULT_DATA_DIR = Path("hubcensus-data")
DataDirOption = typer.Option(DEFAULT_DATA_DIR, "--data-dir", help="Where raw runs, warehouse.duckdb and reports live.")


def fail(message: str) -> None:
    """Print one line and exit 1."""
    console.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(1)


def _bundled_snapshot() -> Path:
    return Path(__file__).resolve().parent.parent / "harvesters" / "demo_snapshot"


def _run_refresh(endpoint: str, data_dir: Path, scope: str, run_id: str | None, page_size: int) -> dict:
    from harvesters.hub import HubClient, HubUnreachable
    from flows.refresh import nightly_refresh

    try:
        HubClient(endpoint).check_reachable()
    except HubUnreachable as exc:
        fail(str(exc))
    return nightly_refresh(endpoint=endpoint, data_dir=str(data_dir), scope=scope, run_id=run_id, page_size=page_size)


@app.command()
def refresh(
    endpoint: Optional[str] = typer.Option(None, "--endpoint", help="Hub URL (default: $HF_ENDPOINT, else https://huggingface.co). HF_TOKEN is read from the environment, never from flags."),
    data_dir: Path = DataDirOption,
    scope: str = typer.Option("all", "--scope", help="'all': every listed model with its files (right for snapshots, too much for the real Hub); 'metadata': the listing only."),
    resume: Optional[str] = typer.Option(None, "--resume", metavar="RUN_ID", help="Resume a crashed run: keeps what it landed, fetches the rest."),
    page_size: int = typer.Option(1000, "--page-size", min=1, max=1000, help="Listing page size (the Hub caps it at 1000)."),
) -> None:
    """Run the nightly_refresh flow once: harvest the Hub into the raw landing, then the later stages."""
    from harvesters.settings import default_endpoint

    result = _run_refresh(endpoint or default_endpoint(), data_dir, scope, resume, page_size)
    _print_summary(result)


@app.command()
def demo(data_dir: Path = DataDirOption) -> None:
    """Start the bundled replay Hub on a free loopback port and run the whole refresh against it, offline."""
    from harvesters.replay import ReplayHub

    with ReplayHub(_bundled_snapshot(), host="127.0.0.1", port=0) as hub:
        console.print(f"replay Hub serving the bundled snapshot at {hub.url}")
        result = _run_refresh(hub.url, data_dir, "all", None, 1000)
    _print_summary(result)


@app.command("replay-hub")
def replay_hub(
    snapshot_dir: Path = typer.Argument(..., exists=True, file_okay=False, help="Snapshot folder: api/models/{org}/{name}.json and files/{org}/{name}/{path}."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind (loopback by default)."),
    port: int = typer.Option(0, "--port", help="Port (0: a free one)."),
    request_log: Optional[Path] = typer.Option(None, "--request-log", help="Write one JSON line per request (method, path, query, status, bytes)."),
    accept_token: Optional[str] = typer.Option(None, "--accept-token", metavar="TOKEN", help="Token that unlocks gated repos' files."),
    page_size: int = typer.Option(1000, "--page-size", min=1, help="Cap on the listing page size (the Hub's is 1000)."),
) -> None:
    """Serve a snapshot directory in the Hub's HTTP API shape, for HF_ENDPOINT / --endpoint."""
    from harvesters.replay import ReplayHub

    hub = ReplayHub(snapshot_dir, host=host, port=port, page_size=page_size, accept_token=accept_token, request_log=request_log)
    hub.start()
    print(hub.url, flush=True)
    console.print(f"serving {snapshot_dir} at {hub.url} (Ctrl-C to stop); try: HF_ENDPOINT={hub.url} hubcensus refresh")
    try:
        hub.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        hub.stop()


def _print_summary(result: dict) -> None:
    console.print(f"[bold green]run {result['run_id']}[/] complete")
    console.print(f"  models listed: {result['models']}")
    console.print(f"  files fetched: {result.get('files') or {}}")
    console.print(f"  raw landing:   {result['raw_dir']}")
    for key, label in (("warehouse", "warehouse:    "), ("reports", "reports:      ")):
        if result.get(key):
            console.print(f"  {label} {result[key]}")


# --- catalog (warehouse/catalog, issue #4) ---------------------------------------------------------------
catalog_app = typer.Typer(help="The curated transformer catalog: validate a catalog file, list what it lacks.", no_args_is_help=True)
app.add_typer(catalog_app, name="catalog")
CatalogFilesOption = typer.Option(None, "--catalog", help="Extra catalog file(s) (CSV or YAML, the shipped catalog's columns) layered on top of the shipped one; repeatable.")


@catalog_app.command("check")
def catalog_check(file: Path = typer.Argument(..., help="A catalog file (CSV or YAML with the shipped catalog's columns).")) -> None:
    """Validate a catalog file: print every refused row (row number and reason); exit 1 if any."""
    from warehouse.catalog import check_catalog, read_catalog_file

    problems = check_catalog(file)
    for problem in problems:
        console.print(str(problem), highlight=False, markup=False, soft_wrap=True)
    if problems:
        fail(f"{len(problems)} problem(s) in {file}")
    print(f"{file}: {read_catalog_file(file).height} rows OK")


@catalog_app.command("gaps")
def catalog_gaps_command(
    data_dir: Path = DataDirOption,
    limit: int = typer.Option(20, "--limit", min=1, help="How many gaps to print."),
    catalog: Optional[list[Path]] = CatalogFilesOption,
) -> None:
    """Print the top Hub families the catalog lacks (from the last reconciliation, or recomputed with --catalog)."""
    from rich.table import Table

    from warehouse.catalog import CatalogError
    from warehouse.gaps import catalog_gaps
    from warehouse.reconcile import reconcile

    path = data_dir / "warehouse.duckdb"
    if not path.is_file():
        fail(f"no warehouse at {path}: run `hubcensus refresh` (or `hubcensus demo`) first")
    from warehouse.database import open_warehouse
    try:
        if catalog:
            con = open_warehouse(path)
            con.execute("BEGIN")
            try:
                reconcile(con, catalog)
                gaps = catalog_gaps(con, limit)
            finally:
                con.execute("ROLLBACK")  # a preview: the stored reconciliation is left as the last load wrote it
        else:
            con = open_warehouse(path, read_only=True)
            gaps = catalog_gaps(con, limit)
        con.close()
    except CatalogError as exc:
        fail(str(exc))
    if gaps.is_empty():
        print("no catalog gaps (has a reconciliation run? `hubcensus refresh` runs it after each load)")
        return
    table = Table("rank", "kind", "family", "repos", "downloads", "newest", "reason")
    for r in gaps.iter_rows(named=True):
        newest = "" if r["newest_created_at"] is None else f"{r['newest_created_at']:%Y-%m-%d}"
        table.add_row(str(r["rank"]), r["gap_kind"], r["gap_key"], str(r["n_models"]), f"{r['downloads'] or 0:,}", newest, r["reason"])
    Console().print(table)


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
