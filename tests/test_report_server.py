"""reports.server: read-only browsing and downloading of report sets, no path traversal, loopback by default."""

from __future__ import annotations

import http.client
import io
import os
import shutil

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
