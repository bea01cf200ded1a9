"""Propose catalog entries for Hub families the curated catalog lacks (``hubcensus catalog propose``).

A family is a ``model_type`` (models still listed); its root repos come from lineage: each repo's topmost
ancestor reached through parents of the same type (or outside the warehouse), ranked by the downloads below
them. Each proposal is a row in the catalog's own columns (``parse.COLUMNS``), so a curator can copy it into
their own catalog file and pass ``--catalog FILE``; reconciliation then treats it like any row. Evidence
columns follow: ``repo_count``, ``downloads``, ``root_repo_ids`` and ``derivation`` (how each value was found).

Never proposed: a family the catalog already has, through its aliases too: a model_type an entry claims
(canonical_repos.yaml ``model_types``), a family holding a curated repo of an entry (``repos``/``related``), or a
name whose key (matching.name_key) is a catalog Name, Family or an entry's ``names``. Families without an
architecture class or a creation date cannot be rows (``Pretraining Architecture`` and ``Date`` are required):
they are counted as skipped, with the reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import duckdb
import polars as pl

from hubcensus.errors import InvalidInput
from warehouse.catalog import load_canonical_repos
from warehouse.catalog.parse import COLUMNS, hub_license_class
from warehouse.gaps import HUB_PLACEHOLDER_CREATED
from warehouse.matching import name_key

MAX_DEPTH = 8  # lineage walks stop here (and cycles end)
ROOTS_SHOWN = 5
EVIDENCE_COLUMNS = ("repo_count", "downloads", "root_repo_ids", "derivation")
PROPOSAL_SCHEMA = {**{c: pl.String for c in COLUMNS}, "repo_count": pl.Int64, "downloads": pl.Int64, "root_repo_ids": pl.String, "derivation": pl.String}
ARCH_TEXT = {"encoder": "Encoder", "decoder": "Decoder", "encoder-decoder": "Encoder/Decoder"}  # vocabulary.yaml spellings
LICENSE_CLASS_TEXT = {"open": "Open", "limited": "Limited", "closed": "Closed"}  # vocabulary.yaml license_classes

FAMILIES_SQL = f"""
WITH RECURSIVE fam AS (
    SELECT repo_id, model_type, author, arch_class, created_at, downloads, params, license, pipeline_tag
    FROM v_models WHERE deleted_on IS NULL AND model_type IS NOT NULL
), edges AS (  -- parents of the same type, or outside the warehouse (or typeless): the family goes on upwards
    SELECT l.child_id, l.parent_id, c.model_type
    FROM v_lineage l JOIN fam c ON c.repo_id = l.child_id LEFT JOIN models p ON p.repo_id = l.parent_id
    WHERE l.parent_id <> l.child_id AND (p.model_type IS NULL OR p.model_type = c.model_type)
), up(model_type, repo_id, ancestor, depth) AS (
    SELECT model_type, repo_id, repo_id, 0 FROM fam
    UNION ALL
    SELECT u.model_type, u.repo_id, e.parent_id, u.depth + 1
    FROM up u JOIN edges e ON e.child_id = u.ancestor AND e.model_type = u.model_type
    WHERE u.depth < {MAX_DEPTH}
), tops AS (
    SELECT DISTINCT u.model_type, u.repo_id, u.ancestor AS root_id FROM up u
    WHERE u.depth = {MAX_DEPTH} OR NOT EXISTS (SELECT 1 FROM edges e WHERE e.child_id = u.ancestor AND e.model_type = u.model_type)
), roots AS (
    SELECT t.model_type, t.root_id, count(*) AS n_below, sum(coalesce(f.downloads, 0)) AS downloads_below
    FROM tops t JOIN fam f USING (repo_id) GROUP BY ALL
), curated AS (SELECT unnest($curated::VARCHAR[]) AS repo_lc
), ranked AS (
    SELECT model_type, list(root_id ORDER BY downloads_below DESC, n_below DESC, root_id)[1:{ROOTS_SHOWN}] AS root_ids,
           bool_or(lower(root_id) IN (SELECT repo_lc FROM curated)) AS curated_root
    FROM roots GROUP BY ALL
), counted AS (  -- the most common value of each attribute per family, ties broken by the value: deterministic
    SELECT model_type, attr, value, count(*) AS n FROM (
        SELECT model_type, 'arch_class' AS attr, arch_class AS value FROM fam
        UNION ALL SELECT model_type, 'license', license FROM fam
        UNION ALL SELECT model_type, 'application', pipeline_tag FROM fam
    ) WHERE value IS NOT NULL GROUP BY ALL
), modes AS (
    SELECT model_type, max(value) FILTER (WHERE attr = 'arch_class') AS arch_class,
           max(value) FILTER (WHERE attr = 'license') AS common_license, max(value) FILTER (WHERE attr = 'application') AS application
    FROM (SELECT * FROM counted QUALIFY row_number() OVER (PARTITION BY model_type, attr ORDER BY n DESC, value) = 1)
    GROUP BY model_type
), stats AS (
    SELECT f.model_type, count(*) AS repo_count, CAST(sum(coalesce(f.downloads, 0)) AS BIGINT) AS downloads,
           count(DISTINCT f.arch_class) AS arch_classes,
           min(f.params) AS params_min, max(f.params) AS params_max, count(f.params) AS with_params,
           min(f.created_at) FILTER (WHERE CAST(timezone('UTC', f.created_at) AS DATE) > DATE '{HUB_PLACEHOLDER_CREATED}') AS earliest_real,
           bool_or(CAST(timezone('UTC', f.created_at) AS DATE) <= DATE '{HUB_PLACEHOLDER_CREATED}') AS any_placeholder,
           bool_or(lower(f.repo_id) IN (SELECT repo_lc FROM curated)) AS curated_repo
    FROM fam f GROUP BY f.model_type
    HAVING count(*) >= $min_repos AND sum(coalesce(f.downloads, 0)) >= $min_downloads
)
SELECT s.*, md.arch_class, md.common_license, md.application, r.root_ids,
       s.curated_repo OR coalesce(r.curated_root, false) AS holds_curated
