"""``reports serve``: a read-only HTTP server over ``DATA_DIR/reports`` (a Starlette app under uvicorn).

Routes (GET and HEAD only; anything else is 405):
- ``/``: the report sets by date, newest first.
- ``/latest`` and ``/latest/<file>``: 302 to the set ``latest`` names (symlink or text file, see reports.site).
- ``/<YYYY-MM-DD>/``: that set's index.html; ``/<YYYY-MM-DD>/<file>``: a file of the set.

Only names of the shape ``YYYY-MM-DD`` / ``[A-Za-z0-9_.-]+`` (no leading dot) are served, and the resolved
path must still lie inside the reports root: no traversal, no dot-files, no staging directories. Routing
reads the raw, still percent-encoded path. No text of a request goes into a header: a redirect goes only to
a set or file that exists (its name taken from the disk), a download's file name likewise. CSV, Parquet and
Markdown go out as downloads (Content-Disposition: attachment); pages carry a script-free CSP.

uvicorn's h11 parser validates the request; a connection that sends no complete request within
``idle_timeout_s`` (before its first request or between two) is closed. Binds 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket
import threading
from pathlib import Path
from urllib.parse import unquote_to_bytes

import h11
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount
from starlette.types import Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from reports.site import DATE_DIR, LATEST, environment, resolve_latest  # not reports.build: no matplotlib/polars to start

log = logging.getLogger("hubcensus.reports.server")

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".csv": "text/csv; charset=utf-8",
    ".parquet": "application/vnd.apache.parquet",
    ".md": "text/markdown; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}
DOWNLOADS = {".csv", ".parquet", ".md"}
_FILE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
_SEGMENT = re.compile(rb"[A-Za-z0-9_.%-]*")  # a raw path segment: no "\", no "/" once decoded, checked below
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": CSP,
    "Cache-Control": "no-cache",
}
IDLE_TIMEOUT_S = 5.0


def _error(status: int) -> Response:
    phrase = {404: "Not Found", 405: "Method Not Allowed"}[status]
    headers = {"Allow": "GET, HEAD"} if status == 405 else None
    return PlainTextResponse(f"{status} {phrase}\n", status_code=status, headers=headers)


def _segments(raw_path: bytes) -> list[str] | None:
    """The decoded segments of a raw path, or None if any is hostile (traversal, encoded slash, control, non-ASCII)."""
    if not raw_path.startswith(b"/"):
        return None
    segments = []
    for raw in raw_path.split(b"/")[1:]:
        if not _SEGMENT.fullmatch(raw):
            return None
        decoded = unquote_to_bytes(raw)
        if not re.fullmatch(rb"[A-Za-z0-9_.-]*", decoded) or decoded in (b".", b".."):
            return None
        segments.append(decoded.decode("ascii"))
    return segments


class ReportSite:
    """The routes over one reports root: every answer is built from names found on disk."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def answer(self, method: str, raw_path: bytes) -> Response:
        if method not in ("GET", "HEAD"):
            return _error(405)
        parts = _segments(raw_path)
        if parts is None:
            return _error(404)
        trailing = parts[-1:] == [""]
        segs = [p for p in parts if p]
        if len(segs) != len(parts) - (1 if trailing else 0):
            return _error(404)  # an empty segment inside the path ("//etc")
        if not segs:
            return self._listing()
        head, rest = segs[0], segs[1:]
        if len(rest) > 1:
            return _error(404)
        if head == LATEST:
            return self._latest(rest)
        date_dir = self._set(head)
        if date_dir is None:
            return _error(404)
        if not rest:
            return RedirectResponse(f"/{date_dir}/", status_code=301) if not trailing else self._file(date_dir, "index.html")
        return self._file(date_dir, rest[0])

    def _set(self, name: str) -> str | None:
        """The set directory ``name`` as found on disk, or None."""
        if not DATE_DIR.fullmatch(name) or not self.root.is_dir():
            return None
        return next((p.name for p in self.root.iterdir() if p.name == name and p.is_dir() and not p.is_symlink()), None)

    def _latest(self, rest: list[str]) -> Response:
        target = resolve_latest(self.root)
        if target is None or not DATE_DIR.fullmatch(target):
            return _error(404)
        if not rest:
            return RedirectResponse(f"/{target}/", status_code=302)
        found = self._served_file(target, rest[0])
        return RedirectResponse(f"/{target}/{found.name}", status_code=302) if found else _error(404)

    def _listing(self) -> Response:
        dates = sorted((p.name for p in self.root.iterdir() if p.is_dir() and DATE_DIR.fullmatch(p.name)), reverse=True) if self.root.is_dir() else []
        html = environment().get_template("listing.html.j2").render(dates=dates, latest=resolve_latest(self.root))
        return HTMLResponse(html)

    def _served_file(self, date_dir: str, name: str) -> Path | None:
        """The file ``name`` of the set, if it may be served: a known type, inside the root, not a link out."""
        if not _FILE.fullmatch(name) or Path(name).suffix.lower() not in CONTENT_TYPES:
            return None
        try:
            path = (self.root / date_dir / name).resolve(strict=True)
        except (OSError, RuntimeError):
            return None
        if not path.is_relative_to(self.root.resolve()) or not path.is_file():
            return None
        return self.root / date_dir / name if path.name == name else None

    def _file(self, date_dir: str, name: str) -> Response:
        path = self._served_file(date_dir, name)
        if path is None:
            return _error(404)
        suffix = path.suffix.lower()
        download = {"filename": path.name, "content_disposition_type": "attachment"} if suffix in DOWNLOADS else {}
        return FileResponse(path.resolve(), media_type=CONTENT_TYPES[suffix], **download)


