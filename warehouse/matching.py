"""Match catalog entries to Hub repos: curated mapping first, then automatic candidates, each scored.

Confidence (0..1; 0.8 and above means "we would bet on it"):

| method            | when                                                                                   | confidence |
|-------------------|----------------------------------------------------------------------------------------|-----------:|
| curated           | repo listed under the entry's ``repos`` in canonical_repos.yaml                        | 1.00       |
| name+org          | repo name, minus size/casing/version words, equals the entry's name, and the repo's   | 0.85       |
|                   | org publishes for the entry's lab (hub_orgs.yaml or the entry's ``orgs``)             |            |
| curated_related   | repo listed under ``related`` (a conversion, later version, official fine-tune)       | 0.60 (cap) |
| name+org (partial)| repo name starts with the entry's name plus other words (fine-tunes, variants), lab org| 0.60       |
| name              | exact name, org not the lab's (re-uploads, community copies)                           | 0.55       |
| lineage           | repo's base model (model_lineage or base_models) is a repo matched to the entry        | 0.50       |
| model_type+org    | the entry alone claims the repo's model_type, and the org is the lab's                 | 0.50       |
| name (partial)    | repo name starts with the entry's name, other org                                      | 0.40       |
| model_type        | the entry alone claims the repo's model_type                                           | 0.35       |
| model_type (shared)| several entries claim the model_type (t5: T5, Flan-T5, ...): listed as ambiguous      | 0.20       |

A pair gets the highest score of its methods; ``evidence`` lists them all. Curated decisions win over the
automatic ones (a ``related`` repo is never scored above 0.6), and when automatic methods would put one repo
at >= 0.8 for two entries (or for one entry while another holds it by curation), the automatic ones are
lowered to 0.6 and the note names the rivals: ambiguous candidates are listed, never guessed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import polars as pl

from warehouse.catalog import load_canonical_repos, load_hub_orgs

BET = 0.8
SCORES = {
    "curated": 1.0,
    "name+org": 0.85,
    "curated_related": 0.6,
    "name_partial+org": 0.6,
    "name": 0.55,
    "lineage": 0.5,
    "model_type+org": 0.5,
    "name_partial": 0.4,
    "model_type": 0.35,
    "model_type_shared": 0.2,
}
AMBIGUOUS_CAP = 0.6

# The same patterns run in Python (catalog names) and in Polars (every repo id): no look-around (Rust regex).
_DROP_RE = (r"^(?:small|base|large|xl|xxl|xlarge|xxlarge|huge|medium|mini|tiny|giant|standard|cased|uncased|hf"
            r"|\d+(?:\.\d+)?[kmbt]|patch\d+|\d{3})$")
_VERSION_RE = r"(?:^|[-_ ])v\d+(?:[-_.]\d+)*(?:$|[-_ ])"
_PAREN_RE = r"\([^)]*\)"
_SPLIT_RE = r"[-_ /]+"
_DROP, _VERSION, _PAREN, _SPLIT = (re.compile(p) for p in (_DROP_RE, _VERSION_RE, _PAREN_RE, _SPLIT_RE))

MATCH_SCHEMA = {
    "catalog_name": pl.String,
    "repo_id": pl.String,
    "method": pl.String,
    "confidence": pl.Float64,
    "evidence": pl.List(pl.String),
    "note": pl.String,
}


def name_tokens(name: str) -> list[str]:
    """'google/flan-t5-large' -> ['flan', 't5']; 'GPT-2' -> ['gpt', '2']; size, casing and version words dropped."""
    base = _PAREN.sub(" ", name.rsplit("/", 1)[-1]).lower()
    base = _VERSION.sub(" ", base)
    return [t for t in _SPLIT.split(base) if t and not _DROP.match(t)]


def name_key(name: str) -> str:
    return "".join(name_tokens(name))


def repo_name_keys(repo_id: str) -> list[str]:
    """Joined token prefixes of a repo name, longest last: 'flan-t5-large-sst' -> ['flan', 'flant5', 'flant5sst']."""
    tokens = name_tokens(repo_id)
    return ["".join(tokens[: i + 1]) for i in range(len(tokens))]


def _repo_name_hits(repo_ids: pl.Series, keys: pl.DataFrame) -> pl.DataFrame:
    """(repo_id, key, full) where a token prefix of the repo's name joins to a catalog key; vectorized name_tokens."""
    tokens = (
        repo_ids.str.extract(r"([^/]+)$", 1).str.to_lowercase()
        .str.replace_all(_PAREN_RE, " ").str.replace_all(_VERSION_RE, " ").str.replace_all(_SPLIT_RE, " ")
        .str.strip_chars().str.split(" ")
        .list.eval(pl.element().filter((pl.element() != "") & ~pl.element().str.contains(_DROP_RE)))
    )
    frame = pl.DataFrame({"repo_id": repo_ids, "tokens": tokens}).select(
        "repo_id",
        full=pl.col("tokens").list.join(""),
        bounds=pl.col("tokens").list.eval(pl.element().str.len_chars().cum_sum()),
    )
    parts = []
    for length in sorted(set(keys["key"].str.len_chars().to_list())):
        parts.append(frame.filter(pl.col("bounds").list.contains(length)).select("repo_id", "full", key=pl.col("full").str.slice(0, length)))
    if not parts:
        return pl.DataFrame(schema={"repo_id": pl.String, "full": pl.String, "key": pl.String, "catalog_name": pl.String})
    return pl.concat(parts).join(keys, on="key")


