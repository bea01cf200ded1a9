"""Normalize + load of one raw run vs DuckDB's own read_json of the same models.ndjson (issue #3: within 2x).

    .venv/bin/python benchmarks/normalize_load.py [--models N] [--seed S] [--files K] [--keep DIR]

Builds a raw run of N listing lines (full-expand bodies of a synthetic Hub: real bodies re-keyed), then
measures, each on a fresh warehouse where it matters:
  baseline  DuckDB ``CREATE TABLE AS SELECT * FROM read_json(models.ndjson.zst, union_by_name=true)``
  load      ``warehouse.loading.load_raw_run`` (normalize with Polars, write to DuckDB, one transaction)
  reload    the same run again (the idempotent path)
and prints models/s, the ratio load/baseline and peak RSS. Never asserts a timing. Writes
benchmarks/results/normalize_load.json.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Timer, peak_rss_mb, synthetic_listing_pages, write_results  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=int, default=100_000, help="listing lines in the raw run (default 100,000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--files", type=int, default=0, help="also land config.json/README.md for the first K models")
    parser.add_argument("--keep", type=Path, default=None, help="work in DIR and keep it (default: a temp dir, removed)")
    args = parser.parse_args()

    import duckdb

    from harvesters.landing import RawRun
    from harvesters.replay.synthetic import SyntheticSnapshot
    from warehouse.loading import load_raw_run

    with tempfile.TemporaryDirectory(prefix="bench-normalize-load-") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        run_id = "20250601T060000Z-bench0"
        run = RawRun.create(work / "data", run_id)
        run.write_manifest(endpoint="http://127.0.0.1:0", scope="all", started_at="2025-06-01T06:00:00+00:00",
                           finished_at="2025-06-01T06:30:00+00:00", status="complete")  # fmt: skip
        with Timer() as gen:
            count = run.land_listing(synthetic_listing_pages(args.models, args.seed))
        if args.files:
            snapshot = SyntheticSnapshot(args.models, seed=args.seed)
            for repo_id in list(snapshot.ids())[: args.files]:
                for name in ("config.json", "README.md"):
                    content = snapshot.file(repo_id, name)
                    if content is not None:
                        run.land_file(repo_id, name, content)
                        run.record_fetch(repo_id=repo_id, sha=snapshot.model(repo_id)["sha"], path=name, status="ok",
                                         http_status=200, reason=None, bytes=len(content))  # fmt: skip
        sizes = run.listing_sizes()
        size_mb = sizes["uncompressed_bytes"] / 1e6
        print(f"raw run: {count:,} models, listing {size_mb:,.1f} MB ({sizes['bytes'] / 1e6:,.1f} MB as zstd; generated in {gen.seconds:.1f} s)")

        db = work / "data" / "warehouse.duckdb"
        with Timer() as load:
            written = load_raw_run(db, run.root)
        rss_load = peak_rss_mb()
        with Timer() as reload:
            load_raw_run(db, run.root)
        rss_reload = peak_rss_mb()

        baseline_db = work / "baseline.duckdb"
        con = duckdb.connect(str(baseline_db))
        with Timer() as base:
            con.execute(
                "CREATE TABLE models_raw AS SELECT * FROM read_json(?, format = 'newline_delimited', union_by_name = true, compression = 'zstd')",
                [str(run.listing_path)],
            )
        base_rows = con.execute("SELECT count(*) FROM models_raw").fetchone()[0]
        con.close()

    rate = lambda seconds: round(count / seconds) if seconds else None  # noqa: E731
    figures = {
        "models": count,
        "models_ndjson_mb": round(size_mb, 1),
        "files_landed_for": args.files,
        "baseline_read_json": {"seconds": round(base.seconds, 2), "cpu_seconds": round(base.cpu_seconds, 2), "models_per_s": rate(base.seconds), "rows": base_rows},
        "load": {"seconds": round(load.seconds, 2), "cpu_seconds": round(load.cpu_seconds, 2), "cpu_ratio_to_baseline": round(load.cpu_seconds / base.cpu_seconds, 2), "models_per_s": rate(load.seconds), "ratio_to_baseline": round(load.seconds / base.seconds, 2), "rows_written": written},
        "reload": {"seconds": round(reload.seconds, 2), "cpu_seconds": round(reload.cpu_seconds, 2), "models_per_s": rate(reload.seconds), "ratio_to_baseline": round(reload.seconds / base.seconds, 2)},
        "peak_rss_mb": {"after_load": rss_load, "after_reload": rss_reload, "end": peak_rss_mb()},
    }
    print(f"baseline DuckDB read_json : {base.seconds:6.2f} s  {rate(base.seconds):>8,} models/s               (cpu {base.cpu_seconds:.2f} s)")
    print(f"normalize + load          : {load.seconds:6.2f} s  {rate(load.seconds):>8,} models/s  {load.seconds / base.seconds:.2f}x baseline (cpu {load.cpu_seconds:.2f} s, {load.cpu_seconds / base.cpu_seconds:.2f}x)")
    print(f"reload (idempotent)       : {reload.seconds:6.2f} s  {rate(reload.seconds):>8,} models/s  {reload.seconds / base.seconds:.2f}x baseline (cpu {reload.cpu_seconds:.2f} s)")
    print(f"peak RSS: {rss_load:,.0f} MB after load, {rss_reload:,.0f} MB after reload, {peak_rss_mb():,.0f} MB at the end")
    print(f"results: {write_results('normalize_load', figures)}")


if __name__ == "__main__":
    main()
