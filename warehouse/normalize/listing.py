"""The listing (models.ndjson, the big part): read in pages with a declared schema, normalized by Polars expressions.

``read_page_file`` reads one page of listing lines (a span of the raw landing, see ``harvesters.landing.ListingSpan``)
with DuckDB's JSON reader; a page it refuses goes to ``read_page`` (Polars): memory follows the page, never the
run. A page that does not fit the declared schema (a malformed line, a container of the wrong shape) is re-read
line by line: bad lines go to quarantine, a wrong-shaped container is dropped from its record (the model keeps
its row) with a quarantine note.
``normalize_listing`` turns one page plus the page's parsed files into the tidy frames of the warehouse tables,
step by step (ids, facts, params, models, files, stats, versions); no Python loop per model.
"""

from __future__ import annotations

import io
import json
import re
import threading
import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from warehouse.database import open_file_reader
from warehouse.normalize import mappings
from warehouse.normalize.arch import arch_class_columns
from warehouse.normalize.documents import MAX_PARAMS
from warehouse.normalize.jsontext import in_range, json_int, text_first, text_to_list, to_bool, to_int
from warehouse.schemas import (
    CARD_DATA_FIELDS,
    FILES_SCHEMA,
    LINEAGE_SCHEMA,
    LISTING_CONTAINERS,
    LISTING_SCHEMA,
    MODELS_SCHEMA,
    QUARANTINE_SCHEMA,
    STATS_SCHEMA,
    VERSIONS_SCHEMA,
    conform,
)

PAGE_BYTES = 64 * 1024 * 1024  # ~20k synthetic (~8k real) listing lines: a page normalizes in ~400 MB, whatever the run; 32 MB pages cost the 1M load 15 % more CPU (fixed costs per page)
EXCERPT = 200
TS_FORMAT = "%Y-%m-%dT%H:%M:%S%.fZ"
HUB_PREFIXES = r"^(?:https?://)?(?:huggingface\.co|hf\.co)/(?:models/)?"
SOURCE_PRIORITY = {"cardData": 0, "baseModels": 1, "tag": 2}  # whose relation wins when they disagree
PACKED_INT32 = ("gptq", "awq", "autoround", "auto-round")
MAX_COUNT = 10**15  # downloads, likes, file sizes: beyond this (or negative) a count is NULL with a note

# What a page's parsed files contribute (built by warehouse.loading from config.json / README.md).
CONFIG_FACTS_SCHEMA = {
    "repo_id": pl.String, "cfg_model_type": pl.String, "cfg_architectures": pl.List(pl.String),
    "cfg_quant_method": pl.String, "cfg_quant_bits": pl.Int64, "cfg_params_estimate": pl.Int64,
    "cfg_params_formula": pl.String, "cfg_is_encoder_decoder": pl.Boolean,
}  # fmt: skip
CARD_FACTS_SCHEMA = {"repo_id": pl.String, **{f"card_{name}": pl.String for name in CARD_DATA_FIELDS}}


@dataclass(frozen=True)
class RunContext:
    run_id: str
    observed_on: dt.date  # the run's day (UTC): one stats row per model per day
    seen_at: dt.datetime  # when the run started (UTC)


# ------------------------------------------------------------------ reading
def _read(buf: bytes) -> pl.DataFrame:
    return pl.read_ndjson(io.BytesIO(buf), schema=LISTING_SCHEMA)


def _quarantine(run_id: str, repo_id: str | None, reason: str, excerpt: bytes | str) -> dict:
    text = excerpt.decode("utf-8", "replace") if isinstance(excerpt, bytes) else excerpt
    return {"run_id": run_id, "repo_id": repo_id, "stage": "listing", "reason": reason, "excerpt": text[:EXCERPT]}


_ID_IN_TEXT = re.compile(rb'"id"\s*:\s*"((?:[^"\\]|\\.)*)"')


def _salvaged_id(line: bytes) -> str | None:
    """The model id of a line that is not JSON, when its ``"id": "..."`` pair can still be read."""
    found = _ID_IN_TEXT.search(line)
    if found is None:
        return None
    try:
        value = json.loads(b'"' + found.group(1) + b'"')
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return value.strip() or None


