"""Prefect flows, schedules and the CLI: the wiring of the pipeline's stages, no business logic.

Prefect reads its settings at import time, so the quiet, offline defaults are set here, before any
``flows`` module imports prefect: ephemeral mode (no server), no telemetry, a PREFECT_HOME we own.
"""

from __future__ import annotations

import os
from pathlib import Path


def _prefect_home() -> str:
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return str(cache / "hubcensus" / "prefect")


for _key, _value in {
    "PREFECT_HOME": _prefect_home(),
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
    "DO_NOT_TRACK": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    # Dask's worker profiler samples every thread's stack every 10 ms (sys._current_frames); with
    # many short-lived fetch threads it deadlocked a worker process here once: off by default.
    "DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED": "False",
}.items():
    os.environ.setdefault(_key, _value)

Path(os.environ["PREFECT_HOME"]).mkdir(parents=True, exist_ok=True)
