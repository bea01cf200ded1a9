"""Record what changed between runs (``model_changes``), at load time, set-based.

``record_page_changes`` runs once per listing page, BEFORE the page's models replace the stored rows: it
compares the page with the rows an OLDER run left and inserts one row per change (new, restored,
sha/license/params/arch/gated changed). ``record_run_changes`` runs once per run after the deletion check:
it records the models that check marked ``deleted`` and, once ``model_aliases`` exists (migration 041), folds
a ``new`` id whose old alias vanished into one ``renamed`` row.

Nothing is recorded when there is nothing older to compare with (the first run: every model would be
"new"), nor when a newer run is already loaded (an older run loaded late, or ``rebuild --run`` of an old
run); a reload of the same run finds its own rows (``last_seen_run`` = the run) and records nothing.
``rebuild`` empties the table with the core tables and reloads the runs in order, which recomputes it.

What counts as a change is what the Hub changed, not what our mappings derive: ``arch_changed`` compares
model_type and architectures (arch_class follows from them through a mapping file that may be edited), and
``params_changed`` ignores a stored count derived from a base model (``DERIVED_PARAMS_SOURCES``).
"""

from __future__ import annotations

from datetime import date

import duckdb
import polars as pl

from warehouse.database import has_table
from warehouse.pages import IN_PAGE

CHANGE_KINDS = (
    "new", "deleted", "restored", "sha_changed", "license_changed",
    "params_changed", "arch_changed", "gated_changed", "renamed",
)  # fmt: skip
DERIVED_PARAMS_SOURCES = ("base-model",)  # counts a later step derives from lineage: not the model's own
_PAGE = "changes_page_models"  # the local variable record_page_changes reads by name
_PARAMS = "coalesce({t}.params_effective, {t}.params_total)"

# One struct per possible change of a (page row p, stored row m) pair; NULL where it did not happen.
# Values are text; lists as JSON. Column names are constants: no data enters the SQL text.
_CANDIDATES = f"""[
    CASE WHEN m.repo_id IS NULL THEN {{'change': 'new', 'field': 'repo_id', 'before': NULL, 'after': p.repo_id}} END,
    CASE WHEN m.deleted_on IS NOT NULL THEN
        {{'change': 'restored', 'field': 'deleted_on', 'before': CAST(m.deleted_on AS VARCHAR), 'after': NULL}} END,
    CASE WHEN p.sha IS NOT NULL AND m.sha IS NOT NULL AND p.sha <> m.sha THEN
        {{'change': 'sha_changed', 'field': 'sha', 'before': m.sha, 'after': p.sha}} END,
    CASE WHEN m.repo_id IS NOT NULL AND p.license IS DISTINCT FROM m.license THEN
        {{'change': 'license_changed', 'field': 'license', 'before': m.license, 'after': p.license}} END,
    CASE WHEN m.repo_id IS NOT NULL AND NOT coalesce(list_contains($derived::VARCHAR[], m.params_source), false)
              AND {_PARAMS.format(t="p")} IS DISTINCT FROM {_PARAMS.format(t="m")} THEN
        {{'change': 'params_changed', 'field': 'params', 'before': CAST({_PARAMS.format(t="m")} AS VARCHAR),
          'after': CAST({_PARAMS.format(t="p")} AS VARCHAR)}} END,
    CASE WHEN m.repo_id IS NOT NULL AND p.model_type IS DISTINCT FROM m.model_type THEN
        {{'change': 'arch_changed', 'field': 'model_type', 'before': m.model_type, 'after': p.model_type}} END,
    CASE WHEN m.repo_id IS NOT NULL AND p.architectures IS DISTINCT FROM m.architectures THEN
        {{'change': 'arch_changed', 'field': 'architectures', 'before': CAST(to_json(m.architectures) AS VARCHAR),
          'after': CAST(to_json(p.architectures) AS VARCHAR)}} END,
    CASE WHEN p.gated IS NOT NULL AND m.gated IS NOT NULL AND p.gated <> m.gated THEN
        {{'change': 'gated_changed', 'field': 'gated', 'before': m.gated, 'after': p.gated}} END
]"""

_PAGE_SQL = f"""
INSERT INTO model_changes (run_id, repo_id, change, field, before, after)
SELECT $run_id, repo_id, c.change, c.field, c.before, c.after
FROM (
    SELECT p.repo_id, unnest(list_filter({_CANDIDATES}, lambda x: x IS NOT NULL)) AS c
    FROM {_PAGE} p
    LEFT JOIN (SELECT * FROM models WHERE {IN_PAGE.format('repo_id')}) m USING (repo_id)
    WHERE p.repo_id IS NOT NULL AND (m.repo_id IS NULL OR m.last_seen_run < $run_id)
)
"""


