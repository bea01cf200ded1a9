"""The curated transformer catalog (Amatriain 2023), as a hand-edited CSV, parsed and validated.

``load_catalog()`` reads the shipped CSV and any user files layered on top (a later file's row replaces an
earlier row with the same Name, compared case-insensitively); a bad row raises ``CatalogError`` naming the
file, the row number (spreadsheet numbering: the header is row 1) and the reason. ``check_catalog(path)``
returns every problem of one file instead of raising.
"""

from __future__ import annotations

from hubcensus.errors import HubcensusError

import csv
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import yaml

from warehouse.catalog.parse import COLUMNS, REQUIRED_COLUMNS, parse_row

CATALOG_DIR = Path(__file__).resolve().parent
SHIPPED_CATALOG = CATALOG_DIR / "transformer_catalog_2023.csv"
# The January 2023 edition, kept for provenance only: it is not loaded (6 of its rows name no architecture).
JAN_EDITION = CATALOG_DIR / "transformer_catalog_2023_jan_edition.csv"
CANONICAL_REPOS = CATALOG_DIR / "canonical_repos.yaml"
HUB_ORGS = CATALOG_DIR / "hub_orgs.yaml"

__all__ = ["CatalogError", "CatalogProblem", "check_catalog", "load_catalog", "read_catalog_file", "SHIPPED_CATALOG",
           "CATALOG_SCHEMA", "load_canonical_repos", "load_hub_orgs"]

CATALOG_SCHEMA = {
    "name": pl.String,
    "family": pl.String,
    "architecture": pl.String,
    "arch_class": pl.String,
    "arch_note": pl.String,
    "pretraining_task": pl.String,
    "fine_tuning_task": pl.String,
    "extension": pl.String,
    "application": pl.String,
    "date": pl.Date,
    "date_precision": pl.String,
    "date_text": pl.String,
    "params_text": pl.String,
    "params_min": pl.Int64,
    "params_max": pl.Int64,
    "params_sizes": pl.List(pl.Int64),
    "params_kind": pl.String,
    "params_note": pl.String,
    "corpus": pl.String,
    "license": pl.String,
    "license_id": pl.String,
    "license_class": pl.String,
    "lab": pl.String,
    "link": pl.String,
    "notes": pl.String,
    "source": pl.String,
    "catalog_file": pl.String,
    "row_number": pl.Int32,
}


@dataclass(frozen=True)
class CatalogProblem:
    file: str
    row: int | None  # spreadsheet numbering (header = row 1); None for a file-level problem
    name: str | None
    column: str | None
    reason: str

    def __str__(self) -> str:
        where = f"{self.file}" + (f", row {self.row}" if self.row is not None else "")
        who = f" ({self.name})" if self.name else ""
        col = f" [{self.column}]" if self.column else ""
        return f"{where}{who}{col}: {self.reason}"


class CatalogError(HubcensusError, ValueError):
    """A catalog file has bad rows; ``file``/``row``/``reason`` describe the first, ``problems`` all of them."""

    def __init__(self, problems: list[CatalogProblem]):
        self.problems = problems
        first = problems[0]
        self.file, self.row, self.reason = first.file, first.row, first.reason
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        super().__init__(f"{first}{more}")


