"""`hubcensus catalog propose` on the demo warehouse: families absent from the catalog, never one in it (through its
aliases too), rows a curator can paste into a catalog file, values derived from the Hub as the evidence says."""

from __future__ import annotations

import copy
import csv
import datetime as dt

import duckdb
import polars as pl
import pytest
from typer.testing import CliRunner

from flows.cli import app
from harvesters.landing import DataDir
from warehouse.catalog import check_catalog, load_canonical_repos, load_catalog
from warehouse.catalog.parse import COLUMNS, parse_row
from warehouse.catalog.propose import propose
from harvesters.replay.fixtures import make_raw_run
from warehouse.loading import load_raw_run
from warehouse.matching import name_key
from warehouse.reconcile import reconcile_warehouse

PLACEHOLDER = dt.date(2022, 3, 2)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The bundled snapshot loaded and reconciled: the demo warehouse."""
    data = DataDir(tmp_path_factory.mktemp("propose") / "data")
    load_raw_run(data.warehouse, make_raw_run(data.root, "20250101T060000Z-aaaaaa").root)
    reconcile_warehouse(data.warehouse)
    con = duckdb.connect(str(data.warehouse), read_only=True)
    con.execute("SET TimeZone = 'UTC'")
    yield data, con
    con.close()


def everything(con, catalog=None, canonical=None):
    return propose(con, load_catalog() if catalog is None else catalog, min_repos=1, min_downloads=0, canonical=canonical)


def catalog_keys(catalog: pl.DataFrame, canonical: dict) -> tuple[set, set, set]:
    names = set(catalog["name"])
    types = {t for n in names for t in canonical.get(n, {}).get("model_types", [])}
    repos = {r.lower() for n in names for r in canonical.get(n, {}).get("repos", []) + canonical.get(n, {}).get("related", [])}
    keys = {name_key(v) for v in catalog["name"].to_list() + catalog["family"].drop_nulls().to_list()}
    keys |= {name_key(a) for n in names for a in canonical.get(n, {}).get("names", [])}
    return types, repos, keys


def test_proposals_are_the_hub_families_the_catalog_lacks(demo):
    _, con = demo
    catalog, canonical = load_catalog(), load_canonical_repos()
    found = everything(con, catalog)
    types, repos, keys = catalog_keys(catalog, canonical)
    family_repos = dict(con.execute("SELECT model_type, list(lower(repo_id)) FROM models WHERE deleted_on IS NULL AND model_type IS NOT NULL GROUP BY 1").fetchall())
    proposed = set(found.rows["Family"])
    assert proposed, "the demo Hub has families the 2023 catalog lacks"
    for row in found.rows.iter_rows(named=True):
        assert row["Family"] not in types and not set(family_repos[row["Family"]]) & repos
        assert name_key(row["Name"]) not in keys and name_key(row["Family"]) not in keys
    # complete: every other listed family is in the catalog or cannot be a row, with the reason
    assert proposed | set(found.in_catalog) | set(found.skipped) == set(family_repos)
    assert set(found.in_catalog) >= {t for t in family_repos if t in types}
    assert all(why for why in found.skipped.values())


def test_never_a_family_the_catalog_has_through_its_aliases(demo):
    _, con = demo
    catalog = load_catalog()
    first = everything(con, catalog).rows
    detr, blip, tapas = (first.filter(pl.col("Family") == f) for f in ("detr", "blip", "tapas"))
    assert detr.height and blip.height and tapas.height
    canonical = copy.deepcopy(load_canonical_repos())
    canonical["BART"]["names"] = ["DETR"]  # an alias name
    canonical["BERT"]["model_types"].append("blip")  # a claimed model type
    canonical["T5"]["related"].append(tapas["root_repo_ids"][0].split("; ")[0].upper())  # a curated repo (ids compare case-insensitively)
    again = everything(con, catalog, canonical)
    assert not {"detr", "blip", "tapas"} & set(again.rows["Family"])
    assert {"detr", "blip", "tapas"} <= set(again.in_catalog)


def test_values_come_from_the_hub_as_the_evidence_says(demo):
    _, con = demo
    for row in everything(con).rows.iter_rows(named=True):
        family = row["Family"]
        dates = [d for (d,) in con.execute("SELECT created_at FROM models WHERE model_type = ? AND deleted_on IS NULL AND created_at IS NOT NULL", [family]).fetchall()]
        if any(d.date() <= PLACEHOLDER for d in dates):
            assert row["Date"] == "03/2022" and "on or before" in row["derivation"]
        else:
            assert row["Date"] == f"{min(dates):%m/%Y}" and f"earliest real createdAt {min(dates):%Y-%m-%d}" in row["derivation"]
        roots = row["root_repo_ids"].split("; ")
        parents = {p for (p,) in con.execute("SELECT parent_id FROM v_lineage l JOIN models m ON m.repo_id = l.child_id WHERE m.model_type = ?", [family]).fetchall()}
        ids = {r for (r,) in con.execute("SELECT repo_id FROM models WHERE model_type = ?", [family]).fetchall()}
        assert set(roots) <= parents | ids
        assert row["Lab"] == roots[0].split("/")[0] and row["Link"] == f"https://huggingface.co/{roots[0]}"
        n, downloads = con.execute("SELECT count(*), sum(downloads) FROM models WHERE model_type = ? AND deleted_on IS NULL", [family]).fetchall()[0]
        assert (row["repo_count"], row["downloads"]) == (n, downloads or 0)
    mixtral = everything(con).rows.filter(pl.col("Family") == "mixtral").row(0, named=True)
    # the family's only repo is a finetune of a repo outside the warehouse: that parent is its root, its org the lab
    assert mixtral["root_repo_ids"] == "mistral-community/Mixtral-8x22B-v0.1" and mixtral["Name"] == "Mixtral"
    assert mixtral["Date"] == "04/2024" and mixtral["Pretraining Architecture"] == "Decoder"


def test_a_pasted_proposal_is_a_catalog_row_like_any_other(demo, tmp_path):
    data, con = demo
    found = everything(con)
    mine = tmp_path / "my_catalog.csv"
    with mine.open("w", newline="", encoding="utf-8") as fh:  # what a curator does: the catalog columns of a row
        writer = csv.DictWriter(fh, fieldnames=list(COLUMNS))
        writer.writeheader()
        writer.writerow({k: v or "" for k, v in found.catalog_rows.row(0, named=True).items()})
    accepted = found.rows["Name"][0]
    assert check_catalog(mine) == []
    for row in found.catalog_rows.iter_rows(named=True):
        parsed, problems = parse_row({k: v for k, v in row.items()})
        assert problems == [] and parsed["name"] == row["Name"]

    work = DataDir(tmp_path / "data")
    load_raw_run(work.warehouse, make_raw_run(work.root, "20250101T060000Z-aaaaaa").root)
    reconcile_warehouse(work.warehouse, [mine])
    wcon = duckdb.connect(str(work.warehouse), read_only=True)
    assert wcon.execute("SELECT catalog_file FROM catalog_models WHERE name = ?", [accepted]).fetchall() == [(str(mine),)]
    assert wcon.execute("SELECT count(*) FROM catalog_matches WHERE catalog_name = ?", [accepted]).fetchall()[0][0] > 0
    after = propose(wcon, load_catalog([mine]), min_repos=1, min_downloads=0)
    wcon.close()
    assert accepted not in set(after.rows["Name"]) and found.rows["Family"][0] in after.in_catalog
    assert set(after.rows["Name"]) == set(found.rows["Name"]) - {accepted}


def test_catalog_propose_command(demo, tmp_path):
    data, con = demo
    runner = CliRunner()
    out = tmp_path / "proposals.csv"
    result = runner.invoke(app, ["catalog", "propose", "--data-dir", str(data.root), "--min-repos", "1", "--min-downloads", "0", "--output", str(out)])
    assert result.exit_code == 0, result.output
    written = pl.read_csv(out, infer_schema=False)
    assert written.columns == [*COLUMNS, "repo_count", "downloads", "root_repo_ids", "derivation"]
    assert written["Name"].to_list() == everything(con).rows["Name"].to_list()
    strict = runner.invoke(app, ["catalog", "propose", "--data-dir", str(data.root), "--min-repos", "2"])
    assert strict.exit_code == 0 and "detr" in strict.stdout and "mixtral" not in strict.stdout.lower()
    refused = runner.invoke(app, ["catalog", "propose", "--data-dir", str(data.root), "--output", str(tmp_path)])
    assert refused.exit_code == 1 and ".csv, .yaml or .yml" in refused.output and "Traceback" not in refused.output
    missing = runner.invoke(app, ["catalog", "propose", "--data-dir", str(tmp_path / "none")])
    assert missing.exit_code == 1 and "no warehouse" in missing.output and "Traceback" not in missing.output
