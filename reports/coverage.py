"""Coverage: per library and per pipeline tag, the share of models (and of downloads) each fact is known for.

A reader knows how far to trust each report: sizes rest on ``params`` (and on which source gave it), the
taxonomy on ``arch_class``, licences on ``license``, the family tree on lineage, and card facts on a parsed
card. Shares are percentages of the group's models, and of its downloads (30 days).

Data tables
- ``coverage``: every group (``dimension`` all | library | pipeline_tag), one row each, every share.
- ``coverage-library`` and ``coverage-pipeline_tag``: the same rows per dimension, most models first.
"""

from __future__ import annotations

import polars as pl

from reports import charts
from reports.base import Context, Report, Section, Table
from reports.charts import Chart, label

SLUG = "coverage"
# fact -> SQL predicate over v_models (constant text: no data enters SQL)
FACTS: dict[str, str] = {
    "params": "params IS NOT NULL",
    "params_safetensors": "params IS NOT NULL AND params_source = 'safetensors'",
    "params_gguf": "params IS NOT NULL AND params_source = 'gguf'",
    "params_config_estimate": "params IS NOT NULL AND params_source = 'config-estimate'",
    "params_base_model": "params IS NOT NULL AND params_source = 'base-model'",
    "arch_class": "arch_class IS NOT NULL",
    "license": "license IS NOT NULL",
    "lineage": "coalesce(len(base_models), 0) > 0",
    "card_parsed": "card_parse_status = 'ok'",
}
MEANING = {
    "params": "a parameter count (any source)",
    "params_safetensors": "… from the Hub's safetensors total",
    "params_gguf": "… from the gguf metadata",
    "params_config_estimate": "… estimated from config.json",
    "params_base_model": "… taken from its one base model (adapters, quantizations, finetunes without their own)",
    "arch_class": "an architecture class",
    "license": "a licence",
    "lineage": "a known parent (base model)",
    "card_parsed": "a model card whose front matter was parsed",
}
DIMENSIONS = {"library": "library_name", "pipeline_tag": "pipeline_tag"}


def _coverage(ctx: Context) -> pl.DataFrame:
    flags = ", ".join(f"coalesce({sql}, false) AS has_{name}" for name, sql in FACTS.items())
    shares = ", ".join(
        f"round(100.0 * avg(CAST(has_{n} AS INTEGER)), 1) AS pct_models_{n}, "
        f"round(100.0 * coalesce(sum(dl) FILTER (WHERE has_{n}), 0) / nullif(sum(dl), 0), 1) AS pct_downloads_{n}"
        for n in FACTS
    )
    groups = " UNION ALL ".join(
        ["SELECT 'all' AS dimension, 'all models' AS value, * FROM m"]
        + [f"SELECT '{dim}', coalesce({col}, '(none)'), * FROM m" for dim, col in DIMENSIONS.items()]
    )
    return ctx.df(
        f"""
        WITH m AS (SELECT library_name, pipeline_tag, coalesce(downloads, 0) AS dl, {flags} FROM v_models WHERE {ctx.live}),
        g AS ({groups})
        SELECT dimension, value, count(*) AS n_models, CAST(sum(dl) AS BIGINT) AS downloads, {shares}
        FROM g GROUP BY dimension, value
        ORDER BY CASE dimension WHEN 'all' THEN 0 WHEN 'library' THEN 1 ELSE 2 END, n_models DESC, downloads DESC, value"""
    )


def _chart(overall: dict) -> Chart:
    title = "Share of models and of downloads with each fact"
    names = list(FACTS)
    if not overall.get("n_models"):
        return Chart(title, charts.empty_chart(title, "no models in the warehouse"))
    with charts.style():
        fig = charts.figure(9, 4.2)
        ax = fig.add_subplot()
        ys = range(len(names))
        models = [overall[f"pct_models_{n}"] or 0 for n in names]
        downloads = [overall[f"pct_downloads_{n}"] or 0 for n in names]
        ax.barh([y + 0.2 for y in ys], models, height=0.4, color="#4c78a8", label="models")
        ax.barh([y - 0.2 for y in ys], downloads, height=0.4, color="#f58518", label="downloads (30 days)")
        ax.set_yticks(list(ys), [label(n) for n in names])
        ax.invert_yaxis()
        ax.set_xlim(0, 100)
        ax.set_xlabel("% of models / % of downloads")
        ax.set_title(title)
        ax.legend(loc="lower right", fontsize=8)
        svg = charts.to_svg(fig, title)
    caption = "; ".join(f"{n}: {MEANING[n]}" for n in names)
    return Chart(title, svg, caption)


def build(ctx: Context) -> Report:
    frame = _coverage(ctx)
    per_dim = {dim: frame.filter(pl.col("dimension") == dim).drop("dimension") for dim in DIMENSIONS}
    tables = [
        Table(SLUG, "Coverage of every group", frame, "Shares (%) of models and of downloads with each fact, for all models, per library and per pipeline tag."),
        Table(f"{SLUG}-library", "Coverage per library", per_dim["library"], "library_name ((none): not stated), most models first."),
        Table(f"{SLUG}-pipeline_tag", "Coverage per pipeline tag", per_dim["pipeline_tag"], "pipeline_tag ((none): not stated), most models first."),
    ]
    overall = (frame.filter(pl.col("dimension") == "all").to_dicts() or [{}])[0]
    n = int(overall.get("n_models") or 0)
    headline = {"models": n, **{f"% models with {f}": overall.get(f"pct_models_{f}") for f in ("params", "arch_class", "license", "lineage", "card_parsed")}}
    summary = (
        f"Of {n:,} models: {overall.get('pct_models_params') or 0}% have a parameter count, "
        f"{overall.get('pct_models_arch_class') or 0}% an architecture class, {overall.get('pct_models_license') or 0}% a licence, "
        f"{overall.get('pct_models_lineage') or 0}% a known parent, {overall.get('pct_models_card_parsed') or 0}% a parsed card"
    )
    sections = [
        Section("How far to trust each report", "Sizes rest on parameter counts, the taxonomy on architecture classes, the "
                "family tree on lineage; a low share means the report speaks for few models.", charts=[_chart(overall)]),
        Section("Per library", tables=[tables[1]]),
        Section("Per pipeline tag", tables=[tables[2]]),
    ]
    return Report(SLUG, "Coverage", summary, headline, sections, tables)
