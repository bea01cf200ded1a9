"""Numbered migrations: a fresh file gets them all; an older warehouse (kept in tests/data) upgrades in place."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from warehouse.database import WarehouseError, WarehouseNotFound, current_version, migrate, migrations, open_warehouse, pending
from harvesters.replay.fixtures import make_raw_run
from warehouse.loading import load_raw_run

V1 = Path(__file__).resolve().parent / "data" / "warehouse_v1.duckdb"


def test_fresh_warehouse_gets_every_migration_recorded(tmp_path):
    con = open_warehouse(tmp_path / "w.duckdb")
    latest = migrations()[-1].version
    assert current_version(con) == latest
    recorded = con.execute("SELECT version, name FROM schema_version ORDER BY version").fetchall()
    assert recorded == [(m.version, m.name) for m in migrations()]
    assert recorded[:2] == [(1, "core"), (2, "marts")]
    assert pending(con) == [] and migrate(con) == []  # idempotent
    con.close()


def test_the_v1_warehouse_upgrades_in_place(tmp_path):
    db = tmp_path / "warehouse.duckdb"
    shutil.copy(V1, db)
    with duckdb.connect(str(db), read_only=True) as old:
        assert current_version(old) == 1
        assert old.execute("SELECT count(*) FROM duckdb_views() WHERE view_name = 'v_models'").fetchall() == [(0,)]
    con = open_warehouse(db)
    assert current_version(con) == migrations()[-1].version
    # the old rows survive and the new marts read them
    assert con.execute("SELECT repo_id, size_bucket FROM v_models").fetchall() == [("openai-community/gpt2", "100M-1B")]
    con.close()
    run = make_raw_run(tmp_path, "20250101T000000Z-aaaaaa")
    load_raw_run(db, run.root)
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT first_seen_run FROM models WHERE repo_id = 'openai-community/gpt2'").fetchall() == [("20240101T000000Z-v1v1v1",)]
        assert con.execute("SELECT count(*) FROM model_stats_history WHERE repo_id = 'openai-community/gpt2'").fetchall() == [(2,)]


def test_a_failing_migration_leaves_nothing_half_done(tmp_path):
    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "001_core.sql").write_text("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, name VARCHAR, applied_at TIMESTAMPTZ);")
    (folder / "002_bad.sql").write_text("CREATE TABLE ok_table (x INTEGER); SELECT * FROM no_such_table;")
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    with pytest.raises(WarehouseError, match="002_bad.sql"):
        migrate(con, folder)
    assert current_version(con) == 1
    assert con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'ok_table'").fetchall() == [(0,)]


def test_read_only_open_of_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(WarehouseNotFound, match="no warehouse"):
        open_warehouse(tmp_path / "none.duckdb", read_only=True)
