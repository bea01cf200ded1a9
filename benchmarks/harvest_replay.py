"""The harvest listing stage against a replay Hub serving a synthetic Hub of N models.

    .venv/bin/python benchmarks/harvest_replay.py [--models N] [--page-size P] [--seed S] [--files K] [--pages K]

Starts ``ReplayHub(SyntheticSnapshot(N))`` on a loopback port (page size 1000 by default, the Hub's), runs
``harvesters.harvest.land_listing`` with a ``HubClient`` into a temp raw run, and prints models/s, pages,
requests and bytes (from the replay Hub's request log), the size of models.ndjson and peak RSS (client and
server share this process). With ``--files K``: also the files stage (config.json, README.md) for the first
K listed models. With ``--pages K``: only the first K listing pages (e.g. ``--models 1000000 --pages 5``:
the replay Hub streams them without indexing the million). Never asserts a timing. Writes benchmarks/results/harvest_replay.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from itertools import chain, islice
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Timer, peak_rss_mb, write_results  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=int, default=20_000, help="models in the synthetic Hub (default 20,000)")
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--files", type=int, default=0, help="also fetch config.json/README.md of the first K models")
    parser.add_argument("--pages", type=int, default=0, help="land only the first K listing pages (default: all)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-harvest-") as tmp:
        os.environ["HF_HOME"] = str(Path(tmp) / "hf-home")  # before huggingface_hub is imported
        os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        from harvesters.harvest import fetch_files, files_in_scope, land_listing
        from harvesters.hub import HubClient, ListingQuery
        from harvesters.landing import RawRun
        from harvesters.replay import ReplayHub
        from harvesters.replay.synthetic import SyntheticSnapshot

        log = Path(tmp) / "requests.ndjson"
        with Timer() as build:
            snapshot = SyntheticSnapshot(args.models, seed=args.seed)
        with ReplayHub(snapshot, page_size=args.page_size, request_log=log) as hub:
            client = HubClient(endpoint=hub.url)
            run = RawRun.create(Path(tmp) / "data", endpoint=hub.url, scope="all")
            with Timer() as listing:
                if args.pages:
                    first = islice(client.iter_listing_pages(ListingQuery(page_size=args.page_size)), args.pages)
                    with Timer() as first_page:
                        head = next(first, [])
                    count = run.land_listing(chain([head], first))
                else:
                    count = land_listing(client, run, ListingQuery(page_size=args.page_size))
            listing_requests = [json.loads(line) for line in log.read_text().splitlines()]
            rss_listing = peak_rss_mb()
            index_built = hub.app.listing_index().index_built  # False: the default listing streams from ids
            files = None
            if args.files:
                targets = list(files_in_scope(islice(run.iter_models(), args.files)))
                with Timer() as fetching:
                    statuses = fetch_files(client, run, targets)
                files = {"models": args.files, "targets": len(targets), "seconds": round(fetching.seconds, 2),
                         "files_per_s": round(len(targets) / fetching.seconds, 1), "statuses": dict(statuses)}  # fmt: skip
        size_mb = run.listing_path.stat().st_size / 1e6

    pages = [r for r in listing_requests if r["path"] == "/api/models"]
    figures = {
        "models": count,
        "page_size": args.page_size,
        "listing": {
            "seconds": round(listing.seconds, 2),
            "models_per_s": round(count / listing.seconds),
            "pages": len(pages),
            "requests": len(listing_requests),
            "response_mb": round(sum(r["bytes"] for r in listing_requests) / 1e6, 1),
            "statuses": sorted({r["status"] for r in listing_requests}),
            "models_ndjson_mb": round(size_mb, 1),
            "pages_asked": args.pages or None,
            "first_page_seconds": round(first_page.seconds, 3) if args.pages else None,
            "index_built": index_built,
        },
        "snapshot_setup_seconds": round(build.seconds, 2),
        "files": files,
        "peak_rss_mb": {"after_listing": rss_listing, "end": peak_rss_mb()},
    }
    print(f"synthetic Hub: {args.models:,} models (set up in {build.seconds:.2f} s), page size {args.page_size}")
    print(f"listing: {count:,} models in {listing.seconds:.2f} s = {count / listing.seconds:,.0f} models/s; "
          f"{len(pages)} pages, {len(listing_requests)} requests, {figures['listing']['response_mb']:,} MB served, "
          f"listing {size_mb:,.1f} MB as zstd")  # fmt: skip
    if files:
        print(f"files: {files['targets']} targets of {files['models']} models in {files['seconds']} s "
              f"({files['files_per_s']}/s): {files['statuses']}")  # fmt: skip
    if args.pages:
        print(f"first page: {first_page.seconds:.3f} s; full listing index built: {index_built}")
    print(f"peak RSS: {rss_listing:,.0f} MB after the listing, {peak_rss_mb():,.0f} MB at the end")
    print(f"results: {write_results('harvest_replay', figures)}")


if __name__ == "__main__":
    main()
