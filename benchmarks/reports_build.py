"""The report set built from a large synthetic warehouse: wall and CPU time of ``build_reports``, page sizes.

    .venv/bin/python benchmarks/reports_build.py [--models N] [--seed S] [--keep DIR] [--builds K]

Makes one raw run holding the bundled demo snapshot's models (with their config.json/README.md, so the curated
catalog matches exist: BERT, GPT-2, RoBERTa, ...) followed by N synthetic listing lines (the demo bodies re-keyed:
their cards keep the demo's base_model, so tens of thousands of synthetic repos descend from the matched repos),
loads it with ``load_raw_run``, reconciles the catalog, then times ``build_reports`` K times (default 1).
With ``--keep DIR`` the warehouse is kept and reused by the next run with the same DIR (only the build is timed
again). Prints wall seconds, CPU seconds (this process's threads plus ``dot`` subprocesses), each page's size and
peak RSS; writes benchmarks/results/reports_build.json. Never asserts a timing.
"""

from __future__ import annotations

import argparse
import itertools
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Timer, peak_rss_mb, synthetic_listing_pages, write_results  # noqa: E402

RUN_ID = "20250601T060000Z-bench1"


def make_warehouse(data_dir: Path, n: int, seed: int) -> tuple[Path, dict]:
    """Land demo + N synthetic models as one run, load it, reconcile; return the warehouse and the timings."""
    from harvesters.landing import RawRun
    from harvesters.settings import DEMO_SNAPSHOT
    from harvesters.landing import DataDir
    from harvesters.replay.fixtures import MODEL_FILES, listing_line, snapshot_bodies
    from warehouse.loading import load_raw_run
    from warehouse.reconcile import reconcile_warehouse

    demo = list(snapshot_bodies(DEMO_SNAPSHOT))
    run = RawRun.create(data_dir, RUN_ID)
    run.write_manifest(endpoint="http://127.0.0.1:0", scope="all", started_at="2025-06-01T06:00:00+00:00",
                       finished_at="2025-06-01T06:30:00+00:00", status="complete")
    figures: dict = {}
    with Timer() as land:
        count = run.land_listing(itertools.chain([[listing_line(b) for b in demo]], synthetic_listing_pages(n, seed)))
        for body in demo:
            for name in MODEL_FILES:
                path = DEMO_SNAPSHOT / "files" / body["id"] / name
                if path.is_file():
                    content = path.read_bytes()
                    run.land_file(body["id"], name, content)
                    run.record_fetch(repo_id=body["id"], sha=body.get("sha"), path=name, status="ok", http_status=200,
                                     reason=None, bytes=len(content))
    figures["land"] = {"models": count, "seconds": round(land.seconds, 1)}
    print(f"raw run: {count:,} models in {land.seconds:.1f} s", flush=True)
    db = DataDir(data_dir).warehouse
    with Timer() as load:
        load_raw_run(db, run.root)
    figures["load"] = {"seconds": round(load.seconds, 1), "cpu_seconds": round(load.cpu_seconds, 1)}
    print(f"load: {load.seconds:.1f} s (cpu {load.cpu_seconds:.1f} s)", flush=True)
    with Timer() as rec:
        reconcile_warehouse(db)
    figures["reconcile"] = {"seconds": round(rec.seconds, 1), "cpu_seconds": round(rec.cpu_seconds, 1)}
    print(f"reconcile: {rec.seconds:.1f} s (cpu {rec.cpu_seconds:.1f} s)", flush=True)
    return db, figures


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def time_build(db: Path, out: Path) -> dict:
    from reports.build import build_reports

    cpu0, child0, wall0 = time.process_time(), children_cpu(), time.perf_counter()
    report_dir = build_reports(db, out, today="2025-06-01")
    wall, cpu, child = time.perf_counter() - wall0, time.process_time() - cpu0, children_cpu() - child0
    pages = {p.name: p.stat().st_size for p in sorted(report_dir.glob("*.html"))}
    data = sum(p.stat().st_size for p in report_dir.iterdir() if p.suffix in (".csv", ".parquet"))
    return {"seconds": round(wall, 1), "cpu_seconds": round(cpu, 1), "dot_cpu_seconds": round(child, 1),
            "pages_bytes": pages, "largest_page_mb": round(max(pages.values()) / 1e6, 2), "data_files_mb": round(data / 1e6, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=int, default=100_000, help="synthetic models besides the demo's (default 100,000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", type=Path, default=None, help="work in DIR, keep the warehouse and reuse it next time")
    parser.add_argument("--builds", type=int, default=1, help="time the build this many times")
    args = parser.parse_args()

    from harvesters.landing import DataDir

    with tempfile.TemporaryDirectory(prefix="bench-reports-build-") as tmp:
        work = args.keep or Path(tmp)
        data_dir = work / "data"
        db = DataDir(data_dir).warehouse
        figures: dict = {"synthetic_models": args.models, "seed": args.seed}
        if db.is_file():
            print(f"reusing {db} ({db.stat().st_size / 1e9:.1f} GB)")
            figures["warehouse"] = "reused"
        else:
            data_dir.mkdir(parents=True, exist_ok=True)
            db, figures["warehouse"] = make_warehouse(data_dir, args.models, args.seed)
        import duckdb

        con = duckdb.connect(str(db), read_only=True)
        figures["rows"] = dict(zip(("models", "lineage_edges", "confident_matches"), con.sql(
            """SELECT (SELECT count(*) FROM models), (SELECT count(*) FROM model_lineage),
                      (SELECT count(*) FROM catalog_matches WHERE confidence >= 0.8)""").fetchall()[0]))
        con.close()
        print(f"warehouse: {figures['rows']}")
        figures["builds"] = []
        for _ in range(args.builds):
            build = time_build(db, work / "reports")
            figures["builds"].append(build)
            print(f"build_reports: {build['seconds']:.1f} s wall, cpu {build['cpu_seconds']:.1f} s (+ dot {build['dot_cpu_seconds']:.1f} s); "
                  f"largest page {build['largest_page_mb']:.2f} MB; data files {build['data_files_mb']:.1f} MB", flush=True)
            for name, size in build["pages_bytes"].items():
                print(f"  {name:22} {size / 1e6:6.2f} MB")
        figures["peak_rss_mb"] = peak_rss_mb()
        print(f"peak RSS {figures['peak_rss_mb']:,.0f} MB")
        print(f"results: {write_results('reports_build', figures)}")


if __name__ == "__main__":
    main()
