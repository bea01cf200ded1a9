"""Shared helpers of the benchmark scripts: peak RSS, a synthetic raw run, the results file."""

from __future__ import annotations

import json
import platform
import resource
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Iterator

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def peak_rss_mb() -> float:
    """This process's peak resident set size so far (Linux reports KiB)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)


class Timer:
    """Wall seconds and CPU seconds (all threads of this process: robust when the machine is shared)."""

    def __enter__(self) -> "Timer":
        self.start, self.cpu_start = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.start
        self.cpu_seconds = time.process_time() - self.cpu_start


def synthetic_listing_pages(n: int, seed: int, page: int = 1000) -> Iterator[list[bytes]]:
    """N listing lines (a synthetic Hub's bodies projected on the listing's expand fields), page by page."""
    from harvesters.replay.synthetic import SyntheticSnapshot
    from harvesters.replay.fixtures import listing_line

    snapshot = SyntheticSnapshot(n, seed=seed, cache_size=0)
    lines: list[bytes] = []
    for repo_id in snapshot.ids():
        lines.append(listing_line(snapshot.model(repo_id)))
        if len(lines) == page:
            yield lines
            lines = []
    if lines:
        yield lines


def write_results(name: str, figures: dict[str, Any]) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    payload = {
        "benchmark": name,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "machine": {"cpus": __import__("os").cpu_count(), "platform": platform.platform()},
        **figures,
    }
    path.write_text(json.dumps(payload, indent=2, sort_keys=False) + "\n")
    return path