def _entry_frames(catalog: pl.DataFrame, canonical: dict, hub_orgs: dict) -> dict[str, pl.DataFrame]:
    names = catalog["name"].to_list()
    labs = dict(zip(catalog["name"], catalog["lab"]))
    curated, keys, types, orgs = [], [], [], []
    for name in names:
        entry = canonical.get(name, {})
        curated += [(name, r, "curated") for r in entry.get("repos", [])]
        curated += [(name, r, "curated_related") for r in entry.get("related", [])]
        for k in {name_key(name), *(name_key(n) for n in entry.get("names", []))} - {""}:
            keys.append((name, k))
        types += [(name, t) for t in entry.get("model_types", [])]
        entry_orgs = entry.get("orgs") or hub_orgs.get(labs.get(name) or "", [])
        orgs += [(name, o.lower()) for o in entry_orgs]
    frame = lambda rows, cols: pl.DataFrame(rows, schema=cols, orient="row")  # noqa: E731
    return {
        "curated": frame(curated, {"catalog_name": pl.String, "repo_id": pl.String, "method": pl.String}),
        "keys": frame(keys, {"catalog_name": pl.String, "key": pl.String}),
        "types": frame(types, {"catalog_name": pl.String, "model_type": pl.String}),
        "orgs": frame(orgs, {"catalog_name": pl.String, "org": pl.String}).unique(),
    }


class CatalogMatcher:
    """The catalog's side of matching, built once; the Hub's repos are then matched a batch at a time.

    Every method scores a (entry, repo) pair from the repo itself, except lineage, which needs the repos an entry
    holds (curated canonical, or matched >= BET) anywhere on the Hub. So matching is two passes over the repos:
    ``held`` collects those (only a curated id or a lab org can score >= BET, so it looks at few repos), and
    ``match`` scores one batch with them. Memory follows the batch and the catalog, not the Hub.
    """

    def __init__(self, catalog: pl.DataFrame, canonical: dict | None = None, hub_orgs: dict | None = None):
        canonical = load_canonical_repos() if canonical is None else canonical
        hub_orgs = load_hub_orgs() if hub_orgs is None else hub_orgs
        self.entries = _entry_frames(catalog, canonical, hub_orgs)
        self._lab_orgs = self.entries["orgs"]["org"].unique().implode()
        self._curated_lc = self.entries["curated"]["repo_id"].str.to_lowercase().unique().implode()

    def held(self, batches: Iterable[pl.DataFrame]) -> pl.DataFrame:
        """(catalog_name, parent_id) an entry holds: its curated canonical repos and its direct matches >= BET."""
        held = [self.entries["curated"].filter(pl.col("method") == "curated").select("catalog_name", parent_id="repo_id")]
        for batch in batches:
            m = _repo_frame(batch).filter(pl.col("org").is_in(self._lab_orgs) | pl.col("repo_lc").is_in(self._curated_lc))
            scored = _score(_direct_evidence(self.entries, m), m, self.entries["orgs"])
            held.append(scored.filter(pl.col("confidence") >= BET).select("catalog_name", parent_id="repo_id"))
        return pl.concat(held).with_columns(parent_lc=pl.col("parent_id").str.to_lowercase()).unique(["catalog_name", "parent_lc"])

    def match(self, batch: pl.DataFrame, held: pl.DataFrame, lineage: pl.DataFrame | None = None) -> pl.DataFrame:
        """Scored candidate pairs for one batch of repos (repo_id, author, model_type, base_models).

        ``lineage`` (child_id, parent_id) may hold edges of any repo: only the batch's children are used.
        """
        m = _repo_frame(batch)
        ev = _direct_evidence(self.entries, m)
        lin = _lineage_evidence(m, held, lineage)
        if lin.height:
            ev = pl.concat([ev, lin])
        return _resolve_ambiguity(_score(ev, m, self.entries["orgs"]))