def _fitting_fields(record: dict) -> tuple[dict, list[str]]:
    """The record cut down to the fields that fit the listing schema one by one, and the names dropped."""
    kept, dropped = {"id": record["id"]}, []
    for name, value in record.items():
        if name == "id" or name not in LISTING_SCHEMA:
            continue
        try:
            _read(json.dumps({"id": record["id"], name: value}).encode())
        except Exception:  # noqa: BLE001 - anything Polars refuses: drop that field, keep the model
            dropped.append(name)
            continue
        kept[name] = value
    return kept, dropped


def _line_by_line(lines: list[tuple[int, bytes]], run_id: str) -> tuple[pl.DataFrame, list[dict]]:
    """The slow path for a page that failed: sanitize each line, quarantine what cannot be read.

    A model is never dropped while its id can be read: it keeps a row with the fields that could be read,
    and the quarantine row says what was lost.
    """
    good: list[bytes] = []
    bad: list[dict] = []
    for number, line in lines:
        try:
            record = json.loads(line, parse_constant=_NonFinite)
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
            salvaged = _salvaged_id(line)
            kept = f": kept {salvaged!r} with its id only" if salvaged else ""
            bad.append(_quarantine(run_id, salvaged, f"line {number}: not JSON ({type(exc).__name__}: {str(exc)[:120]}){kept}", line))
            if salvaged:
                good.append(json.dumps({"id": salvaged}).encode())
            continue
        if not isinstance(record, dict) or not isinstance(record.get("id"), str) or not record["id"].strip():
            bad.append(_quarantine(run_id, None, f"line {number}: not a model record (no string id)", line))
            continue
        for field in list(record):
            record[field], found = _without_non_finite(record[field])
            if found:
                bad.append(_quarantine(run_id, record["id"], f"line {number}: {'/'.join(sorted(found))} in {field}: read as missing", json.dumps(record[field])[:EXCERPT]))
        for field, kind in LISTING_CONTAINERS.items():
            value = record.get(field)
            if value is not None and not isinstance(value, kind):
                bad.append(_quarantine(run_id, record["id"], f"line {number}: {field} is a JSON {type(value).__name__}, expected {kind.__name__}: field dropped", json.dumps(value)[:EXCERPT]))
                record[field] = None
        if isinstance(record.get("siblings"), list) and not all(isinstance(s, dict) for s in record["siblings"]):
            bad.append(_quarantine(run_id, record["id"], f"line {number}: siblings holds non-objects: field dropped", json.dumps(record["siblings"])[:EXCERPT]))
            record["siblings"] = None
        try:
            one = json.dumps(record).encode()
            _read(one)
        except Exception as exc:  # noqa: BLE001 - anything Polars refuses: keep what fits, quarantine the rest
            record, dropped = _fitting_fields(record)
            one = json.dumps(record).encode()
            reason = f"line {number}: does not fit the listing schema ({str(exc).splitlines()[0][:120]}): kept the model without {', '.join(dropped) or 'nothing'}"
            bad.append(_quarantine(run_id, record["id"], reason, line))
        good.append(one)
    frame = _read(b"\n".join(good)) if good else pl.DataFrame(schema=LISTING_SCHEMA)
    return frame, bad


class _NonFinite(str):
    """NaN, Infinity or -Infinity as found in a line (JSON has no such numbers; Python's json reads them)."""


def _without_non_finite(value: object) -> tuple[object, set[str]]:
    """``value`` with every NaN/Infinity replaced by None (missing), and the tokens found."""
    if isinstance(value, _NonFinite):
        return None, {str(value)}
    found: set[str] = set()
    if isinstance(value, list):
        cleaned = []
        for item in value:
            item, inner = _without_non_finite(item)
            cleaned.append(item)
            found |= inner
        return cleaned, found
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            out[key], inner = _without_non_finite(item)
            found |= inner
        return out, found
    return value, found


def _duckdb_type(dtype: pl.DataType) -> str:
    if isinstance(dtype, pl.List):
        return f"{_duckdb_type(dtype.inner)}[]"
    if isinstance(dtype, pl.Struct):
        return "STRUCT(" + ", ".join(f'"{f.name}" {_duckdb_type(f.dtype)}' for f in dtype.fields) + ")"
    if dtype == pl.String:
        return "VARCHAR"
    raise TypeError(f"no DuckDB type for {dtype}")