def comparable(con: duckdb.DuckDBPyConnection, run_id: str) -> bool:
    """True when an older run is loaded (something to compare with) and no newer one (this run is the latest)."""
    older, newer = con.execute(
        "SELECT coalesce(bool_or(run_id < $r), false), coalesce(bool_or(run_id > $r), false) FROM harvest_runs",
        {"r": run_id},
    ).fetchall()[0]
    return bool(older) and not newer


def record_page_changes(con: duckdb.DuckDBPyConnection, run_id: str, page_models: pl.DataFrame, keys: dict[str, str | None]) -> int:
    """Changes of one page's models against the stored rows; call BEFORE the page replaces them.

    The stored rows are read through the page's key range (``keys``: ``warehouse.pages.page_keys``), so DuckDB's
    zone maps skip the rest of ``models`` (a 20k-model page against 2.5M stored rows: ~0.06 s instead of ~1 s).
    """
    if keys["lo"] is None or not comparable(con, run_id):
        return 0
    # read by name through DuckDB's replacement scan, not con.register: a registered view keeps its Arrow
    # table alive until the load's commit (see ``warehouse.loading.arrow``)
    changes_page_models = page_models.to_arrow(compat_level=pl.CompatLevel.newest())  # noqa: F841
    params = {"run_id": run_id, "derived": list(DERIVED_PARAMS_SOURCES), **keys}
    return con.execute(_PAGE_SQL, params).fetchall()[0][0]


def record_run_changes(con: duckdb.DuckDBPyConnection, run_id: str, day: date) -> int:
    """After the deletion check (``loading.mark_deleted``): record deletions, then renames. Returns the run's changes."""
    if comparable(con, run_id):
        record_deletions(con, run_id, day)
        record_renames_from_aliases(con, run_id)
    return con.execute("SELECT count(*) FROM model_changes WHERE run_id = ?", [run_id]).fetchall()[0][0]


def record_deletions(con: duckdb.DuckDBPyConnection, run_id: str, day: date) -> int:
    """Models the deletion check marked today whose deletion no run recorded since they were last listed."""
    return con.execute(
        """
        INSERT INTO model_changes (run_id, repo_id, change, field, before, after)
        SELECT $run_id, m.repo_id, 'deleted', 'deleted_on', NULL, CAST(m.deleted_on AS VARCHAR)
        FROM models m
        WHERE m.deleted_on = $day AND m.last_seen_run < $run_id
          AND NOT EXISTS (SELECT 1 FROM model_changes c
                          WHERE c.repo_id = m.repo_id AND c.change = 'deleted' AND c.run_id > m.last_seen_run)
        """,
        {"run_id": run_id, "day": day},
    ).fetchall()[0][0]


def record_renames_from_aliases(con: duckdb.DuckDBPyConnection, run_id: str) -> int:
    """Fold ``new`` + ``deleted`` into ``renamed`` where ``model_aliases`` (migration 041) says an old id now
    resolves to a repo this run found new; a no-op while that table does not exist.

    The old id must be a model an older run listed and this run did not; one row per new id (its most
    recently listed alias).
    """
    if not has_table(con, "model_aliases"):
        return 0
    renames = con.sql(
        """
        SELECT a.canonical_id AS repo_id, a.alias
        FROM model_aliases a
        JOIN model_changes n ON n.run_id = $run_id AND n.change = 'new' AND n.repo_id = a.canonical_id
        JOIN models old ON old.repo_id = a.alias AND old.last_seen_run < $run_id
        WHERE a.canonical_id IS NOT NULL AND a.canonical_id <> a.alias
        QUALIFY row_number() OVER (PARTITION BY a.canonical_id ORDER BY old.last_seen_run DESC, a.alias) = 1
        """,
        params={"run_id": run_id},
    ).pl()
    if renames.is_empty():
        return 0
    con.register("changes_renames", renames.to_arrow())
    try:
        con.execute(
            "DELETE FROM model_changes WHERE run_id = $run_id AND ("
            "(change = 'new' AND repo_id IN (SELECT repo_id FROM changes_renames)) OR "
            "(change = 'deleted' AND repo_id IN (SELECT alias FROM changes_renames)))",
            {"run_id": run_id},
        )
        con.execute(
            "INSERT INTO model_changes (run_id, repo_id, change, field, before, after) "
            "SELECT $run_id, repo_id, 'renamed', 'repo_id', alias, repo_id FROM changes_renames",
            {"run_id": run_id},
        )
    finally:
        con.unregister("changes_renames")
    return renames.height
