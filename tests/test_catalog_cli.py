"""`hubcensus catalog check` / `catalog gaps`: thin wrappers over warehouse.catalog and warehouse.gaps."""

from __future__ import annotations

from typer.testing import CliRunner

from flows.cli import app
from warehouse.catalog import JAN_EDITION, SHIPPED_CATALOG

runner = CliRunner()


def test_check_shipped_catalog():
    result = runner.invoke(app, ["catalog", "check", str(SHIPPED_CATALOG)])
    assert result.exit_code == 0, result.output
    assert "77 rows OK" in result.output


def test_check_refuses_with_row_numbers(tmp_path):
    result = runner.invoke(app, ["catalog", "check", str(JAN_EDITION)])
    assert result.exit_code == 1
    assert "row 7 (Big Bird) [Pretraining Architecture]" in result.output
    assert "7 problem(s)" in result.output
    bad = tmp_path / "mine.csv"
    bad.write_text("Name,Pretraining Architecture,Date,Num. Params\nX,Decoder,2024/13,1B\n", encoding="utf-8")
    result = runner.invoke(app, ["catalog", "check", str(bad)])
    assert result.exit_code == 1 and "row 2 (X) [Date]: unparseable Date '2024/13'" in result.output


def test_gaps_without_a_warehouse_is_one_clear_line(tmp_path):
    result = runner.invoke(app, ["catalog", "gaps", "--data-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "no warehouse at" in result.output and "Traceback" not in result.output


def test_catalog_commands_have_help():
    for args in (["catalog", "--help"], ["catalog", "check", "--help"], ["catalog", "gaps", "--help"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 0 and "Usage" in result.output


def test_gaps_on_a_real_warehouse(tmp_path):
    database = __import__("pytest").importorskip("warehouse.database")
    from warehouse.reconcile import reconcile

    con = database.open_warehouse(tmp_path / "warehouse.duckdb")
    reconcile(con)
    con.close()
    result = runner.invoke(app, ["catalog", "gaps", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