FROM stats s LEFT JOIN modes md USING (model_type) LEFT JOIN ranked r USING (model_type)
ORDER BY s.downloads DESC, s.repo_count DESC, s.model_type
"""


@dataclass
class Proposals:
    rows: pl.DataFrame  # catalog columns as written (Name, Family, ...) then EVIDENCE_COLUMNS
    in_catalog: dict[str, str] = field(default_factory=dict)  # model_type -> how the catalog already has it
    skipped: dict[str, str] = field(default_factory=dict)  # model_type -> why it cannot be a catalog row

    @property
    def catalog_rows(self) -> pl.DataFrame:
        """Only the catalog's columns: what a curator pastes into a catalog file."""
        return self.rows.select(list(COLUMNS))


def _known(catalog: pl.DataFrame, canonical: dict) -> tuple[set[str], set[str], set[str]]:
    """(claimed model types, curated repo ids lower-cased, name keys) of the catalog's entries and their aliases."""
    names = set(catalog["name"].to_list())
    types, repos, keys = set(), set(), set()
    for name in names:
        entry = canonical.get(name, {})
        types |= set(entry.get("model_types", []))
        repos |= {r.lower() for r in entry.get("repos", []) + entry.get("related", [])}
        keys |= {name_key(n) for n in entry.get("names", [])}
    keys |= {name_key(v) for v in catalog["name"].to_list() + catalog["family"].drop_nulls().to_list()}
    return types, repos, keys - {""}


def family_name(model_type: str, root_id: str | None) -> tuple[str, str]:
    """The root repo's own spelling of the model type ('qwen2' in 'Qwen/Qwen2.5-7B' is 'Qwen2'), else model_type."""
    key = re.sub(r"[^a-z0-9]", "", model_type.lower())
    repo_name = (root_id or "").rsplit("/", 1)[-1]
    seen = ""
    for i, ch in enumerate(repo_name):
        seen += ch.lower() if ch.isalnum() else ""
        if key and seen == key:
            return repo_name[: i + 1], f"the root repo {root_id}'s spelling of model_type {model_type}"
        if not key.startswith(seen):
            break
    return model_type, f"model_type {model_type} as the Hub writes it"


