"""Per-document parsing of the few fetched files (config.json, README.md): strangers' text, parsed safely.

Each parser returns a plain dict (or raises ``DocumentError`` with a one-line reason); the callers
collect the results into declared Polars frames, so loading still goes Polars -> Arrow -> DuckDB.
Front matter is read with ``yaml.safe_load`` only; values are never evaluated nor put into SQL text.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from typing import Any

import yaml

from hubcensus.errors import HubcensusError

MAX_NODES = 200_000  # a YAML alias bomb expands past this when walked: refuse it
MAX_DEPTH = 64
# Size caps, checked before anything is decoded or parsed (pure-Python YAML reads ~50-100 KB/s here; a
# 10.6 MB front matter took 48 s and 1.46 GB). Real front matter is a few KB, the largest (MTEB result
# tables) a few hundred KB; real cards are rarely over 1 MB.
MAX_CARD_BYTES = 8 * 1024 * 1024
MAX_FRONT_MATTER_BYTES = 1024 * 1024
# Sane ranges for config.json dimensions (inclusive), each far beyond any real model, and for a count
# of parameters: outside them the value is NULL and the row carries a note.
DIM_RANGES: dict[str, tuple[int, int]] = {
    "hidden_size": (1, 2**20),
    "num_layers": (1, 100_000),
    "num_heads": (1, 2**16),
    "num_kv_heads": (1, 2**16),
    "vocab_size": (1, 2**28),
    "context_length": (1, 2**40),
    "intermediate_size": (1, 2**24),
}
MAX_PARAMS = 10**15  # a thousand times the largest models of 2026


class DocumentError(HubcensusError, ValueError):
    """A document that cannot be parsed; the message is the one-line reason kept in quarantine."""


def jsonable(value: Any) -> Any:
    """A YAML/JSON value made JSON-safe: str keys, no NaN/inf, dates as ISO text; bounded size and depth."""
    budget = [MAX_NODES]

    def walk(v: Any, depth: int) -> Any:
        budget[0] -= 1
        if budget[0] < 0:
            raise DocumentError(f"more than {MAX_NODES} values (alias expansion?)")
        if depth > MAX_DEPTH:
            raise DocumentError(f"nested deeper than {MAX_DEPTH} levels")
        if v is None or isinstance(v, (bool, str)):
            return v
        if isinstance(v, int):
            return v if -(2**63) <= v < 2**63 else str(v)
        if isinstance(v, float):
            return v if math.isfinite(v) else str(v)
        if isinstance(v, (dt.date, dt.datetime, dt.time)):
            return v.isoformat()
        if isinstance(v, dict):
            return {str(k): walk(x, depth + 1) for k, x in v.items()}
        if isinstance(v, (list, tuple, set, frozenset)):
            items = sorted(v, key=repr) if isinstance(v, (set, frozenset)) else v
            return [walk(x, depth + 1) for x in items]
        if isinstance(v, bytes):
            return v.decode("utf-8", "replace")
        return str(v)

    return walk(value, 0)


def dumps(value: Any) -> str:
    return json.dumps(jsonable(value), ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def one_line(exc: BaseException, limit: int = 300) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}"[:limit] if not isinstance(exc, DocumentError) else text[:limit]


# ---------------------------------------------------------------- config.json
DIMENSIONS: dict[str, tuple[str, ...]] = {
    "hidden_size": ("hidden_size", "d_model", "n_embd", "dim", "embed_dim"),
    "num_layers": ("num_hidden_layers", "num_layers", "n_layer", "n_layers", "encoder_layers"),
    "num_heads": ("num_attention_heads", "num_heads", "n_head", "n_heads", "encoder_attention_heads"),
    "num_kv_heads": ("num_key_value_heads", "num_kv_heads", "multi_query_group_num"),
    "vocab_size": ("vocab_size", "n_vocab", "padded_vocab_size"),
    "context_length": ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length", "n_ctx", "max_seq_len"),
    "intermediate_size": ("intermediate_size", "d_ff", "n_inner", "ffn_dim", "hidden_dim", "ffn_hidden_size", "encoder_ffn_dim"),
}
NESTED_CONFIGS = ("text_config", "llm_config", "language_config")


def _dim(cfg: dict[str, Any], keys: tuple[str, ...], bounds: tuple[int, int], notes: list[str]) -> int | None:
    """The first of ``keys`` holding an integer within ``bounds``; integers outside them leave a note."""
    low, high = bounds
    for key in keys:
        v = cfg.get(key)
        if not isinstance(v, int) or isinstance(v, bool):
            continue
        if low <= v <= high:
            return v
        notes.append(f"config.json {key} = {v} is out of range ({low}..{high:,}): stored as NULL")
    return None


def quantization(cfg: dict[str, Any]) -> tuple[str | None, int | None]:
    """(quant_method, bits) from a config's quantization_config, if any."""
    q = cfg.get("quantization_config")
    if not isinstance(q, dict):
        return None, None
    method = q.get("quant_method")
    method = method.strip().lower() if isinstance(method, str) and method.strip() else None
    bits = q.get("bits", q.get("w_bit"))
    if not (isinstance(bits, int) and not isinstance(bits, bool) and 0 < bits <= 32):
        bits = None
    if bits is None and q.get("load_in_4bit") is True:
        bits = 4
    elif bits is None and q.get("load_in_8bit") is True:
        bits = 8
    if method is None and (q.get("load_in_4bit") is True or q.get("load_in_8bit") is True):
        method = "bitsandbytes"
    return method, bits


