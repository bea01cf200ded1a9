"""reports.server: read-only browsing and downloading of report sets, no path traversal, loopback by default."""

from __future__ import annotations

import http.client
import io
import os
import shutil
import socket
from concurrent.futures import ThreadPoolExecutor

import polars as pl
import pytest

from report_data import DATE
from reports.build import update_latest
from reports.server import ReportServer

# the session's real warehouse and report set (fixture real_reports), registered once for all report modules
pytest_plugins = ("report_fixtures",)


@pytest.fixture(scope="module")
def served(real_reports, tmp_path_factory):
    """The real report set, copied (this module plants traps in its root), plus an older set and hostile files."""
    base = tmp_path_factory.mktemp("report-server")
    root = base / "data" / "reports"
    out = root / DATE
    shutil.copytree(real_reports.out, out)
    shutil.copytree(real_reports.out, root / "2025-02-01")  # an older set, for the listing
    update_latest(root)
    (base / "data" / "secret.csv").write_text("password\nhunter2\n")
    (root / ".2025-03-09.building-1").mkdir()  # a staging dir: never served or listed
    (root / ".2025-03-09.building-1" / "index.html").write_text("half-built")
    os.symlink(base / "data" / "secret.csv", out / "escape.csv")  # a link out of the root: refused
    with ReportServer(root) as server:
        yield server, root