def _size(n: int) -> str:
    for unit, scale in (("T", 10**12), ("B", 10**9), ("M", 10**6), ("K", 10**3)):
        if n >= scale or unit == "K":
            return f"{n / scale:.3g}{unit}"
    return str(n)  # unreachable


def _date(fam: dict) -> tuple[str | None, str]:
    if fam["any_placeholder"]:
        return (f"{HUB_PLACEHOLDER_CREATED:%m/%Y}", f"on or before {HUB_PLACEHOLDER_CREATED:%m/%Y}: repos carry the Hub's "
                f"{HUB_PLACEHOLDER_CREATED} placeholder createdAt (created on or before it)")
    if fam["earliest_real"] is None:
        return None, "no repo of the family has a createdAt"
    return f"{fam['earliest_real']:%m/%Y}", f"earliest real createdAt {fam['earliest_real']:%Y-%m-%d}"


def _license(root: dict | None, fam: dict) -> tuple[str | None, str]:
    license_id, source = (root["license"], "the root repo's") if root and root.get("license") else (fam["common_license"], "the family's most common")
    if not license_id:
        return None, "no licence stated"
    klass = LICENSE_CLASS_TEXT.get(hub_license_class(license_id))
    return (f"{klass}, {license_id}" if klass else license_id), f"{source} licence {license_id}"


def _lab(root_id: str | None, root: dict | None) -> tuple[str | None, str]:
    if root and root.get("author"):
        return root["author"], f"author of the root repo {root_id}"
    if root_id and "/" in root_id:
        return root_id.split("/", 1)[0], f"namespace of the root repo {root_id} (not harvested)"
    return None, "the root repo has no namespace"


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def _why_known(fam: dict, name: str, types: set[str], keys: set[str]) -> str | None:
    """How the catalog already has this family (curated repos are flagged by FAMILIES_SQL: holds_curated)."""
    if _norm(fam["model_type"]) in {_norm(t) for t in types}:
        return "a catalog entry claims this model_type (canonical_repos.yaml model_types)"
    if fam["holds_curated"]:
        return "the family holds a catalog entry's curated repo (canonical_repos.yaml repos/related)"
    if {name_key(name), name_key(fam["model_type"])} & keys:
        return "its name is a catalog Name, Family or alias (canonical_repos.yaml names)"
    return None


def _row(fam: dict, root_id: str | None, root: dict | None, run_id: str | None) -> tuple[dict | None, str | None]:
    """One proposal in the catalog's columns plus evidence, or (None, why not)."""
    if fam["arch_class"] is None:
        return None, "no architecture class (not a transformer the mappings know)"
    date, date_how = _date(fam)
    if date is None:
        return None, date_how
    name, name_how = family_name(fam["model_type"], root_id)
    lo, hi = fam["params_min"], fam["params_max"]
    params = "N/A" if lo is None else _size(lo) if lo == hi else f"{_size(lo)} to {_size(hi)}"
    params_how = f"range over {fam['with_params']} repo(s) with a count" if lo is not None else "no repo has a parameter count"
    license_text, license_how = _license(root, fam)
    lab, lab_how = _lab(root_id, root)
    arch_how = f"the class of most repos ({fam['arch_classes']} class(es) seen)"
    values = {
        "Name": name, "Family": fam["model_type"], "Pretraining Architecture": ARCH_TEXT[fam["arch_class"]],
        "Pretraining Task": None, "Fine-tuning Task": None, "Extension": None, "Application": fam["application"],
        "Date": date, "Num. Params": params, "Corpus": None, "License": license_text, "Lab": lab,
        "Link": f"https://huggingface.co/{root_id}" if root_id and re.fullmatch(r"[\w.-]+(/[\w.-]+)?", root_id) else None,
        "Notes": f"Proposed from the Hub: {fam['repo_count']:,} repo(s) of model_type {fam['model_type']}; check before accepting.",
        "Source": f"hubcensus catalog propose (warehouse run {run_id})" if run_id else "hubcensus catalog propose",
    }
    derivation = "; ".join([f"name: {name_how}", "family: model_type", f"architecture: {arch_how}", f"date: {date_how}",
                            f"params: {params_how}", f"licence: {license_how}", f"lab: {lab_how}",
                            "application: the most common pipeline_tag"])
    evidence = {"repo_count": fam["repo_count"], "downloads": fam["downloads"],
                "root_repo_ids": "; ".join(fam["root_ids"] or []), "derivation": derivation}
    return {**{col: values[col] for col in COLUMNS}, **evidence}, None


