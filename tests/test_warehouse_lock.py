"""DuckDB's file lock: a bounded wait, then one line naming the holder; an open `sql` prompt never blocks a writer.

The lock holder is a real second process (DuckDB locks are per process), started in a temp data dir.
"""

from __future__ import annotations

import io
import logging
import re
import subprocess
import sys
import threading
from contextlib import contextmanager
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harvesters.landing import DataDir
from warehouse import database
from warehouse.adhoc import interactive_sql
from warehouse.database import WarehouseError, WarehouseLocked, open_warehouse
from harvesters.replay.fixtures import make_raw_run
from warehouse.loading import load_raw_run

ROOT = Path(__file__).resolve().parent.parent
HOLD = "import duckdb, sys; con = duckdb.connect(sys.argv[1], read_only=sys.argv[2] == 'read'); print('held', flush=True); sys.stdin.readline()"


@pytest.fixture(scope="module")
def loaded(tmp_path_factory) -> Path:
    data_dir = tmp_path_factory.mktemp("locks") / "data"
    run = make_raw_run(data_dir, "20250101T000000Z-aaaaaa")
    load_raw_run(DataDir(data_dir).warehouse, run.root)
    return data_dir


@contextmanager
def held(db: Path, mode: str):
    """Another process holding the warehouse open (``read`` or ``write``) until the block ends."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(db), mode], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        yield proc
    finally:
        release(proc)


def release(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.stdin.write("\n")
        proc.stdin.flush()
        proc.wait(timeout=30)


def writer_in_another_process(db: Path, wait_s: float) -> subprocess.CompletedProcess:
    code = f"from warehouse.database import open_warehouse; open_warehouse({str(db)!r}, lock_wait_s={wait_s}).close()"
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_a_writer_gives_up_after_its_wait_naming_the_holder(loaded):
    db = DataDir(loaded).warehouse
    with held(db, "read") as holder:
        with pytest.raises(WarehouseLocked) as caught:
            open_warehouse(db, lock_wait_s=0.3)
    message = str(caught.value)
    assert isinstance(caught.value, WarehouseError) and "\n" not in message
    assert f"PID {holder.pid}" in message and str(db) in message and "0.3" in message


def test_a_reader_gives_up_too_while_a_writer_holds_it(loaded):
    db = DataDir(loaded).warehouse
    with held(db, "write") as holder:
        with pytest.raises(WarehouseLocked, match=f"PID {holder.pid}"):
            open_warehouse(db, read_only=True, lock_wait_s=0.2)


def test_a_writer_waits_for_the_lock_and_then_opens(loaded, caplog):
    """Event-driven: the holder is released only once the writer has said it is waiting."""
    db = DataDir(loaded).warehouse
    waiting = threading.Event()

    class Signal(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "waiting" in record.getMessage():
                waiting.set()

    handler = Signal()
    logging.getLogger("hubcensus.warehouse").addHandler(handler)
    outcome: dict[str, object] = {}

    def write() -> None:
        try:
            con = open_warehouse(db, lock_wait_s=120)
            outcome["version"] = database.current_version(con)
            con.close()
        except Exception as exc:  # reported below
            outcome["error"] = exc

    try:
        with held(db, "read") as holder:
            thread = threading.Thread(target=write)
            thread.start()
            assert waiting.wait(60), outcome
            release(holder)
            thread.join(120)
    finally:
        logging.getLogger("hubcensus.warehouse").removeHandler(handler)
    assert "error" not in outcome and outcome["version"] == max(m.version for m in database.migrations())


def test_cli_sql_and_rebuild_print_one_line_when_locked(loaded, monkeypatch):
    """One error line (after the notice that it waits), never a traceback."""
    from flows.cli import app

    monkeypatch.setattr(database, "READ_LOCK_WAIT_S", 0.2)
    monkeypatch.setattr(database, "WRITE_LOCK_WAIT_S", 0.2)
    # as in a fresh `hubcensus` process: the notice goes to stderr, not to handlers other tests left behind
    monkeypatch.setattr(logging.getLogger("hubcensus.warehouse"), "propagate", False)
    runner = CliRunner()
    with held(DataDir(loaded).warehouse, "write") as holder:
        sql = runner.invoke(app, ["sql", "SELECT count(*) FROM models", "--data-dir", str(loaded)])
        prompt = runner.invoke(app, ["sql", "--data-dir", str(loaded)], input="SELECT 1;\n")
    with held(DataDir(loaded).warehouse, "read") as holder:
        rebuild = runner.invoke(app, ["rebuild", "--data-dir", str(loaded)])
    for result in (sql, prompt, rebuild):
        assert result.exit_code == 1, result.output
        assert "Traceback" not in result.output and (result.exception is None or isinstance(result.exception, SystemExit))
        lines = [line for line in result.output.splitlines() if line.strip()]
        errors = [line for line in lines if line.startswith("error:")]
        assert len(errors) == 1 and "locked by PID" in errors[0] and "python -c" in errors[0], result.output
        assert all("waiting up to 0.2 s" in line for line in lines if line not in errors), result.output
    assert f"PID {holder.pid}" in rebuild.output


def test_an_open_sql_prompt_does_not_block_the_writer(loaded):
    """Between two statements of one prompt session, a writer in another process opens the warehouse."""
    db = DataDir(loaded).warehouse
    writers: list[subprocess.CompletedProcess] = []
    lines = iter(["SELECT count(*) AS n FROM models;", "WRITE", "SELECT count(*) AS n FROM models;", ".quit"])

    def read_line(prompt: str) -> str:
        line = next(lines)
        if line == "WRITE":
            writers.append(writer_in_another_process(db, wait_s=0.5))
            return ""
        return line

    out = io.StringIO()
    assert interactive_sql(db, read_line=read_line, out=out) == 2
    assert writers[0].returncode == 0, writers[0].stderr
    answers = re.findall(r"│ (\d+) +│", out.getvalue())  # the count cell of each result table
    assert answers == ["36", "36"]