def get(server, path: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    """One raw request: the path goes out exactly as written (no client-side normalisation)."""
    conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
    conn.putrequest(method, path, skip_accept_encoding=True)
    conn.endheaders()
    resp = conn.getresponse()
    body = resp.read()
    headers = {k.lower(): v for k, v in resp.getheaders()}
    conn.close()
    return resp.status, headers, body


def test_binds_loopback_by_default(served):
    server, _ = served
    assert server.host == "127.0.0.1" and server.url.startswith("http://127.0.0.1:")


def test_listing_shows_past_dates_newest_first(served):
    server, _ = served
    status, headers, body = get(server, "/")
    assert status == 200 and headers["content-type"] == "text/html; charset=utf-8"
    text = body.decode()
    assert text.index(f'href="/{DATE}/"') < text.index('href="/2025-02-01/"')
    assert "(latest)" in text and "2025-03-09" not in text


def test_index_and_latest(served):
    server, _ = served
    status, headers, body = get(server, f"/{DATE}/")
    assert status == 200 and b'href="taxonomy.html"' in body
    assert "script-src" not in headers["content-security-policy"] and "default-src 'none'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"
    assert get(server, f"/{DATE}")[0] == 301
    status, headers, _ = get(server, "/latest/")
    assert status == 302 and headers["location"] == f"/{DATE}/"
    status, headers, _ = get(server, "/latest/sizes.csv")
    assert status == 302 and headers["location"] == f"/{DATE}/sizes.csv"


@pytest.mark.parametrize(
    "name, content_type, download",
    [
        ("taxonomy.html", "text/html; charset=utf-8", False),
        ("sizes.csv", "text/csv; charset=utf-8", True),
        ("sizes.parquet", "application/vnd.apache.parquet", True),
        ("summary.md", "text/markdown; charset=utf-8", True),
        ("manifest.json", "application/json", False),
    ],
)
def test_content_types_and_downloads(served, name, content_type, download):
    server, root = served
    status, headers, body = get(server, f"/{DATE}/{name}")
    assert status == 200
    assert headers["content-type"] == content_type
    assert int(headers["content-length"]) == len(body) == (root / DATE / name).stat().st_size
    if download:
        assert headers["content-disposition"] == f'attachment; filename="{name}"'
    else:
        assert "content-disposition" not in headers
    if name.endswith(".parquet"):
        assert pl.read_parquet(io.BytesIO(body)).equals(pl.read_parquet(root / DATE / name))
    status, headers, body = get(server, f"/{DATE}/{name}", method="HEAD")
    assert status == 200 and body == b"" and headers["content-type"] == content_type


@pytest.mark.parametrize(
    "path",
    [
        "/../secret.csv", "/..%2fsecret.csv", "/%2e%2e/secret.csv", f"/{DATE}/../../secret.csv",
        f"/{DATE}/..%2f..%2fsecret.csv", f"/{DATE}/%2e%2e%2f%2e%2e%2fsecret.csv", f"/{DATE}/..\\..\\secret.csv",
        f"/{DATE}/%5c..%5csecret.csv", "//etc/passwd", "/etc/passwd", f"/{DATE}/escape.csv", f"/{DATE}/.hidden.csv",
        "/.2025-03-09.building-1/index.html", f"/{DATE}/index.html%00.csv", f"/{DATE}/warehouse.duckdb",
        f"/{DATE}/sub/dir.csv", "/latest/../../secret.csv", "/2025-13-45/index.html",
    ],
)
def test_no_path_traversal(served, path):
    server, _ = served
    status, _, body = get(server, path)
    assert status in (400, 404), (path, status)
    assert b"hunter2" not in body


def test_read_only(served):
    server, root = served
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        status, headers, _ = get(server, f"/{DATE}/sizes.csv", method=method)
        assert status == 405 and headers["allow"] == "GET, HEAD"
    assert (root / DATE / "sizes.csv").is_file()


def test_unknown_paths_are_404(served):
    server, _ = served
    assert get(server, f"/{DATE}/nope.html")[0] == 404
    assert get(server, "/favicon.ico")[0] == 404


# -- hostile requests (issue 11, finding 5): nothing decoded goes into a header, idle connections end --------
def raw_request(server, target: bytes, timeout: float = 10) -> bytes:
    """Send one request line exactly as given (any bytes) and read the whole answer (the server closes)."""
    with socket.create_connection((server.host, server.port), timeout=timeout) as sock:
        sock.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def header_block(answer: bytes) -> list[bytes]:
    return answer.split(b"\r\n\r\n", 1)[0].split(b"\r\n")


@pytest.mark.parametrize(
    "path",
    [
        "/latest/%0d%0aSet-Cookie:%20pwned=1",
        "/latest/x%0d%0aSet-Cookie:%20pwned=1",
        "/latest/%0d%0a%0d%0a<h1>pwned</h1>",
        "/latest%0d%0aSet-Cookie:%20pwned=1/",
        f"/{DATE}%0aSet-Cookie:%20pwned=1",
        f"/{DATE}%0a",
        f"/{DATE}/sizes.csv%0d%0aSet-Cookie:%20pwned=1",
        "/%0d%0aLocation:%20http://evil.example/pwned",
    ],
)
def test_no_header_injection(served, path):
    server, _ = served
    answer = raw_request(server, path.encode())
    status_line, *headers = header_block(answer)
    assert status_line.split()[1] == b"404", answer[:200]
    assert not any(h.lower().startswith((b"set-cookie", b"location")) for h in headers)
    assert b"pwned" not in answer


def test_redirects_only_to_built_paths(served):
    server, _ = served
    assert get(server, "/latest/nope.csv")[0] == 404  # a well-formed name, but not a file of the set
    assert get(server, "/latest/.hidden.csv")[0] == 404
    assert get(server, "/2031-01-01")[0] == 404  # a date-shaped name that is not a set
    status, headers, _ = get(server, "/latest/taxonomy.html")
    assert status == 302 and headers["location"] == f"/{DATE}/taxonomy.html"


@pytest.mark.parametrize("target", ["/latest/%E2%98%83".encode(), "/%E2%98%83/".encode(), f"/{DATE}/%E2%98%83.csv".encode(), "/latest/\u2603".encode()])
def test_non_latin1_paths_get_an_answer_not_a_dropped_connection(served, target):
    server, _ = served
    answer = raw_request(server, target)
    assert answer.startswith(b"HTTP/1.1 4"), answer[:100]
    assert answer.split()[1] in (b"400", b"404")
    if b"%" in target:
        assert answer.split()[1] == b"404"


def test_many_concurrent_requests(served):
    server, root = served
    expected = (root / DATE / "sizes.csv").read_bytes()
    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(lambda _: get(server, f"/{DATE}/sizes.csv"), range(200)))
    assert all(status == 200 and body == expected for status, _, body in answers)


def test_idle_and_half_open_connections_are_closed(served):
    """A client that sends nothing, half a request, or nothing after its answer is disconnected by the server."""
    _, root = served
    with ReportServer(root, idle_timeout_s=0.5) as server:
        silent = [socket.create_connection((server.host, server.port), timeout=30) for _ in range(50)]
        half = socket.create_connection((server.host, server.port), timeout=30)
        half.sendall(b"GET /latest/ HTTP/1.1\r\nHost: x\r\n")  # no end of headers: a slow client
        kept = socket.create_connection((server.host, server.port), timeout=30)
        kept.sendall(f"GET /{DATE}/summary.md HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        assert kept.recv(65536).startswith(b"HTTP/1.1 200")
        assert get(server, f"/{DATE}/")[0] == 200  # the server still answers
        for sock in [*silent, half, kept]:
            try:
                while sock.recv(65536):
                    pass  # the rest of an answer, then the server's close (b"")
            finally:
                sock.close()
