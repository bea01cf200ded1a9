"""Parsers for the catalog's hand-written fields, and row validation.

Every parser returns a value plus a note, or raises ``ValueError`` with the reason; ``parse_row`` turns
those into one parsed row or a list of reasons. The decisions about the source's own mess (typos,
free-text architectures, non-numeric sizes) live in ``vocabulary.yaml`` beside this file, not here.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

VOCABULARY_PATH = Path(__file__).with_name("vocabulary.yaml")
ARCH_CLASSES = ("encoder", "decoder", "encoder-decoder")

# a size: number, optional space, unit; not glued to a letter/digit before it (V1:, R2C2, T0) nor after (340MT)
_UNITS = {"k": 10**3, "thousand": 10**3, "m": 10**6, "million": 10**6, "b": 10**9, "billion": 10**9, "t": 10**12, "trillion": 10**12}
_SIZE = re.compile(r"(?<![A-Za-z0-9.])(\d+(?:\.\d+)?)\s*(thousand|million|billion|trillion|[KMBT])(?![A-Za-z0-9])", re.IGNORECASE)
# what looks like a size but is not one: digits glued to letters (340MT, 1.5Q, 30x)
_SIZE_LIKE = re.compile(r"(?<![A-Za-z0-9.])\d+(?:\.\d+)?[A-Za-z]+")
_PAREN = re.compile(r"\([^)]*\)")
_OPEN_LOWER = re.compile(r"largest|up to|smaller", re.IGNORECASE)
_DATE_MONTH = re.compile(r"^(\d{1,2})/(\d{4})$")
_DATE_YEAR = re.compile(r"^(\d{4})$")
MIN_YEAR, MAX_YEAR = 1990, 2100


def _key(text: str) -> str:
    return " ".join(text.strip().lower().split())


@lru_cache(maxsize=1)
def vocabulary() -> dict:
    with VOCABULARY_PATH.open(encoding="utf-8") as fh:
        vocab = yaml.safe_load(fh)
    vocab["architecture_aliases"] = {_key(k): v for k, v in vocab["architecture_aliases"].items()}
    vocab["params_non_numeric"] = {_key(k): v for k, v in vocab["params_non_numeric"].items()}
    vocab["params_overrides"] = {_key(k): v for k, v in vocab["params_overrides"].items()}
    return vocab


@dataclass(frozen=True)
class Params:
    min: int | None
    max: int | None
    sizes: list[int] = field(default_factory=list)
    kind: str = "unknown"  # sizes | range | open (upper bound only) | unknown
    note: str | None = None


def format_params(n: int | None) -> str:
    """110000000 -> '110M', 1500000000 -> '1.5B' (for notes)."""
    if n is None:
        return "?"
    for unit, scale in (("T", 10**12), ("B", 10**9), ("M", 10**6), ("K", 10**3)):
        if abs(n) >= scale:
            return f"{n / scale:.3g}{unit}"
    return str(n)


def parse_params(text: str | None) -> Params:
    """'340M', '1.5B', 'Base = 110M, Large = 340M', '10M to 52B', '13B (largest)' -> Params; ValueError if unreadable."""
    raw = (text or "").strip()
    if not raw:
        return Params(None, None, note="no size given")
    key = _key(raw)
    vocab = vocabulary()
    if key in vocab["params_overrides"]:
        o = vocab["params_overrides"][key]
        if o.get("unknown"):
            return Params(None, None, note=o["note"])
        sizes = [int(s) for s in o.get("sizes", [])]
        lo = o.get("min", min(sizes) if sizes else None)
        hi = o.get("max", max(sizes) if sizes else None)
        return Params(lo, hi, sizes, "sizes" if sizes else "range", o["note"])
    if key in vocab["params_non_numeric"]:
        return Params(None, None, note=vocab["params_non_numeric"][key])
    found = [(m.span(), round(float(m.group(1)) * _UNITS[m.group(2).lower()])) for m in _SIZE.finditer(raw)]
    leftovers = [m.group(0) for m in _SIZE_LIKE.finditer(raw) if not any(s[0] <= m.start() < s[1] for s, _ in found)]
    if leftovers:
        raise ValueError(f"unparseable size {leftovers[0]!r} in Num. Params {raw!r} (write e.g. 340M, 1.5B, 'Base = 110M, Large = 340M', '10M to 52B')")
    if not found:
        raise ValueError(f"no size in Num. Params {raw!r} (write e.g. 340M or 1.5B; non-numeric texts must be listed in vocabulary.yaml params_non_numeric)")
    values = [v for _, v in found]
    if any(v <= 0 for v in values):
        raise ValueError(f"size must be positive in Num. Params {raw!r}")
    if len(values) == 2 and _PAREN.sub("", raw[found[0][0][1] : found[1][0][0]]).strip().lower() in ("to", "-", "–"):
        return Params(min(values), max(values), values, "range")
    if len(values) == 1 and _OPEN_LOWER.search(raw):
        return Params(None, values[0], values, "open", "upper bound only (smaller variants exist)")
    return Params(min(values), max(values), sorted(set(values)), "sizes")


@dataclass(frozen=True)
class CatalogDate:
    date: dt.date
    precision: str  # month | year


def parse_date(text: str | None) -> CatalogDate:
    """'MM/YYYY' -> first of that month; 'YYYY' -> 1 January (precision 'year'); else ValueError."""
    raw = (text or "").strip()
    if not raw:
        raise ValueError("Date is empty (write MM/YYYY)")
    if m := _DATE_MONTH.match(raw):
        month, year = int(m.group(1)), int(m.group(2))
        if not 1 <= month <= 12:
            raise ValueError(f"month {month} out of range in Date {raw!r} (write MM/YYYY)")
        precision = "month"
    elif m := _DATE_YEAR.match(raw):
        month, year, precision = 1, int(m.group(1)), "year"
    else:
        raise ValueError(f"unparseable Date {raw!r} (write MM/YYYY)")
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise ValueError(f"year {year} out of range {MIN_YEAR}-{MAX_YEAR} in Date {raw!r}")
    return CatalogDate(dt.date(year, month, 1), precision)


def parse_architecture(text: str | None) -> tuple[str | None, str | None]:
    """Pretraining Architecture as written -> (arch_class or None, note); ValueError if unknown."""
    raw = (text or "").strip()
    if not raw:
        raise ValueError("Pretraining Architecture is empty (write Encoder, Decoder or Encoder/Decoder)")
    alias = vocabulary()["architecture_aliases"].get(_key(raw))
    if alias is None:
        raise ValueError(f"unknown Pretraining Architecture {raw!r} (write Encoder, Decoder or Encoder/Decoder, or add it to vocabulary.yaml architecture_aliases)")
    arch_class = alias.get("arch_class")
    if arch_class is not None and arch_class not in ARCH_CLASSES:
        raise ValueError(f"vocabulary.yaml maps {raw!r} to {arch_class!r}, not one of {ARCH_CLASSES}")
    return arch_class, alias.get("note")


def parse_license(text: str | None) -> tuple[str | None, str]:
    """License as written -> (Hub-style license id or None, class open|open-code|limited|closed|unknown)."""
    raw = (text or "").strip()
    low = raw.lower()
    vocab = vocabulary()
    klass = "unknown"
    for rule in vocab["license_classes"]:
        if low.startswith(rule["startswith"]):
            klass = rule["class"]
            break
    spdx = None
    for rule in vocab["license_spdx"]:
        if re.search(rule["pattern"], raw, re.IGNORECASE):
            spdx = rule["spdx"]
            break
    return spdx, klass


def hub_license_class(license_id: str | None) -> str:
    if not license_id:
        return "unknown"
    for klass, ids in vocabulary()["hub_license_classes"].items():
        if license_id.lower() in ids:
            return klass
    return "unknown"


# Catalog columns as written -> parsed column names.
COLUMNS = {
    "Name": "name",
    "Family": "family",
    "Pretraining Architecture": "architecture",
    "Pretraining Task": "pretraining_task",
    "Fine-tuning Task": "fine_tuning_task",
    "Extension": "extension",
    "Application": "application",
    "Date": "date_text",
    "Num. Params": "params_text",
    "Corpus": "corpus",
    "License": "license",
    "Lab": "lab",
    "Link": "link",
    "Notes": "notes",
    "Source": "source",
}
REQUIRED_COLUMNS = ("Name", "Pretraining Architecture", "Date", "Num. Params")


def parse_row(raw: dict[str, str | None]) -> tuple[dict | None, list[tuple[str, str]]]:
    """One catalog row (column as written -> text) -> (parsed row, []) or (None, [(column, reason), ...])."""
    row = {col: (None if raw.get(src) is None or str(raw.get(src)).strip() == "" else str(raw[src]).strip()) for src, col in COLUMNS.items()}
    problems: list[tuple[str, str]] = []
    if not row["name"]:
        problems.append(("Name", "Name is empty"))
    try:
        row["arch_class"], row["arch_note"] = parse_architecture(row["architecture"])
    except ValueError as exc:
        problems.append(("Pretraining Architecture", str(exc)))
    try:
        d = parse_date(row["date_text"])
        row["date"], row["date_precision"] = d.date, d.precision
    except ValueError as exc:
        problems.append(("Date", str(exc)))
    try:
        p = parse_params(row["params_text"])
        row.update(params_min=p.min, params_max=p.max, params_sizes=p.sizes, params_kind=p.kind, params_note=p.note)
    except ValueError as exc:
        problems.append(("Num. Params", str(exc)))
    if problems:
        return None, problems
    row["license_id"], row["license_class"] = parse_license(row["license"])
    return row, []
