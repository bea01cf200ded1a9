"""Read what the catalog's free text says about structure: family branches, derivations, pretraining-task classes.

The decisions are data, not code: ``warehouse/catalog/derivations.yaml`` (name spellings, family readings, the
derivation phrase patterns with their examples) and ``warehouse/catalog/vocabulary.yaml`` ``pretraining_task_classes``.
Everything here is a pure function of catalog rows (``name``, ``family``, ``extension``, ``pretraining_task``), so
the figures that use it are deterministic and the tests can check each rule alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

CATALOG_DIR = Path(__file__).resolve().parent.parent / "warehouse" / "catalog"
DERIVATIONS_PATH = CATALOG_DIR / "derivations.yaml"
VOCABULARY_PATH = CATALOG_DIR / "vocabulary.yaml"
NO_FAMILY = "(no family given)"
TASK_NOT_GIVEN = "not given"
TASK_OTHER = "other"

_SENTENCE_END = re.compile(r"(?<=[.;:!?])\s+")
_ASIDE = re.compile(r"\s+\([^)]*\)?")  # " (...)", also an aside the source left unclosed


def _key(text: str) -> str:
    return " ".join(text.strip().lower().split())


@dataclass(frozen=True)
class Rules:
    names: dict[str, str]
    families: dict[str, list[str]]
    stop: re.Pattern
    patterns: list[dict]
    ignore: dict[str, str]


@lru_cache(maxsize=4)
def rules(path: Path = DERIVATIONS_PATH) -> Rules:
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    stop = re.compile(r"\b(?:" + "|".join(re.escape(w) for w in data["stop_words"]) + r")\b", re.IGNORECASE)
    patterns = [dict(p, regex=re.compile(p["pattern"], re.IGNORECASE)) for p in data["patterns"]]
    return Rules(names=dict(data.get("names") or {}), families={_key(k): list(v) for k, v in (data.get("families") or {}).items()},
                 stop=stop, patterns=patterns, ignore=dict(data.get("ignore") or {}))


# --- names ---------------------------------------------------------------------------------------------------

class NameFinder:
    """Finds catalog names (and their other spellings) in text: case-sensitive, whole words, longest first."""

    def __init__(self, catalog_names: list[str], aliases: dict[str, str]) -> None:
        known = {n: n for n in catalog_names}
        lower = {n.lower(): n for n in catalog_names}
        for spelling, name in aliases.items():
            target = known.get(name) or lower.get(name.lower())
            if target is not None:
                known.setdefault(spelling, target)
        self.canonical = known
        words = sorted(known, key=lambda s: (-len(s), s))
        self.regex = re.compile(r"(?<![\w-])(?:" + "|".join(re.escape(w) for w in words) + r")(?!\w)(?!-[A-Z0-9])(?!\.\d)") if words else None

    def find(self, text: str) -> list[str]:
        if self.regex is None or not text:
            return []
        out: list[str] = []
        for m in self.regex.finditer(text):
            name = self.canonical[m.group(0)]
            if name not in out:
                out.append(name)
        return out


def names_by_pattern(text: str, pattern: dict, finder: NameFinder, stop: re.Pattern) -> list[str]:
    """The names one derivation pattern finds in ``text``: in its ``names`` group, else after it up to a stop word."""
    found: list[str] = []
    for sentence in _SENTENCE_END.split(text or ""):
        for m in pattern["regex"].finditer(sentence):
            if "names" in m.re.groupindex:
                span = m.group("names") or ""
            else:
                span = sentence[m.end():]
                cut = stop.search(span)
                span = span[: cut.start()] if cut else span
            found += [n for n in finder.find(span) if n not in found]
    return found


def derives_from(name: str, extension: str | None, finder: NameFinder, r: Rules | None = None) -> list[str]:
    """The catalog entries ``name``'s Extension text says it derives from (never itself), in pattern order."""
    r = r or rules()
    if not extension or name in r.ignore:
        return []
    out: list[str] = []
    for pattern in r.patterns:
        out += [n for n in names_by_pattern(extension, pattern, finder, r.stop) if n != name and n not in out]
    return out


# --- families -------------------------------------------------------------------------------------------------

def family_branches(family: str | None, r: Rules | None = None) -> list[str]:
    """The family branches a Family text names, the entry's own branch first ("GPT/BERT/T5" -> GPT, BERT, T5)."""
    r = r or rules()
    if family is None or not family.strip():
        return [NO_FAMILY]
    listed = r.families.get(_key(family))
    if listed:
        return listed
    text = _ASIDE.sub("", family).replace('"', "").replace("\\", "")
    out: list[str] = []
    for part in re.split(r"[,/]", text):
        part = re.split(r"\s+for\s+", part.strip(), maxsplit=1)[0].strip()
        if part and part not in out:
            out.append(part)
    return out or [family.strip()]


def family_root(branch: str, catalog_names: list[str], r: Rules | None = None) -> str | None:
    """The catalog entry a family branch is named after (case-insensitively, or by a listed spelling), if any."""
    r = r or rules()
    lower = {n.lower(): n for n in catalog_names}
    target = r.names.get(branch, branch)
    return lower.get(target.lower()) or lower.get(branch.lower())


# --- pretraining tasks ------------------------------------------------------------------------------------------

@lru_cache(maxsize=4)
def task_classes(path: Path = VOCABULARY_PATH) -> tuple[tuple[str, frozenset[str]], ...]:
    """vocabulary.yaml ``pretraining_task_classes``: (class, texts as keys) in the order the grid shows them."""
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    return tuple((klass, frozenset(_key(t) for t in texts)) for klass, texts in data["pretraining_task_classes"].items())


def task_class(pretraining_task: str | None) -> str:
    """A Pretraining Task as written -> its class (MLM, LM, Seq2Seq, ...); ``other`` when vocabulary.yaml lacks it."""
    if pretraining_task is None or not pretraining_task.strip():
        return TASK_NOT_GIVEN
    key = _key(pretraining_task)
    for klass, texts in task_classes():
        if key in texts:
            return klass
    return TASK_OTHER


def task_order() -> list[str]:
    return [k for k, _ in task_classes()] + [TASK_OTHER, TASK_NOT_GIVEN]
