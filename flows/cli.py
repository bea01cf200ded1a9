"""The ``hubcensus`` command: thin wrappers over the flows and library functions.

Every ``HubcensusError`` becomes one clear line on stderr and exit code 1, in one place
(``OneLineErrors``); anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import Optional

from flows.prefect_env import TemporaryServer, apply_offline_defaults, serving, start_temporary_server, stop_orphaned_servers

apply_offline_defaults()  # before anything below imports prefect

import typer  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.markup import escape  # noqa: E402
from typer.core import TyperGroup  # noqa: E402

from flows.display import display  # noqa: E402
from harvesters.landing import DataDir, check_run_id  # noqa: E402
from hubcensus.errors import HubcensusError  # noqa: E402

console = Console(stderr=True, soft_wrap=True)


def fail(message: str) -> None:
    """Print one line and exit 1."""
    console.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
    raise typer.Exit(1)


def sigint_to_python() -> None:
    """Give Ctrl-C back to Python's own handler (``KeyboardInterrupt`` in the main thread).

    Importing Polars (2.x) installs a SIGINT handler of its own, which does not always hand the signal on: a
    refresh whose load had begun (Polars imported) ignored Ctrl-C while a page waited for its files. Polars is
    imported here, before any command runs, so that Python's handler is the one installed last."""
    import polars  # noqa: F401 - for its side effect on SIGINT, undone below

    signal.signal(signal.SIGINT, signal.default_int_handler)


class OneLineErrors(TyperGroup):
    """Turns a domain error raised by any command into one line and exit code 1; Ctrl-C is Python's."""

    def invoke(self, ctx):  # type: ignore[no-untyped-def]
        sigint_to_python()
        try:
            return super().invoke(ctx)
        except HubcensusError as exc:
            fail(str(exc))


