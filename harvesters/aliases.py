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
import re
from collections import Counter
from datetime import UTC, datetime
from typing import Any, Iterable

import httpx2

from harvesters.hub import HubClient
from harvesters.landing import RawRun, parse_line
from harvesters.ratelimit import RetryAfterTooLong

HUB_PREFIX = re.compile(r"^(?:https?://)?(?:huggingface\.co|hf\.co)/(?:models/)?")
TAG_PREFIX = "base_model:"
TAG_RELATION = re.compile(r"^[a-z_-]+:(.+)$")


def _ids(value: Any) -> list[str]:
    """Repo ids from a card's base_model (a string or a list) or the Hub's baseModels (an object or a list)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return _ids(value.get("models"))
    if isinstance(value, list):
        return [v if isinstance(v, str) else v.get("id") for v in value if isinstance(v, (str, dict))]
    return []


def named_parents(model: Any) -> set[str]:
    """Every parent id a listed model names: cardData.base_model, baseModels, base_model:[relation:]id tags.

    Listing entries are untrusted: a field of the wrong shape names nothing."""
    if not isinstance(model, dict):
        return set()
    card = model.get("cardData") if isinstance(model.get("cardData"), dict) else {}
    named = _ids(card.get("base_model")) + _ids(model.get("baseModels"))
    tags = model.get("tags") if isinstance(model.get("tags"), list) else []
    for tag in tags:
        if isinstance(tag, str) and tag.startswith(TAG_PREFIX):
            rest = tag[len(TAG_PREFIX) :]
            found = TAG_RELATION.match(rest)
            named.append(found.group(1) if found else rest)
    cleaned = {HUB_PREFIX.sub("", p.strip()).strip("/") for p in named if isinstance(p, str)}
    return {p for p in cleaned if p and p != model.get("id")}


NAMES_A_PARENT = (b"base_model", b"baseModels")  # every field named_parents reads has one of these in its bytes
ID_VALUE = re.compile(rb'"id"\s*:\s*"([^"\\]*)"')  # an "id" key with a plain string value


def unlisted_parents(run: RawRun) -> list[str]:
    """Parents named in the run's listing that the listing itself does not return, sorted.

    Two streaming passes (the named parents, then the listing crossing them off): memory grows with the
    distinct parents, never with the Hub's models. Most lines are decided by their bytes, unparsed: a line
    without ``base_model``/``baseModels`` names no parent, and a line every one of whose ``"id"`` keys has a
    plain value none of which is a named parent does not list one (``may_list``)."""
    named: set[str] = set()
    for line in run.iter_listing_lines():
        if any(key in line for key in NAMES_A_PARENT):
            named |= named_parents(parse_line(line))
    if not named:
        return []
    for line in run.iter_listing_lines():
        if may_list(line, named):
            model = parse_line(line)
            if isinstance(model, dict) and isinstance(model.get("id"), str):
                named.discard(model["id"])
    return sorted(named)


def may_list(line: bytes, named: set[str]) -> bool:
    """False only when the line's own id cannot be one of ``named``: every ``"id"`` in it is a key with a plain
    string value (the model's id among them) and none of those values is named. Anything else is parsed."""
    values = ID_VALUE.findall(line)
    if len(values) != line.count(b'"id"'):  # an "id" the pattern did not read (escaped, not a string, a tag): parse
        return True
    return any(value.decode("utf-8", "replace") in named for value in values)


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
