"""The flow's renamed-parents stage: ask the Hub once about each lineage parent nobody knows yet.

The warehouse says which parents it already knows (models, resolved aliases); the harvester asks the Hub
about the rest and lands the answers in the raw run (``aliases.ndjson``); the load reads them from there.
"""

from __future__ import annotations

from prefect import get_run_logger, task

from harvesters.hub import HubClient
from harvesters.landing import DataDir, RawRun
from warehouse.database import WarehouseError


@task(name="resolve-aliases", retries=1, retry_delay_seconds=[10])
def resolve_renamed_parents(client: HubClient, data: DataDir, run: RawRun) -> dict[str, int]:
    """One ``model_info`` per lineage parent missing from the listing and unknown to the warehouse."""
    from harvesters.aliases import resolve_aliases, unlisted_parents
    from warehouse.state import unknown_ids

    log = get_run_logger()
    try:
        asked = unknown_ids(data.warehouse, unlisted_parents(run))
    except WarehouseError as exc:  # another process holds the warehouse: an enrichment never fails the harvest
        log.warning("renamed lineage parents not asked this run (the warehouse is busy: %s)", str(exc).splitlines()[0])
        return {}
    counts = dict(resolve_aliases(client, run, asked))
    log.info("%d unlisted lineage parents asked of the Hub: %s", len(asked), counts or "none")
    return counts