def create_app(reports_root: Path | str) -> Starlette:
    """The ASGI app: every method and path reaches ReportSite (routing on the raw path), security headers on every answer."""
    site = ReportSite(Path(reports_root))

    async def serve_site(scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        response = await asyncio.to_thread(site.answer, request.method, scope.get("raw_path") or b"/")
        response.headers.update(SECURITY_HEADERS)
        log.info("%s %s %d", request.method, (scope.get("raw_path") or b"").decode("ascii", "replace"), response.status_code)
        await response(scope, receive, send)

    return Starlette(routes=[Mount("/", app=serve_site)])


class IdleTimeoutH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, plus: a connection with no complete request ``idle_timeout_s`` after it opened
    (or after its last answer) is closed. uvicorn times out only idle keep-alive connections, so a client that
    connects and sends nothing, or half a request, would otherwise hold its socket for good.
    """

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_request_timeout()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm_request_timeout()

    def _arm_request_timeout(self) -> None:
        handle = getattr(self, "_request_timeout", None)
        if handle is not None:
            handle.cancel()
        self._request_timeout = self.loop.call_later(self.timeout_keep_alive, self._close_if_no_request)

    def _close_if_no_request(self) -> None:
        if self.conn.their_state is h11.IDLE and (self.cycle is None or self.cycle.response_complete):
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        handle = getattr(self, "_request_timeout", None)
        if handle is not None:
            handle.cancel()
        super().connection_lost(exc)


class ReportServer:
    """Serve ``reports_root`` read-only. ``start()`` runs it in a thread; ``serve_forever()`` blocks.

    The socket is bound at construction (an unusable address fails there, with OSError).
    """

    def __init__(self, reports_root: Path | str, host: str = "127.0.0.1", port: int = 0, idle_timeout_s: float = IDLE_TIMEOUT_S) -> None:
        self.root = Path(reports_root)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._socket = socket.socket(family, socket.SOCK_STREAM)
        try:
            self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self._socket.bind((host, port))
            self._socket.listen(128)
        except OSError:
            self._socket.close()
            raise
        config = uvicorn.Config(
            create_app(self.root), http=IdleTimeoutH11Protocol, loop="asyncio", ws="none", lifespan="off",
            timeout_keep_alive=idle_timeout_s, timeout_graceful_shutdown=2, server_header=False,
            proxy_headers=False, access_log=False, log_config=None, log_level="warning",
        )  # fmt: skip
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def host(self) -> str:
        return self._socket.getsockname()[0]

    @property
    def port(self) -> int:
        return self._socket.getsockname()[1]

    @property
    def url(self) -> str:
        host = self.host if ":" not in self.host else f"[{self.host}]"
        return f"http://{host}:{self.port}"

    def start(self) -> "ReportServer":
        if self._thread is None:
            started = threading.Event()
            self._thread = threading.Thread(target=self._run, args=(started,), name="report-server", daemon=True)
            self._thread.start()
            if not started.wait(30):
                raise RuntimeError("the report server did not start")
        return self

    def _run(self, started: threading.Event | None = None) -> None:
        async def serve() -> None:
            task = asyncio.create_task(self._server.serve(sockets=[self._socket]))
            while not self._server.started and not task.done():
                await asyncio.sleep(0.01)
            if started is not None:
                started.set()
            await task

        asyncio.run(serve())

    def serve_forever(self) -> None:
        """Serve in this thread until Ctrl-C (uvicorn shuts down, then the interrupt is raised again)."""
        self._server.run(sockets=[self._socket])

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        self._socket.close()

    def __enter__(self) -> "ReportServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
