"""What every parameter formula needs: positive integers read from a config, never trusted blindly."""

from __future__ import annotations

from typing import Any


def integer(cfg: dict[str, Any], *keys: str) -> int | None:
    """The first of ``keys`` holding a positive integer below 2**40 (bools, floats and strings are not counts)."""
    for key in keys:
        value = cfg.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**40:
            return value
    return None


def dims(cfg: dict[str, Any], *keys: str) -> tuple[int | None, ...]:
    """One ``integer`` per key, in order."""
    return tuple(integer(cfg, key) for key in keys)


def int_list(cfg: dict[str, Any], key: str) -> list[int] | None:
    """A list of positive integers (conv_dim, conv_kernel), or None when any entry is not one."""
    value = cfg.get(key)
    if not isinstance(value, list) or not value:
        return None
    if not all(isinstance(v, int) and not isinstance(v, bool) and 0 < v < 2**20 for v in value):
        return None
    return value


def architectures(cfg: dict[str, Any]) -> list[str]:
    value = cfg.get("architectures")
    return [a for a in value if isinstance(a, str)] if isinstance(value, list) else []


def num_labels(cfg: dict[str, Any]) -> int:
    """Labels of a classification head: id2label's size, else num_labels, else transformers' default 2."""
    id2label = cfg.get("id2label")
    if isinstance(id2label, dict) and id2label:
        return len(id2label)
    return integer(cfg, "num_labels") or 2
