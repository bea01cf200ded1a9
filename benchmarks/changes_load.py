"""What recording model_changes costs a nightly load, and what the digest and `catalog propose` cost to read.

    .venv/bin/python benchmarks/changes_load.py [--models N] [--seed S] [--drift PCT] [--keep DIR] [--stored M]

Builds two raw runs of a synthetic Hub of N models: day 0, and day 1 where PCT% of the models each changed sha,
licence, parameter count (a third each), PCT/2 % are gone and as many are new. Loads day 0 (the first run: nothing
is compared), then day 1, timing the time spent inside ``record_page_changes`` (per page, before the page's writes)
and ``record_run_changes`` (deletions, renames) against the whole load; then a reload of day 1 (records nothing),
the digest builder (reports.changes.build) and ``catalog propose``. With ``--stored M`` (e.g. 2500000, the Hub's
size): one 20k-model page's ``record_page_changes`` against M stored rows made in SQL (no load), at three places of
the key space. Prints seconds and peak RSS; never asserts.
Writes benchmarks/results/changes_load.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Timer, peak_rss_mb, synthetic_listing_pages, write_results  # noqa: E402


def drifted(pages, drift_pct: float):
    """Day 1 from day 0's lines: every k-th model changed one way, some dropped, as many new ones added."""
    every = max(1, round(100 / drift_pct))
    n = 0
    for page in pages:
        out = []
        for line in page:
            n += 1
            body = json.loads(line)
            kind = n % every
            if kind == 1:
                body["sha"] = "d" * 40
            elif kind == 2:
                body["cardData"] = {**(body.get("cardData") or {}), "license": "mit"}
                body["tags"] = [t for t in body.get("tags") or [] if not t.startswith("license:")] + ["license:mit"]
            elif kind == 3 and (body.get("safetensors") or {}).get("total"):
                body["safetensors"]["total"] += 1
            elif kind == 4 and n % (2 * every) == 4:
                continue  # gone
            elif kind == 5 and n % (2 * every) == 5:
                new = dict(body, id=body["id"] + "-new", modelId=body["id"] + "-new")
                out.append(json.dumps(new, separators=(",", ":")).encode())
            out.append(json.dumps(body, separators=(",", ":")).encode())
        yield out


def timed(module, name: str, spent: dict):
    """Wrap module.name to add its wall seconds to spent[name] (the loader calls it through its own module)."""
    original = getattr(module, name)

    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            spent[name] = spent.get(name, 0.0) + time.perf_counter() - start

    setattr(module, name, wrapper)


def land(data: Path, run_id: str, started: str, pages) -> "object":
    from harvesters.landing import RawRun

    run = RawRun.create(data, run_id)
    run.write_manifest(endpoint="http://127.0.0.1:0", scope="all", started_at=started, finished_at=started, status="complete")
    run.land_listing(pages)
    return run


