"""Loading the catalog: the shipped file, user files layered on top, refusals with file + row + reason."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from warehouse.catalog import (
    CATALOG_SCHEMA, SHIPPED_CATALOG, CatalogError, check_catalog, load_canonical_repos, load_catalog, load_hub_orgs,
)
from warehouse.catalog import JAN_EDITION

HEADER = ["Name", "Family", "Pretraining Architecture", "Pretraining Task", "Date", "Num. Params", "License", "Lab"]


def write_csv(path: Path, rows: list[dict], header=HEADER) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=header)
        w.writeheader()
        w.writerows(rows)
    return path


def test_shipped_catalog_loads():
    df = load_catalog()
    assert df.height == 77
    assert df.schema == CATALOG_SCHEMA
    assert df["name"].str.to_lowercase().is_unique().all()
    assert check_catalog(SHIPPED_CATALOG) == []
    bert = df.filter(name="BERT").row(0, named=True)
    assert (bert["params_min"], bert["params_max"], bert["catalog_file"], bert["row_number"]) == (110_000_000, 340_000_000, SHIPPED_CATALOG.name, 8)
    assert bert["source"].endswith("#BERT")


def test_user_file_layers_on_top(tmp_path):
    extra = write_csv(tmp_path / "mine.csv", [
        {"Name": "bert", "Family": "BERT", "Pretraining Architecture": "Encoder", "Date": "10/2018", "Num. Params": "Base = 110M, Large = 340M", "License": "Open, Apache-2.0", "Lab": "Google"},
        {"Name": "Llama 3", "Family": "LLaMA", "Pretraining Architecture": "Decoder", "Date": "04/2024", "Num. Params": "8B, 70B", "License": "Limited, Llama 3 license", "Lab": "Meta"},
    ])
    df = load_catalog([extra])
    assert df.height == 78
    bert = df.filter(df["name"].str.to_lowercase() == "bert")
    assert bert.height == 1 and bert["name"][0] == "bert" and bert["catalog_file"][0] == str(extra) and bert["row_number"][0] == 2
    assert df.filter(name="Llama 3")["params_max"][0] == 70 * 10**9


def test_yaml_user_file(tmp_path):
    extra = tmp_path / "mine.yaml"
    extra.write_text("- Name: Mistral\n  Pretraining Architecture: Decoder\n  Date: 09/2023\n  Num. Params: 7.3B\n  Lab: Mistral AI\n")
    df = load_catalog([extra])
    assert df.filter(name="Mistral")["params_min"][0] == 7_300_000_000


def test_bad_user_rows_refused_with_row_and_reason(tmp_path):
    ok = {"Name": "Fine", "Pretraining Architecture": "Decoder", "Date": "01/2024", "Num. Params": "1B"}
    bad = write_csv(tmp_path / "bad.csv", [
        ok,
        {"Name": "Weird", "Pretraining Architecture": "Transformer", "Date": "01/2024", "Num. Params": "1B"},
        {"Name": "Undated", "Pretraining Architecture": "Decoder", "Date": "sometime in 2024", "Num. Params": "1B"},
        {"Name": "Unsized", "Pretraining Architecture": "Decoder", "Date": "01/2024", "Num. Params": "1.5Q"},
        ok | {"Name": "fine"},
    ])
    with pytest.raises(CatalogError) as info:
        load_catalog([bad])
    err = info.value
    assert (err.file, err.row) == (str(bad), 3)
    assert "unknown Pretraining Architecture 'Transformer'" in err.reason
    got = [(p.row, p.name, p.column) for p in err.problems]
    assert got == [(3, "Weird", "Pretraining Architecture"), (4, "Undated", "Date"), (5, "Unsized", "Num. Params"), (6, "fine", "Name")]
    assert "duplicate Name (also row 2)" in err.problems[-1].reason
    assert "row 3 (Weird)" in str(err) and "and 3 more" in str(err)
    assert check_catalog(bad) == err.problems


def test_file_level_problems(tmp_path):
    no_date = write_csv(tmp_path / "nodate.csv", [{"Name": "X", "Pretraining Architecture": "Decoder", "Num. Params": "1B"}],
                        header=["Name", "Pretraining Architecture", "Num. Params"])
    [p] = check_catalog(no_date)
    assert p.row is None and "missing column(s) Date" in p.reason
    typo = write_csv(tmp_path / "typo.csv", [{"Name": "X", "Pretraining Architecture": "Decoder", "Date": "01/2024", "Num. Params": "1B", "Num Params": "1B"}],
                     header=["Name", "Pretraining Architecture", "Date", "Num. Params", "Num Params"])
    assert "unknown column(s) Num Params" in check_catalog(typo)[0].reason
    assert "no such file" in check_catalog(tmp_path / "absent.csv")[0].reason
    with pytest.raises(CatalogError):
        load_catalog([tmp_path / "absent.csv"])


def test_jan_edition_is_refused_where_the_source_is_incomplete():
    """The January 2023 edition (kept for provenance) has 6 entries with no architecture and CLIP's size '?'."""
    problems = check_catalog(JAN_EDITION)
    assert [(p.row, p.name, p.column) for p in problems] == [
        (7, "Big Bird", "Pretraining Architecture"), (12, "CLIP", "Num. Params"), (14, "CTRL", "Pretraining Architecture"),
        (21, "ELECTRA", "Pretraining Architecture"), (46, "Pegasus", "Pretraining Architecture"),
        (53, "T5", "Pretraining Architecture"), (55, "Transformer XL", "Pretraining Architecture"),
    ]


def test_mapping_files_refer_to_the_catalog():
    df = load_catalog()
    names, labs = set(df["name"]), set(df["lab"].drop_nulls())
    canonical = load_canonical_repos()
    assert set(canonical) <= names, set(canonical) - names
    assert labs <= set(load_hub_orgs()), labs - set(load_hub_orgs())
    for name, entry in canonical.items():
        for repo in entry["repos"] + entry["related"]:
            assert repo.count("/") <= 1 and " " not in repo, (name, repo)
        assert not set(entry["repos"]) & set(entry["related"]), name
