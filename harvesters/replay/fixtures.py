"""Build raw run folders (the harvester's landing format) from snapshot bodies, for tests and benchmarks.

A listing line is a model_info body projected on the listing's expand fields, exactly as the replay Hub
serves it; files are copied from the snapshot's ``files/`` tree, each with an ``ok`` fetch record.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable

from harvesters.landing import RawRun
from harvesters.replay.listing import project
from harvesters.settings import DEMO_SNAPSHOT, LISTING_EXPAND, MODEL_FILES



def snapshot_bodies(snapshot: Path = DEMO_SNAPSHOT) -> list[dict[str, Any]]:
    """Every model body of a snapshot (api/models/**.json), sorted by id."""
    bodies = [json.loads(p.read_text()) for p in (snapshot / "api" / "models").rglob("*.json")]
    return sorted((b for b in bodies if isinstance(b, dict) and "id" in b), key=lambda b: b["id"])


def listing_line(body: dict[str, Any]) -> bytes:
    return json.dumps(project(body, LISTING_EXPAND), separators=(",", ":")).encode()


def make_raw_run(
    data_dir: Path,
    run_id: str,
    bodies: Iterable[dict[str, Any]] | None = None,
    files: dict[tuple[str, str], bytes] | None = None,
    snapshot: Path | None = DEMO_SNAPSHOT,
    started_at: datetime | str | None = None,
    extra_lines: Iterable[bytes] = (),
    fetches: Iterable[dict[str, Any]] = (),
    compressed: bool = True,
    page_size: int = 5,
) -> RawRun:
    """A complete raw run: run.json, models.ndjson (bodies + extra_lines), files with their fetch records.

    ``files`` maps (repo_id, path) to bytes; by default every config.json/README.md of ``snapshot`` whose
    repo is in ``bodies``. ``compressed=False`` lands the listing as earlier versions did (models.ndjson); ``page_size`` is the
    number of lines per landed page (one zstd frame each).
    """
    bodies = list(snapshot_bodies(snapshot) if bodies is None else bodies)
    run = RawRun.create(Path(data_dir), run_id)
    if isinstance(started_at, datetime):
        started_at = started_at.isoformat()
    started_at = started_at or f"{run_id[0:4]}-{run_id[4:6]}-{run_id[6:8]}T{run_id[9:11]}:{run_id[11:13]}:{run_id[13:15]}+00:00"
    run.write_manifest(endpoint="http://127.0.0.1:0", scope="all", started_at=started_at, finished_at=started_at, status="complete")
    lines = [listing_line(b) for b in bodies] + list(extra_lines)
    run.land_listing([lines[i : i + page_size] for i in range(0, len(lines), page_size)], compressed=compressed)
    if files is None:
        files = {}
        ids = {b["id"] for b in bodies}
        if snapshot is not None:
            for repo_id in sorted(ids):
                for name in MODEL_FILES:
                    path = snapshot / "files" / repo_id / name
                    if path.is_file():
                        files[(repo_id, name)] = path.read_bytes()
    shas = {b["id"]: b.get("sha") for b in bodies}
    for (repo_id, name), content in sorted(files.items()):
        run.land_file(repo_id, name, content)
        run.record_fetch(repo_id=repo_id, sha=shas.get(repo_id), path=name, status="ok", http_status=200, reason=None, bytes=len(content))
    for outcome in fetches:
        run.record_fetch(**outcome)
    return run
