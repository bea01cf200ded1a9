"""Open the warehouse file and keep its schema current with numbered SQL migrations.

Migrations are ``warehouse/migrations/NNN_name.sql``; each is applied with its ``schema_version`` row in one
transaction, in number order, so an older warehouse upgrades in place and a failed migration leaves
nothing half-done. The number orders them; the name says what each one adds (001 core tables, 002 marts,
010 the catalog, 020 file fetches, ...).

Every connection the product opens comes from ``open_warehouse``: a read-only one is sandboxed (no file,
network or extension access beyond the warehouse file and an optional allowed folder, settings locked),
and any connection waits a bounded time for DuckDB's file lock, then raises ``WarehouseLocked``.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Iterator

import duckdb

from hubcensus.errors import HubcensusError

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_NAME = re.compile(r"^(\d{3})_([A-Za-z0-9_]+)\.sql$")
READ_LOCK_WAIT_S = 10.0  # a reader (sql, reports, state) waits this long for a writer to finish
WRITE_LOCK_WAIT_S = 60.0  # the nightly writer waits this long for readers (each holds the lock per statement)
log = logging.getLogger("hubcensus.warehouse")


class WarehouseError(HubcensusError):
    """A domain error about the warehouse file (the CLI prints it as one line)."""


class WarehouseNotFound(WarehouseError):
    pass


class WarehouseLocked(WarehouseError):
    """Another process held DuckDB's lock on the warehouse file for longer than we wait."""

    def __init__(self, path: Path, holder: str, waited_s: float, read_only: bool) -> None:
        self.path, self.holder, self.waited_s = path, holder, waited_s
        want = "read" if read_only else "write"
        super().__init__(
            f"warehouse {path} is locked by {holder}: gave up waiting to {want} after {waited_s:g} s "
            "(a refresh or rebuild writing, or a reader; try again when it ends)"
        )


@dataclass(frozen=True, order=True)
class Migration:
    version: int
    name: str
    path: Path

    @property
    def sql(self) -> str:
        return self.path.read_text(encoding="utf-8")


def migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    found: list[Migration] = []
    for path in directory.glob("*.sql"):
        match = _NAME.match(path.name)
        if not match:
            raise WarehouseError(f"migration file {path.name!r} is not named NNN_name.sql")
        found.append(Migration(int(match.group(1)), match.group(2), path))
    found.sort()
    versions = [m.version for m in found]
    if len(versions) != len(set(versions)):
        raise WarehouseError(f"two migrations share a number in {directory}: {versions}")
    return found


def has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    """Whether the warehouse has table ``name`` (an old or half-made file may lack one)."""
    return bool(con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = ? AND schema_name = 'main'", [name]
    ).fetchall()[0][0])


def applied_versions(con: duckdb.DuckDBPyConnection) -> set[int]:
    if not has_table(con, "schema_version"):
        return set()
    return {row[0] for row in con.execute("SELECT version FROM schema_version").fetchall()}


def current_version(con: duckdb.DuckDBPyConnection) -> int:
    """The highest applied migration number (0 for an empty file)."""
    return max(applied_versions(con), default=0)


def pending(con: duckdb.DuckDBPyConnection, directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """Migrations not yet applied, in order (read-only)."""
    done = applied_versions(con)
    return [m for m in migrations(directory) if m.version not in done]


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection, commit: bool = True) -> Iterator[duckdb.DuckDBPyConnection]:
    """One transaction: committed when the block ends (rolled back with ``commit=False``, a preview),
    rolled back on any exception. The one way hubcensus writes."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT" if commit else "ROLLBACK")


def migrate(con: duckdb.DuckDBPyConnection, directory: Path = MIGRATIONS_DIR, upto: int | None = None) -> list[int]:
    """Apply every pending migration (up to ``upto``), each in its own transaction with its record."""
    applied: list[int] = []
    for migration in pending(con, directory):
        if upto is not None and migration.version > upto:
            break
        try:
            with transaction(con):
                con.execute(migration.sql)
                con.execute(
                    "INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)",
                    [migration.version, migration.name, datetime.now(UTC)],
                )
        except duckdb.Error as exc:
            raise WarehouseError(f"migration {migration.path.name} failed: {exc}") from exc
        applied.append(migration.version)
    return applied


def open_warehouse(
    path: Path | str,
    read_only: bool = False,
    allow_files: Path | str | None = None,
    lock_wait_s: float | None = None,
    memory_limit: str | None = None,
    threads: int | None = None,
) -> duckdb.DuckDBPyConnection:
    """Connect to the warehouse file; a writable connection is migrated to the latest schema first.

    ``memory_limit`` caps DuckDB's memory (a constant such as READER_MEMORY or loading.WRITER_MEMORY): without
    it DuckDB takes up to 80% of the machine before it spills. A read-only connection is sandboxed (see
    ``sandbox``; ``allow_files`` names the one folder it may read; the cap is set before the settings are locked).
    Both wait up to ``lock_wait_s`` (default: READ_LOCK_WAIT_S / WRITE_LOCK_WAIT_S) for another process's lock.
    ``threads`` (a writable connection): DuckDB's worker threads, default one per core.
    """
    path = Path(path)
    if read_only:
        if not path.exists():
            raise WarehouseNotFound(f"no warehouse at {path}: run `hubcensus refresh`, `demo` or `rebuild` first")
        con = _connect(path, True, READ_LOCK_WAIT_S if lock_wait_s is None else lock_wait_s)
        try:
            sandbox(con, allow_files, memory_limit)
        except BaseException:
            con.close()
            raise
        return con
    if allow_files is not None:
        raise WarehouseError("allow_files is for read-only connections")
    path.parent.mkdir(parents=True, exist_ok=True)
    con = _connect(path, False, WRITE_LOCK_WAIT_S if lock_wait_s is None else lock_wait_s)
    try:
        if memory_limit is not None:
            con.execute("SET memory_limit = ?", [memory_limit])
        if threads is not None:
            con.execute("SET threads = ?", [threads])
        migrate(con)
    except BaseException:
        con.close()
        raise
    return con


def open_file_reader(folder: Path | str, memory_limit: str = "256MB") -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB, no warehouse, that reads the files of one folder only (sandboxed as a read-only
    warehouse connection is) on one thread: what reads a run's listing pages from its staging folder."""
    con = duckdb.connect(config={"threads": 1})
    try:
        sandbox(con, folder, memory_limit)
    except BaseException:
        con.close()
        raise
    return con


