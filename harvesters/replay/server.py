"""The replay Hub's HTTP plumbing: a threaded stdlib server, faults applied first, a request log.

``ThreadingHTTPServer`` on purpose: no dependency, one thread per connection (concurrent downloads and the
paging client each hold their own keep-alive connection), and HTTP/1.1 keep-alive like the Hub. Every
answer carries ``Content-Length`` so connections are reused; open connections are shut at ``stop()``.
It stays on the standard library (unlike the report server) because its fault plans act on the socket
itself: a connection closed without a byte, a body cut after its headers promised more. ASGI hides the
transport, so under uvicorn both would need a subclass of uvicorn's internal protocol. The request parsing
it does itself is kept strict: a request body must have a plain decimal ``Content-Length`` (at most
``MAX_REQUEST_BODY`` bytes) and no ``Transfer-Encoding``, else 400 and the connection is closed.

``hub.requests`` keeps the last ``history`` entries only (memory stays flat on a long run); the request
log file, when given, keeps every line.
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import threading
import time
import uuid
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from harvesters.replay.app import HubApp, Request, Response, error_response
from harvesters.replay.faults import FaultPlan, FaultRule
from harvesters.replay.snapshot import DirectorySnapshot, Snapshot

log = logging.getLogger(__name__)
_HOST_HEADER = re.compile(r"[A-Za-z0-9.\-]+(:\d{1,5})?|\[[0-9A-Fa-f:.]+\](:\d{1,5})?")
_DECIMAL = re.compile(r"[0-9]{1,18}")
MAX_REQUEST_BODY = 1024 * 1024  # the Hub API we replay takes no request bodies; a client sending more is refused
HISTORY = 10_000  # entries kept in hub.requests


class RequestHistory(deque):
    """The newest ``maxlen`` request-log entries; indexes and slices like the list it used to be."""

    def __getitem__(self, index):  # type: ignore[override]
        return list(self)[index] if isinstance(index, slice) else super().__getitem__(index)

    def __eq__(self, other: object) -> bool:
        return list(self) == other if isinstance(other, list) else super().__eq__(other)

    __hash__ = None  # type: ignore[assignment]


def _fault_response(rule: FaultRule) -> Response:
    status = rule.status or 500
    headers: dict[str, str] = {}
    if rule.retry_after is not None:
        seconds = max(int(round(rule.retry_after)), 0)
        headers["Retry-After"] = str(seconds)
        if status == 429:  # as the Hub: remaining 0, reset in t seconds
            headers["RateLimit"] = f'"api";r=0;t={seconds}'
            headers["RateLimit-Policy"] = '"fixed window";"api";q=500;w=300'
    default = "You have exceeded our rate limit." if status == 429 else "Internal Error (injected by the replay Hub)"
    return error_response(status, rule.message or default, **headers)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    hub: ReplayHub

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(*args, **kwargs)

    def process_request(self, request, client_address):  # type: ignore[no-untyped-def]
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):  # type: ignore[no-untyped-def]
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "hubcensus-replay-hub"
    sys_version = ""
    timeout = 120  # an idle keep-alive connection is closed after this
    disable_nagle_algorithm = True  # headers and body go out as two writes: without this each answer waits ~40 ms for an ACK
    server: _Server

    def do_GET(self) -> None:
        self._handle()

    def do_HEAD(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        log.debug("%s " + format, self.address_string(), *args)

    def _base_url(self) -> str:
        host = self.headers.get("Host", "")
        return f"http://{host}" if _HOST_HEADER.fullmatch(host) else self.server.hub.url

    def _refused_body(self) -> Response | None:
        """Read and drop the request body; a 400 (connection then closed) when its framing is not plain."""
        if self.headers.get("Transfer-Encoding") is not None:
            return error_response(400, "Transfer-Encoding is not accepted: send a Content-Length")
        lengths = self.headers.get_all("Content-Length") or []
        if not lengths:
            return None
        if len(lengths) > 1 or not _DECIMAL.fullmatch(lengths[0].strip()):
            return error_response(400, "Content-Length must be one decimal number of bytes")
        length = int(lengths[0])
        if length > MAX_REQUEST_BODY:
            return error_response(400, f"request body over {MAX_REQUEST_BODY} bytes")
        if length:
            self.rfile.read(length)  # never answered, but keep the connection in sync
        return None

    def _handle(self) -> None:
        hub = self.server.hub
        method = self.command
        path, _, query = self.path.partition("?")
        refused = self._refused_body()
        if refused is not None:
            self.close_connection = True  # the rest of the stream cannot be framed
            self._send({"method": method, "path": path, "query": query}, refused, refused.body)
            return
        plan = hub.faults
        fault = plan.decide(method, path, query) if plan is not None else None
        entry: dict[str, Any] = {"method": method, "path": path, "query": query}
        if fault is not None:
            entry["fault"] = fault.name
            if fault.delay_s:
                time.sleep(fault.delay_s)
        rule = fault.rule if fault is not None else None
        if rule is not None and rule.drop_connection:
            self.close_connection = True  # close without a byte: the client sees a dropped connection
            hub._record({**entry, "status": None, "bytes": 0})
            return
        if rule is not None and rule.status is not None:
            response = _fault_response(rule)
        else:
            request = Request(method, path, query, self.headers, self._base_url())  # type: ignore[arg-type]
            try:
                response = hub.app.handle(request)
            except Exception as exc:  # a bug in the replay Hub: answer 500 and say so loudly
                log.exception("replay Hub failed on %s %s", method, self.path)
                response = error_response(500, f"replay Hub internal error: {type(exc).__name__}: {exc}")
        body = b"" if method == "HEAD" else response.body
        if rule is not None and rule.truncate is not None:
            body = body[: int(len(body) * rule.truncate)]
            self.close_connection = True
        self._send(entry, response, body)

    def _send(self, entry: dict[str, Any], response: Response, body: bytes) -> None:
        """Status, headers (Content-Length of the whole answer), the log line, then ``body``."""
        self.send_response(response.status)
        self.send_header("X-Request-Id", f"Root=1-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:24]}")
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        # Recorded before the last bytes leave, so a client never sees an answer its log line lacks.
        self.server.hub._record({**entry, "status": response.status, "bytes": len(body)})
        try:
            self.end_headers()
            if body:
                self.wfile.write(body)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


class ReplayHub:
    """A local stand-in for ``HF_ENDPOINT`` that answers from a snapshot (see ``harvesters.replay``)."""

    def __init__(
        self,
        snapshot_dir: str | os.PathLike[str] | Snapshot,
        host: str = "127.0.0.1",
        port: int = 0,
        page_size: int = 1000,
        accept_token: str | None = None,
        request_log: str | os.PathLike[str] | None = None,
        faults: FaultPlan | None = None,
        history: int = HISTORY,
    ) -> None:
        self.snapshot: Snapshot = (
            snapshot_dir if isinstance(snapshot_dir, Snapshot) else DirectorySnapshot(snapshot_dir)
        )
        self.host, self.port = host, port
        self.app = HubApp(self.snapshot, page_size=page_size, accept_token=accept_token)
        self.faults = faults
        self.request_log = Path(request_log) if request_log is not None else None
        self.requests: RequestHistory = RequestHistory(maxlen=history)  # the newest entries; the log file has all
        self._log_lock = threading.Lock()
        self._log_file: Any = None
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._serving = False  # serve_forever() has been entered (so shutdown() will not hang)

    def __repr__(self) -> str:
        return f"ReplayHub({self.snapshot!r}, url={self.url if self._server else None!r})"

    @property
    def page_size(self) -> int:
        return self.app.page_size

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the replay Hub is not started: call start() or serve_forever() first")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self._server.server_address[1]}"

    def _bind(self) -> _Server:
        if self._server is None:
            family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
            server_class = type("_BoundServer", (_Server,), {"address_family": family})
            self._server = server_class((self.host, self.port), _Handler)
            self._server.hub = self
            if self.request_log is not None:
                self.request_log.parent.mkdir(parents=True, exist_ok=True)
                self._log_file = self.request_log.open("a", encoding="utf-8")
        return self._server

    def start(self) -> ReplayHub:
        """Serve in a background thread; returns self (``hub.url`` is then known)."""
        server = self._bind()
        if self._thread is None:
            self._serving = True
            self._thread = threading.Thread(
                target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="replay-hub", daemon=True
            )
            self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until Ctrl-C (or ``stop()`` from another thread), then close cleanly."""
        server = self._bind()
        try:
            if self._thread is not None:
                while self._thread.is_alive():
                    self._thread.join(0.5)
            else:
                self._serving = True
                server.serve_forever(poll_interval=0.2)
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            if self._serving:
                server.shutdown()  # returns at once if serve_forever() already ended (Ctrl-C)
            if self._thread is not None and self._thread is not threading.current_thread():
                self._thread.join(timeout=5)
            server.close_connections()
            server.server_close()
        self._thread, self._serving = None, False
        with self._log_lock:
            if self._log_file is not None:
                self._log_file.close()
                self._log_file = None

    def __enter__(self) -> ReplayHub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _record(self, entry: dict[str, Any]) -> None:
        with self._log_lock:
            self.requests.append(entry)
            if self._log_file is not None:
                self._log_file.write(json.dumps(entry, ensure_ascii=False) + "\n")
                self._log_file.flush()
