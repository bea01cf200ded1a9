"""`hubcensus sql`: read-only queries, refused writes, output formats, the README's example queries."""

from __future__ import annotations

import io
import json

import polars as pl
import pytest

from warehouse.adhoc import SQLError, SQLWriteRefused, example_queries, interactive_sql, run_sql
from harvesters.landing import DataDir
from harvesters.replay.fixtures import make_raw_run
from warehouse.loading import load_raw_run


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("adhoc")
    run = make_raw_run(data_dir, "20250101T000000Z-aaaaaa")
    load_raw_run(DataDir(data_dir).warehouse, run.root)
    return DataDir(data_dir).warehouse


def test_there_are_five_examples():
    assert len(example_queries()) == 5


@pytest.mark.parametrize("name", list(example_queries()))
def test_each_readme_example_runs_and_answers(db, name):
    out = run_sql(db, example_queries()[name], fmt="json")
    assert json.loads(out), f"example {name!r} returned no rows"


def test_largest_model_per_family(db):
    rows = json.loads(run_sql(db, example_queries()["largest models per family"], fmt="json"))
    assert rows[0]["repo_id"] == "HuggingFaceH4/zephyr-orpo-141b-A35b-v0.1"


@pytest.mark.parametrize(
    "query",
    [
        "DELETE FROM models",
        "INSERT INTO quarantine VALUES ('r', NULL, 'card', 'x', NULL)",
        "DROP VIEW v_models",
        "COPY (SELECT 1) TO 'out.csv'",
        "ATTACH 'other.duckdb'",
        "SELECT 1; UPDATE models SET likes = 0",
        "PRAGMA enable_profiling",
        "CALL checkpoint()",
    ],
)
def test_write_statements_are_refused(db, query):
    with pytest.raises(SQLWriteRefused, match="read-only"):
        run_sql(db, query)


def test_bad_sql_is_one_clear_error(db):
    with pytest.raises(SQLError, match="no_such_table"):
        run_sql(db, "SELECT * FROM no_such_table")


def test_formats(db, tmp_path):
    query = "SELECT repo_id, tags, params_by_dtype, created_at FROM models WHERE repo_id = 'gpt2'"
    assert "gpt2" in run_sql(db, query)  # table
    csv = pl.read_csv(io.StringIO(run_sql(db, query, fmt="csv")))
    assert csv["repo_id"].to_list() == ["gpt2"] and csv["tags"][0].startswith("[")
    assert json.loads(run_sql(db, query, fmt="json"))[0]["tags"][:2] == ["transformers", "pytorch"]
    out = tmp_path / "o.parquet"
    assert run_sql(db, query, fmt="parquet", output=out) is None
    assert pl.read_parquet(out)["repo_id"].to_list() == ["gpt2"]
    with pytest.raises(SQLError, match="--output"):
        run_sql(db, query, fmt="parquet")


def test_interactive_prompt(db):
    lines = iter([".tables", "SELECT count(*) AS n", "FROM models;", "DELETE FROM models;", ".quit"])
    out = io.StringIO()
    assert interactive_sql(db, read_line=lambda prompt: next(lines), out=out) == 2
    text = out.getvalue()
    assert "v_models" in text and "36" in text and "refused: DELETE" in text


def test_cli_sql_and_rebuild(tmp_path):
    from typer.testing import CliRunner

    from flows.cli import app

    runner = CliRunner()
    data_dir = tmp_path / "data"
    make_raw_run(data_dir, "20250101T000000Z-aaaaaa")
    result = runner.invoke(app, ["sql", "SELECT 1 AS x", "--data-dir", str(data_dir)])
    assert result.exit_code == 1 and "no warehouse" in result.output and "Traceback" not in result.output
    result = runner.invoke(app, ["rebuild", "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["sql", "SELECT count(*) AS n FROM models", "--data-dir", str(data_dir), "--format", "csv"])
    assert result.exit_code == 0 and result.output.split() == ["n", "36"]
    result = runner.invoke(app, ["sql", "DROP TABLE models", "--data-dir", str(data_dir)])
    assert result.exit_code == 1 and "refused: DROP" in result.output and "Traceback" not in result.output
    result = runner.invoke(app, ["rebuild", "--data-dir", str(data_dir), "--run", "nope"])
    assert result.exit_code == 1 and "no raw run" in result.output
