"""Retention of the raw landing: delete raw runs beyond the newest N complete ones; the warehouse keeps all.

What may go: runs older than the oldest of the newest ``keep`` complete runs, except a run still running,
and a complete run the warehouse never loaded (its raw landing is its only copy). The newest complete run is
always kept (``keep`` is at least 1). The warehouse records each pruned run (``harvest_runs.raw_pruned_at``)
before its folder goes, so a full ``rebuild`` knows it cannot bring those runs back. Folders are deleted
only through ``DataDir.remove``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from harvesters.landing import DataDir, RawRun
from hubcensus.errors import InvalidInput
from warehouse.database import has_table, open_warehouse, transaction


@dataclass
class PrunePlan:
    """Which raw runs go, which stay, and why some older ones stay anyway."""

    prune: list[RawRun] = field(default_factory=list)
    keep: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # run_id -> why it is kept although old
    bytes: int = 0  # what the pruned folders hold


def _folder_bytes(run: RawRun) -> int:
    return sum(p.stat().st_size for p in run.root.rglob("*") if p.is_file())


def _loaded_runs(data: DataDir) -> set[str]:
    if not data.warehouse.exists():
        return set()
    con = open_warehouse(data.warehouse, read_only=True)
    try:
        return {r[0] for r in con.execute("SELECT run_id FROM harvest_runs").fetchall()} if has_table(con, "harvest_runs") else set()
    finally:
        con.close()


def plan_prune(data: DataDir, keep: int) -> PrunePlan:
    """Decide, touching nothing: see the module docstring for the rules."""
    if not isinstance(keep, int) or isinstance(keep, bool) or keep < 1:
        raise InvalidInput(f"--keep must be at least 1 (the newest complete run is never deleted), not {keep!r}")
    runs = data.runs()
    statuses = {run.run_id: run.status for run in runs}
    complete = [run.run_id for run in runs if statuses[run.run_id] == "complete"]
    plan = PrunePlan(keep=complete[-keep:])
    if not complete:
        return plan
    oldest_kept, loaded = plan.keep[0], _loaded_runs(data)
    for run in runs:
        status = statuses[run.run_id]
        if run.run_id >= oldest_kept:
            continue
        if status == "running":
            plan.skipped[run.run_id] = "still running"
        elif status == "complete" and run.run_id not in loaded:
            plan.skipped[run.run_id] = "complete but not loaded into the warehouse (rebuild --run it first)"
        else:
            plan.prune.append(run)
    assert complete[-1] not in {r.run_id for r in plan.prune}  # the newest complete run is never pruned
    plan.bytes = sum(_folder_bytes(run) for run in plan.prune)
    return plan


def prune(data: DataDir | str, keep: int, dry_run: bool = False) -> PrunePlan:
    """Delete the raw runs ``plan_prune`` picks (recorded in harvest_runs first); ``dry_run`` only plans."""
    data = DataDir.of(data)
    plan = plan_prune(data, keep)
    if dry_run or not plan.prune:
        return plan
    if data.warehouse.exists():
        con = open_warehouse(data.warehouse)
        try:
            with transaction(con):
                con.execute(
                    "UPDATE harvest_runs SET raw_pruned_at = ? WHERE run_id IN (SELECT unnest(?::VARCHAR[]))",
                    [datetime.now(UTC), [run.run_id for run in plan.prune]],
                )
        finally:
            con.close()
    for run in plan.prune:
        data.remove(run.root)
    return plan
