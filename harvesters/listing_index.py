"""The listing index: what the harvest itself reads of each listed model, kept beside the listing as it lands.

The harvest reads the landed listing twice after landing it: the file scope ranks every model by downloads,
and the renamed-parents stage crosses the parents models name off the ids listed. Each was a parse of every
line (~3.4 KB each; 31 s of CPU apiece at 1M models). The landing already holds each page parsed, so it keeps
one short entry per model (``index_entry``: ~100 bytes) in ``models.index.ndjson.zst``, and both read that.
An entry has the shape of a listing entry cut down, so ``ListedModel.read`` reads either.
"""

from __future__ import annotations

import re
from typing import Any

from harvesters.scope import listed_fields, sibling_names
from harvesters.settings import MODEL_FILES

HUB_PREFIX = re.compile(r"^(?:https?://)?(?:huggingface\.co|hf\.co)/(?:models/)?")
TAG_PREFIX = "base_model:"
TAG_RELATION = re.compile(r"^[a-z_-]+:(.+)$")
MAX_DOWNLOADS = 2**63 - 1  # an entry is written by orjson, which refuses wider integers


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
    card = model.get("cardData")
    named = _ids(card.get("base_model")) if isinstance(card, dict) else []
    if (base := model.get("baseModels")) is not None:
        named += _ids(base)
    tags = model.get("tags")
    if isinstance(tags, list) and _may_tag_a_parent(tags):
        for tag in tags:
            if isinstance(tag, str) and tag.startswith(TAG_PREFIX):
                rest = tag[len(TAG_PREFIX) :]
                found = TAG_RELATION.match(rest)
                named.append(found.group(1) if found else rest)
    if not named:  # most models: nothing to clean
        return set()
    cleaned = {HUB_PREFIX.sub("", p.strip()).strip("/") for p in named if isinstance(p, str)}
    return {p for p in cleaned if p and p != model.get("id")}


def _may_tag_a_parent(tags: list) -> bool:
    """One C-level join and search instead of a Python test per tag (most models tag no parent)."""
    try:
        return TAG_PREFIX in "\n".join(tags)
    except TypeError:  # a tag that is not a string: look at each
        return True


def _model_files(siblings: Any) -> list[dict[str, str]] | None:
    """The ``MODEL_FILES`` among a listing's siblings, as siblings (None when the listing gave no list)."""
    if not isinstance(siblings, list):
        return None
    try:  # the listing's shape, read fast: only MODEL_FILES are looked up, so a name of another type does no harm
        names: Any = {sibling["rfilename"] for sibling in siblings}
    except (KeyError, TypeError):  # a sibling that is not an object, without a name, or with an unhashable one
        names = sibling_names(siblings)
    return [{"rfilename": name} for name in MODEL_FILES if name in names]


def index_entry(model: Any) -> dict[str, Any] | None:
    """One listed model's index entry; None for a line that is not a JSON object (it names and lists nothing).

    ``id`` is the listing's own string (the renamed-parents stage crosses off exactly what was listed), the
    other fields what ``ListedModel.read`` takes of them (``listed_fields``), and ``siblings`` only the
    ``MODEL_FILES`` the listing says the repo has (None: it did not say), the only names the file scope asks about.
    """
    if not isinstance(model, dict):
        return None
    raw_id = model.get("id")
    entry: dict[str, Any] = {"id": raw_id if isinstance(raw_id, str) else None, "parents": sorted(named_parents(model))}
    fields = listed_fields(model)
    if fields is None:
        return entry  # ListedModel.read skips it too: it names parents, nothing more
    _, entry["sha"], entry["author"], downloads = fields
    entry["downloads"] = min(downloads, MAX_DOWNLOADS)
    entry["siblings"] = _model_files(model.get("siblings"))
    return entry
