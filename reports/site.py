"""What the report build and the report server share: the set layout (dated dirs, ``latest``) and the page renderer.

Kept apart from ``reports.build`` so that ``reports serve`` starts without importing the builders' stack
(matplotlib, polars, duckdb: seconds of imports for a server that only reads files): stdlib and jinja2 only.
"""

from __future__ import annotations

import json
import math
import os
import re
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined

TEMPLATES = Path(__file__).resolve().parent / "templates"
DATE_DIR = re.compile(r"^\d{4}-\d{2}-\d{2}$")
LATEST = "latest"
LIST_SHOWN = 8  # list cells show this many items in the page (the CSV/Parquet hold all)
LONG_CELL = 160  # text cells longer than this show their start, the rest behind a <details> (no script)
SHORT_SUMMARY = 100
_COUNT_TEXT = re.compile(r"^-?\d{5,}$")  # 5 digits or more: not a year
_REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?$")


# --- rendering helpers (jinja filters): every value goes through autoescape; these only format -------------

def _num(v: Any) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        if math.isnan(v):
            return "NaN"
        return f"{v:,.2f}" if abs(v) < 1000 else f"{v:,.0f}"
    return str(v)


def _cell(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, datetime):
        return v.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if v.tzinfo else v.strftime("%Y-%m-%d %H:%M")
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, (list, tuple)):
        shown = ", ".join(_cell(x) for x in v[:LIST_SHOWN])
        return shown + (f" … (+{len(v) - LIST_SHOWN} more)" if len(v) > LIST_SHOWN else "")
    if isinstance(v, dict):
        return json.dumps(v, default=str, ensure_ascii=False)
    return _num(v) if isinstance(v, (int, float)) else str(v)


def _human_count(v: Any) -> str:
    """'13672192' -> '13.7M' (a count kept as text, e.g. reconciliation.hub_value); other text unchanged."""
    if not (isinstance(v, str) and _COUNT_TEXT.match(v)):
        return str(v)
    n = int(v)
    for unit, div in (("T", 10**12), ("B", 10**9), ("M", 10**6), ("k", 10**3)):
        if abs(n) >= div:
            value = n / div
            return f"{value:.0f}{unit}" if abs(value) >= 100 else f"{value:.1f}{unit}".replace(f".0{unit}", unit)
    return f"{n:,}"


def _full_count(v: Any) -> str:
    return f"{int(v):,}" if isinstance(v, str) and _COUNT_TEXT.match(v) else str(v)


def _hub_url(v: Any) -> str:
    """A Hub link only for a well-formed repo id; anything else is shown as text, unlinked."""
    if isinstance(v, str) and _REPO_ID.match(v):
        return "https://huggingface.co/" + quote(v, safe="/")
    return ""


def _web_url(v: Any) -> str:
    """Only http(s) links from the catalog become links (no javascript:, data:, ...)."""
    if not isinstance(v, str):
        return ""
    parts = urlsplit(v.strip())
    return v.strip() if parts.scheme in ("http", "https") and parts.netloc else ""


def _is_numeric(dtype: Any) -> bool:  # a polars DataType
    return dtype.is_numeric()


def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=True,  # every template, whatever its extension: names and card text are untrusted
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(num=_num, cell=_cell, hub_url=_hub_url, web_url=_web_url, is_numeric=_is_numeric,
                       human_count=_human_count, full_count=_full_count)
    # short text, dates and timestamps never wrap (a date broken over three lines is unreadable)
    env.tests["short"] = lambda v: (isinstance(v, str) and len(v) <= 24) or isinstance(v, (date, datetime))
    env.tests["count_text"] = lambda v: isinstance(v, str) and bool(_COUNT_TEXT.match(v))
    env.tests["long"] = lambda v: (isinstance(v, str) and len(v) > LONG_CELL) or (isinstance(v, (list, tuple)) and len(v) > LIST_SHOWN)
    env.globals.update(SHORT_SUMMARY=SHORT_SUMMARY, LIST_SHOWN=LIST_SHOWN)
    return env


def resolve_latest(out_dir: Path) -> str | None:
    """The dated set ``latest`` names (symlink or text file), if it exists."""
    link = Path(out_dir) / LATEST
    if link.is_symlink():
        name = os.readlink(link)
    elif link.is_file():
        name = link.read_text(encoding="utf-8").strip()
    else:
        return None
    name = Path(name).name
    return name if DATE_DIR.match(name) and (Path(out_dir) / name).is_dir() else None
