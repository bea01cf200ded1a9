"""`hubcensus sql` and every read-only connection: no file, network or extension access, locked settings.

Each test works in its own temp dir with canary folders (a secret file, a folder that must stay empty).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harvesters.landing import DataDir
from warehouse.adhoc import SQLError, SQLWriteRefused, run_sql
from warehouse.database import open_warehouse
from harvesters.replay.fixtures import make_raw_run
from warehouse.loading import load_raw_run

SECRET = "hunter2-canary"


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> Path:
    data_dir = tmp_path_factory.mktemp("sandbox") / "data"
    run = make_raw_run(data_dir, "20250101T000000Z-aaaaaa")
    load_raw_run(DataDir(data_dir).warehouse, run.root)
    return DataDir(data_dir).warehouse


@pytest.fixture
def canary(tmp_path) -> dict[str, Path]:
    """A secret outside any allowed folder, an empty folder that must stay empty, a folder of the user's CSVs."""
    secret = tmp_path / "canary" / "secret.csv"
    secret.parent.mkdir()
    secret.write_text(f"password\n{SECRET}\n")
    empty = tmp_path / "must-stay-empty"
    empty.mkdir()
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "extra.csv").write_text("repo_id,note\ngpt2,mine\n")
    return {"secret": secret, "empty": empty, "mine": mine}


def _untouched(canary) -> None:
    assert list(canary["empty"].iterdir()) == []
    assert canary["secret"].read_text() == f"password\n{SECRET}\n"


@pytest.mark.parametrize(
    "query",
    [
        "EXPLAIN ANALYZE COPY (SELECT 42) TO '{empty}/x.csv'",
        "EXPLAIN ANALYZE COPY (SELECT 42) TO '{empty}/x.parquet' (FORMAT parquet)",
        "-- a comment first\nEXPLAIN /* here too */ ANALYZE COPY (SELECT 42) TO '{empty}/x.csv'",
        "EXPLAIN (ANALYZE) COPY (SELECT 42) TO '{empty}/x.csv'",
        "EXPLAIN (ANALYZE, FORMAT json) COPY (SELECT 42) TO '{empty}/x.csv'",
        "EXPLAIN ANALYZE CHECKPOINT",
        "EXPLAIN ANALYZE SET threads = 1",
        "EXPLAIN ANALYZE PRAGMA enable_profiling",
        "EXPLAIN COPY (SELECT 42) TO '{empty}/x.csv'",
        "SELECT 1; EXPLAIN ANALYZE COPY (SELECT 42) TO '{empty}/x.csv'",
    ],
)
def test_explain_of_anything_but_a_select_is_refused(db, canary, query):
    with pytest.raises(SQLWriteRefused, match="EXPLAIN"):
        run_sql(db, query.format(empty=canary["empty"]))
    _untouched(canary)


@pytest.mark.parametrize(
    "query",
    ["EXPLAIN SELECT 1", "EXPLAIN ANALYZE SELECT count(*) FROM models", "EXPLAIN (SELECT 1)", "EXPLAIN ANALYZE FROM models LIMIT 1"],
)
def test_explain_of_a_select_runs(db, query):
    assert "plan" in run_sql(db, query, fmt="json")


@pytest.mark.parametrize(
    "query",
    [
        "SELECT content FROM read_text('{secret}')",
        "SELECT * FROM read_csv('{secret}')",
        "SELECT * FROM read_csv_auto('{secret}', header = false)",
        "SELECT * FROM glob('{secret_dir}/*')",
        "SELECT content FROM read_text('/proc/self/environ')",
        "SELECT * FROM read_csv('{mine}/extra.csv')",  # not allowed without --allow-files
        "SELECT * FROM read_parquet('http://127.0.0.1:9/x.parquet')",
    ],
)
def test_no_file_or_network_access(db, canary, monkeypatch, query):
    monkeypatch.setenv("HF_TOKEN", "hf_planted_in_the_environment")
    text = query.format(secret=canary["secret"], secret_dir=canary["secret"].parent, mine=canary["mine"])
    with pytest.raises(SQLError, match="disabled") as caught:
        run_sql(db, text, fmt="json")
    assert SECRET not in str(caught.value) and "hf_planted" not in str(caught.value)


def test_settings_are_off_and_locked(db):
    row = json.loads(run_sql(db, (
        "SELECT current_setting('enable_external_access') AS external, current_setting('lock_configuration') AS locked, "
        "current_setting('autoinstall_known_extensions') AS autoinstall, current_setting('autoload_known_extensions') AS autoload"
    ), fmt="json"))[0]  # fmt: skip
    assert row == {"external": False, "locked": True, "autoinstall": False, "autoload": False}


