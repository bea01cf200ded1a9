"""The raw landing: append-only, atomic files per run, the source of truth.

Layout of one run, ``DATA_DIR/raw/<run_id>/``::

    run.json          the run's manifest: run_id, endpoint, scope, expand, started_at,
                      finished_at, status ("running" | "complete" | "failed")
    models.ndjson     one line per listed model, the Hub's JSON exactly as returned
                      (written as models.ndjson.partial while the listing streams, renamed when complete)
    fetches.ndjson    one line per file fetch outcome: repo_id, sha, path, status
                      ("ok" | "missing" | "gated" | "not_found" | "error"), http_status, reason, bytes
    files/<repo_id>/<path>   the file's bytes as served, each written atomically
    aliases.ndjson    one line per lineage parent the listing did not return, asked of the Hub once:
                      alias, canonical_id (null: unknown to the Hub), resolved_at (harvesters/aliases.py)

Everything downstream (normalization, loading) reads only this; it never calls the Hub.
"""

from __future__ import annotations

import json
import os
import secrets
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Iterable, Iterator

RAW_DIR = "raw"
MANIFEST = "run.json"
MODELS = "models.ndjson"
FETCHES = "fetches.ndjson"
FILES_DIR = "files"
ALIASES = "aliases.ndjson"


def new_run_id(now: datetime | None = None) -> str:
    """A sortable, unique run id: UTC timestamp plus a short random suffix."""
    now = now or datetime.now(UTC)
    return f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass(frozen=True)
class RawRun:
    """One run's folder under ``DATA_DIR/raw``."""

    root: Path
    run_id: str

    @classmethod
    def create(cls, data_dir: Path, run_id: str | None = None, **manifest: Any) -> "RawRun":
        """The run's folder, made with its manifest if new; an existing run (a resume) is kept as it is."""
        run_id = run_id or new_run_id()
        run = cls(Path(data_dir) / RAW_DIR / run_id, run_id)
        run.root.mkdir(parents=True, exist_ok=True)
        if not run.manifest_path.exists():
            run.write_manifest(status="running", **manifest)
        return run

    @classmethod
    def open(cls, data_dir: Path, run_id: str) -> "RawRun":
        root = Path(data_dir) / RAW_DIR / run_id
        if not (root / MANIFEST).exists():
            raise FileNotFoundError(f"no raw run {run_id!r} under {Path(data_dir) / RAW_DIR}")
        return cls(root, run_id)

    # ---- paths
    @property
    def manifest_path(self) -> Path:
        return self.root / MANIFEST

    @property
    def models_path(self) -> Path:
        return self.root / MODELS

    @property
    def fetches_path(self) -> Path:
        return self.root / FETCHES

    @property
    def aliases_path(self) -> Path:
        return self.root / ALIASES

    def file_path(self, repo_id: str, path: str) -> Path:
        target = (self.root / FILES_DIR / repo_id / path).resolve()
        if not target.is_relative_to((self.root / FILES_DIR).resolve()):
            raise ValueError(f"refusing to land {repo_id}/{path} outside the run folder")
        return target

    # ---- manifest
    def read_manifest(self) -> dict[str, Any]:
        return json.loads(self.manifest_path.read_text())

    def write_manifest(self, **fields: Any) -> dict[str, Any]:
        manifest = self.read_manifest() if self.manifest_path.exists() else {"run_id": self.run_id}
        manifest.update(fields)
        write_atomic(self.manifest_path, json.dumps(manifest, indent=2, sort_keys=True).encode())
        return manifest

    # ---- listing
    @property
    def listing_complete(self) -> bool:
        return self.models_path.exists()

    def land_listing(self, pages: Iterable[list[bytes]]) -> int:
        """Stream listing pages (each a list of raw JSON lines) to models.ndjson; returns the model count.

        Lines are appended to a .partial file and renamed only once the listing is complete,
        so a crashed listing leaves no models.ndjson and is redone whole on resume.
        """
        partial = self.models_path.with_suffix(".ndjson.partial")
        count = 0
        with open(partial, "wb") as fh:
            for page in pages:
                for line in page:
                    fh.write(line.rstrip(b"\n") + b"\n")
                    count += 1
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(partial, self.models_path)
        return count

    def iter_models(self) -> Iterator[dict[str, Any]]:
        with open(self.models_path, "rb") as fh:
            for line in fh:
                if line.strip():
                    yield json.loads(line)

    # ---- files
    def land_file(self, repo_id: str, path: str, content: bytes) -> Path:
        target = self.file_path(repo_id, path)
        write_atomic(target, content)
        return target

    def record_fetch(self, **outcome: Any) -> None:
        """Append one fetch outcome; a resumed run may append again, readers keep the last per (repo_id, path)."""
        with open(self.fetches_path, "ab") as fh:
            fh.write(json.dumps(outcome, sort_keys=True).encode() + b"\n")

    def fetch_outcomes(self) -> dict[tuple[str, str], dict[str, Any]]:
        outcomes: dict[tuple[str, str], dict[str, Any]] = {}
        if self.fetches_path.exists():
            for line in self.fetches_path.read_bytes().splitlines():
                if line.strip():
                    row = json.loads(line)
                    outcomes[(row["repo_id"], row["path"])] = row
        return outcomes


def list_runs(data_dir: Path) -> list[str]:
    """Run ids present under DATA_DIR/raw, oldest first."""
    raw = Path(data_dir) / RAW_DIR
    if not raw.is_dir():
        return []
    return sorted(p.name for p in raw.iterdir() if (p / MANIFEST).exists())
