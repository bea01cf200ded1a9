"""Prefect's quiet, offline defaults, applied by the command line before anything imports prefect.

Prefect reads its settings at import time: ephemeral mode (no server to run), no telemetry, and a
PREFECT_HOME we own. Values already in the environment win (a real server via PREFECT_API_URL, CI).
"""

from __future__ import annotations

import os
from pathlib import Path


def offline_defaults() -> dict[str, str]:
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return {
        "PREFECT_HOME": str(cache / "hubcensus" / "prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
        "DO_NOT_TRACK": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        # Dask's worker profiler samples every thread's stack every 10 ms (sys._current_frames); with
        # many short-lived fetch threads it deadlocked a worker process here once: off by default.
        "DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED": "False",
    }


def apply_offline_defaults() -> None:
    for key, value in offline_defaults().items():
        os.environ.setdefault(key, value)
    Path(os.environ["PREFECT_HOME"]).mkdir(parents=True, exist_ok=True)


EPHEMERAL_SERVER = "prefect.server.api.server:create_app"


def orphaned_servers(prefect_home: str | None = None) -> list[int]:
    """Pids of ephemeral Prefect servers left behind by a hubcensus process that was killed (SIGKILL).

    Prefect starts its ephemeral server as a child process and stops it at exit; a process killed
    outright cannot, and its server is re-parented to init. Ours are recognised by the PREFECT_HOME in
    their environment. Linux only (reads /proc); elsewhere nothing is found.
    """
    home = (prefect_home or os.environ.get("PREFECT_HOME", "")).encode()
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if EPHEMERAL_SERVER.encode() not in (proc / "cmdline").read_bytes():
                continue
            ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            environ = (proc / "environ").read_bytes().split(b"\0")
        except (OSError, ValueError, IndexError):
            continue
        if ppid == 1 and b"PREFECT_HOME=" + home in environ:
            found.append(int(proc.name))
    return found


def stop_orphaned_servers(prefect_home: str | None = None) -> list[int]:
    """Terminate the ephemeral servers a killed run left behind (see ``orphaned_servers``)."""
    import signal

    stopped = []
    for pid in orphaned_servers(prefect_home):
        try:
            os.kill(pid, signal.SIGTERM)
            stopped.append(pid)
        except OSError:
            continue
    return stopped
