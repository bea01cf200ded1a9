"""Regenerate tests/data/warehouse_v1.duckdb: a warehouse created at the first migration (001) only, with one
small run loaded the way 001's tables allow, kept so tests/test_warehouse_migrations.py can prove that an
older warehouse upgrades in place. Run from the repo root:

    .venv/bin/python tests/data/make_v1_warehouse.py
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from warehouse.database import migrate

TARGET = Path(__file__).resolve().parent / "warehouse_v1.duckdb"


def main() -> None:
    TARGET.unlink(missing_ok=True)
    con = duckdb.connect(str(TARGET))
    migrate(con, upto=1)
    run_id = "20240101T000000Z-v1v1v1"
    con.execute(
        "INSERT INTO harvest_runs VALUES (?, ?, ?, 'complete', ?, 'http://127.0.0.1:0', 'all', NULL)",
        [run_id, datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 1, 0, 5, tzinfo=UTC), json.dumps({"listing": {"models": 1}})],
    )
    con.execute(
        "INSERT INTO models (repo_id, author, sha, created_at, downloads, likes, license, gated, model_type, "
        "architectures, arch_class, params_total, params_source, params_effective, tags, first_seen_run, last_seen_run) "
        "VALUES ('openai-community/gpt2', 'openai-community', 'abc', TIMESTAMPTZ '2022-03-02 23:29:04+00', 100, 5, "
        "'mit', 'false', 'gpt2', ['GPT2LMHeadModel'], 'decoder', 137022720, 'safetensors', 137022720, ['gpt2'], ?, ?)",
        [run_id, run_id],
    )
    con.execute("INSERT INTO model_stats_history VALUES ('openai-community/gpt2', DATE '2024-01-01', 100, 5, ?)", [run_id])
    con.close()
    print(f"wrote {TARGET} ({TARGET.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
