"""The mapping tables kept as data (``warehouse/mappings/*.csv``), loaded as Polars frames."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import polars as pl

MAPPINGS_DIR = Path(__file__).resolve().parent.parent / "mappings"
ARCH_CLASSES = ("encoder", "decoder", "encoder-decoder")
RELATIONS = ("finetune", "adapter", "quantized", "merge", "base")


@lru_cache(maxsize=None)
def _read(name: str) -> pl.DataFrame:
    return pl.read_csv(MAPPINGS_DIR / name, infer_schema=False)


def arch_classes() -> pl.DataFrame:
    """model_type -> arch_class, params_formula (the transformers model types of the snapshot and the catalog)."""
    df = _read("arch_classes.csv").select("model_type", "arch_class", "params_formula")
    bad = df.filter(~pl.col("arch_class").is_in(ARCH_CLASSES))
    if bad.height:
        raise ValueError(f"arch_classes.csv: unknown arch_class for {bad['model_type'].to_list()}")
    return df


def architecture_patterns() -> list[tuple[str, str]]:
    """(architecture class-name suffix, arch_class), in file order: used when model_type is unmapped."""
    return list(_read("architecture_patterns.csv").select("suffix", "arch_class").iter_rows())


def license_aliases() -> dict[str, str]:
    return dict(_read("license_aliases.csv").select("alias", "license").iter_rows())


def relation_aliases() -> dict[str, str]:
    df = _read("lineage_relations.csv")
    bad = df.filter(~pl.col("relation").is_in(RELATIONS))
    if bad.height:
        raise ValueError(f"lineage_relations.csv: unknown relation for {bad['alias'].to_list()}")
    return dict(df.select("alias", "relation").iter_rows())


def params_formulas() -> dict[str, str]:
    df = arch_classes().filter(pl.col("params_formula").is_not_null())
    return dict(df.select("model_type", "params_formula").iter_rows())