def test_every_read_only_connection_is_sandboxed(db, canary):
    con = open_warehouse(db, read_only=True)
    try:
        with pytest.raises(Exception, match="disabled by configuration"):
            con.execute(f"SELECT content FROM read_text('{canary['secret']}')").fetchall()
        with pytest.raises(Exception, match="locked"):
            con.execute("SET enable_external_access = true")
        assert con.execute("SELECT count(*) FROM models").fetchall()[0][0] == 36
    finally:
        con.close()


def test_every_connection_to_a_sandboxed_warehouse_reads_times_in_utc_whatever_the_machines_zone(db):
    """The settings are the database instance's: a cursor, or a second connection opened while the first is (which
    finds them locked and sets nothing), must read the times the first one reads."""
    import os
    import subprocess
    import sys

    script = (
        "import sys\nfrom warehouse.database import open_warehouse\n"
        "con = open_warehouse(sys.argv[1], read_only=True)\n"
        "q = \"SELECT current_setting('TimeZone'), TIMESTAMPTZ '2025-01-01 00:00:00+00'::VARCHAR\"\n"
        "second = open_warehouse(sys.argv[1], read_only=True)\n"
        "print(con.execute(q).fetchall(), con.cursor().execute(q).fetchall(), second.execute(q).fetchall())\n"
    )
    env = {**os.environ, "TZ": "America/New_York", "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    out = subprocess.run([sys.executable, "-c", script, str(db)], env=env, capture_output=True, text=True, check=True).stdout
    utc = "[('UTC', '2025-01-01 00:00:00+00')]"
    assert out.strip() == f"{utc} {utc} {utc}", out


def test_product_code_opens_duckdb_only_through_open_warehouse():
    """Every connection the product opens goes through warehouse.database (which sandboxes the read-only ones)."""
    root = Path(__file__).resolve().parent.parent
    offenders = [
        str(path.relative_to(root))
        for package in ("flows", "harvesters", "warehouse", "reports")
        for path in (root / package).rglob("*.py")
        if path.name != "database.py" and re.search(r"duckdb\.connect\(", path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_allow_files_reads_one_folder_only(db, canary):
    mine = canary["mine"]
    joined = json.loads(run_sql(
        db, f"SELECT m.repo_id, e.note FROM models m JOIN read_csv('{mine}/extra.csv') e USING (repo_id)",
        fmt="json", allow_files=mine,
    ))  # fmt: skip
    assert joined == [{"repo_id": "gpt2", "note": "mine"}]
    for query in (
        f"SELECT * FROM read_csv('{canary['secret']}')",
        f"SELECT * FROM read_csv('{mine}/../canary/secret.csv')",
        "SELECT content FROM read_text('/proc/self/environ')",
    ):
        with pytest.raises(SQLError, match="disabled"):
            run_sql(db, query, fmt="json", allow_files=mine)
    with pytest.raises(SQLWriteRefused):
        run_sql(db, f"COPY (SELECT 1) TO '{mine}/out.csv'", allow_files=mine)
    with pytest.raises(SQLWriteRefused):
        run_sql(db, f"EXPLAIN ANALYZE COPY (SELECT 1) TO '{mine}/out.csv'", allow_files=mine)
    assert sorted(p.name for p in mine.iterdir()) == ["extra.csv"]
    _untouched(canary)


def test_allow_files_from_the_cli(db, canary):
    from flows.cli import app

    runner = CliRunner()
    data_dir = str(db.parent)
    query = f"SELECT note FROM read_csv('{canary['mine']}/extra.csv')"
    refused = runner.invoke(app, ["sql", query, "--data-dir", data_dir])
    assert refused.exit_code == 1 and "disabled" in refused.output and "Traceback" not in refused.output
    allowed = runner.invoke(app, ["sql", query, "--data-dir", data_dir, "--allow-files", str(canary["mine"]), "--format", "csv"])
    assert allowed.exit_code == 0, allowed.output
    assert allowed.output.split() == ["note", "mine"]
    missing = runner.invoke(app, ["sql", "SELECT 1", "--data-dir", data_dir, "--allow-files", str(canary["mine"] / "nope")])
    assert missing.exit_code != 0 and "Traceback" not in missing.output
    _untouched(canary)


def test_a_reader_can_be_capped_before_its_settings_lock(db):
    """The report build caps DuckDB's memory (reports.build.READER_MEMORY); the cap is locked like the rest."""
    con = open_warehouse(db, read_only=True, memory_limit="256MB")
    try:
        assert con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0] == "244.1 MiB"
        with pytest.raises(Exception, match="locked"):
            con.execute("SET memory_limit = '8GB'")
        assert con.execute("SELECT count(*) FROM models").fetchall()[0][0] == 36
    finally:
        con.close()