app = typer.Typer(
    cls=OneLineErrors,
    help="hubcensus: harvest Hugging Face Hub metadata into a DuckDB warehouse and report on it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

DEFAULT_DATA_DIR = Path("hubcensus-data")
DataDirOption = typer.Option(DEFAULT_DATA_DIR, "--data-dir", help="Where raw runs, warehouse.duckdb and reports live.")


def _task_runner(name: str, dask_address: str | None, workers: int):
    """The Prefect task runner: threads by default, or a Dask cluster (local, or at --dask-address)."""
    if name == "default":
        if dask_address:
            fail("--dask-address needs --task-runner dask")
        return None
    if name != "dask":
        fail(f"unknown task runner {name!r}: choose default or dask")
    try:
        from prefect_dask import DaskTaskRunner
    except ImportError:
        fail("--task-runner dask needs the dask extra: pip install 'hubcensus[dask]'")
    if dask_address:
        return DaskTaskRunner(address=dask_address)
    return DaskTaskRunner(cluster_kwargs={"n_workers": workers, "processes": True, "threads_per_worker": 1, "dashboard_address": ":0"})


def _interrupt(signum, frame):  # noqa: ARG001 - signal handler signature
    raise KeyboardInterrupt(f"signal {signum}")


def _run_refresh(endpoint: str | None, data_dir: Path, task_runner=None, **params) -> dict:
    """Run the flow; SIGTERM stops it like Ctrl-C: the run is marked failed, what it settled is kept.

    Prefect's temporary server is started first, so that it comes up while the imports below run."""
    if params.get("run_id") is not None:
        check_run_id(params["run_id"])
    stop_orphaned_servers()  # left by a run that was killed outright
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        return _run_flow(start_temporary_server(), endpoint, data_dir, task_runner, **params)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run_flow(server: TemporaryServer | None, endpoint: str | None, data_dir: Path, task_runner=None, **params) -> dict:
    from prefect.exceptions import TerminationSignal

    from flows.config import load_config
    from flows.refresh import nightly_refresh
    from harvesters.hub import HubClient
    from harvesters.settings import default_endpoint

    config_path = params.get("config_path")
    endpoint = endpoint or load_config(Path(config_path) if config_path else None).endpoint or default_endpoint()
    HubClient(endpoint).check_reachable()
    flow = nightly_refresh.with_options(task_runner=task_runner) if task_runner is not None else nightly_refresh
    try:
        with serving(server), display(console):
            return flow(endpoint=endpoint, data_dir=str(data_dir), **params)
    except (KeyboardInterrupt, TerminationSignal):
        runs = DataDir(data_dir).runs()
        hint = f": resume it with `hubcensus refresh --resume {runs[-1].run_id}`" if runs and runs[-1].status == "failed" else ""
        fail(f"interrupted; the run is marked failed and keeps what it settled{hint}")


def _dask_workers(address: str | None, default: int) -> int:
    """How many processes share the Hub quotas: the local cluster's workers, or the scheduler's."""
    if not address:
        return default
    from distributed import Client

    with Client(address, timeout=15) as client:
        return max(1, len(client.scheduler_info().get("workers", {})))


@app.command()
def refresh(
    endpoint: Optional[str] = typer.Option(None, "--endpoint", help="Hub URL (default: hubcensus.toml [hub] endpoint, $HF_ENDPOINT, else https://huggingface.co). HF_TOKEN is read from the environment, never from flags."),
    data_dir: Path = DataDirOption,
    scope: str = typer.Option("configured", "--scope", help="Which models get their files fetched. 'configured': per hubcensus.toml [files] and the flags below (catalog-matched repos and lineage, top N by downloads, authors, search terms); 'all': every listed model (right for snapshots, too much for the real Hub); 'metadata': none, the listing only."),
    config: Optional[Path] = typer.Option(None, "--config", help="Settings file (default: ./hubcensus.toml when present)."),
    full: bool = typer.Option(False, "--full", help="Refetch every file in scope, not only those whose sha changed."),
    top: Optional[int] = typer.Option(None, "--top", min=0, help="Fetch files of the top N models by downloads."),
    author: Optional[list[str]] = typer.Option(None, "--author", help="Fetch files of this author's models (repeatable)."),
    search: Optional[list[str]] = typer.Option(None, "--search", help="Fetch files of models whose id contains this (repeatable)."),
    catalog: Optional[list[Path]] = typer.Option(None, "--catalog", help="An extra catalog file layered over the shipped one (repeatable)."),
    resume: Optional[str] = typer.Option(None, "--resume", metavar="RUN_ID", help="Resume a crashed run by its id (a folder name under DATA_DIR/raw, e.g. 20261127T031500Z-a1b2c3; never a path): keeps what it settled, fetches the rest."),
    page_size: Optional[int] = typer.Option(None, "--page-size", min=1, max=1000, help="Listing page size (the Hub caps it at 1000)."),
    concurrency: Optional[int] = typer.Option(None, "--concurrency", min=1, help="Concurrent file fetches per shard (default 8)."),
    task_runner: str = typer.Option("default", "--task-runner", help="'default' (threads) or 'dask' (needs the dask extra)."),
    dask_address: Optional[str] = typer.Option(None, "--dask-address", help="A running Dask scheduler, e.g. tcp://10.0.0.5:8786 (with --task-runner dask); default: a local cluster."),
    shards: Optional[int] = typer.Option(None, "--shards", min=1, help="Independent fetch shards (by repo hash); default 1, or 2 per Dask worker."),
) -> None:
    """Run the nightly_refresh flow once: harvest, normalize and load, reconcile, build the reports."""
    runner = _task_runner(task_runner, dask_address, workers=2)
    result = _run_refresh(
        endpoint, data_dir, task_runner=runner, scope=scope, run_id=resume, config_path=str(config) if config else None,
        full=full, page_size=page_size, concurrency=concurrency, top_downloads=top, authors=author, search=search,
        catalog_paths=[str(c) for c in catalog] if catalog else None, shards=shards or (4 if runner is not None else 1),
        processes=_dask_workers(dask_address, 2) if runner is not None else 1,
    )  # fmt: skip
    _print_summary(result)
    print_report_paths(Path(result["reports"]), data_dir)


@app.command()
def demo(data_dir: Path = DataDirOption) -> None:
    """Start the bundled replay Hub on a free loopback port and run the whole refresh against it, offline."""
    from harvesters.replay import ReplayHub
    from harvesters.settings import DEMO_SNAPSHOT

    with ReplayHub(DEMO_SNAPSHOT, host="127.0.0.1", port=0) as hub:
        console.print(f"replay Hub serving the bundled snapshot at {hub.url}")
        result = _run_refresh(hub.url, data_dir, scope="all")
    _print_summary(result)
    print_report_paths(Path(result["reports"]), data_dir)


@app.command()
def schedule(
    cron: str = typer.Option("0 3 * * *", "--cron", help="When to run, as a cron expression."),
    timezone: str = typer.Option("UTC", "--timezone", help="IANA time zone of the cron expression."),
    data_dir: Path = DataDirOption,
    scope: str = typer.Option("configured", "--scope", help="File scope of each scheduled run (see refresh --help)."),
    config: Optional[Path] = typer.Option(None, "--config", help="Settings file each run reads (default: ./hubcensus.toml)."),
) -> None:
    """Serve the nightly_refresh deployment on a cron schedule (blocks; Ctrl-C stops it).

    Without PREFECT_API_URL this runs Prefect in ephemeral mode inside this process; with it, the
    deployment is registered on that server. For a server with a work pool, see prefect.yaml.
    """
    from flows.schedule import serve_nightly

    parameters = {"data_dir": str(data_dir.resolve()), "scope": scope}
    if config:
        parameters["config_path"] = str(config.resolve())
    console.print(f"serving nightly_refresh/nightly on '{cron}' ({timezone}); Ctrl-C to stop")
    serve_nightly(cron, timezone, parameters)


@app.command("replay-hub")
def replay_hub(
    snapshot_dir: Optional[Path] = typer.Argument(None, exists=True, file_okay=False, help="Snapshot folder: api/models/{org}/{name}.json and files/{org}/{name}/{path}."),
    synthetic: Optional[int] = typer.Option(None, "--synthetic", min=0, metavar="N", help="Serve N generated models (the bundled bodies re-keyed) instead of a snapshot folder."),
    seed: int = typer.Option(0, "--seed", help="Seed of the --synthetic Hub (same seed, same bodies) and of --faults (same seed, same dice)."),
    day: int = typer.Option(0, "--day", min=0, metavar="D", help="Serve the --synthetic Hub as of day D: each day ~1% of models get a new sha, ~0.3% are new, ~0.05% are deleted, downloads and likes move (harvesters/replay/synthetic.py)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind (loopback by default)."),
    port: int = typer.Option(0, "--port", help="Port (0: a free one)."),
    request_log: Optional[Path] = typer.Option(None, "--request-log", help="Write one JSON line per request (method, path, query, status, bytes)."),
    accept_token: Optional[str] = typer.Option(None, "--accept-token", metavar="TOKEN", help="Token that unlocks gated repos' files."),
    page_size: int = typer.Option(1000, "--page-size", min=1, help="Cap on the listing page size (the Hub's is 1000)."),
    faults: Optional[str] = typer.Option(None, "--faults", metavar="SPEC", help="Inject faults, e.g. '429:0.1,503:0.05,reset:0.03,truncate:0.02,slow:0.05:2s,retry-after=2'; a rule may end with @listing, @info or @files; max-per-request=N bounds repeats of one request."),
) -> None:
    """Serve a snapshot directory (or a --synthetic one) in the Hub's HTTP API shape, for HF_ENDPOINT / --endpoint."""
    from harvesters.replay import FaultPlan, ReplayHub
    from harvesters.replay.faults import FaultSpecError

    if (snapshot_dir is None) == (synthetic is None):
        fail("give either SNAPSHOT_DIR or --synthetic N, not both or neither")
    if day and synthetic is None:
        fail("--day needs --synthetic N (a snapshot folder does not change by itself)")
    plan = None
    if faults is not None:
        try:
            plan = FaultPlan.from_spec(faults, seed=seed)
        except FaultSpecError as exc:
            fail(f"--faults: {exc}")
    source = snapshot_dir
    if synthetic is not None:
        from harvesters.replay.synthetic import SyntheticSnapshot

        source = SyntheticSnapshot(synthetic, seed=seed, day=day)
    hub = ReplayHub(source, host=host, port=port, page_size=page_size, accept_token=accept_token, request_log=request_log, faults=plan)
    hub.start()
    print(hub.url, flush=True)
    console.print(f"serving {source} at {hub.url} (Ctrl-C to stop); try: HF_ENDPOINT={hub.url} hubcensus refresh")
    for name, why in getattr(hub.snapshot, "unservable", {}).items():  # said at start-up, never dropped silently
        console.print(f"[yellow]cannot serve[/] api/models/{escape(name)}: {escape(why)}", highlight=False)
    try:
        hub.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        hub.stop()


FILE_OUTCOMES = {
    "ok": "landed",
    "missing": "not in the repo at that revision (normal: the listing's siblings said so, or the repo has no such file)",
    "gated": "gated (the repo needs an access token: set HF_TOKEN)",
    "not_found": "repo or revision gone",
    "error": "failed after retries (fetched again next run)",
}


def describe_files(files: dict[str, int]) -> str:
    """File outcomes in words: a 404 for a file the repo does not have is not a failure."""
    if not files:
        return "none to fetch"
    return "; ".join(f"{n} {FILE_OUTCOMES.get(status, status)}" for status, n in sorted(files.items(), key=lambda kv: -kv[1]))


def _print_summary(result: dict) -> None:
    console.print(f"[bold green]run {result['run_id']}[/] complete")
    console.print(f"  models listed: {result['models']}")
    console.print(f"  files:         {escape(describe_files(result.get('files') or {}))}")
    console.print(f"  raw landing:   {result['raw_dir']}")
    if result.get("warehouse"):
        console.print(f"  warehouse:     {result['warehouse']}  (query it: hubcensus sql \"SELECT * FROM v_models LIMIT 5\")")
    if result.get("reconciled"):
        r = result["reconciled"]
        console.print(
            f"  catalog:       {r.get('catalog_models', 0)} entries, {r.get('matched_entries', 0)} matched to "
            f"{r.get('matched_repos', 0)} repos; {r.get('reconciliation_agree', 0)} agree, "
            f"{r.get('reconciliation_conflict', 0)} conflict; {r.get('catalog_gaps', 0)} gaps"
        )


# --- warehouse (issue #3): ad-hoc SQL and rebuild --------------------------------------------------------
@app.command()
def sql(
    query: Optional[str] = typer.Argument(None, help="One read-only query (SELECT/WITH/EXPLAIN); omit it for an interactive prompt."),
    data_dir: Path = DataDirOption,
    fmt: str = typer.Option("table", "--format", help="table | csv | json | parquet (parquet needs --output)."),
    output: Optional[Path] = typer.Option(None, "--output", help="Write the result to FILE instead of printing it."),
    allow_files: Optional[Path] = typer.Option(None, "--allow-files", metavar="DIR", help="Let queries read files in DIR (e.g. read_csv('DIR/mine.csv') to join your own CSVs); no other file is readable."),
) -> None:
    """Query the warehouse read-only (marts: v_models, v_taxonomy, v_sizes, v_timeline, v_lineage); writes are refused.

    Sandboxed: no file, network or extension access (files only under --allow-files DIR), settings locked.
    Each statement opens and closes the warehouse, so an open prompt never keeps a refresh waiting.
    """
    from warehouse.adhoc import interactive_sql, run_sql

    warehouse = DataDir(data_dir).warehouse
    if query is None:
        if output is not None or fmt != "table":
            fail("--format/--output need a QUERY (the interactive prompt prints tables)")
        interactive_sql(warehouse, allow_files=allow_files)
        return
    result = run_sql(warehouse, query, fmt=fmt, output=output, allow_files=allow_files)
    if result is None:
        console.print(f"wrote {output}")
    else:
        print(result, end="" if result.endswith("\n") else "\n")


@app.command()
def rebuild(
    data_dir: Path = DataDirOption,
    run: Optional[str] = typer.Option(None, "--run", metavar="RUN_ID", help="Reload only this run, by its id (default: every run under raw/, in order)."),
    include_abandoned: bool = typer.Option(False, "--include-abandoned", help="Also reload runs a crash left abandoned (skipped by default)."),
) -> None:
    """Re-normalize the warehouse from the raw landing, without the Hub."""
    from warehouse.loading import rebuild as rebuild_warehouse

    data = DataDir(data_dir)
    with display(console):
        results = rebuild_warehouse(data, run_id=check_run_id(run) if run is not None else None, include_abandoned=include_abandoned)
    for run_id, counts in results.items():
        console.print(f"[bold green]run {run_id}[/] loaded: {counts.get('models', 0)} models, {counts.get('quarantine', 0)} quarantined")
    console.print(f"  warehouse: {data.warehouse}")


@app.command()
def changes(
    data_dir: Path = DataDirOption,
    since: Optional[str] = typer.Option(None, "--since", metavar="RUN_ID|DATE", help="Changes found after this run, or by runs started on or after this day (YYYY-MM-DD); default: the previous run (what the latest run found)."),
    kind: Optional[list[str]] = typer.Option(None, "--kind", metavar="KIND", help="Only these kinds (repeatable, or comma-separated): new, deleted, restored, sha_changed, license_changed, params_changed, arch_changed, gated_changed, renamed."),
    top: Optional[int] = typer.Option(None, "--top", metavar="N", help="The N changes of the most downloaded models (sorted by downloads)."),
    fmt: str = typer.Option("table", "--format", help="table | csv | json."),
) -> None:
    """What changed on the Hub between runs (model_changes, recorded at load time)."""
    from warehouse.change_log import changes_report

    kinds = [k.strip() for value in kind or [] for k in value.split(",") if k.strip()]
    text, headline = changes_report(DataDir(data_dir).warehouse, since=since, kinds=kinds or None, top=top, fmt=fmt)
    console.print(headline, highlight=False, markup=False)
    if text:
        print(text, end="" if text.endswith("\n") else "\n")


@app.command()
def prune(
    keep: int = typer.Option(..., "--keep", min=1, metavar="N", help="Keep the newest N complete raw runs (at least 1)."),
    data_dir: Path = DataDirOption,
    dry_run: bool = typer.Option(False, "--dry-run", help="Only say what would be deleted."),
) -> None:
    """Delete raw runs beyond the newest N complete ones; never a running run or the newest complete one.

    The warehouse keeps every run's history (harvest_runs.raw_pruned_at records the pruning). A complete run the
    warehouse never loaded is kept: its raw landing is its only copy.
    """
    from warehouse.retention import prune as prune_runs

    plan = prune_runs(DataDir(data_dir), keep, dry_run=dry_run)
    verb = "would delete" if dry_run else "deleted"
    for run in plan.prune:
        console.print(f"  {verb} {run.run_id}", highlight=False)
    for run_id, reason in plan.skipped.items():
        console.print(f"  kept {run_id}: {escape(reason)}", highlight=False)
    console.print(f"{verb} {len(plan.prune)} raw run(s), {plan.bytes / 1e6:,.1f} MB; {len(plan.keep)} complete run(s) kept", highlight=False)


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

    from warehouse.database import open_warehouse
    from warehouse.gaps import catalog_gaps
    from warehouse.reconcile import preview_gaps

    path = DataDir(data_dir).warehouse
    if not path.is_file():
        fail(f"no warehouse at {path}: run `hubcensus refresh` (or `hubcensus demo`) first")
    if catalog:
        gaps = preview_gaps(path, catalog, limit)  # the stored reconciliation is left as the last load wrote it
    else:
        con = open_warehouse(path, read_only=True)
        try:
            gaps = catalog_gaps(con, limit)
        finally:
            con.close()
    if gaps.is_empty():
        print("no catalog gaps (has a reconciliation run? `hubcensus refresh` runs it after each load)")
        return
    table = Table("rank", "kind", "family", "repos", "downloads", "newest", "reason")
    for r in gaps.iter_rows(named=True):
        newest = "" if r["newest_created_at"] is None else f"{r['newest_created_at']:%Y-%m-%d}"
        table.add_row(str(r["rank"]), r["gap_kind"], r["gap_key"], str(r["n_models"]), f"{r['downloads'] or 0:,}", newest, r["reason"])
    Console().print(table)


@catalog_app.command("propose")
def catalog_propose(
    data_dir: Path = DataDirOption,
    min_repos: int = typer.Option(2, "--min-repos", min=1, metavar="N", help="Only families with at least N listed repos."),
    min_downloads: int = typer.Option(1000, "--min-downloads", min=0, metavar="D", help="Only families with at least D downloads (30 days, summed)."),
    output: Optional[Path] = typer.Option(None, "--output", metavar="FILE", help="Write the proposals to FILE: CSV in the catalog's columns (YAML for .yaml/.yml), evidence columns after; copy a row's catalog columns into your catalog file and pass it with --catalog."),
    catalog: Optional[list[Path]] = CatalogFilesOption,
) -> None:
    """Propose catalog entries for Hub families (model types) the catalog lacks, with their roots from lineage."""
    from rich.table import Table
    from rich.text import Text

    from warehouse.catalog.propose import propose_from_warehouse, write_proposals

    found = propose_from_warehouse(DataDir(data_dir).warehouse, catalog, min_repos, min_downloads)
    rows = found.rows
    console.print(f"{rows.height} proposal(s); {len(found.in_catalog)} family(ies) already in the catalog; "
                  f"{len(found.skipped)} that cannot be a catalog row (no architecture class or date)", highlight=False)
    if output is not None:
        write_proposals(found, output)
        console.print(f"wrote {output}", highlight=False, markup=False)
        return
    table = Table("Name", "Family", "Architecture", "Date", "Params", "License", "Lab", "repos", "downloads", "roots")
    for r in rows.iter_rows(named=True):
        cells = [r["Name"], r["Family"], r["Pretraining Architecture"], r["Date"], r["Num. Params"], r["License"], r["Lab"]]
        table.add_row(*(Text(c or "") for c in cells), f"{r['repo_count']:,}", f"{r['downloads']:,}", Text(r["root_repo_ids"] or ""))
    Console().print(table)


# --- reports (reports/, issue #5) --------------------------------------------------------------------------
reports_app = typer.Typer(help="Report sets built from the warehouse marts: build them, browse them.", no_args_is_help=True)
app.add_typer(reports_app, name="reports")


def print_report_paths(report_dir: Path, data_dir: Path) -> None:
    """The two lines a user needs after a build: where index.html is, and how to browse the sets."""
    console.print(f"  reports:       {report_dir / 'index.html'}")
    console.print(f"  browse:        hubcensus reports serve --data-dir {data_dir}")


@reports_app.command("build")
def reports_build(
    data_dir: Path = DataDirOption,
    out: Optional[Path] = typer.Option(None, "--out", help="Reports root (default: DATA_DIR/reports); the set goes to OUT/<date>/ and OUT/latest."),
    run_id: Optional[str] = typer.Option(None, "--run", metavar="RUN_ID", help="Harvest run to name as the source (default: the newest in harvest_runs)."),
    date: Optional[str] = typer.Option(None, "--date", metavar="YYYY-MM-DD", help="Date of the set (default: today, UTC)."),
) -> None:
    """Build the report set (taxonomy, family tree, timeline, sizes, reconciliation) from DATA_DIR/warehouse.duckdb."""
    from reports.build import build_reports

    data = DataDir(data_dir)
    report_dir = build_reports(data.warehouse, out or data.reports, run_id=check_run_id(run_id) if run_id is not None else None, today=date)
    console.print(f"[bold green]report set {report_dir.name}[/] built")
    print_report_paths(report_dir, data_dir)


@reports_app.command("serve")
def reports_serve(
    data_dir: Path = DataDirOption,
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind (loopback unless told otherwise)."),
    port: int = typer.Option(8000, "--port", help="Port (0: a free one)."),
) -> None:
    """Serve DATA_DIR/reports read-only over HTTP: the dated sets, their pages and downloads."""
    from reports.server import ReportServer

    root = DataDir(data_dir).reports
    if not root.is_dir():
        fail(f"no reports under {root}: run `hubcensus reports build --data-dir {data_dir}` first")
    try:
        server = ReportServer(root, host=host, port=port)
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}")
    if host not in ("127.0.0.1", "localhost", "::1"):
        console.print(f"[yellow]warning:[/] listening on {host}: anyone who can reach it can read the reports")
    print(f"{server.url}/latest/", flush=True)
    console.print(f"serving {root} at {server.url}/ (Ctrl-C to stop)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
