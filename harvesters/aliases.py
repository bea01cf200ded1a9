"""Renamed lineage parents: which parents a run's listing names without listing them, and their canonical ids.

A card that names ``meta-llama/Meta-Llama-3.1-8B`` as its base model points at a repo since renamed
``meta-llama/Llama-3.1-8B``: the Hub answers ``model_info`` of the old id with a 307 to the new one. Each
unknown parent is asked once, ever: the flow hands in the parents the warehouse does not know yet (neither a
model nor an alias already resolved), the answers land in the run's ``aliases.ndjson`` (one line each,
appended, so a resumed run asks only what it has not asked), and the loader loads them into
``model_aliases``. This module never touches DuckDB.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from typing import Iterable

import httpx2

from harvesters.hub import HubClient
from harvesters.landing import RawRun
from harvesters.ratelimit import RetryAfterTooLong


def unlisted_parents(run: RawRun) -> list[str]:
    """Parents named in the run's listing that the listing itself does not return, sorted.

    Two streaming passes over the run's listing index (the named parents, then the listed ids crossing them
    off): memory grows with the distinct parents, never with the Hub's models, and no listing line is parsed."""
    named: set[str] = set()
    for entry in run.iter_index():
        named.update(entry.get("parents") or ())
    if not named:
        return []
    for entry in run.iter_index():
        if isinstance(entry.get("id"), str):
            named.discard(entry["id"])
    return sorted(named)


def asked_in_run(run: RawRun) -> set[str]:
    """Aliases this run already asked about (a resumed run does not ask again)."""
    if not run.aliases_path.exists():
        return set()
    lines = run.aliases_path.read_bytes().splitlines()
    return {json.loads(line)["alias"] for line in lines if line.strip()}


def resolve_aliases(client: HubClient, run: RawRun, parent_ids: Iterable[str]) -> Counter:
    """Ask the Hub once per parent id and append each answer to ``aliases.ndjson``; returns counts by outcome.

    Outcomes: renamed (a different canonical id), same (exists under that id, outside the listing's scope),
    unknown (404); an error after retries is counted and not recorded, so the next run asks again.
    """
    done = asked_in_run(run)
    counts: Counter = Counter()
    with open(run.aliases_path, "ab") as out:
        for alias in parent_ids:
            if alias in done:
                continue
            try:
                canonical = client.canonical_id(alias)
            except (httpx2.HTTPError, RetryAfterTooLong, OSError, ValueError, KeyError):  # retries exhausted or a bad body: asked again next run
                counts["error"] += 1
                continue
            counts["unknown" if canonical is None else "same" if canonical == alias else "renamed"] += 1
            row = {"alias": alias, "canonical_id": canonical, "resolved_at": datetime.now(UTC).isoformat(timespec="seconds")}
            out.write(json.dumps(row, ensure_ascii=False).encode() + b"\n")
    return counts
