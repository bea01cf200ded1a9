"""Graph figures laid out by Graphviz ``dot`` (Debian's ``graphviz``), returned as inline SVG ready for a page.

``dot`` runs as a subprocess with the DOT text on stdin; nothing is written to disk. Labels come from the Hub and
the catalog (untrusted): they are written as HTML-like labels through :func:`text`, which escapes them, so ``dot``
parses them as text and writes them to the SVG as escaped ``<text>`` content. The SVG is then cleaned of what a
page does not want and of what would differ between two builds of the same warehouse: the XML prologue, comments
(they carry dot's version), ``<title>`` elements (dot's node names) and every ``id`` (two figures in one page would
repeat ``graph0``/``node1``). Nodes keep their ``class`` (``node entry`` ...), which tests and styles can select.

Without ``dot`` (a user who did not install graphviz) :func:`render` raises :class:`DotUnavailable` with a sentence
a page can show as it is; the builders catch it and keep their tables.
"""

from __future__ import annotations

import html
import re
import shutil
import subprocess

from markupsafe import Markup, escape

from hubcensus.errors import HubcensusError

DOT_TIMEOUT_S = 120
FONT = "DejaVu Sans"  # the report pages' matplotlib font: Debian installs it with graphviz's fontconfig deps
INSTALL_HINT = "install Debian's graphviz (`apt-get install graphviz`, or `make graphviz`) and build the reports again"


class DotUnavailable(HubcensusError, RuntimeError):
    """``dot`` is missing or failed: the message is one plain sentence for the page."""


def text(value: object, width: int = 60) -> str:
    """An untrusted value as the content of an HTML-like DOT label: one line, bounded, XML-escaped."""
    s = "(none)" if value is None else " ".join(str(value).split())
    s = "".join(ch for ch in s if ch >= " " and ch != "\x7f")  # control characters are not XML: dot would refuse the label
    if len(s) > width:
        s = s[: width - 1] + "…"
    # dot expands \N, \G, \L ... even inside HTML-like labels, after the XML entities: a doubled backslash is one
    return html.escape(s, quote=True).replace("\\", "\\\\")


def attr(value: object) -> str:
    """A value for a quoted DOT attribute (colours, class names we choose): quotes and backslashes escaped."""
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def dot_path() -> str | None:
    return shutil.which("dot")


_PROLOGUE = re.compile(r"\A.*?(?=<svg\b)", re.S)
_COMMENT = re.compile(r"<!--.*?-->\s*", re.S)
_TITLE = re.compile(r"<title>.*?</title>\s*", re.S)
_ID = re.compile(r'\s+id="[^"]*"')


def clean_svg(svg: str, title: str) -> Markup:
    """dot's SVG without prologue, comments, titles and ids; labelled for screen readers.

    It keeps dot's natural size (points): the page's CSS (``svg.graph``) shrinks it to the column, never enlarges it."""
    svg = _PROLOGUE.sub("", svg, count=1)
    svg = _COMMENT.sub("", svg)
    svg = _TITLE.sub("", svg)
    svg = _ID.sub("", svg)
    svg = svg.replace("&quot;", "&#34;")  # the entity jinja writes for a quote: one spelling per page
    svg = svg.replace("<svg", f'<svg class="graph" role="img" aria-label="{escape(title)}"', 1)
    return Markup(svg.strip())


def render(dot_source: str, title: str) -> Markup:
    """Lay out ``dot_source`` with ``dot -Tsvg``; raise :class:`DotUnavailable` when dot is absent or fails."""
    exe = dot_path()
    if exe is None:
        raise DotUnavailable(f"Graphviz `dot` is not installed on the machine that built these reports, so this figure is not drawn: {INSTALL_HINT}.")
    try:
        done = subprocess.run([exe, "-Tsvg"], input=dot_source.encode("utf-8"), capture_output=True, timeout=DOT_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise DotUnavailable(f"Graphviz `dot` could not lay out this figure ({type(exc).__name__}), so it is not drawn.") from exc
    if done.returncode != 0 or b"<svg" not in done.stdout:
        first = (done.stderr.decode("utf-8", "replace").strip().splitlines() or ["no output"])[0][:200]
        raise DotUnavailable(f"Graphviz `dot` failed on this figure (exit {done.returncode}: {first}), so it is not drawn.")
    return clean_svg(done.stdout.decode("utf-8"), title)
