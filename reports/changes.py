"""The morning digest: what the report's run found changed on the Hub since the run before it.

Reads ``model_changes`` (recorded at load time, warehouse/changes.py) with the marts around it. On the first
run there is nothing to compare: the page says "first run: N models, nothing to compare" instead of listing
every model as new. Every value from the Hub goes through the template's autoescape or ``charts.label``.

Data tables
- ``changes``: every change the run found (kind, repo, field, before, after), with downloads, model type, class.
- ``changes-counts``: changes per kind (every kind, zeros included).
- ``changes-new_types``: model types no repo carried before this run.
- ``changes-new_families``: lineage roots whose derived repos all appeared in this run.
- ``changes-largest``: new largest model per architecture class and per model type (new, or grown past the old one).
- ``changes-top_models``: licence changes and deletions among the top 1,000 models by downloads.
- ``changes-movers``: biggest moves in 30-day downloads between the two latest days of model_stats_history.
- ``changes-catalog``: new repos matching a catalog entry (confident, or confidence >= 0.5: a lineage match and better).
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from reports import charts
from reports.base import CONFIDENT, Context, Report, Section, Table
from reports.charts import Chart, label
from warehouse.changes import CHANGE_KINDS as KINDS

SLUG = "changes"
TITLE = "What changed"
TOP_MODELS = 1000  # "among the top 1,000 by downloads"
MOVERS = 15  # gainers and losers each
CATALOG_MIN_CONFIDENCE = 0.5  # lineage matches (a fine-tune of a catalog release) and better
KIND_COLOURS = {"new": "#54a24b", "restored": "#72b7b2", "renamed": "#4c78a8", "deleted": "#e45756"}


def _previous_run(ctx: Context, run_id: str) -> str | None:
    return ctx.scalar("SELECT max(run_id) FROM harvest_runs WHERE run_id < ?", [run_id])


def _change_rows(ctx: Context, run_id: str) -> pl.DataFrame:
    order = " ".join(f"WHEN '{k}' THEN {i}" for i, k in enumerate(KINDS))
    return ctx.df(
        f"""SELECT c.change, c.repo_id, c.field, c.before, c.after, m.downloads, m.model_type, m.arch_class
            FROM model_changes c LEFT JOIN models m USING (repo_id)
            WHERE c.run_id = ?
            ORDER BY CASE c.change {order} END, m.downloads DESC NULLS LAST, c.repo_id, c.field""",
        [run_id],
    )


def _counts(rows: pl.DataFrame) -> pl.DataFrame:
    got = dict(rows.group_by("change").len().iter_rows()) if rows.height else {}
    return pl.DataFrame({"change": list(KINDS), "n_changes": [int(got.get(k, 0)) for k in KINDS]})


def _new_types(ctx: Context, run_id: str) -> pl.DataFrame:
    """Model types carried now by repos that arrived (or changed type) in the run, and by no repo before it."""
    return ctx.df(
        """WITH this AS (SELECT * FROM model_changes WHERE run_id = $run),
           took AS (SELECT repo_id FROM this WHERE change IN ('new', 'renamed')
                    UNION SELECT repo_id FROM this WHERE change = 'arch_changed' AND field = 'model_type'),
           before AS (SELECT model_type FROM models WHERE model_type IS NOT NULL AND first_seen_run < $run
                        AND repo_id NOT IN (SELECT repo_id FROM took)
                      UNION SELECT before FROM this WHERE change = 'arch_changed' AND field = 'model_type' AND before IS NOT NULL)
           SELECT m.model_type, min(m.arch_class) AS arch_class, count(*) AS n_repos,
                  CAST(coalesce(sum(m.downloads), 0) AS BIGINT) AS downloads,
                  arg_max(m.repo_id, struct_pack(d := coalesce(m.downloads, -1), r := m.repo_id)) AS repo_id
           FROM models m
           WHERE m.deleted_on IS NULL AND m.model_type IS NOT NULL AND m.repo_id IN (SELECT repo_id FROM took)
             AND m.model_type NOT IN (SELECT model_type FROM before)
           GROUP BY m.model_type ORDER BY downloads DESC, n_repos DESC, m.model_type""",
        params={"run": run_id},
    )


def _new_families(ctx: Context, run_id: str) -> pl.DataFrame:
    """Lineage roots all of whose derived repos arrived in the run: a family the Hub did not have before."""
    return ctx.df(
        """WITH arrived AS (SELECT repo_id FROM model_changes WHERE run_id = $run AND change IN ('new', 'renamed'))
           SELECT l.parent_id AS root_id, bool_or(l.parent_in_warehouse) AS root_in_warehouse, count(*) AS n_children,
                  CAST(coalesce(sum(l.child_downloads), 0) AS BIGINT) AS children_downloads,
                  arg_max(l.child_id, struct_pack(d := coalesce(l.child_downloads, -1), c := l.child_id)) AS top_child
           FROM v_lineage l
           WHERE l.parent_id NOT IN (SELECT child_id FROM v_lineage)
           GROUP BY l.parent_id
           HAVING bool_and(l.child_id IN (SELECT repo_id FROM arrived))
           ORDER BY children_downloads DESC, n_children DESC, root_id""",
        params={"run": run_id},
    )


def _largest(ctx: Context, run_id: str) -> pl.DataFrame:
    """Per architecture class and per model type: the largest model now, where it arrived or grew in the run and
    exceeds the largest of the models listed before it (their sizes as they were then)."""
    return ctx.df(
        """WITH this AS (SELECT * FROM model_changes WHERE run_id = $run),
           moved AS (SELECT repo_id, min(change) FILTER (WHERE change IN ('new', 'renamed', 'params_changed', 'restored')) AS why
                     FROM this GROUP BY repo_id HAVING why IS NOT NULL),
           was AS (SELECT repo_id, TRY_CAST(before AS BIGINT) AS params FROM this WHERE change = 'params_changed'),
           cur AS (SELECT repo_id, arch_class, model_type, params FROM v_models WHERE deleted_on IS NULL AND params IS NOT NULL),
           prev AS (SELECT m.repo_id, m.arch_class, m.model_type, CASE WHEN w.repo_id IS NULL THEN m.params ELSE w.params END AS params
                    FROM v_models m LEFT JOIN was w USING (repo_id)
                    WHERE m.first_seen_run < $run AND m.repo_id NOT IN (SELECT repo_id FROM this WHERE change IN ('new', 'renamed', 'restored'))
                      AND (m.deleted_on IS NULL OR m.repo_id IN (SELECT repo_id FROM this WHERE change = 'deleted'))),
           groups AS (SELECT 'arch_class' AS group_kind, arch_class AS group_name, repo_id, params FROM cur WHERE arch_class IS NOT NULL
                      UNION ALL SELECT 'model_type', model_type, repo_id, params FROM cur WHERE model_type IS NOT NULL),
           prev_groups AS (SELECT 'arch_class' AS group_kind, arch_class AS group_name, repo_id, params FROM prev WHERE arch_class IS NOT NULL
                           UNION ALL SELECT 'model_type', model_type, repo_id, params FROM prev WHERE model_type IS NOT NULL),
           top AS (SELECT * FROM groups QUALIFY row_number() OVER (PARTITION BY group_kind, group_name ORDER BY params DESC, repo_id) = 1),
           prev_top AS (SELECT * FROM prev_groups WHERE params IS NOT NULL
                        QUALIFY row_number() OVER (PARTITION BY group_kind, group_name ORDER BY params DESC, repo_id) = 1)
           SELECT t.group_kind, t.group_name, t.repo_id, t.params, mv.why AS change,
                  p.repo_id AS previous_largest, p.params AS previous_params
           FROM top t JOIN moved mv USING (repo_id)
           LEFT JOIN prev_top p ON p.group_kind = t.group_kind AND p.group_name = t.group_name
           WHERE p.params IS NULL OR t.params > p.params
           ORDER BY t.group_kind, t.params DESC, t.group_name""",
        params={"run": run_id},
    )


def _top_models(ctx: Context, run_id: str) -> pl.DataFrame:
    """Licence changes and deletions among the TOP_MODELS most downloaded (a model deleted tonight ranks by its last figure)."""
    return ctx.df(
        """WITH this AS (SELECT * FROM model_changes WHERE run_id = $run),
           ranked AS (SELECT repo_id, downloads, row_number() OVER (ORDER BY downloads DESC NULLS LAST, repo_id) AS downloads_rank
                      FROM models WHERE deleted_on IS NULL OR repo_id IN (SELECT repo_id FROM this WHERE change = 'deleted'))
           SELECT c.change, c.repo_id, r.downloads_rank, r.downloads, c.before, c.after
           FROM this c JOIN ranked r USING (repo_id)
           WHERE c.change IN ('license_changed', 'deleted') AND r.downloads_rank <= $top
           ORDER BY r.downloads_rank, c.change""",
        params={"run": run_id, "top": TOP_MODELS},
    )


def _movers(ctx: Context, run_id: str) -> tuple[pl.DataFrame, int]:
    """The MOVERS biggest gains and losses in 30-day downloads, run day against the latest day before it."""
    days = ctx.rows(
        """WITH d1 AS (SELECT CAST(timezone('UTC', started_at) AS DATE) AS day FROM harvest_runs WHERE run_id = $run)
           SELECT (SELECT day FROM d1), (SELECT max(observed_on) FROM model_stats_history WHERE observed_on < (SELECT day FROM d1))""",
        params={"run": run_id},
    )
    day1, day0 = days[0] if days else (None, None)
    moves = """SELECT s1.repo_id, s0.observed_on AS day_before, s0.downloads AS downloads_before, s1.downloads AS downloads_after,
                      s1.downloads - s0.downloads AS delta, round(100.0 * (s1.downloads - s0.downloads) / nullif(s0.downloads, 0), 1) AS pct
               FROM model_stats_history s1 JOIN model_stats_history s0 ON s0.repo_id = s1.repo_id AND s0.observed_on = $day0
               WHERE s1.observed_on = $day1 AND s1.downloads IS DISTINCT FROM s0.downloads AND s1.downloads IS NOT NULL AND s0.downloads IS NOT NULL"""
    params = {"day0": day0, "day1": day1}
    frame = ctx.df(
        f"""WITH mv AS ({moves})
            (SELECT * FROM mv WHERE delta > 0 ORDER BY delta DESC, repo_id LIMIT {MOVERS})
            UNION ALL (SELECT * FROM mv WHERE delta < 0 ORDER BY delta, repo_id LIMIT {MOVERS})
            ORDER BY delta DESC, repo_id""",
        params,
    )
    return frame, int(ctx.scalar(f"SELECT count(*) FROM ({moves})", params) or 0)


def _catalog_hits(ctx: Context, run_id: str) -> pl.DataFrame | None:
    if not ctx.catalog_loaded:
        return None
    return ctx.df(
        """SELECT c.repo_id, x.catalog_name, x.method, x.confidence, x.confident, m.downloads
           FROM model_changes c JOIN catalog_matches x USING (repo_id) LEFT JOIN models m USING (repo_id)
           WHERE c.run_id = $run AND c.change IN ('new', 'renamed') AND (x.confident OR x.confidence >= $min)
           ORDER BY x.confidence DESC, m.downloads DESC NULLS LAST, c.repo_id, x.catalog_name""",
        params={"run": run_id, "min": CATALOG_MIN_CONFIDENCE},
    )


# --- charts ----------------------------------------------------------------------------------------------

def _counts_chart(counts: pl.DataFrame, previous: str) -> Chart:
    title = "Changes found, by kind"
    rows = counts.filter(pl.col("n_changes") > 0)
    if rows.is_empty():
        return Chart(title, charts.empty_chart(title, f"nothing changed since run {previous}"))
    names, values = rows["change"].to_list()[::-1], rows["n_changes"].to_list()[::-1]
    with charts.style():
        fig = charts.figure(9, 0.42 * len(names) + 1.5)
        ax = fig.add_subplot()
        ax.barh([label(n.replace("_", " ")) for n in names], values, color=[KIND_COLOURS.get(n, charts.HUB_COLOUR) for n in names], height=0.65)
        for y, v in enumerate(values):
            ax.text(v, y, f" {v:,}", va="center", fontsize=8, color="#444444")
        ax.set_title(title)
        ax.set_xlabel("models (count)")
        charts.count_axis(ax.xaxis)
        ax.margins(x=0.12)
        ax.grid(axis="y", visible=False)
        svg = charts.to_svg(fig, title)
    return Chart(title, svg, f"Against the rows run {previous} left; a model can change in several ways at once.")


def _movers_chart(movers: pl.DataFrame) -> Chart:
    title = "Biggest moves in 30-day downloads"
    if movers.is_empty():
        return Chart(title, charts.empty_chart(title, "no earlier day in model_stats_history to compare with"))
    names, deltas = movers["repo_id"].to_list()[::-1], movers["delta"].to_list()[::-1]
    with charts.style():
        fig = charts.figure(9, 0.3 * len(names) + 1.6)
        ax = fig.add_subplot()
        ax.barh([label(n, 52) for n in names], deltas, color=["#54a24b" if d > 0 else "#e45756" for d in deltas], height=0.65)
        for y, d in enumerate(deltas):
            ax.text(d, y, f" {'+' if d > 0 else '−'}{charts.human(abs(d))} ", va="center", ha="left" if d > 0 else "right", fontsize=8, color="#444444")
        ax.axvline(0, color="#888888", linewidth=0.8)
        ax.set_title(title)
        ax.set_xlabel("change in downloads over the last 30 days")
        charts.human_axis(ax.xaxis)
        ax.margins(x=0.2)
        ax.grid(axis="y", visible=False)
        svg = charts.to_svg(fig, title)
    return Chart(title, svg, f"The {MOVERS} biggest gains and losses, from model_stats_history.")


# --- the report ------------------------------------------------------------------------------------------

def _empty_changes() -> pl.DataFrame:
    cols = ("change", "repo_id", "field", "before", "after", "downloads", "model_type", "arch_class")
    return pl.DataFrame(schema={c: (pl.Int64 if c == "downloads" else pl.String) for c in cols})


def _nothing_to_compare(text: str, headline: dict) -> Report:
    """First run, or a warehouse that records no changes: one section saying so, the (empty) tables still written."""
    table = Table(SLUG, "Changes", _empty_changes(), "model_changes for this run.")
    counts = Table(f"{SLUG}-counts", "Changes per kind", _counts(table.frame), "model_changes counted by kind.")
    chart = Chart("Changes found, by kind", charts.empty_chart("Changes found, by kind", text))
    return Report(SLUG, TITLE, text, headline, [Section("Nothing to compare", text, charts=[chart], anchor="headline")],
                  [table, counts], [text])


def _sections(tables: dict[str, Table], counts_chart: Chart, movers_chart: Chart, n_movers: int, previous: str) -> list[Section]:
    t = {name: tables[name] for name in tables}
    n = {name: table.frame.height for name, table in tables.items()}
    sections = [
        Section("Headline", f"{n['changes']:,} change(s) since run {previous}.", charts=[counts_chart], tables=[t["counts"]], anchor="headline"),
        Section("New model types and families",
                f"{n['new_types']:,} model type(s) no repo carried before; {n['new_families']:,} lineage root(s) whose derived repos all arrived tonight.",
                tables=[t["new_types"], t["new_families"]], anchor="new"),
        Section("New largest models", f"{n['largest']:,} architecture class(es) or model type(s) with a new largest model.",
                tables=[t["largest"]], anchor="largest"),
        Section(f"Licence changes and deletions in the top {TOP_MODELS:,}",
                f"{n['top_models']:,} licence change(s) or deletion(s) among the {TOP_MODELS:,} most downloaded models.",
                tables=[t["top_models"]], anchor="top"),
        Section("Download movers", f"{n_movers:,} model(s) moved in 30-day downloads; the biggest moves:",
                charts=[movers_chart], tables=[t["movers"]], anchor="movers"),
    ]
    if "catalog" in t:
        confident = int(t["catalog"].frame["confident"].sum()) if n["catalog"] else 0
        sections.append(Section("New repos matching a catalog entry",
                                f"{n['catalog']:,} match(es) of new repos to catalog entries; {confident:,} with confidence ≥ {CONFIDENT}.",
                                tables=[t["catalog"]], anchor="catalog"))
    sections.append(Section("Every change", "", tables=[t["changes"]], anchor="all"))
    return sections


def _tables(ctx: Context, run_id: str) -> tuple[dict[str, Table], pl.DataFrame, int]:
    rows = _change_rows(ctx, run_id)
    movers, n_movers = _movers(ctx, run_id)
    specs = {
        "changes": ("Every change", rows, "model_changes for this run, with the model's downloads, type and class.", 60),
        "counts": ("Changes per kind", _counts(rows), "model_changes counted by kind.", 25),
        "new_types": ("New model types", _new_types(ctx, run_id), "Types no repo carried before this run; repo_id is the most downloaded.", 25),
        "new_families": ("New families", _new_families(ctx, run_id), "Lineage roots whose derived repos all arrived in this run.", 25),
        "largest": ("New largest models", _largest(ctx, run_id), "Per arch class and model type; previous = the largest of the models listed before.", 40),
        "top_models": (f"Top {TOP_MODELS:,}: licence changes and deletions", _top_models(ctx, run_id), "downloads_rank among models listed (or deleted tonight).", 40),
        "movers": ("Download movers", movers, f"The {MOVERS} biggest gains and losses between the two latest days of stats.", 2 * MOVERS),
    }
    hits = _catalog_hits(ctx, run_id)
    if hits is not None:
        specs["catalog"] = ("New repos matching a catalog entry", hits, f"catalog_matches of new repos, confidence ≥ {CATALOG_MIN_CONFIDENCE}.", 40)
    tables = {key: Table(SLUG if key == "changes" else f"{SLUG}-{key}", title, frame, text, preview_rows=preview)
              for key, (title, frame, text, preview) in specs.items()}
    return tables, movers, n_movers


def _headline(run_id: str, previous: str, tables: dict[str, Table], n_movers: int) -> tuple[dict, str]:
    counts = dict(tables["counts"].frame.iter_rows())
    top = tables["top_models"].frame
    headline = {
        "run": run_id, "compared_with": previous, "changes": tables["changes"].frame.height,
        **{kind: int(counts[kind]) for kind in KINDS},
        "new model types": tables["new_types"].frame.height, "new families": tables["new_families"].frame.height,
        "new largest": tables["largest"].frame.height,
        f"top {TOP_MODELS} licence changes": top.filter(pl.col("change") == "license_changed").height,
        f"top {TOP_MODELS} deletions": top.filter(pl.col("change") == "deleted").height,
        "download movers": n_movers,
    }
    if "catalog" in tables:
        headline["new repos matching the catalog"] = tables["catalog"].frame["repo_id"].n_unique()
    parts = [f"{counts[k]:,} {k.replace('_', ' ')}" for k in KINDS if counts[k]]
    summary = (", ".join(parts) if parts else "nothing changed") + f" since run {previous}"
    return headline, summary


def build(ctx: Context) -> Report:
    run_id = (ctx.run or {}).get("run_id")
    if not ctx.has("model_changes") or not run_id or not ctx.scalar("SELECT count(*) FROM harvest_runs WHERE run_id = ?", [run_id]):
        why = "changes not recorded: this warehouse predates model_changes (the next refresh upgrades it)" if not ctx.has("model_changes") \
            else "no harvest run loaded: nothing to compare"
        return _nothing_to_compare(why, {"changes": 0})
    previous = _previous_run(ctx, run_id)
    if previous is None:
        n_models = int(ctx.scalar("SELECT count(*) FROM models WHERE first_seen_run <= ?", [run_id]) or 0)
        text = f"first run: {n_models:,} models, nothing to compare"
        return _nothing_to_compare(text, {"run": run_id, "first_run": True, "models": n_models, "changes": 0})
    tables, movers, n_movers = _tables(ctx, run_id)
    headline, summary = _headline(run_id, previous, tables, n_movers)
    sections = _sections(tables, _counts_chart(tables["counts"].frame, previous), _movers_chart(movers), n_movers, previous)
    return Report(SLUG, TITLE, summary, headline, sections, list(tables.values()))


def digest_markdown(report_dir: Path | str, top: int = 10) -> str | None:
    """The digest as markdown for the Prefect artifact ``hubcensus-changes``: headline lines and the top changes.

    Reads the built set (manifest.json, changes.parquet); None when the set has no digest.
    """
    from reports.build import MANIFEST, _md

    report_dir = Path(report_dir)
    entry = next((r for r in json.loads((report_dir / MANIFEST).read_text(encoding="utf-8"))["reports"] if r["slug"] == SLUG), None)
    if entry is None:
        return None
    lines = [f"# {TITLE}", "", _md(entry["summary"]), ""]
    lines += [f"- {_md(key)}: {value:,}" for key, value in entry["headline"].items() if isinstance(value, int) and not isinstance(value, bool) and value]
    rows = pl.read_parquet(report_dir / f"{SLUG}.parquet").sort("downloads", descending=True, nulls_last=True).head(top)
    if rows.height:
        lines += ["", f"Top {rows.height} changes by downloads:", "", "| change | repo | field | before | after | downloads |", "|---|---|---|---|---|---:|"]
        for r in rows.iter_rows(named=True):
            cells = [r["change"], r["repo_id"], r["field"], r["before"] or "", r["after"] or "", f"{r['downloads']:,}" if r["downloads"] is not None else ""]
            lines.append("| " + " | ".join(_md(c) for c in cells) + " |")
    lines += ["", f"Page: `{report_dir / (SLUG + '.html')}`"]
    return "\n".join(lines) + "\n"
