"""What the previous runs left that the next harvest needs: settled files, quarantines, catalog scope.

Read-only, small answers (sets and dicts of ids) for the flow to hand to the harvester, which itself
never touches DuckDB.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import duckdb

from warehouse.database import WarehouseNotFound, open_warehouse, pending



def _open(db_path: Path | str) -> duckdb.DuckDBPyConnection | None:
    """A read-only connection to a warehouse at the latest schema, or None (no warehouse yet, or an old one).

    An old warehouse is upgraded by the load that follows; until then it has no state worth reading.
    """
    if not Path(db_path).exists():
        return None
    try:
        con = open_warehouse(db_path, read_only=True)
    except WarehouseNotFound:
        return None
    if pending(con):
        con.close()
        return None
    return con


def last_fetch_outcomes(db_path: Path | str) -> dict[tuple[str, str], tuple[str | None, str]]:
    """(repo_id, path) → (sha, status) of each file's last settled fetch.

    A file whose model was quarantined at the card or config stage in its last run is left out, so
    it is fetched again.
    """
    con = _open(db_path)
    if con is None:
        return {}
    try:
        rows = con.execute(
            """
            SELECT f.repo_id, f.path, f.sha, f.status
            FROM file_fetches f
            WHERE NOT EXISTS (
                SELECT 1 FROM quarantine q
                WHERE q.repo_id = f.repo_id AND q.run_id = f.run_id
                  AND (q.stage IN ('card', 'fetch')
                       -- a config that parsed, with out-of-range values noted, is not fetched again
                       OR (q.stage = 'config' AND NOT EXISTS (
                           SELECT 1 FROM model_configs c WHERE c.repo_id = f.repo_id AND c.sha = f.sha)))
            )
            """
        ).fetchall()
    finally:
        con.close()
    return {(repo_id, path): (sha, status) for repo_id, path, sha, status in rows}


def catalog_scope_repos(db_path: Path | str) -> frozenset[str]:
    """Repos matched to the catalog with confidence, and every repo in their lineage below them."""
    con = _open(db_path)
    if con is None:
        return frozenset()
    try:
        rows = con.execute(
            """
            WITH RECURSIVE scope(repo_id) AS (
                SELECT repo_id FROM catalog_matches WHERE confident
                UNION
                SELECT l.child_id FROM model_lineage l JOIN scope s ON l.parent_id = s.repo_id
            )
            SELECT repo_id FROM scope
            """
        ).fetchall()
    finally:
        con.close()
    return frozenset(r[0] for r in rows)


def unknown_ids(db_path: Path | str, repo_ids: Iterable[str]) -> list[str]:
    """The ids neither loaded as a model nor already asked of the Hub as an alias (model_aliases), sorted."""
    wanted = sorted(set(repo_ids))
    con = _open(db_path) if wanted else None
    if con is None:
        return wanted
    try:
        known = con.execute(
            "SELECT id FROM unnest(?::VARCHAR[]) AS t(id) "
            "WHERE id IN (SELECT repo_id FROM models) OR id IN (SELECT alias FROM model_aliases)",
            [wanted],
        ).fetchall()
    finally:
        con.close()
    found = {row[0] for row in known}
    return [repo_id for repo_id in wanted if repo_id not in found]