def _connect(path: Path, read_only: bool, wait_s: float) -> duckdb.DuckDBPyConnection:
    """duckdb.connect, retried with backoff while another process holds the file lock, up to ``wait_s``."""
    started = time.monotonic()
    delay, logged = 0.05, False
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.Error as exc:
            holder = lock_holder(exc)
            if holder is None:
                raise WarehouseError(f"cannot open {path}: {_one_line(exc)}") from None
            waited = time.monotonic() - started
            if waited >= wait_s:
                raise WarehouseLocked(path, holder, round(waited, 1), read_only) from None
            if not logged:
                log.warning("warehouse %s is locked by %s: waiting up to %g s", path, holder, wait_s)
                logged = True
            time.sleep(min(delay, max(wait_s - waited, 0.01)))
            delay = min(delay * 2, 1.0)


_HOLDER = re.compile(r"Conflicting lock is held in (?P<exe>.*?) \(PID (?P<pid>\d+)\)")


def query_interrupted(exc: BaseException) -> bool:
    """DuckDB turns a Ctrl-C or SIGTERM that arrives during a query into ``RuntimeError('Query interrupted')``
    (duckdb 2.0): the interrupt itself is gone, this is how to tell it from a failed query."""
    return isinstance(exc, RuntimeError) and str(exc) == "Query interrupted"


def lock_holder(exc: BaseException) -> str | None:
    """"PID n (command)" when ``exc`` is DuckDB's lock conflict, else None.

    DuckDB has no typed lock error: its IOException says "Conflicting lock is held in <exe> (PID <n>)".
    """
    if not isinstance(exc, duckdb.IOException):
        return None
    match = _HOLDER.search(str(exc))
    if match is None:
        return "another process" if "Could not set lock" in str(exc) else None
    pid = match.group("pid")
    return f"PID {pid} ({_command_of(pid) or Path(match.group('exe')).name})"


def _command_of(pid: str) -> str | None:
    """What the holder runs, in a word or two ("hubcensus sql", "python -c"), where /proc tells."""
    try:
        argv = [a.decode("utf-8", "replace") for a in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0") if a]
    except OSError:
        return None
    if not argv:
        return None
    words = [Path(argv[0]).name]
    rest = argv[1:]
    if words[0].startswith("python") and rest:
        if rest[0] in ("-c", "-m"):
            words = [words[0], rest[0]] if rest[0] == "-c" else rest[1:2]
            rest = [] if rest[0] == "-c" else rest[2:]
        else:
            words, rest = [Path(rest[0]).name], rest[1:]
    if rest and re.fullmatch(r"[a-z][a-z-]{0,30}", rest[0]):
        words.append(rest[0])  # a subcommand: "hubcensus sql", "hubcensus refresh"
    return " ".join(w[:40] for w in words) or None


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:500]


_SANDBOX_LOCK = threading.Lock()


def sandbox(con: duckdb.DuckDBPyConnection, allow_files: Path | str | None = None, memory_limit: str | None = None) -> None:
    """No file system, network or extension access beyond the warehouse file, then lock the settings.

    ``allow_files`` opens one folder for reading (resolved; DuckDB checks the path it is given, so links inside
    the folder are the folder owner's choice). The settings belong to the database instance, which every
    connection to the same file in this process shares: a second sandboxed connection finds them locked.
    """
    wanted = _allowed_dir(allow_files)
    with _SANDBOX_LOCK:
        locked = con.execute("SELECT current_setting('lock_configuration')").fetchall()[0][0]
        if not locked:
            con.execute("SET autoinstall_known_extensions = false")
            con.execute("SET autoload_known_extensions = false")
            # times read as the warehouse stores them, whatever the machine's zone: by this connection, its cursors
            # and the connections that find the settings locked (GLOBAL: a session setting would be this one's only)
            con.execute("SET GLOBAL TimeZone = 'UTC'")
            if memory_limit is not None:
                con.execute("SET memory_limit = ?", [memory_limit])
            if wanted is not None:
                con.execute("SET allowed_directories = ?", [[wanted]])
            con.execute("SET enable_external_access = false")
            con.execute("SET lock_configuration = true")
            return
    external, allowed = con.execute(
        "SELECT current_setting('enable_external_access'), current_setting('allowed_directories')"
    ).fetchall()[0]
    if external or (wanted is not None and wanted not in allowed):
        raise WarehouseError("the warehouse is already open in this process with other settings: close it first")


def _allowed_dir(allow_files: Path | str | None) -> str | None:
    if allow_files is None:
        return None
    folder = Path(allow_files).expanduser().resolve()
    if not folder.is_dir():
        raise WarehouseError(f"--allow-files {allow_files}: not a directory")
    return str(folder).rstrip("/") + "/"