def _read_records(path: Path) -> tuple[list[tuple[int, dict]], list[CatalogProblem]]:
    """Rows of a CSV or YAML catalog file as (row number, {column as written: text})."""
    if not path.is_file():
        return [], [CatalogProblem(str(path), None, None, None, "no such file")]
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            return [], [CatalogProblem(str(path), None, None, None, f"not valid YAML: {exc}")]
        if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
            return [], [CatalogProblem(str(path), None, None, None, "a YAML catalog is a list of mappings (Name:, Pretraining Architecture:, Date:, Num. Params:, ...)")]
        records = [(i + 1, {str(k): (None if v is None else str(v)) for k, v in r.items()}) for i, r in enumerate(data)]
        columns = set().union(*(r.keys() for _, r in records)) if records else set()
    else:
        try:
            with path.open(encoding="utf-8-sig", newline="") as fh:
                reader = csv.DictReader(fh)
                columns = set(reader.fieldnames or [])
                records = [(i + 2, dict(r)) for i, r in enumerate(reader)]
        except (UnicodeDecodeError, csv.Error) as exc:
            return [], [CatalogProblem(str(path), None, None, None, f"not a readable UTF-8 CSV: {exc}")]
    problems = []
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing and (records or path.suffix.lower() not in (".yaml", ".yml")):
        problems.append(CatalogProblem(str(path), None, None, None, f"missing column(s) {', '.join(missing)}; expected the shipped catalog's header: {', '.join(COLUMNS)}"))
    unknown = sorted(c for c in columns if c not in COLUMNS and c is not None)
    if unknown:
        problems.append(CatalogProblem(str(path), None, None, None, f"unknown column(s) {', '.join(unknown)}; known: {', '.join(COLUMNS)}"))
    return records, problems


def _parse_file(path: Path) -> tuple[list[dict], list[CatalogProblem]]:
    records, problems = _read_records(path)
    if problems:
        return [], problems
    rows, seen = [], {}
    for number, record in records:
        if None in record:  # csv puts surplus cells under the None key
            problems.append(CatalogProblem(str(path), number, record.get("Name"), None, "more cells than header columns (an unquoted comma?)"))
            continue
        row, reasons = parse_row(record)
        name = (record.get("Name") or "").strip() or None
        problems += [CatalogProblem(str(path), number, name, col, reason) for col, reason in reasons]
        if row is None:
            continue
        key = row["name"].lower()
        if key in seen:
            problems.append(CatalogProblem(str(path), number, name, "Name", f"duplicate Name (also row {seen[key]})"))
            continue
        seen[key] = number
        row["catalog_file"] = path.name if path.parent == CATALOG_DIR else str(path)
        row["row_number"] = number
        rows.append(row)
    return rows, problems


def check_catalog(path: str | Path) -> list[CatalogProblem]:
    """Every problem of one catalog file (empty list: the file loads). For ``hubcensus catalog check FILE``."""
    return _parse_file(Path(path))[1]


def read_catalog_file(path: str | Path) -> pl.DataFrame:
    """One catalog file, parsed; raises CatalogError on any bad row."""
    rows, problems = _parse_file(Path(path))
    if problems:
        raise CatalogError(problems)
    return pl.DataFrame(rows, schema=CATALOG_SCHEMA)


def load_catalog(paths: list[Path] | list[str] | None = None) -> pl.DataFrame:
    """The shipped catalog with ``paths`` layered on top in order (a later row replaces an earlier one by Name)."""
    frames = [read_catalog_file(p) for p in [SHIPPED_CATALOG, *(paths or [])]]
    layered = pl.concat(frames, how="vertical").with_row_index("_order")
    return (
        layered.with_columns(_key=pl.col("name").str.to_lowercase())
        .unique(subset="_key", keep="last", maintain_order=True)
        .sort("_order")
        .drop("_order", "_key")
    )


def load_canonical_repos(path: Path = CANONICAL_REPOS) -> dict[str, dict]:
    """Catalog Name -> {repos, related, model_types, names, orgs, note} from the curated mapping file."""
    with Path(path).open(encoding="utf-8") as fh:
        data = yaml.safe_load(fh) or {}
    out = {}
    for name, entry in data.items():
        entry = entry or {}
        out[str(name)] = {k: list(entry.get(k) or []) for k in ("repos", "related", "model_types", "names", "orgs")} | {"note": entry.get("note")}
    return out


def load_hub_orgs(path: Path = HUB_ORGS) -> dict[str, list[str]]:
    """Lab as written in the catalog -> Hub organizations that publish for it."""
    with Path(path).open(encoding="utf-8") as fh:
        data = yaml.safe_load(fh) or {}
    return {str(lab): list(orgs or []) for lab, orgs in data.items()}