def _roots(con: duckdb.DuckDBPyConnection, root_ids: list[str]) -> dict[str, dict]:
    frame = con.sql("SELECT repo_id, author, license FROM models WHERE repo_id IN (SELECT unnest($ids::VARCHAR[]))", params={"ids": root_ids}).pl()
    return {r["repo_id"]: r for r in frame.iter_rows(named=True)}


def propose(con: duckdb.DuckDBPyConnection, catalog: pl.DataFrame, min_repos: int = 2, min_downloads: int = 1000,
            canonical: dict | None = None) -> Proposals:
    """Proposals for families with at least ``min_repos`` listed repos and ``min_downloads`` downloads, most downloaded first."""
    canonical = load_canonical_repos() if canonical is None else canonical
    types, curated, keys = _known(catalog, canonical)
    families = con.sql(FAMILIES_SQL, params={"min_repos": min_repos, "min_downloads": min_downloads, "curated": sorted(curated)}).pl()
    roots = _roots(con, [f["root_ids"][0] for f in families.iter_rows(named=True) if f["root_ids"]])
    run_id = con.sql("SELECT max(run_id) FROM harvest_runs").fetchall()[0][0]
    out = Proposals(pl.DataFrame(schema=PROPOSAL_SCHEMA))
    rows = []
    for fam in families.iter_rows(named=True):  # one per family (hundreds), not per model
        root_id = fam["root_ids"][0] if fam["root_ids"] else None
        if why := _why_known(fam, family_name(fam["model_type"], root_id)[0], types, keys):
            out.in_catalog[fam["model_type"]] = why
            continue
        row, why_not = _row(fam, root_id, roots.get(root_id or ""), run_id)
        if row is None:
            out.skipped[fam["model_type"]] = why_not or ""
        else:
            rows.append(row)
    if rows:
        out.rows = pl.DataFrame(rows, schema=PROPOSAL_SCHEMA)
    return out


def write_proposals(proposals: Proposals, path) -> None:
    """CSV (the shipped catalog's format, evidence columns after) or YAML (a list of mappings) by the file's suffix;
    a directory or another suffix is refused before anything is written."""
    from pathlib import Path

    import yaml

    path = Path(path)
    if path.is_dir() or path.suffix.lower() not in (".csv", ".yaml", ".yml"):
        raise InvalidInput(f"--output {path}: give a file ending in .csv, .yaml or .yml")
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() in (".yaml", ".yml"):
        path.write_text(yaml.safe_dump(proposals.rows.to_dicts(), sort_keys=False, allow_unicode=True), encoding="utf-8")
    else:
        proposals.rows.write_csv(path)


def propose_from_warehouse(db_path, catalog_paths=None, min_repos: int = 2, min_downloads: int = 1000) -> Proposals:
    """``propose`` over the warehouse file (read-only) against the shipped catalog plus ``catalog_paths``."""
    from warehouse.catalog import load_catalog
    from warehouse.database import open_warehouse

    catalog = load_catalog(catalog_paths)  # a bad catalog file fails here, before the warehouse is opened
    con = open_warehouse(db_path, read_only=True)  # sandboxed, TimeZone UTC: createdAt months as the reports read them
    try:
        return propose(con, catalog, min_repos, min_downloads)
    finally:
        con.close()
