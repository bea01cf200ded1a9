"""The report set in a real browser: headless Chromium (Debian's ``chromium``) driven over the DevTools Protocol.

Why CDP over a websocket (``websockets`` is already installed as a Prefect dependency) rather than selenium or
``chromium --screenshot``/``--dump-dom`` subprocesses: one browser process for the whole module, real link
clicks, ``Runtime.evaluate`` to read the live DOM (did an injected script run? is the SVG laid out?), dialog
events (an ``alert`` would show up as ``Page.javascriptDialogOpening``), and full-page screenshots, with no
driver binary to match to the browser version.

Flow: take the session's report set built by the real pipeline (report_fixtures.real_reports: a replay Hub
with a hostile model whose card and config carry markup, harvested, loaded, reconciled, reported), start
``hubcensus reports serve`` as a subprocess, open ``/latest/`` in Chromium, click through to every report,
screenshot each page, check every chart rendered, fetch every CSV/Parquet download and compare it with the
warehouse, and check the markup shows as text where it is displayed and no script ran anywhere.
Set HUBCENSUS_SCREENSHOTS=<dir> to keep the screenshots.
"""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import duckdb
import polars as pl
import pytest

from report_data import DATE, EVIL_STRINGS, REPO_ROOT, RUN_ID
from test_reports_build import SHOWN_IN, check_against_warehouse, read_csv_like

# the session's real warehouse and report set (fixture real_reports), registered once for all report modules
pytest_plugins = ("report_fixtures",)

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed: run `make browser`")

REPORTS = ("taxonomy", "family_tree", "timeline", "sizes", "reconciliation", "coverage", "changes")
# Recorded before any page script could run; an alert/confirm/prompt call lands here instead of a dialog.
SPY = """
window.__dialogs = [];
for (const name of ['alert', 'confirm', 'prompt']) {
  window[name] = function (message) { window.__dialogs.push(name + ':' + String(message)); };
}
"""


