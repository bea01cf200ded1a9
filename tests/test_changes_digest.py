"""The morning digest (changes.html and its tables) on the report tests' real warehouse: two days, the second adding
the hostile models, dropping RETIRED_ID, relicensing RELICENSED_ID and moving downloads (report_data).

Escaping and rendering in Chromium are checked with the other pages (test_reports_build.SHOWN_IN,
test_report_browser); here: the digest's numbers against SQL over the same warehouse, and the first-run page.
"""

from __future__ import annotations

import json

import duckdb
import polars as pl
import pytest

from report_data import EVIL_BASE, EVIL_TYPE, HOSTILE_CHILD, HOSTILE_ID, PREVIOUS_RUN_ID, RELICENSED_ID, RETIRED_ID, RUN_ID
from reports.changes import TOP_MODELS, digest_markdown

pytest_plugins = ("report_fixtures",)


@pytest.fixture(scope="module")
def digest(real_reports):
    out = real_reports.out
    entry = next(r for r in json.loads((out / "manifest.json").read_text())["reports"] if r["slug"] == "changes")
    con = duckdb.connect(str(real_reports.db), read_only=True)
    yield out, entry, con
    con.close()


def table(out, name: str) -> pl.DataFrame:
    return pl.read_parquet(out / f"{name}.parquet")


def test_the_digest_lists_what_the_second_day_changed(digest):
    out, entry, con = digest
    head = entry["headline"]
    assert head["run"] == RUN_ID and head["compared_with"] == PREVIOUS_RUN_ID
    changes = table(out, "changes")
    assert set(changes.filter(pl.col("change") == "new")["repo_id"]) == {HOSTILE_ID, HOSTILE_CHILD}
    assert changes.filter(pl.col("change") == "deleted")["repo_id"].to_list() == [RETIRED_ID]
    assert changes.filter(pl.col("change") == "license_changed").select("repo_id", "before", "after").rows() == [(RELICENSED_ID, "mit", "apache-2.0")]
    for kind in ("new", "deleted", "license_changed", "sha_changed"):
        assert head[kind] == con.execute("SELECT count(*) FROM model_changes WHERE run_id = ? AND change = ?", [RUN_ID, kind]).fetchall()[0][0]
    assert entry["summary"].startswith("2 new, 1 deleted, 1 license changed")


def test_new_types_families_and_largest(digest):
    out, _, _ = digest
    assert table(out, "changes-new_types").select("model_type", "repo_id").rows() == [(EVIL_TYPE, HOSTILE_ID)]
    assert table(out, "changes-new_families").select("root_id", "top_child").rows() == [(EVIL_BASE, HOSTILE_ID)]
    largest = table(out, "changes-largest")
    assert (EVIL_TYPE, HOSTILE_ID) in largest.select("group_name", "repo_id").rows()
    assert "decoder" not in largest["group_name"].to_list()  # the hostile 6.7B model is not the largest decoder


def test_top_models_and_movers_against_the_warehouse(digest):
    out, entry, con = digest
    top = table(out, "changes-top_models")
    assert set(top["repo_id"]) == {RELICENSED_ID, RETIRED_ID} and top["downloads_rank"].max() <= TOP_MODELS
    movers = table(out, "changes-movers")
    want = con.execute(
        """SELECT a.repo_id, a.downloads - b.downloads FROM model_stats_history a JOIN model_stats_history b USING (repo_id)
           WHERE a.observed_on = DATE '2025-03-01' AND b.observed_on = DATE '2025-02-28' AND a.downloads <> b.downloads"""
    ).fetchall()
    assert entry["headline"]["download movers"] == len(want)
    gains = sorted((d for _, d in want if d > 0), reverse=True)[:15]
    assert movers.filter(pl.col("delta") > 0)["delta"].to_list() == gains
    assert set(movers.select("repo_id", "delta").rows()) <= set(want)


def test_summary_and_artifact_carry_the_headline(digest):
    out, entry, _ = digest
    summary = (out / "summary.md").read_text()
    assert entry["summary"] in summary and "| license_changed | 1 |" in summary
    markdown = digest_markdown(out)
    assert markdown.startswith("# What changed") and entry["summary"] in markdown
    assert f"| license_changed | {RELICENSED_ID} | license | mit | apache-2.0 |" in markdown
    assert "<svg" not in markdown and "<img" not in markdown  # hostile values are escaped for Prefect's markdown too
