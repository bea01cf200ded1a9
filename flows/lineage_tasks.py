"""The flow's renamed-parents stage: ask the Hub once about each lineage parent nobody knows yet.

The warehouse says which parents it already knows (models, resolved aliases); the harvester asks the Hub
about the rest and lands the answers in the raw run (``aliases.ndjson``); the load reads them from there.
"""

from __future__ import annotations

from pathlib import Path

from prefect import get_run_logger, task

from flows.config import RefreshConfig


@task(name="resolve-aliases", retries=1, retry_delay_seconds=[10])
def resolve_renamed_parents(endpoint: str, data_dir: str, run_id: str, config: RefreshConfig) -> dict[str, int]:
    """One ``model_info`` per lineage parent missing from the listing and unknown to the warehouse."""
    from flows.refresh import _client
    from harvesters.aliases import resolve_aliases, unlisted_parents
    from harvesters.landing import RawRun
    from warehouse.database import warehouse_path
    from warehouse.state import unknown_ids

    run = RawRun.open(Path(data_dir), run_id)
    asked = unknown_ids(warehouse_path(data_dir), unlisted_parents(run))
    counts = dict(resolve_aliases(_client(endpoint, config), run, asked))
    get_run_logger().info("%d unlisted lineage parents asked of the Hub: %s", len(asked), counts or "none")
    return counts