class CDP:
    """A minimal synchronous Chrome DevTools Protocol client over one page target's websocket."""

    def __init__(self, ws_url: str) -> None:
        from websockets.sync.client import connect

        self.ws = connect(ws_url, max_size=None, open_timeout=10)
        self.next_id = 0
        self.events: list[dict] = []

    def call(self, method: str, timeout: float = 20, **params) -> dict:
        self.next_id += 1
        my_id = self.next_id
        self.ws.send(json.dumps({"id": my_id, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while True:
            msg = json.loads(self.ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            if msg.get("id") == my_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self._event(msg)

    def _event(self, msg: dict) -> None:
        self.events.append(msg)
        if msg.get("method") == "Page.javascriptDialogOpening":  # never leave the page blocked on a dialog
            self.ws.send(json.dumps({"id": 10**9 + len(self.events), "method": "Page.handleJavaScriptDialog", "params": {"accept": False}}))

    def wait_event(self, method: str, timeout: float = 20) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            for i, e in enumerate(self.events):
                if e.get("method") == method:
                    return self.events.pop(i)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(method)
            self._event(json.loads(self.ws.recv(timeout=remaining)))

    def eval(self, expression: str):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression!r}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def navigate_by(self, action) -> str:
        """Run ``action`` (a navigation), wait for the new page's load event, return its URL."""
        self.events = [e for e in self.events if e.get("method") != "Page.loadEventFired"]
        action()
        self.wait_event("Page.loadEventFired")
        return self.eval("location.href")

    def screenshot(self, path: Path) -> bytes:
        height = int(self.eval("Math.ceil(document.documentElement.scrollHeight)"))
        height = min(max(height, 600), 12000)
        self.call("Emulation.setDeviceMetricsOverride", width=1280, height=height, deviceScaleFactor=1, mobile=False)
        data = base64.b64decode(self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)["data"])
        self.call("Emulation.setDeviceMetricsOverride", width=1280, height=900, deviceScaleFactor=1, mobile=False)
        path.write_bytes(data)
        return data

    def clip(self, box: list[float], path: Path) -> bytes:
        """A screenshot of one page region (page coordinates: left, top, right, bottom), at its full size."""
        height = int(self.eval("Math.ceil(document.documentElement.scrollHeight)"))
        self.call("Emulation.setDeviceMetricsOverride", width=1280, height=min(max(height, 600), 12000), deviceScaleFactor=1, mobile=False)
        clip = {"x": box[0], "y": box[1], "width": box[2] - box[0], "height": box[3] - box[1], "scale": 1}
        data = base64.b64decode(self.call("Page.captureScreenshot", format="png", clip=clip, captureBeyondViewport=True)["data"])
        self.call("Emulation.setDeviceMetricsOverride", width=1280, height=900, deviceScaleFactor=1, mobile=False)
        path.write_bytes(data)
        return data

    def close(self) -> None:
        self.ws.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    profile = Path(tempfile.mkdtemp(prefix="hubcensus-chromium-"))
    proc = subprocess.Popen(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-extensions",
         "--disable-default-apps", "--mute-audio", "--hide-scrollbars", f"--user-data-dir={profile}",
         "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0", "--window-size=1280,900", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.is_file() and port_file.read_text().strip()):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"chromium did not start (exit {proc.poll()})")
            time.sleep(0.05)
        port = int(port_file.read_text().split()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
            page = next(t for t in json.load(r) if t["type"] == "page")
        cdp = CDP(page["webSocketDebuggerUrl"])
        cdp.call("Page.enable")
        cdp.call("Runtime.enable")
        cdp.call("Page.addScriptToEvaluateOnNewDocument", source=SPY)
        yield cdp
        cdp.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def site(real_reports, tmp_path_factory):
    """``hubcensus reports serve`` on the real data dir (an ephemeral port), as a user starts it."""
    base = tmp_path_factory.mktemp("report-browser")
    shots = Path(os.environ.get("HUBCENSUS_SCREENSHOTS") or base / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    out_log, err_log = base / "serve.out", base / "serve.err"
    with open(out_log, "wb") as out_fh, open(err_log, "wb") as err_fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", "flows.cli", "reports", "serve", "--data-dir", str(real_reports.data_dir), "--port", "0"],
            cwd=REPO_ROOT, stdout=out_fh, stderr=err_fh, stdin=subprocess.DEVNULL,
        )
    try:
        deadline = time.monotonic() + 60
        while not out_log.read_text().endswith("\n"):  # the first stdout line is the URL of /latest/
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"reports serve did not start (exit {proc.poll()}): {err_log.read_text()[-2000:]}")
            time.sleep(0.02)
        latest = out_log.read_text().splitlines()[0].strip()
        assert latest.startswith("http://127.0.0.1:") and latest.endswith("/latest/"), latest
        yield {"db": real_reports.db, "out": real_reports.out, "url": latest.removesuffix("/latest/"), "shots": shots}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _page_facts(cdp: CDP) -> dict:
    return cdp.eval("""(() => ({
        title: document.title,
        text: document.body.innerText,
        dialogs: window.__dialogs,
        scripts: document.querySelectorAll('script').length,
        imgs: document.querySelectorAll('img, iframe, object, embed').length,
        handlers: Array.from(document.querySelectorAll('*')).flatMap(el =>
            Array.from(el.attributes).filter(a => a.name.toLowerCase().startsWith('on')).map(a => el.tagName + ' ' + a.name)),
        resources: performance.getEntriesByType('resource').map(e => e.name),
        charts: Array.from(document.querySelectorAll('figure svg')).map(svg => {
            const box = svg.getBoundingClientRect(), fig = svg.closest('figure'), outer = fig.getBoundingClientRect();
            const content = svg.getBBox(), vb = svg.viewBox.baseVal;
            return {w: box.width, h: box.height, marks: svg.querySelectorAll('path, use, image, rect, polygon, ellipse').length,
                    texts: svg.querySelectorAll('text').length, label: svg.getAttribute('aria-label'),
                    graph: svg.classList.contains('graph'),
                    box: [box.left, box.top + window.scrollY, box.right, box.bottom + window.scrollY],
                    outer: [outer.left, outer.top + window.scrollY, outer.right, outer.bottom + window.scrollY],
                    overflow: fig.scrollWidth > fig.clientWidth + 1 || fig.scrollHeight > fig.clientHeight + 1,
                    content: [content.x, content.y, content.x + content.width, content.y + content.height],
                    viewbox: [vb.x, vb.y, vb.x + vb.width, vb.y + vb.height]};
        }),
        downloads: Array.from(document.querySelectorAll('#data a[download]')).map(a => a.href),
    }))()""")


CATALOG_FIGURES = {  # the catalog's four figures, by the aria-label of their SVG
    "family_tree": {"The catalog's family tree"},
    "timeline": {"The catalog's timeline, with the Hub's arrival of each model"},
    "sizes": {"The catalog's size axis, with the Hub's largest models beside it"},
    "taxonomy": {"The catalog's taxonomy: architecture × pretraining task, with the Hub's matched families"},
}


def _assert_not_clipped(slug: str, chart: dict) -> None:
    """The SVG lies inside its figure (nothing scrolls out) and its drawing inside its own viewBox."""
    (l, t, r, b), (fl, ft, fr, fb) = chart["box"], chart["outer"]
    assert fl - 1 <= l and ft - 1 <= t and r <= fr + 1 and b <= fb + 1 and not chart["overflow"], (slug, chart["label"], chart)
    (cx0, cy0, cx1, cy1), (vx0, vy0, vx1, vy1) = chart["content"], chart["viewbox"]
    assert vx0 - 1 <= cx0 and vy0 - 1 <= cy0 and cx1 <= vx1 + 1 and cy1 <= vy1 + 1, (slug, chart["label"], chart["content"], chart["viewbox"])


def _assert_drawn(png: bytes, what) -> None:
    """A figure's screenshot is a real picture: a fair share of its pixels are not the page's white."""
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("L")
    inked = sum(n for value, n in enumerate(image.histogram()) if value < 200)
    assert image.width > 100 and image.height > 30 and inked > 0.01 * image.width * image.height, (what, image.size, inked)


def test_browse_every_report_screenshot_charts_and_downloads(browser, site):
    cdp, base, out = browser, site["url"], site["out"]
    url = cdp.navigate_by(lambda: cdp.call("Page.navigate", url=base + "/latest/"))
    assert url == f"{base}/{DATE}/"  # /latest/ redirected to the dated set
    index = _page_facts(cdp)
    assert "Hugging Face Hub census" in index["text"] and RUN_ID in index["text"]
    assert index["resources"] == [] and index["scripts"] == 0
    assert cdp.screenshot(site["shots"] / "index.png")[:8] == b"\x89PNG\r\n\x1a\n"
    links = cdp.eval("Array.from(document.querySelectorAll('.card h2 a')).map(a => a.getAttribute('href'))")
    assert links == [f"{r}.html" for r in REPORTS]

    con = duckdb.connect(str(site["db"]), read_only=True)
    checked: list[str] = []
    for slug in REPORTS:
        cdp.navigate_by(lambda: cdp.call("Page.navigate", url=f"{base}/{DATE}/"))
        url = cdp.navigate_by(lambda: cdp.eval(f"document.querySelector('.card h2 a[href=\"{slug}.html\"]').click()"))
        assert url == f"{base}/{DATE}/{slug}.html"
        facts = _page_facts(cdp)
        png = cdp.screenshot(site["shots"] / f"{slug}.png")
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000, slug
        assert facts["resources"] == [], f"{slug} fetched {facts['resources']}: not self-contained"
        assert facts["charts"], f"{slug} has no chart"
        for i, chart in enumerate(facts["charts"]):
            assert chart["w"] > (150 if chart["graph"] else 300) and chart["h"] > 40, (slug, chart)
            assert chart["marks"] > 3 and chart["texts"] > 0, (slug, chart)
            _assert_not_clipped(slug, chart)
            _assert_drawn(cdp.clip(chart["box"], site["shots"] / f"{slug}-figure-{i}.png"), (slug, chart["label"]))
        if slug in CATALOG_FIGURES:
            assert CATALOG_FIGURES[slug] <= {c["label"] for c in facts["charts"]}, slug
        assert facts["downloads"], slug
        for href in facts["downloads"]:
            with urllib.request.urlopen(href, timeout=10) as resp:
                body = resp.read()
                assert resp.headers["Content-Disposition"].startswith("attachment;"), href
            name = href.rsplit("/", 1)[1]
            stem = name.rsplit(".", 1)[0]
            parquet = pl.read_parquet(out / f"{stem}.parquet")
            frame = read_csv_like(io.BytesIO(body), parquet) if name.endswith(".csv") else pl.read_parquet(io.BytesIO(body))
            assert frame.equals(parquet), href
            if check_against_warehouse(stem, frame, con):
                checked.append(name)
    assert len(checked) >= 38, checked  # 19+ tables, each as CSV and as Parquet


def test_markup_renders_as_text_and_no_script_runs(browser, site):
    """Card/config fields carrying <img onerror=alert(1)>, <script>alert(2)</script>, x"><svg onload=alert(3)>:
    shown as text on the pages that display them (SHOWN_IN), absent elsewhere, and nothing runs."""
    cdp, base = browser, site["url"]
    seen: set[str] = set()
    dialog_events_before = [e for e in cdp.events if e.get("method") == "Page.javascriptDialogOpening"]
    for page in ("index", *REPORTS):
        # served over HTTP (with the server's CSP) and opened straight from disk (only the page's own <meta> CSP)
        for url in (f"{base}/{DATE}/{page}.html", (site["out"] / f"{page}.html").as_uri()):
            cdp.navigate_by(lambda: cdp.call("Page.navigate", url=url))
            time.sleep(0.05)  # let any onerror/onload handler that slipped through fire
            facts = _page_facts(cdp)
            assert facts["dialogs"] == [], (url, facts["dialogs"])
            assert facts["scripts"] == 0 and facts["imgs"] == 0, url
            assert facts["handlers"] == [], (url, facts["handlers"])
            assert cdp.eval("typeof window.__dialogs") == "object"  # the spy itself ran: the check is live
            for value, pages in SHOWN_IN.items():
                assert (value in facts["text"]) == (page in pages), (url, value, "expected" if page in pages else "unexpected")
            seen.update(s for s in EVIL_STRINGS if s in facts["text"])
    assert seen == set(EVIL_STRINGS)
    assert [e for e in cdp.events if e.get("method") == "Page.javascriptDialogOpening"] == dialog_events_before


def test_the_script_check_is_live(browser, tmp_path):
    """Control: the same checks on an unescaped page (no CSP) do see the payload run."""
    cdp = browser
    page = tmp_path / "unescaped.html"
    page.write_text("<!doctype html><title>t</title><p>model <img src=x onerror=alert(1)></p><script>alert(2)</script>")
    cdp.navigate_by(lambda: cdp.call("Page.navigate", url=page.as_uri()))
    deadline = time.monotonic() + 5
    while len(cdp.eval("window.__dialogs")) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    facts = _page_facts(cdp)
    assert sorted(facts["dialogs"]) == ["alert:1", "alert:2"]
    assert facts["scripts"] == 1 and facts["imgs"] == 1 and facts["handlers"] == ["IMG onerror"]
