"""Open the warehouse file and keep its schema current with numbered SQL migrations.

Migrations are ``warehouse/migrations/NNN_name.sql``; each is applied with its ``schema_version`` row in one
transaction, in number order, so an older warehouse upgrades in place and a failed migration leaves
nothing half-done. The number orders them; the name says what each one adds (001 core tables, 002 marts,
010 the catalog, 020 file fetches, ...).
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Iterator

import duckdb

from hubcensus.errors import HubcensusError

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_NAME = re.compile(r"^(\d{3})_([A-Za-z0-9_]+)\.sql$")


class WarehouseError(HubcensusError):
    """A domain error about the warehouse file (the CLI prints it as one line)."""


class WarehouseNotFound(WarehouseError):
    pass


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


def applied_versions(con: duckdb.DuckDBPyConnection) -> set[int]:
    exists = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'schema_version' AND schema_name = 'main'"
    ).fetchall()[0][0]
    if not exists:
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


def open_warehouse(path: Path | str, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Connect to the warehouse file; a writable connection is migrated to the latest schema first."""
    path = Path(path)
    if read_only:
        if not path.exists():
            raise WarehouseNotFound(f"no warehouse at {path}: run `hubcensus refresh`, `demo` or `rebuild` first")
        return duckdb.connect(str(path), read_only=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path))
    try:
        migrate(con)
    except BaseException:
        con.close()
        raise
    return con