def match_catalog(
    catalog: pl.DataFrame,
    models: pl.DataFrame,
    lineage: pl.DataFrame | None = None,
    canonical: dict | None = None,
    hub_orgs: dict | None = None,
) -> pl.DataFrame:
    """Candidate (catalog entry, repo) pairs with method, confidence, evidence and note, for repos in one frame.

    ``models`` needs repo_id, author, model_type, base_models; ``lineage`` child_id, parent_id (optional).
    Evidence comes first from the repos themselves (curated ids, names, model types); then repos derived
    from a repo an entry already holds join it through lineage, and everything is scored again.
    """
    matcher = CatalogMatcher(catalog, canonical, hub_orgs)
    return matcher.match(models, matcher.held([models]), lineage)


def _repo_frame(models: pl.DataFrame) -> pl.DataFrame:
    """The repo columns matching reads, plus the lowercase id and the org (the id's owner, else the author)."""
    return models.select("repo_id", "author", "model_type", "base_models").with_columns(
        repo_lc=pl.col("repo_id").str.to_lowercase(),
        org=pl.coalesce(pl.col("repo_id").str.extract(r"^([^/]+)/", 1), pl.col("author")).str.to_lowercase(),
    )


def _direct_evidence(e: dict[str, pl.DataFrame], m: pl.DataFrame) -> pl.DataFrame:
    """(catalog_name, repo_id, method, detail) from the repos themselves: curated ids, names, model types."""
    ev = []
    # curated, by case-insensitive id (the Hub resolves ids case-insensitively)
    cur = e["curated"].with_columns(repo_lc=pl.col("repo_id").str.to_lowercase()).drop("repo_id")
    ev.append(cur.join(m.select("repo_id", "repo_lc"), on="repo_lc").select(
        "catalog_name", "repo_id", "method",
        detail=pl.when(pl.col("method") == "curated").then(pl.lit("listed in canonical_repos.yaml")).otherwise(pl.lit("listed as related (not canonical) in canonical_repos.yaml")),
    ))

    # names: exact (full key) or partial (a proper token prefix)
    hits = _repo_name_hits(m["repo_id"], e["keys"])
    ev.append(hits.select(
        "catalog_name", "repo_id",
        method=pl.when(pl.col("key") == pl.col("full")).then(pl.lit("name")).otherwise(pl.lit("name_partial")),
        detail=pl.when(pl.col("key") == pl.col("full")).then(pl.format("repo name reads '{}'", pl.col("key"))).otherwise(pl.format("repo name '{}' starts with '{}'", pl.col("full"), pl.col("key"))),
    ))

    # model_type claims
    claims = e["types"].with_columns(n_claims=pl.len().over("model_type"), claimants=pl.col("catalog_name").implode().over("model_type"))
    mt = m.drop_nulls("model_type").join(claims, on="model_type")
    ev.append(mt.select(
        "catalog_name", "repo_id",
        method=pl.when(pl.col("n_claims") == 1).then(pl.lit("model_type")).otherwise(pl.lit("model_type_shared")),
        detail=pl.when(pl.col("n_claims") == 1).then(pl.format("model_type {}", pl.col("model_type")))
        .otherwise(pl.format("model_type {} is shared by {}", pl.col("model_type"), pl.col("claimants").list.sort().list.join(", "))),
    ))

    return pl.concat(ev)


def _lineage_evidence(m: pl.DataFrame, held: pl.DataFrame, lineage: pl.DataFrame | None) -> pl.DataFrame:
    """Repos of ``m`` derived from a repo an entry holds (``CatalogMatcher.held``), as lineage evidence."""
    edges = m.select(child_id="repo_id", parent_id="base_models").explode("parent_id").drop_nulls("parent_id")
    if lineage is not None and lineage.height:
        edges = pl.concat([edges, lineage.select("child_id", "parent_id").join(m.select(child_id="repo_id"), on="child_id")]).unique()
    kids = edges.with_columns(parent_lc=pl.col("parent_id").str.to_lowercase()).join(held.drop("parent_id"), on="parent_lc")
    kids = kids.filter(pl.col("child_id").str.to_lowercase() != pl.col("parent_lc"))
    return kids.select("catalog_name", repo_id="child_id", method=pl.lit("lineage"), detail=pl.format("derived from {}", pl.col("parent_id")))


