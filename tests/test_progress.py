"""Progress of a refresh: rich on a pseudo-terminal, plain lines (no control codes, throttled) on a pipe.

The driver runs the real harvest stages (``land_listing``, ``fetch_files``) against a replay Hub, through a
client whose limiter has a tiny resolver quota, so a rate-limit pause is shown too. Counted, never timed.
"""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import textwrap

from hubcensus import progress
from hubcensus.progress import Event, PlainProgress, listening

DRIVER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from rich.console import Console
    from flows.display import display
    from harvesters.harvest import fetch_files, files_in_scope, land_listing
    from harvesters.hub import HubClient, ListingQuery
    from harvesters.landing import RawRun
    from harvesters.ratelimit import HubRateLimiter
    from harvesters.replay import ReplayHub
    from hubcensus.progress import RateLimitNotice

    quotas = {"api": 100, "resolvers": 3}
    limiter = HubRateLimiter(quotas=quotas, window_s=3, on_wait=RateLimitNotice(quotas, 3))
    with ReplayHub("harvesters/demo_snapshot", page_size=10) as hub, display(Console(stderr=True)):
        client = HubClient(hub.url, limiter=limiter)
        run = RawRun.create(Path(sys.argv[1]) / "data")
        land_listing(client, run, ListingQuery(page_size=10))
        targets = [t for t in files_in_scope(run.iter_models()) if t.path == "config.json"][:5]
        fetch_files(client, run, targets, concurrency=1)
    """
)


def _env(tmp_path) -> dict[str, str]:
    env = dict(os.environ, TERM="xterm-256color", COLUMNS="120", HF_HOME=str(tmp_path / "hf-home"))
    env.pop("NO_COLOR", None)
    return env


def test_progress_on_a_pseudo_terminal_is_a_live_display(tmp_path):
    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-c", DRIVER, str(tmp_path)], stdin=follower, stdout=follower, stderr=follower, env=_env(tmp_path))
    os.close(follower)
    output = b""
    while True:
        ready, _, _ = select.select([leader], [], [], 120)
        if not ready:
            proc.kill()
            break
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed: the driver is done
            break
        if not chunk:
            break
        output += chunk
    os.close(leader)
    assert proc.wait(timeout=60) == 0, output[-2000:]
    text = output.decode("utf-8", "replace")
    assert "\x1b[" in text  # a live display: cursor moves, colours
    assert "listing" in text and "files" in text and "models" in text
    assert "waiting" in text and "resolvers quota 3 / 3 s" in text


def test_progress_without_a_terminal_is_plain_lines(tmp_path):
    done = subprocess.run([sys.executable, "-c", DRIVER, str(tmp_path)], capture_output=True, env=_env(tmp_path), timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    text = done.stderr.decode()
    assert "\x1b" not in text and "\r" not in text
    lines = text.splitlines()
    assert "listing: started" in lines and any(line.startswith("listing: done, 36 models") for line in lines)
    assert any(line.startswith("waiting ") and line.endswith(": resolvers quota 3 / 3 s") for line in lines)
    assert any(line.startswith("files: done, 5/5 files") for line in lines)
    # 4 listing pages and 5 files, but at most one progress line per stage every 10 s besides start and end
    assert sum(line.startswith("listing: ") for line in lines) <= 3 + 1
    assert sum(line.startswith("files: ") and "/5 files," in line for line in lines) <= 1 + text.count("waiting ")


def test_plain_lines_are_throttled_per_stage():
    lines: list[str] = []
    with listening(PlainProgress(lines.append, every_s=10)):
        progress.start("normalize", total=500, unit="pages")
        for done in range(1, 501):
            progress.advance("normalize", done, 500, unit="pages")
            progress.advance("load", done, unit="pages")
        progress.finish("normalize", 500, 500, unit="pages", seconds=3)
    assert lines[0] == "normalize: started, 500 pages" and lines[-1] == "normalize: done, 500/500 pages in 3 s"
    assert [line.split(",")[0] for line in lines[1:-1]] == ["normalize: 1/500 pages", "load: 1 pages"]  # then nothing for 10 s


def test_an_event_is_one_readable_line():
    assert Event("files", "advance", done=150, total=600, unit="files").line(rate=15.0) == "files: 150/600 files, 15.0 files/s, ETA 30 s"
    assert Event("listing", "advance", done=12_000, unit="models", text="page 12").line(rate=2950) == "listing: 12,000 models (page 12), 2,950.0 models/s"
    notice = []
    with listening(PlainProgress(notice.append)):
        progress.RateLimitNotice({"resolvers": 3000}, 300)("resolvers", 41.2)
    assert notice == ["waiting 41 s: resolvers quota 3,000 / 5 min"]