def page_against_stored(path: Path, stored: int, page_size: int = 20_000) -> list[float]:
    """Seconds of record_page_changes for one page (2% relicensed) against ``stored`` rows, rolled back each time."""
    import polars as pl

    from warehouse.changes import record_page_changes
    from warehouse.database import open_warehouse
    from warehouse.pages import page_keys

    con = open_warehouse(path)
    con.execute(f"""INSERT INTO models (repo_id, author, sha, license, gated, model_type, architectures, params_total, params_source,
                                        first_seen_run, last_seen_run)
                    SELECT printf('org-%07d/model-%08d', i // 100, i), printf('org-%07d', i // 100), md5(i::VARCHAR), 'apache-2.0', 'false',
                           'llama', ['LlamaForCausalLM'], 7000000000 + i, 'safetensors', 'R0', 'R0' FROM range({stored}) t(i)""")
    con.execute("INSERT INTO harvest_runs (run_id) VALUES ('R0')")
    seconds = []
    for start in (0, stored // 2, stored - page_size):
        page = con.sql(f"SELECT * FROM models WHERE repo_id >= printf('org-%07d/model-%08d', {start} // 100, {start}) ORDER BY repo_id LIMIT {page_size}").pl()
        page = page.with_columns(pl.when(pl.int_range(pl.len()) % 50 == 0).then(pl.lit("mit")).otherwise(pl.col("license")).alias("license"))
        con.execute("BEGIN TRANSACTION")
        with Timer() as one:
            record_page_changes(con, "R1", page, page_keys(page))
        con.execute("ROLLBACK")
        seconds.append(round(one.seconds, 3))
    con.close()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--drift", type=float, default=3.0, help="percent of models changed between the two days (default 3)")
    parser.add_argument("--keep", type=Path, default=None)
    parser.add_argument("--stored", type=int, default=0, help="also time one page against M stored rows made in SQL (e.g. 2500000)")
    args = parser.parse_args()

    import duckdb

    import warehouse.loading as loading
    from reports import changes as digest
    from reports.base import Context
    from warehouse.catalog import load_catalog
    from warehouse.catalog.propose import propose

    with tempfile.TemporaryDirectory(prefix="bench-changes-") as tmp:
        work = args.keep or Path(tmp)
        data = work / "data"
        day0 = land(data, "20250601T060000Z-bench0", "2025-06-01T06:00:00+00:00", synthetic_listing_pages(args.models, args.seed))
        day1 = land(data, "20250602T060000Z-bench1", "2025-06-02T06:00:00+00:00", drifted(synthetic_listing_pages(args.models, args.seed), args.drift))
        db = data / "warehouse.duckdb"
        spent: dict[str, float] = {}
        timed(loading, "record_page_changes", spent)
        timed(loading, "record_run_changes", spent)
        with Timer() as first:
            loading.load_raw_run(db, day0.root)
        first_spent = dict(spent)
        spent.clear()
        with Timer() as second:
            counts = loading.load_raw_run(db, day1.root)
        second_spent = dict(spent)
        spent.clear()
        with Timer() as reload:
            loading.load_raw_run(db, day1.root)
        reload_spent = dict(spent)
        con = duckdb.connect(str(db), read_only=True)
        by_kind = dict(con.execute("SELECT change, count(*) FROM model_changes GROUP BY ALL ORDER BY ALL").fetchall())
        with Timer() as page:
            digest.build(Context.open(con, day1.run_id))
        with Timer() as proposing:
            found = propose(con, load_catalog(), min_repos=2, min_downloads=0)
        con.close()
        stored = page_against_stored(work / "stored.duckdb", args.stored) if args.stored else None

    page_s = second_spent.get("record_page_changes", 0.0)
    figures = {
        "models": args.models, "drift_pct": args.drift, "changes": by_kind,
        "first_load": {"seconds": round(first.seconds, 2), "in_record_page_changes": round(first_spent.get("record_page_changes", 0.0), 3)},
        "second_load": {"seconds": round(second.seconds, 2), "cpu_seconds": round(second.cpu_seconds, 2),
                        "in_record_page_changes": round(page_s, 2), "in_record_run_changes": round(second_spent.get("record_run_changes", 0.0), 2),
                        "share": round(page_s / second.seconds, 3), "model_changes_rows": counts.get("model_changes")},
        "reload": {"seconds": round(reload.seconds, 2), "in_record_page_changes": round(reload_spent.get("record_page_changes", 0.0), 2)},
        "digest_build_seconds": round(page.seconds, 2), "propose_seconds": round(proposing.seconds, 2), "proposals": found.rows.height,
        "page_against_stored": {"stored_rows": args.stored, "page": 20_000, "seconds": stored} if stored else None,
        "peak_rss_mb": peak_rss_mb(),
    }
    print(f"changes recorded: {by_kind}")
    print(f"day 0 load (first run) : {first.seconds:6.2f} s, of which record_page_changes {first_spent.get('record_page_changes', 0.0):.3f} s (skipped: nothing to compare)")
    print(f"day 1 load             : {second.seconds:6.2f} s, of which record_page_changes {page_s:.2f} s ({100 * page_s / second.seconds:.1f}%), record_run_changes {second_spent.get('record_run_changes', 0.0):.2f} s")
    print(f"day 1 reload           : {reload.seconds:6.2f} s, of which record_page_changes {reload_spent.get('record_page_changes', 0.0):.2f} s (records nothing)")
    print(f"digest (changes.build) : {page.seconds:6.2f} s; catalog propose: {proposing.seconds:.2f} s ({found.rows.height} proposals)")
    if stored:
        print(f"one 20k page against {args.stored:,} stored rows: record_page_changes {stored} s (start, middle, end of the key space)")
    print(f"peak RSS: {peak_rss_mb():,.0f} MB")
    print(f"results: {write_results('changes_load', figures)}")


if __name__ == "__main__":
    main()