# LISTING_SCHEMA as read_json's ``columns``: built from our own constant schema, no data enters the SQL text
_READ_LISTING_SQL = (
    "SELECT * FROM read_json($path, format = 'newline_delimited', compression = $compression, columns = {"
    + ", ".join(f"'{name}': '{_duckdb_type(dtype)}'" for name, dtype in LISTING_SCHEMA.items())
    + "})"
)
_readers = threading.local()


def _reader(folder: Path) -> duckdb.DuckDBPyConnection:
    """This thread's file reader for ``folder`` (a connection costs ~30 ms: one per thread and run, not per page)."""
    cached = getattr(_readers, "cached", None)
    if cached is None or cached[0] != folder:
        if cached is not None:
            cached[1].close()
        _readers.cached = (folder, open_file_reader(folder))
    return _readers.cached[1]


def read_page_file(path: Path, compressed: bool) -> pl.DataFrame | None:
    """A page file read by DuckDB's JSON reader as a LISTING_SCHEMA frame, or None when DuckDB refuses it.

    The same frame Polars' ``read_ndjson`` reads, for ~40 % of its CPU (0.21 against 0.53 s for a 10k-model
    page, its zstd included). Two differences, neither read downstream: JSON text of objects and arrays is
    compact (``{"a":1}``), and a number read as text keeps its JSON form (``1.0``). DuckDB also accepts what
    Polars refuses: NaN and Infinity, found afterwards (``_holds_non_finite``) so that their page goes through
    ``read_page`` and each such field is quarantined as before; and a trailing comma (``{"id": "a/b",}``), which
    cannot be seen once read: DuckDB keeps that line's model whole, where the Polars path would keep only its id.
    """
    try:  # ``.pl()``: the same frame as ``pl.from_arrow(.to_arrow_table())`` for ~20 % less CPU
        frame = _reader(path.parent).sql(_READ_LISTING_SQL, params={"path": str(path), "compression": "zstd" if compressed else "none"}).pl()
    except duckdb.Error:
        return None
    return None if _holds_non_finite(frame) else frame


# NaN, Infinity or -Infinity as a JSON token (DuckDB writes objects and arrays as compact text: no blanks
# around a token outside strings). A string that merely looks like one sends its page the slower way, no harm.
_NON_FINITE = r"(?:^|[:\[,])-?(?:NaN|Infinity)(?:[,\]}]|$)"


