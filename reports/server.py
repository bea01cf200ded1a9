"""``reports serve``: a read-only HTTP server over ``DATA_DIR/reports`` (stdlib ``http.server``, threads).

Routes (GET and HEAD only; anything else is 405):
- ``/``: the report sets by date, newest first.
- ``/latest`` and ``/latest/<file>``: 302 to the set ``latest`` names (symlink or text file, see reports.site).
- ``/<YYYY-MM-DD>/``: that set's index.html; ``/<YYYY-MM-DD>/<file>``: a file of the set.

Only names of the shape ``YYYY-MM-DD`` / ``[A-Za-z0-9_.-]+`` (no leading dot) are served, and the resolved
path must still lie inside the reports root: no traversal, no dot-files, no staging directories. CSV,
Parquet and Markdown go out as downloads (Content-Disposition: attachment); pages carry a script-free CSP.
Binds 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import logging
import re
import threading
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

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
_FILE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"


class _Handler(BaseHTTPRequestHandler):
    server_version = "hubcensus-reports"
    sys_version = ""
    root: Path  # set on the subclass made per server

    # --- plumbing ---------------------------------------------------------------------------------------
    def log_message(self, format: str, *args) -> None:  # noqa: A002  (http.server's signature)
        log.info("%s %s", self.address_string(), format % args)

    def _headers(self, status: int, content_type: str, length: int, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(length))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Content-Security-Policy", CSP)
        self.send_header("Cache-Control", "no-cache")
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()

    def _send(self, status: int, body: bytes, content_type: str, extra: dict[str, str] | None = None) -> None:
        self._headers(status, content_type, len(body), extra)
        if self.command != "HEAD":
            self.wfile.write(body)

    def _error(self, status: HTTPStatus, extra: dict[str, str] | None = None) -> None:
        body = f"{status.value} {status.phrase}\n".encode()
        self._send(status.value, body, "text/plain; charset=utf-8", extra)

    def _redirect(self, location: str, status: int = 302) -> None:
        self._send(status, b"", "text/plain; charset=utf-8", {"Location": location})

    # --- methods ----------------------------------------------------------------------------------------
    def do_GET(self) -> None:  # noqa: N802
        try:
            self._route()
        except (BrokenPipeError, ConnectionResetError):
            pass

    do_HEAD = do_GET  # noqa: N815

    def _not_allowed(self) -> None:
        self._error(HTTPStatus.METHOD_NOT_ALLOWED, {"Allow": "GET, HEAD"})

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _not_allowed  # noqa: N815

    # --- routing ----------------------------------------------------------------------------------------
    def _route(self) -> None:
        raw_path = urlsplit(self.path).path
        if "\\" in raw_path or "\x00" in raw_path or "%2f" in raw_path.lower() or "%5c" in raw_path.lower():
            return self._error(HTTPStatus.NOT_FOUND)
        parts = [unquote(p) for p in raw_path.split("/")]
        if not raw_path.startswith("/") or any(p in (".", "..") or "/" in p or "\x00" in p for p in parts):
            return self._error(HTTPStatus.NOT_FOUND)
        segs = [p for p in parts if p]
        trailing = raw_path.endswith("/")
        if not segs:
            return self._listing()
        head, rest = segs[0], segs[1:]
        if head == LATEST:
            target = resolve_latest(self.root)
            if target is None:
                return self._error(HTTPStatus.NOT_FOUND)
            return self._redirect("/" + "/".join([target, *rest]) + ("/" if trailing or not rest else ""))
        if not DATE_DIR.match(head) or len(rest) > 1:
            return self._error(HTTPStatus.NOT_FOUND)
        if not rest:
            if not trailing:
                return self._redirect(f"/{head}/", 301)
            rest = ["index.html"]
        return self._file(head, rest[0])

    def _listing(self) -> None:
        dates = sorted((p.name for p in self.root.iterdir() if p.is_dir() and DATE_DIR.match(p.name)), reverse=True) if self.root.is_dir() else []
        html = environment().get_template("listing.html.j2").render(dates=dates, latest=resolve_latest(self.root))
        self._send(200, html.encode("utf-8"), CONTENT_TYPES[".html"])

    def _file(self, date_dir: str, name: str) -> None:
        if not _FILE.match(name):
            return self._error(HTTPStatus.NOT_FOUND)
        suffix = Path(name).suffix.lower()
        content_type = CONTENT_TYPES.get(suffix)
        if content_type is None:
            return self._error(HTTPStatus.NOT_FOUND)
        root = self.root.resolve()
        try:
            path = (self.root / date_dir / name).resolve(strict=True)
        except (OSError, RuntimeError):
            return self._error(HTTPStatus.NOT_FOUND)
        if not path.is_relative_to(root) or not path.is_file():
            return self._error(HTTPStatus.NOT_FOUND)
        data = path.read_bytes()
        extra = {"Last-Modified": formatdate(path.stat().st_mtime, usegmt=True)}
        if suffix in DOWNLOADS:
            extra["Content-Disposition"] = f'attachment; filename="{name}"'
        self._send(200, data, content_type, extra)


class ReportServer:
    """Serve ``reports_root`` read-only. ``start()`` runs it in a thread; ``serve_forever()`` blocks."""

    def __init__(self, reports_root: Path | str, host: str = "127.0.0.1", port: int = 0) -> None:
        self.root = Path(reports_root)
        handler = type("ReportHandler", (_Handler,), {"root": self.root})
        self._httpd = ThreadingHTTPServer((host, port), handler)
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def host(self) -> str:
        return self._httpd.server_address[0]

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        host = self.host if ":" not in self.host else f"[{self.host}]"
        return f"http://{host}:{self.port}"

    def start(self) -> "ReportServer":
        if self._thread is None:
            self._thread = threading.Thread(target=self._httpd.serve_forever, name="report-server", daemon=True)
            self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._httpd.serve_forever()

    def stop(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> "ReportServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
