"""Prefect's quiet, offline defaults, applied by the command line before anything imports prefect; the
temporary server the command starts first; the ones a killed command left behind.

Prefect reads its settings at import time: ephemeral mode (no server to run), no telemetry, and a
PREFECT_HOME we own. Values already in the environment win (a real server via PREFECT_API_URL, CI).
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from hubcensus.errors import HubcensusError


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
PORT_IN_USE = 3  # uvicorn's exit code when its port was taken (Prefect retries on another port too)


class PrefectServerError(HubcensusError):
    """Prefect's temporary server did not come up."""


class TemporaryServer:
    """Prefect's temporary API server, started as the command's first step instead of at the first flow call.

    In ephemeral mode Prefect starts this same server (same command, same environment) when the first flow
    runs: after this process's imports (~13 s at 2 cores), and then waits for it (~17 s; ~30 s on a fresh
    PREFECT_HOME, whose database it creates). Started first, it comes up beside the imports. ``serving``
    points the flow at it; a server configured elsewhere (a Prefect profile, prefect.toml) still wins.
    """

    def __init__(self) -> None:
        self.process: subprocess.Popen | None = None
        self.port = 0
        self._launch()
        atexit.register(self.stop)

    @staticmethod
    def wanted() -> bool:
        """False when the environment already names a server, or forbids a temporary one."""
        forbidden = any(os.environ.get(k, "").lower() in ("0", "false", "no") for k in ("PREFECT_SERVER_EPHEMERAL_ENABLED", "PREFECT_SERVER_ALLOW_EPHEMERAL_MODE"))
        return not os.environ.get("PREFECT_API_URL") and not forbidden

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def _launch(self) -> None:
        with socket.socket() as probe:  # a free loopback port; taken meanwhile, uvicorn exits 3 and we relaunch
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        package = importlib.util.find_spec("prefect")  # its location, without importing it (seconds)
        app_dir = Path(package.origin).parent.parent if package and package.origin else Path(sys.prefix)
        env = {**os.environ, "PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1", "PREFECT__SERVER_FINAL": "1"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--app-dir", str(app_dir), "--factory", EPHEMERAL_SERVER,
             "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "error", "--lifespan", "on"],
            env=env, stdin=subprocess.DEVNULL,
        )  # fmt: skip

    def wait_ready(self, timeout: float) -> None:
        """Block until the server answers its health check; a clear error if it exits or times out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            code = self.process.poll() if self.process else None
            if code == PORT_IN_USE:
                self._launch()
            elif code is not None:
                raise PrefectServerError(f"Prefect's temporary server exited with code {code} before it answered")
            try:
                with urllib.request.urlopen(f"{self.api_url}/health", timeout=2) as answer:
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        self.stop()
        raise PrefectServerError(f"Prefect's temporary server did not answer within {timeout:.0f} s (PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS)")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    @contextmanager
    def serving(self) -> Iterator[None]:
        """Flows run in this block use this server, unless Prefect's settings name another (then it stops unused).

        Prefect would start its own server exactly when no API URL is set and ephemeral mode is on. Like
        Prefect's, the server stops when the process exits, after Prefect has sent its last logs and events."""
        from prefect.logging import get_logger
        from prefect.settings import PREFECT_API_URL, PREFECT_SERVER_EPHEMERAL_ENABLED, PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS, PREFECT_UI_URL, temporary_settings

        if PREFECT_API_URL.value() or not PREFECT_SERVER_EPHEMERAL_ENABLED.value():
            self.stop()
            yield
            return
        self.wait_ready(PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.value())
        get_logger().info("temporary server on %s (PREFECT_HOME %s)", self.api_url[: -len("/api")], os.environ.get("PREFECT_HOME"))
        # no UI is served (as in Prefect's own ephemeral mode): no "View at" links to it
        with temporary_settings(updates={PREFECT_API_URL: self.api_url, PREFECT_UI_URL: ""}):
            yield


def start_temporary_server() -> TemporaryServer | None:
    """Start Prefect's temporary server now, when Prefect would start one for the first flow (see ``serving``);
    it stops at exit (atexit runs it after Prefect's own handlers, registered later, have drained)."""
    return TemporaryServer() if TemporaryServer.wanted() else None


@contextmanager
def serving(server: TemporaryServer | None) -> Iterator[None]:
    """Flows run in this block use ``server`` (None: Prefect's own choice)."""
    if server is None:
        yield
        return
    with server.serving():
        yield


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
