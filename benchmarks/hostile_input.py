"""What hostile input costs now: an oversized card, a long replay Hub session, idle connections to the report server.

    .venv/bin/python benchmarks/hostile_input.py [--requests N] [--idle K]

- card: ``parse_card`` on a ~10.6 MB front matter (refused by the size cap), and, for scale, the YAML
  parse of a 256 KB one under a raised cap.
- replay Hub: requests/s and RSS growth over N requests with a bounded history and with an unbounded
  one (the request log's file keeps every line either way).
- report server: threads of this process while K connections sit open without a request, then 200
  requests with 20 in flight, then whether the server closed the idle ones (idle timeout 1 s).
Never asserts a timing. Writes benchmarks/results/hostile_input.json.
"""

from __future__ import annotations

import argparse
import gc
import os
import socket
import sys
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import Timer, write_results  # noqa: E402


def rss_mb() -> float:
    """Current resident set size (Linux /proc; peak RSS cannot show a difference between two runs)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def card_figures() -> dict:
    from warehouse.normalize.documents import parse_card

    line = b"- a fairly ordinary tag\n"
    huge = b"---\ntags:\n" + line * (10_600_000 // len(line)) + b"---\n# card\n"
    with Timer() as refused:
        status = parse_card(huge)["parse_status"]
    medium = b"---\ntags:\n" + line * (256 * 1024 // len(line)) + b"---\n# card\n"
    with Timer() as parsed:
        parse_card(medium, max_front_matter_bytes=1 << 30)
    return {
        "huge_front_matter_mb": round(len(huge) / 1e6, 1), "huge_status": status, "huge_ms": round(refused.seconds * 1000, 3),
        "front_matter_256kb_parse_seconds": round(parsed.seconds, 2),
    }  # fmt: skip


def replay_figures(requests: int, bounded: int) -> dict:
    import httpx2

    from harvesters.replay import ReplayHub
    from harvesters.settings import DEMO_SNAPSHOT

    out = {}
    for label, history in (("warm-up", bounded), ("bounded", bounded), ("unbounded", 10**9)):
        with tempfile.TemporaryDirectory() as tmp:
            options = {"history": history}
            gc.collect()
            before = rss_mb()
            with ReplayHub(DEMO_SNAPSHOT, request_log=Path(tmp) / "log.ndjson", **options) as hub, httpx2.Client() as client:
                with Timer() as timer:
                    for i in range(requests):
                        client.get(f"{hub.url}/api/models/gpt2", params={"n": i})
                out[label] = {"kept": len(hub.requests), "rss_growth_mb": round(rss_mb() - before, 1),
                              "requests_per_s": round(requests / timer.seconds)}  # fmt: skip
                lines = sum(1 for _ in (Path(tmp) / "log.ndjson").open())
            out[label]["log_lines"] = lines
    out.pop("warm-up")  # the first round grows the allocator's arenas: not the history's doing
    return out


def report_server_figures(idle: int) -> dict:
    from reports.server import ReportServer

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "reports"
        (root / "2026-01-01").mkdir(parents=True)
        (root / "2026-01-01" / "sizes.csv").write_bytes(b"repo_id,params\n" + b"org/model,1000\n" * 2000)
        with ReportServer(root, idle_timeout_s=1.0) as server:
            threads_before = threading.active_count()
            sockets = [socket.create_connection((server.host, server.port), timeout=30) for _ in range(idle)]
            threads_idle = threading.active_count()

            def get(_: int) -> int:
                with socket.create_connection((server.host, server.port), timeout=30) as s:
                    s.sendall(b"GET /2026-01-01/sizes.csv HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    return sum(len(c) for c in iter(lambda: s.recv(65536), b""))

            with Timer() as timer, ThreadPoolExecutor(20) as pool:
                sizes = list(pool.map(get, range(200)))
            closed = sum(1 for s in sockets if s.recv(1) == b"")  # blocks until the server's idle timeout
            for s in sockets:
                s.close()
    return {
        "idle_connections": idle, "threads_before": threads_before, "threads_with_idle_open": threads_idle,
        "requests_200_with_20_in_flight_s": round(timer.seconds, 2), "answers_complete": len(set(sizes)) == 1,
        "idle_closed_by_server": closed,
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=5000, help="replay Hub requests per history setting (default 5,000)")
    parser.add_argument("--history", type=int, default=1000, help="the bounded history's size (default 1,000; the replay Hub's own default is 10,000)")
    parser.add_argument("--idle", type=int, default=200, help="idle connections held open to the report server (default 200)")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    figures = {"card": card_figures(), "replay_hub": replay_figures(args.requests, args.history), "report_server": report_server_figures(args.idle)}
    for section, values in figures.items():
        print(f"{section}: {values}")
    print(f"wrote {write_results('hostile_input', figures)}")


if __name__ == "__main__":
    main()