def _score(ev: pl.DataFrame, m: pl.DataFrame, orgs: pl.DataFrame) -> pl.DataFrame:
    ev = ev.join(m.select("repo_id", "org"), on="repo_id", how="left").join(
        orgs.with_columns(org_match=pl.lit(True)), on=["catalog_name", "org"], how="left"
    ).with_columns(org_match=pl.col("org_match").fill_null(False))
    method = pl.col("method")
    upgraded = (
        pl.when(method.is_in(["name", "name_partial", "model_type"]) & pl.col("org_match"))
        .then(pl.when(method == "name").then(pl.lit("name+org")).when(method == "name_partial").then(pl.lit("name_partial+org")).otherwise(pl.lit("model_type+org")))
        .otherwise(method)
    )
    ev = ev.with_columns(method=upgraded)
    ev = ev.with_columns(score=pl.col("method").replace_strict(SCORES, return_dtype=pl.Float64))
    best = (
        ev.sort(["catalog_name", "repo_id", "score"], descending=[False, False, True], maintain_order=True)  # ties: curated, names, types, lineage
        .group_by("catalog_name", "repo_id", maintain_order=True)
        .agg(
            method=pl.col("method").first(),
            confidence=pl.col("score").first(),
            evidence=pl.col("method").unique(maintain_order=True),
            note=pl.col("detail").unique(maintain_order=True).str.join("; "),
            org=pl.col("org").first(),
            org_match=pl.col("org_match").any(),
            related=(pl.col("method") == "curated_related").any(),
        )
        .with_columns(
            note=pl.when(pl.col("org_match"))
            .then(pl.format("{}; org {} publishes for the entry's lab", pl.col("note"), pl.col("org")))
            .otherwise(pl.col("note"))
        )
        .drop("org", "org_match")
    )
    # a repo the curator called 'related' is not the canonical release, whatever the names say
    capped = pl.col("related") & (pl.col("method") != "curated") & (pl.col("confidence") > SCORES["curated_related"])
    return best.with_columns(
        method=pl.when(capped).then(pl.lit("curated_related")).otherwise(pl.col("method")),
        confidence=pl.when(capped).then(pl.lit(SCORES["curated_related"])).otherwise(pl.col("confidence")),
    ).drop("related")


def _resolve_ambiguity(scored: pl.DataFrame) -> pl.DataFrame:
    """At most one entry holds a repo at >= BET: automatic rivals of a curated match, or of each other, are lowered."""
    high = scored.filter(pl.col("confidence") >= BET)
    per_repo = high.group_by("repo_id").agg(
        n_high=pl.len(),
        curated_holder=pl.col("catalog_name").filter(pl.col("method") == "curated").first(),
        holders=pl.col("catalog_name").sort(),
    )
    out = scored.join(per_repo, on="repo_id", how="left")
    demote = (pl.col("confidence") >= BET) & (pl.col("method") != "curated") & (
        pl.col("curated_holder").is_not_null() | (pl.col("n_high") > 1)
    )
    rivals = pl.col("holders").list.set_difference(pl.concat_list(pl.col("catalog_name"))).list.join(", ")
    held_elsewhere = (pl.col("confidence") < BET) & pl.col("holders").is_not_null() & ~pl.col("holders").list.contains(pl.col("catalog_name"))
    out = out.with_columns(
        confidence=pl.when(demote).then(pl.lit(AMBIGUOUS_CAP)).otherwise(pl.col("confidence")),
        note=pl.when(demote).then(pl.format("{}; ambiguous: also matched to {}", pl.col("note"), rivals))
        .when(held_elsewhere).then(pl.format("{}; the repo is matched to {} with confidence >= {}", pl.col("note"), pl.col("holders").list.join(", "), pl.lit(BET)))
        .otherwise(pl.col("note")),
    )
    return out.select(list(MATCH_SCHEMA)).sort(["catalog_name", "confidence", "repo_id"], descending=[False, True, False])
