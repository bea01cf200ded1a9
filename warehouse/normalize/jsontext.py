"""Columnar helpers for JSON-ish text columns (see ``warehouse.schemas``).

A ``String`` leaf read by Polars holds a scalar's text (``en``) or the JSON text of an array/object
(``["en", "de"]``). These expressions turn such columns into lists of strings without a Python loop and
without ever failing a page on a surprising value: a flat array of strings is JSON-decoded, anything odder
falls back to picking its string literals (numbers, booleans and objects inside are dropped), a plain scalar becomes a one-element list.
"""

from __future__ import annotations

import polars as pl

_STR = r'"(?:[^"\\\x00-\x1f]|\\["\\/bfnrt]|\\u(?:[0-9a-cA-Ce-fE-F][0-9a-fA-F]{3}|[dD][0-7][0-9a-fA-F]{2}|[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}))*"'  # valid JSON strings only'
_SCALAR = rf"(?:{_STR}|null)"  # numbers/booleans are no names: such arrays take the picking path
FLAT_ARRAY = rf"^\[\s*(?:{_SCALAR}\s*(?:,\s*{_SCALAR}\s*)*)?\]$"


def text_to_list(expr: pl.Expr) -> pl.Expr:
    """String-or-array text -> List(String): stripped, empty strings and nulls dropped; objects -> null."""
    text = expr.str.strip_chars()
    is_array = text.str.starts_with("[")
    flat = text.str.contains(FLAT_ARRAY)
    decoded = pl.when(flat).then(text).otherwise(None).str.json_decode(pl.List(pl.String))
    odd = pl.when(is_array & ~flat).then(text).otherwise(None)
    for _ in range(3):  # objects inside the array (up to 3 levels deep) are not values: drop them first
        odd = odd.str.replace_all(rf"\{{(?:{_STR}|[^{{}}\"])*\}}", "null")
    picked = (
        odd.str.extract_all(_STR)
        .list.eval(pl.element().str.slice(1, pl.element().str.len_chars() - 2).str.replace_all(r'\\(["\\/])', "$1"))
    )
    scalar = pl.concat_list(pl.when(~is_array & ~text.str.starts_with("{")).then(text).otherwise(None))
    out = pl.when(flat).then(decoded).when(is_array).then(picked).otherwise(scalar)
    stripped = out.list.eval(pl.element().str.strip_chars())  # elementwise: one pass over every list's values
    cleaned = stripped.list.filter(pl.element().is_not_null() & (pl.element() != ""))
    return pl.when(text.is_null()).then(None).otherwise(cleaned)


def text_first(expr: pl.Expr) -> pl.Expr:
    """The first string of a string-or-array text (null when none)."""
    return text_to_list(expr).list.first()


def json_int(expr: pl.Expr, path: str) -> pl.Expr:
    """An integer at ``path`` of a JSON text column (null when absent or not an integer)."""
    return expr.str.json_path_match(path).cast(pl.Int64, strict=False)


def to_int(expr: pl.Expr) -> pl.Expr:
    """A count read as text -> Int64 (``"7"`` -> 7; anything else -> null)."""
    return expr.str.strip_chars().cast(pl.Int64, strict=False)


def to_bool(expr: pl.Expr) -> pl.Expr:
    return pl.when(expr == "true").then(True).when(expr == "false").then(False).otherwise(None)


def in_range(expr: pl.Expr, low: int, high: int) -> pl.Expr:
    """``expr`` where it lies within [low, high], else null (a count that cannot be true is no count)."""
    return pl.when(expr.is_between(low, high)).then(expr).otherwise(None)
