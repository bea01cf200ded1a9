"""Architecture class (encoder | decoder | encoder-decoder) of each model, and the rule that decided it.

Rules, first that decides wins (``models.arch_note`` names it, or says why the class is unknown):

1. ``model_type`` in ``arch_classes.csv``: generated from transformers' auto-model mappings
   (``warehouse/mappings/generate.py``), every type transformers knows plus hand overrides with reasons.
2. ``transformersInfo.auto_model`` (the Hub's listing), when the auto class decides (``auto_model_classes.csv``).
3. ``is_encoder_decoder: true`` in the fetched ``config.json``.
4. The grammar of the architecture class names (``architecture_patterns.csv``: ``*ForCausalLM``, ``*ForMaskedLM``,
   ``*ForConditionalGeneration``...), first pattern in file order.
"""

from __future__ import annotations

import polars as pl

from warehouse.normalize import mappings


def _by_pattern(architectures: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """(class, the architecture name that matched) by the first suffix pattern any architecture ends with."""
    klass = pl.lit(None, dtype=pl.String)
    matched = pl.lit(None, dtype=pl.String)
    for suffix, arch_class in reversed(mappings.architecture_patterns()):
        name = architectures.list.filter(pl.element().str.ends_with(suffix)).list.first()
        klass = pl.when(name.is_not_null()).then(pl.lit(arch_class)).otherwise(klass)
        matched = pl.when(name.is_not_null()).then(name).otherwise(matched)
    return klass, matched


def _unknown_reason(model_type: pl.Expr, architectures: pl.Expr, auto_model: pl.Expr, version: str) -> pl.Expr:
    names = architectures.list.join(", ")
    nothing = model_type.is_null() & (architectures.list.len().fill_null(0) == 0) & auto_model.is_null()
    library = pl.col("library_name").fill_null("none stated")
    return (
        pl.when(nothing).then(pl.format("unknown: no model_type, architectures or transformersInfo (library: {})", library))
        .when(model_type.is_not_null()).then(pl.format(
            "unknown: model_type {} is not a transformers {} type, and neither transformersInfo, is_encoder_decoder "
            "nor the architecture names ({}) decide", model_type, pl.lit(version), names.fill_null("none")))
        .otherwise(pl.format("unknown: no model_type, and neither transformersInfo, is_encoder_decoder nor the "
                             "architecture names ({}) decide", names.fill_null("none")))
    )  # fmt: skip


def arch_class_columns(model_type: pl.Expr, architectures: pl.Expr) -> list[pl.Expr]:
    """``arch_class`` and ``arch_note`` for a frame with transformersInfo, cfg_is_encoder_decoder, library_name."""
    table = mappings.arch_classes()
    version = mappings.transformers_version()
    by_type = model_type.replace_strict(table["model_type"], table["arch_class"], default=None, return_dtype=pl.String)
    type_rule = model_type.replace_strict(table["model_type"], table["rule"], default=None, return_dtype=pl.String)
    auto_model = pl.col("transformersInfo").str.json_path_match("$.auto_model").str.strip_chars()
    by_auto = auto_model.replace_strict(mappings.auto_model_classes(), default=None, return_dtype=pl.String)
    by_config = pl.when(pl.col("cfg_is_encoder_decoder")).then(pl.lit("encoder-decoder"))
    by_name, matched = _by_pattern(architectures)
    note = (
        pl.when(by_type.is_not_null()).then(pl.format("model_type {}: {} (arch_classes.csv, transformers {})", model_type, type_rule, pl.lit(version)))
        .when(by_auto.is_not_null()).then(pl.format("transformersInfo.auto_model {}", auto_model))
        .when(by_config.is_not_null()).then(pl.lit("config.json is_encoder_decoder: true"))
        .when(by_name.is_not_null()).then(pl.format("architecture name {}", matched))
        .otherwise(_unknown_reason(model_type, architectures, auto_model, version))
    )  # fmt: skip
    return [pl.coalesce(by_type, by_auto, by_config, by_name).alias("arch_class"), note.alias("arch_note")]