def parse_config(raw: bytes, formulas: dict[str, str]) -> dict[str, Any]:
    """config.json bytes -> the model_configs fields (raises DocumentError when it is not a JSON object)."""
    from warehouse.normalize.params import estimate

    try:
        cfg = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise DocumentError(f"config.json is not UTF-8: {exc.reason} at byte {exc.start}") from None
    except json.JSONDecodeError as exc:
        raise DocumentError(f"config.json is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise DocumentError("config.json is nested too deeply") from None
    if not isinstance(cfg, dict):
        raise DocumentError(f"config.json is a JSON {type(cfg).__name__}, not an object")
    raw_json = dumps(cfg)
    model_type = cfg.get("model_type") if isinstance(cfg.get("model_type"), str) else None
    archs = cfg.get("architectures")
    archs = [a for a in archs if isinstance(a, str)] if isinstance(archs, list) else None
    notes: list[str] = []
    row: dict[str, Any] = {"model_type": model_type, "architectures": archs}
    nested = [cfg[k] for k in NESTED_CONFIGS if isinstance(cfg.get(k), dict)]
    for name, keys in DIMENSIONS.items():
        value = _dim(cfg, keys, DIM_RANGES[name], notes)
        for sub in nested:
            value = value if value is not None else _dim(sub, keys, DIM_RANGES[name], notes)
        row[name] = value
    dtype = cfg.get("torch_dtype", cfg.get("dtype"))
    row["torch_dtype"] = dtype if isinstance(dtype, str) else None
    row["quant_method"], row["quant_bits"] = quantization(cfg)
    row["params_estimate"], row["params_formula"] = estimate(cfg, model_type, formulas)
    row["is_encoder_decoder"] = cfg["is_encoder_decoder"] if isinstance(cfg.get("is_encoder_decoder"), bool) else None
    if row["params_estimate"] is not None and not 1 <= row["params_estimate"] <= MAX_PARAMS:
        notes.append(f"params estimate {row['params_estimate']} ({row['params_formula']}) is out of range (1..{MAX_PARAMS:,}): stored as NULL")
        row["params_estimate"], row["params_formula"] = None, None
    row["raw_json"] = raw_json
    row["notes"] = notes  # not a column: one-line notes for the loader's quarantine (stage config)
    return row


# ---------------------------------------------------------------- README.md
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")  # cards saved by Windows editors: decoded, not quarantined
FRONT_MATTER = re.compile(r"\A\ufeff?---[ \t]*\r?\n(.*?)(?:\r?\n)?^(?:---|\.\.\.)[ \t]*\r?$", re.S | re.M)
EMPTY_FRONT_MATTER = re.compile(r"\A\ufeff?---[ \t]*\r?\n(?:---|\.\.\.)[ \t]*\r?$", re.M)


def parse_card(raw: bytes, max_card_bytes: int = MAX_CARD_BYTES, max_front_matter_bytes: int = MAX_FRONT_MATTER_BYTES) -> dict[str, Any]:
    """README.md bytes -> front_matter (JSON text or None), card_length (characters), parse_status, parse_error.

    parse_status: ok | no_front_matter | empty_front_matter | invalid_yaml | not_a_mapping | undecodable |
    too_large. Only the last four and invalid_yaml are failures (quarantined); a card without front
    matter is common and legitimate. A card over ``max_card_bytes`` is refused before it is decoded, a
    front matter over ``max_front_matter_bytes`` before YAML sees it (card_length is then in bytes).
    """
    if len(raw) > max_card_bytes:
        return {"front_matter": None, "card_length": len(raw), "parse_status": "too_large",
                "parse_error": f"README.md is {len(raw):,} bytes, over the cap of {max_card_bytes:,}: not parsed"}  # fmt: skip
    try:
        text = raw.decode("utf-16") if raw[:2] in UTF16_BOMS else raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return {"front_matter": None, "card_length": len(raw), "parse_status": "undecodable",
                "parse_error": f"README.md is neither UTF-8 nor UTF-16 with a BOM: {exc.reason} at byte {exc.start}"}  # fmt: skip
    base = {"front_matter": None, "card_length": len(text), "parse_error": None}
    if EMPTY_FRONT_MATTER.match(text):
        return base | {"parse_status": "empty_front_matter"}
    match = FRONT_MATTER.match(text)
    if not match:
        return base | {"parse_status": "no_front_matter"}
    size = len(match.group(1).encode("utf-8"))
    if size > max_front_matter_bytes:
        return base | {"parse_status": "too_large",
                       "parse_error": f"front matter is {size:,} bytes, over the cap of {max_front_matter_bytes:,}: not parsed"}  # fmt: skip
    try:
        data = yaml.safe_load(match.group(1))
        if data is None:
            return base | {"parse_status": "empty_front_matter"}
        if not isinstance(data, dict):
            return base | {"parse_status": "not_a_mapping", "parse_error": f"front matter is a YAML {type(data).__name__}, not a mapping"}
        return base | {"parse_status": "ok", "front_matter": dumps(data)}
    except yaml.YAMLError as exc:
        first = " ".join(str(exc).split())
        return base | {"parse_status": "invalid_yaml", "parse_error": f"front matter is not valid YAML: {first}"[:300]}
    except (DocumentError, RecursionError, ValueError, TypeError) as exc:
        return base | {"parse_status": "invalid_yaml", "parse_error": f"front matter rejected: {one_line(exc)}"}


CARD_FAILURES = ("invalid_yaml", "not_a_mapping", "undecodable", "too_large")


def card_lineage_fields(front_matter_json: str | None) -> dict[str, str | None]:
    """The cardData fields normalization reads, from a parsed front matter, in the listing's text shape."""
    out: dict[str, str | None] = {}
    data = json.loads(front_matter_json) if front_matter_json else {}
    from warehouse.schemas import CARD_DATA_FIELDS

    for name in CARD_DATA_FIELDS:
        v = data.get(name)
        out[name] = None if v is None else v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)
    return out
