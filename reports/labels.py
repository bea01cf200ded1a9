"""Named points whose names do not overprint: a greedy label placer for matplotlib axes.

Every point keeps its name (nothing is dropped). Each label tries candidate offsets in order (beside the point, then
further out with a leader line) and takes the first whose box stays inside its band and the axes and overlaps no
label or marker already placed; when none is free it takes the least overlapping one. Boxes are measured with the
renderer at the figure's final layout, which is then frozen so saving does not move the axes under the labels.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.dates import date2num
from matplotlib.font_manager import FontProperties
from matplotlib.transforms import Bbox

LEADER_COLOUR, LEADER_WIDTH = "#8c959f", 0.6


@dataclass
class Label:
    x: float | date | datetime
    y: float
    text: str
    color: str = "#222222"
    gid: str | None = None
    y_band: tuple[float, float] | None = None  # data y range the label must stay within (a lane), if any
    weight: str = "normal"


def offsets(steps: int = 6, step: float = 9.0, side: float = 5.0) -> list[tuple[float, float, str, str]]:
    """Candidate (dx, dy, ha, va) in points: right, left, then above/below and diagonals, further out each step."""
    out = [(side, 0.0, "left", "center"), (-side, 0.0, "right", "center")]
    for k in range(1, steps + 1):
        d = step * k
        out += [(side, d, "left", "center"), (side, -d, "left", "center"), (-side, d, "right", "center"),
                (-side, -d, "right", "center"), (0.0, d, "center", "bottom"), (0.0, -d, "center", "top")]
    return out


def _num(x) -> float:
    return float(date2num(x)) if isinstance(x, (date, datetime)) else float(x)


def _box(px: float, py: float, w: float, h: float, ha: str, va: str) -> Bbox:
    x0 = {"left": px, "right": px - w, "center": px - w / 2}[ha]
    y0 = {"bottom": py, "top": py - h, "center": py - h / 2}[va]
    return Bbox.from_bounds(x0, y0, w, h)


def _overlap(box: Bbox, taken: np.ndarray) -> float:
    """Total area ``box`` shares with the rows (x0, y0, x1, y1) of ``taken``."""
    if not len(taken):
        return 0.0
    w = np.minimum(box.x1, taken[:, 2]) - np.maximum(box.x0, taken[:, 0])
    h = np.minimum(box.y1, taken[:, 3]) - np.maximum(box.y0, taken[:, 1])
    return float((np.clip(w, 0, None) * np.clip(h, 0, None)).sum())


def freeze_layout(fig) -> None:
    """Settle the axes (run the layout engine once, without rasterizing) and stop re-laying out: the boxes measured
    afterwards stay true in the saved figure."""
    engine = fig.get_layout_engine()
    if engine is not None:
        engine.execute(fig)
    fig.set_layout_engine("none")


def place(ax, labels: list[Label], fontsize: float = 7.5, candidates: list | None = None,
          markers: list[tuple[float, float]] | None = None, marker_px: float = 7.0, pad: float = 1.5) -> int:
    """Annotate every label on ``ax`` (call :func:`freeze_layout` first); return how many had to overlap."""
    fig = ax.figure
    renderer = fig.canvas.get_renderer()
    scale = fig.dpi / 72.0
    font = FontProperties(family="DejaVu Sans", size=fontsize)
    axbox = ax.get_window_extent(renderer)
    half = marker_px / 2
    points = ax.transData.transform([(_num(x), y) for x, y in markers]) if markers else np.empty((0, 2))
    taken = np.zeros((len(points) + len(labels), 4))  # marker boxes, then each label's box as it is placed
    if len(points):
        taken[: len(points)] = np.column_stack([points - half, points + half])
    n_taken = len(points)
    crowded = 0
    leaders: list[tuple[tuple[float, float], tuple[float, float]]] = []  # display pixels: point -> label anchor
    for lab in labels:
        px, py = ax.transData.transform((_num(lab.x), lab.y))
        w, h, _ = renderer.get_text_width_height_descent(lab.text, font, ismath=False)
        w, h = w + 2 * pad, h + 2 * pad
        band = None
        if lab.y_band is not None:
            lo, hi = (ax.transData.transform((0, v))[1] for v in lab.y_band)
            band = (min(lo, hi), max(lo, hi))
        best, best_cost = None, None
        for dx, dy, ha, va in candidates or offsets():
            box = _box(px + dx * scale, py + dy * scale, w, h, ha, va)
            outside = box.x0 < axbox.x0 or box.x1 > axbox.x1 or box.y0 < axbox.y0 or box.y1 > axbox.y1
            off_band = band is not None and (box.y0 < band[0] or box.y1 > band[1])
            cost = _overlap(box, taken[:n_taken]) + (1e6 if outside else 0) + (1e5 if off_band else 0)
            if best_cost is None or cost < best_cost:
                best, best_cost = (dx, dy, ha, va, box), cost
            if cost == 0:
                break
        dx, dy, ha, va, box = best
        crowded += best_cost > 0
        taken[n_taken] = (box.x0, box.y0, box.x1, box.y1)
        n_taken += 1
        if abs(dy) > 0.5 or abs(dx) > 6:
            leaders.append(((px, py), (px + dx * scale, py + dy * scale)))
        ann = ax.annotate(lab.text, xy=(lab.x, lab.y), xytext=(dx, dy), textcoords="offset points", ha=ha, va=va,
                          fontsize=fontsize, color=lab.color, fontweight=lab.weight, zorder=5, annotation_clip=False)
        ann.set_in_layout(False)
        if lab.gid:
            ann.set_gid(lab.gid)
    if leaders:  # one collection in figure coordinates (the layout is frozen): an arrow patch per label costs ~10 ms
        to_fig = fig.transFigure.inverted()
        segments = [to_fig.transform(np.array(seg)) for seg in leaders]
        fig.add_artist(LineCollection(segments, colors=LEADER_COLOUR, linewidths=LEADER_WIDTH, transform=fig.transFigure, zorder=4))
    return crowded