def _any_non_finite(expr: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """Whether any string of ``expr``, at any depth, holds such a token (one boolean for the whole column)."""
    if isinstance(dtype, pl.List):
        return _any_non_finite(expr.explode(), dtype.inner)  # which row does not matter: flatten
    if isinstance(dtype, pl.Struct):
        return pl.any_horizontal(_any_non_finite(expr.struct.field(f.name), f.dtype) for f in dtype.fields)
    candidates = expr.filter(expr.str.contains_any(["NaN", "Infinity"]))  # a literal search first: 3x cheaper
    return candidates.str.contains(_NON_FINITE).any()


def _holds_non_finite(frame: pl.DataFrame) -> bool:
    """Whether DuckDB read a NaN or an Infinity, which JSON has not: Polars refuses such a line, and the line
    by line path reads the field as missing with a note, which DuckDB's text ``NaN`` would not get."""
    found = frame.select(pl.any_horizontal(_any_non_finite(pl.col(name), dtype) for name, dtype in LISTING_SCHEMA.items()))
    return bool(found.item())


def read_page(buf: bytes, first_line: int, run_id: str) -> tuple[pl.DataFrame, list[dict]]:
    """One page of ndjson lines as (LISTING_SCHEMA frame, quarantine rows); lines numbered from ``first_line``."""
    try:
        return _read(buf), []
    except Exception:  # noqa: BLE001 - the page does not fit: find the culprits line by line
        lines = [(first_line + i, line.strip()) for i, line in enumerate(buf.split(b"\n"))]
        return _line_by_line([(n, line) for n, line in lines if line], run_id)


# ------------------------------------------------------------------ normalizing
def _timestamp(col: str) -> pl.Expr:
    return pl.col(col).str.strip_chars().str.to_datetime(TS_FORMAT, time_zone="UTC", strict=False)


def _license() -> pl.Expr:
    from_card = text_first(pl.col("_license_text"))
    from_tag = pl.col("tags").list.filter(pl.element().str.starts_with("license:")).list.first().str.slice(8)
    raw = pl.coalesce(from_card, from_tag).str.strip_chars().str.to_lowercase()
    return raw.replace({"": None, **mappings.license_aliases()})  # one pass: a when/then on ``raw`` computed it twice


def _count(expr: pl.Expr) -> pl.Expr:
    """A count read as text: an integer in 0..MAX_COUNT, else null (see ``_range_notes``)."""
    return in_range(to_int(expr), 0, MAX_COUNT)


def _checked_total(total_text: pl.Expr) -> pl.Expr:
    """A ``total`` parameter count read as text: an integer in 1..MAX_PARAMS, else null."""
    return in_range(total_text.cast(pl.Int64, strict=False), 1, MAX_PARAMS)


def _json_parts() -> list[pl.Expr]:
    """The parts of the JSON texts that the parameter columns and the range notes read, each parsed once (a
    JSON path match parses its whole text, ~2 ms a 10k-model page; eager Polars does not share them)."""
    return [
        pl.col("safetensors").str.json_path_match("$.total").alias("_st_total_text"),
        pl.col("safetensors").str.json_path_match("$.parameters").alias("params_by_dtype"),
        pl.col("gguf").str.json_path_match("$.total").alias("_gguf_total_text"),
    ]


# (what the note calls it, its raw text, the checked value): a raw text whose check gives null gets a note.
RANGE_CHECKS = (
    ("downloads", pl.col("downloads"), _count(pl.col("downloads"))),
    ("downloadsAllTime", pl.col("downloadsAllTime"), _count(pl.col("downloadsAllTime"))),
    ("likes", pl.col("likes"), _count(pl.col("likes"))),
    ("safetensors.total", pl.col("_st_total_text"), _checked_total(pl.col("_st_total_text"))),
    ("gguf.total", pl.col("_gguf_total_text"), _checked_total(pl.col("_gguf_total_text"))),
)


def _range_notes(frame: pl.DataFrame, run_id: str) -> pl.DataFrame:
    """Quarantine notes (stage listing) for counts out of range or unreadable: the field is NULL, the row stays."""
    notes = [  # lazy: each filter reads only the columns its note needs, not the page's siblings and all
        frame.lazy().filter(raw.is_not_null() & checked.is_null()).select(
            pl.lit(run_id).alias("run_id"), "repo_id", pl.lit("listing").alias("stage"),
            pl.concat_str(pl.lit(f"{label} = "), raw.str.slice(0, 80), pl.lit(" is not a count in range: stored as NULL")).alias("reason"),
            raw.str.slice(0, EXCERPT).alias("excerpt"),
        )  # fmt: skip
        for label, raw, checked in RANGE_CHECKS
    ]
    return conform(pl.concat(notes).collect(), QUARANTINE_SCHEMA)


def _params() -> tuple[list[pl.Expr], pl.Expr, pl.Expr]:
    st_total = _checked_total(pl.col("_st_total_text"))
    gguf_total = _checked_total(pl.col("_gguf_total_text"))
    estimate = pl.col("cfg_params_estimate")
    source = (
        pl.when(st_total.is_not_null()).then(pl.lit("safetensors"))
        .when(gguf_total.is_not_null()).then(pl.lit("gguf"))
        .when(estimate.is_not_null()).then(pl.lit("config-estimate"))
    )  # fmt: skip
    total = pl.coalesce(st_total, gguf_total, estimate)
    i32, u8 = pl.col("_i32"), pl.col("_u8")  # columns: read by several branches below
    method = pl.col("_quant_method")
    bits = pl.col("_quant_bits")
    packs_int32 = (pl.col("_params_source") == "safetensors") & method.is_in(PACKED_INT32) & bits.is_in([2, 3, 4, 8]) & (i32 > 0)
    packs_uint8 = (pl.col("_params_source") == "safetensors") & (method == "bitsandbytes") & (bits == 4) & (u8 > 0)
    effective = (
        pl.when(packs_int32).then(pl.col("params_total") - i32 + (i32 * 32 / bits).round(0).cast(pl.Int64))
        .when(packs_uint8).then(pl.col("params_total") + u8)
        .otherwise(pl.col("params_total"))
    )  # fmt: skip
    note = (
        pl.when(packs_int32).then(pl.format(
            "{} {}-bit: the Hub's safetensors total counts each packed int32 as one parameter; "
            "{} I32 values re-counted as the weights they pack (32/{} each)", method, bits, i32, bits))
        .when(packs_uint8).then(pl.format(
            "bitsandbytes 4-bit: the Hub's safetensors total counts each uint8 as one parameter; "
            "{} U8 values re-counted as 2 weights each", u8))
        .when(method.is_not_null() & pl.col("params_total").is_not_null()).then(pl.format(
            "quantized ({}) per config; no packed dtype to re-count: the total is taken as given", method))
        .when(pl.col("_params_source") == "config-estimate").then(pl.format(
            "estimated from config.json dimensions (formula {}, warehouse/normalize/params.py)", pl.col("cfg_params_formula")))
    )  # fmt: skip
    counts = [
        in_range(json_int(pl.col("params_by_dtype"), f"$.{dtype}"), 0, MAX_PARAMS).fill_null(0).alias(f"_{dtype.lower()}")
        for dtype in ("I32", "U8")
    ]
    return [total.alias("params_total"), source.alias("_params_source"), *counts], effective, note


def _lineage(frame: pl.DataFrame) -> pl.DataFrame:
    relations = mappings.relation_aliases()

    def relation(expr: pl.Expr) -> pl.Expr:
        clean = expr.str.strip_chars().str.to_lowercase()
        return clean.replace_strict(relations, default="base", return_dtype=pl.String).fill_null("base")

    card = frame.select(
        pl.col("repo_id").alias("child_id"),
        text_to_list(pl.col("_base_model_text")).alias("parent_id"),
        relation(pl.col("_base_model_relation_text")).alias("relation"),
        pl.lit("cardData").alias("source"),
    ).explode("parent_id")
    tag_rest = pl.col("parent_id").str.slice(len("base_model:"))
    tagged = (
        frame.select(pl.col("repo_id").alias("child_id"), pl.col("tags").list.filter(pl.element().str.starts_with("base_model:")).alias("parent_id"))
        .explode("parent_id")  # only the base_model tags: a page's tags are ~20 a model
        .filter(pl.col("parent_id").is_not_null())
        .select(
            "child_id",
            pl.when(tag_rest.str.contains(r"^[a-z_-]+:.")).then(tag_rest.str.extract(r"^[a-z_-]+:(.+)$", 1)).otherwise(tag_rest).alias("parent_id"),
            pl.when(tag_rest.str.contains(r"^[a-z_-]+:.")).then(relation(tag_rest.str.extract(r"^([a-z_-]+):", 1))).otherwise(pl.lit("base")).alias("relation"),
            pl.lit("tag").alias("source"),
        )
    )
    bm = pl.col("baseModels").str.strip_chars()
    ids_in_object = bm.str.extract_all(r'"id"\s*:\s*"(?:[^"\\]|\\.)*"').list.eval(pl.element().str.extract(r'"id"\s*:\s*"(.*)"$', 1))
    hub = frame.select(
        pl.col("repo_id").alias("child_id"),
        pl.when(bm.str.starts_with("{")).then(ids_in_object).otherwise(text_to_list(bm)).alias("parent_id"),
        relation(bm.str.json_path_match("$.relation")).alias("relation"),
        pl.lit("baseModels").alias("source"),
    ).explode("parent_id")
    edges = (
        pl.concat([card, tagged, hub])
        .with_columns(pl.col("parent_id").str.strip_chars().str.replace(HUB_PREFIXES, "").str.strip_chars_end("/"))
        .filter(pl.col("parent_id").is_not_null() & (pl.col("parent_id") != "") & (pl.col("parent_id") != pl.col("child_id")))
        .with_columns(
            (pl.col("relation") == "base").alias("_unspecified"),
            pl.col("source").replace_strict(SOURCE_PRIORITY, return_dtype=pl.Int8).alias("_priority"),
        )
        .sort("child_id", "parent_id", "_unspecified", "_priority")
    )
    specific = pl.col("relation").filter(pl.col("relation") != "base").unique().sort()
    return edges.group_by("child_id", "parent_id", maintain_order=True).agg(
        pl.col("relation").first(),
        pl.col("source").unique().sort(),
        pl.when(specific.len() > 1)
        .then(pl.format("sources disagree on the relation ({}); kept the first by priority cardData > baseModels > tag", specific.str.join(", ")))
        .alias("note"),
    )


def _without_id(page: pl.DataFrame, ctx: RunContext) -> pl.DataFrame:
    """Quarantine rows for records without an id."""
    no_id = page.lazy().filter(pl.col("id").str.strip_chars().fill_null("") == "")
    return no_id.select(
        pl.lit(ctx.run_id).alias("run_id"), pl.lit(None, pl.String).alias("repo_id"), pl.lit("listing").alias("stage"),
        pl.lit("record without an id").alias("reason"),
        pl.concat_str(pl.lit("author="), pl.col("author").fill_null("?"), pl.lit(" sha="), pl.col("sha").fill_null("?")).alias("excerpt"),
    ).collect()  # fmt: skip


def _with_facts(page: pl.DataFrame, config_facts: pl.DataFrame, card_facts: pl.DataFrame) -> pl.DataFrame:
    """One row per repo id, with what its config.json and card say beside what the listing says."""
    frame = (
        page.with_columns(pl.col("id").str.strip_chars().alias("repo_id"))
        .filter(pl.col("repo_id").fill_null("") != "")
    )
    if frame["repo_id"].is_duplicated().any():  # rare: asking is ~10x cheaper than a unique of the whole page
        frame = frame.unique("repo_id", keep="last", maintain_order=True)
    frame = frame.join(config_facts, on="repo_id", how="left", maintain_order="left").join(card_facts, on="repo_id", how="left", maintain_order="left")
    cd = pl.col("cardData")
    cfg = pl.col("config")
    frame = frame.with_columns(
        *[pl.coalesce(cd.struct.field(name), pl.col(f"card_{name}")).alias(f"_{name}_text") for name in CARD_DATA_FIELDS],
        pl.coalesce(cfg.struct.field("model_type").str.strip_chars(), pl.col("cfg_model_type")).alias("model_type"),
        pl.coalesce(text_to_list(cfg.struct.field("architectures")), pl.col("cfg_architectures")).alias("architectures"),
        pl.coalesce(pl.col("cfg_quant_method"), cfg.struct.field("quantization_config").str.json_path_match("$.quant_method").str.to_lowercase()).alias("_quant_method"),
        pl.coalesce(pl.col("cfg_quant_bits"), json_int(cfg.struct.field("quantization_config"), "$.bits")).alias("_quant_bits"),
    )
    params, effective, note = _params()
    return frame.with_columns(_json_parts()).with_columns(params).with_columns(effective.alias("params_effective"), note.alias("params_note"))


def _models(frame: pl.DataFrame, lineage: pl.DataFrame, ctx: RunContext) -> pl.DataFrame:
    parents = lineage.group_by("child_id").agg(pl.col("parent_id").unique().sort().alias("base_models"))
    gated = pl.col("gated").str.strip_chars().str.to_lowercase()
    tag_datasets = (  # filter first, then map the few kept: ~3x cheaper than a list.eval doing both per list
        pl.col("tags").list.filter(pl.element().str.starts_with("dataset:"))
        .list.eval(pl.element().str.slice(8).str.strip_chars())
        .list.filter(pl.element() != "")
    )  # fmt: skip
    return frame.join(parents, left_on="repo_id", right_on="child_id", how="left").with_columns(
        pl.coalesce(pl.col("author"), pl.col("repo_id").str.extract(r"^([^/]+)/", 1)).alias("author"),
        _timestamp("createdAt").alias("created_at"),
        _timestamp("lastModified").alias("last_modified"),
        _count(pl.col("downloads")).alias("downloads"),
        _count(pl.col("downloadsAllTime")).alias("downloads_all_time"),
        _count(pl.col("likes")).alias("likes"),
        _license().alias("license"),
        pl.when(gated.is_in(["false", "auto", "manual"])).then(gated).when(gated == "true").then(pl.lit("auto")).alias("gated"),
        to_bool(pl.col("private")).alias("private"),
        to_bool(pl.col("disabled")).alias("disabled"),
        *arch_class_columns(pl.col("model_type"), pl.col("architectures")),
        pl.col("_params_source").alias("params_source"),
        text_to_list(pl.col("_language_text")).list.unique(maintain_order=True).alias("languages"),
        pl.concat_list(text_to_list(pl.col("_datasets_text")).fill_null([]), tag_datasets.fill_null([])).list.unique(maintain_order=True).alias("datasets"),
        pl.col("base_models").fill_null([]),
        pl.lit(ctx.run_id).alias("first_seen_run"),
        pl.lit(ctx.run_id).alias("last_seen_run"),
    )


def _files(frame: pl.DataFrame, ctx: RunContext) -> pl.DataFrame:
    """One row per (repo, path): a repo that lists a path twice keeps the last."""
    files = frame.select("repo_id", pl.col("siblings")).explode("siblings").filter(pl.col("siblings").is_not_null())
    files = files.select(
        "repo_id",
        pl.col("siblings").struct.field("rfilename").alias("path"),
        _count(pl.col("siblings").struct.field("size")).alias("size"),
        pl.lit(ctx.run_id).alias("run_id"),
    ).filter(pl.col("path").is_not_null())
    return files.unique(["repo_id", "path"], keep="last", maintain_order=True) if _repeats_a_path(frame) else files


def _repeats_a_path(frame: pl.DataFrame) -> bool:
    """Whether any repo lists a file name twice. Repo ids are unique in ``frame``, so only such a list can
    repeat a (repo, path) key; asking each list is ~15x cheaper than a unique over all the page's files."""
    names = pl.col("siblings").list.eval(pl.element().struct.field("rfilename"))
    return bool(frame.select((names.list.n_unique() < pl.col("siblings").list.len()).any()).item())


def _stats(models: pl.DataFrame, ctx: RunContext) -> pl.DataFrame:
    return models.select("repo_id", pl.lit(ctx.observed_on).alias("observed_on"), "downloads", "likes", pl.lit(ctx.run_id).alias("run_id"))


def _versions(models: pl.DataFrame, ctx: RunContext) -> pl.DataFrame:
    return models.filter(pl.col("sha").is_not_null()).select(
        "repo_id", "sha", pl.lit(ctx.run_id).alias("first_seen_run"), pl.lit(ctx.seen_at).dt.convert_time_zone("UTC").alias("first_seen_at")
    )


def normalize_listing(
    page: pl.DataFrame,
    ctx: RunContext,
    config_facts: pl.DataFrame | None = None,
    card_facts: pl.DataFrame | None = None,
) -> dict[str, pl.DataFrame]:
    """One page of the listing (LISTING_SCHEMA) plus its parsed files -> the tidy frames, keyed by table.

    Returns models, model_files, model_lineage, model_stats_history, model_versions and quarantine
    (records without an id, counts out of range).
    """
    config_facts = config_facts if config_facts is not None else pl.DataFrame(schema=CONFIG_FACTS_SCHEMA)
    card_facts = card_facts if card_facts is not None else pl.DataFrame(schema=CARD_FACTS_SCHEMA)
    frame = _with_facts(page, config_facts, card_facts)
    lineage = _lineage(frame)
    models = _models(frame, lineage, ctx)
    return {
        "models": conform(models, MODELS_SCHEMA),
        "model_files": conform(_files(frame, ctx), FILES_SCHEMA),
        "model_lineage": conform(lineage.with_columns(pl.lit(ctx.run_id).alias("run_id")), LINEAGE_SCHEMA),
        "model_stats_history": conform(_stats(models, ctx), STATS_SCHEMA),
        "model_versions": conform(_versions(models, ctx), VERSIONS_SCHEMA),
        "quarantine": pl.concat([conform(_without_id(page, ctx), QUARANTINE_SCHEMA), _range_notes(frame, ctx.run_id)]),
    }
