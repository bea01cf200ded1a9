"""Matplotlib figures rendered to inline SVG strings: Agg backend, no CDN, byte-for-byte deterministic.

Every label that comes from the warehouse is untrusted: :func:`label` neutralises matplotlib's own markup
(mathtext ``$...$``, legend-hiding leading underscores); the SVG writer escapes XML itself, so the text
lands in the page as ``<text>`` content, never as markup.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from markupsafe import Markup  # noqa: E402

# One palette for the whole report set: the same class is the same colour on every page.
ARCH_COLOURS = {
    "encoder": "#4c78a8",
    "decoder": "#e45756",
    "encoder-decoder": "#54a24b",
    None: "#9d9d9d",
}
RELATION_COLOURS = {
    "finetune": "#4c78a8",
    "adapter": "#f58518",
    "quantized": "#72b7b2",
    "merge": "#b279a2",
    "base": "#9d9d9d",
}
STATUS_COLOURS = {
    "agree": "#54a24b",
    "conflict": "#e45756",
    "missing_on_hub": "#f58518",
    "missing_in_catalog": "#bab0ac",
}
CATALOG_COLOUR = "#333333"
HUB_COLOUR = "#4c78a8"

_RC = {
    "svg.fonttype": "none",  # text stays text (<text>, escaped by the writer): small, selectable, searchable
    "svg.hashsalt": "hubcensus",  # deterministic clip-path / element ids
    "font.family": "DejaVu Sans",
    "font.size": 9.5,
    "axes.titlesize": 12,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.labelsize": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#e6e6e6",
    "grid.linewidth": 0.8,
    "axes.axisbelow": True,
    "legend.frameon": False,
    "figure.dpi": 100,
    "path.simplify": True,
}


def label(value: object, width: int = 48) -> str:
    """An untrusted value as safe matplotlib text: no mathtext, no legend-hiding underscore, bounded length."""
    text = "(none)" if value is None else str(value)
    text = text.replace("\n", " ").replace("\r", " ")
    if len(text) > width:
        text = text[: width - 1] + "…"
    text = text.replace("\\", "\\\\").replace("$", r"\$")
    if text.startswith("_"):
        text = "\u200b" + text
    return text


def arch_label(value: str | None) -> str:
    return "unknown" if value is None else value


@dataclass(frozen=True)
class Chart:
    """One figure as an inline SVG string, with the caption shown under it."""

    title: str
    svg: Markup
    caption: str = ""


def figure(width: float, height: float):
    """A new figure under the report style; pair with :func:`to_svg`, which closes it."""
    with plt.rc_context(_RC):
        fig = plt.figure(figsize=(width, height), layout="constrained")
    return fig


def style():
    """The rc context the axes must be created and drawn under."""
    return plt.rc_context(_RC)


_XML_DECL = re.compile(r"<\?xml[^>]*\?>\s*")
_DOCTYPE = re.compile(r"<!DOCTYPE[^>]*>\s*", re.S)
_COMMENT = re.compile(r"<!--.*?-->\s*", re.S)
_ROOT_SIZE = re.compile(r'(<svg\b[^>]*?)\s+width="[^"]*"\s+height="[^"]*"')


def to_svg(fig, title: str) -> Markup:
    """Render and close ``fig``; return the SVG element ready to inline in HTML (scales to its container)."""
    buf = io.StringIO()
    with plt.rc_context(_RC):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    plt.close(fig)
    svg = buf.getvalue()
    svg = _XML_DECL.sub("", svg)
    svg = _DOCTYPE.sub("", svg)
    svg = _COMMENT.sub("", svg)
    # Fluid width, height from the viewBox's aspect ratio; role/aria-label for screen readers.
    from markupsafe import escape

    svg = _ROOT_SIZE.sub(
        lambda m: f'{m.group(1)} width="100%" class="chart" role="img" aria-label="{escape(title)}"', svg, count=1
    )
    return Markup(svg.strip())


def human(n: float | int | None) -> str:
    """1234567 -> '1.2M' (for labels on charts)."""
    if n is None:
        return "–"
    n = float(n)
    for unit, div in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= div:
            value = n / div
            return f"{value:.0f}{unit}" if value >= 100 else f"{value:.1f}{unit}".replace(".0" + unit, unit)
    return f"{n:.0f}"


def count_axis(axis, nbins: int | str = "auto") -> None:
    """Whole-number ticks on a count axis (``nbins`` caps them on narrow panels)."""
    from matplotlib.ticker import MaxNLocator

    axis.set_major_locator(MaxNLocator(nbins=nbins, integer=True))


def plural(n: int, word: str, many: str | None = None) -> str:
    """``1 descendant``, ``2 descendants``, with thousands separators."""
    return f"{n:,} {word if n == 1 else many or word + 's'}"


def human_axis(axis) -> None:
    """Ticks as 1.2M / 3B instead of scientific offsets."""
    from matplotlib.ticker import FuncFormatter

    axis.set_major_formatter(FuncFormatter(lambda v, _: human(v)))


def empty_chart(title: str, message: str, width: float = 8, height: float = 2.2) -> Markup:
    """A chart-sized panel saying why there is nothing to draw (still a real, non-empty SVG)."""
    with style():
        fig = figure(width, height)
        ax = fig.add_subplot()
        ax.set_title(label(title, 90))
        ax.axis("off")
        ax.text(0.5, 0.45, label(message, 120), ha="center", va="center", color="#666666", transform=ax.transAxes)
        return to_svg(fig, title)
