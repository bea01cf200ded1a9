"""The data dir and the raw landing: where everything lives on disk, and the run lifecycle.

``DataDir`` is the one owner of the on-disk layout; everything else asks it for paths::

    DATA_DIR/
      raw/<run_id>/         one harvest run, append-only, atomic files: the source of truth
        run.json            the run's manifest: run_id, endpoint, scope, started_at, finished_at, status
                            ("running" | "complete" | "failed" | "abandoned"), pid/host, counts, load
        models.ndjson.zst   the listing: one line per listed model, the Hub's JSON exactly as returned,
                            one zstd frame per listing page (each frame decompresses alone); written as
                            models.ndjson.zst.partial while the listing streams, renamed when complete
        models.frames.json  the frame table of models.ndjson.zst: [compressed, uncompressed, lines] per
                            frame, so a normalize shard reads only its own pages
        models.index.ndjson.zst  one short line per listed model, landed with the listing: what the harvest
                            reads of it (id, sha, author, downloads, MODEL_FILES siblings, named parents;
                            harvesters/listing_index.py); runs landed without one read their listing instead
        models.ndjson       the listing of runs landed by earlier versions (uncompressed): still read
        fetches.ndjson      one line per file fetch outcome: repo_id, sha, path, status
                            ("ok" | "missing" | "gated" | "not_found" | "error"), http_status, reason, bytes;
                            appended as each fetch settles, so a crash keeps what was settled
        files/<repo>/<path> the file's bytes as served, each written atomically; <repo> is the repo id as
                            one directory name (``repo_dir_name``), so no two repos' files can collide
        aliases.ndjson      one line per lineage parent the listing did not return, asked of the Hub once:
                            alias, canonical_id (null: unknown to the Hub), resolved_at (harvesters/aliases.py)
      staging/<run_id>/     normalized pages between the normalize shards and the load
      warehouse.duckdb      the warehouse
      reports/              report sets

A run id is validated wherever it enters (``check_run_id``), and anything that deletes goes through
``DataDir.remove``, which refuses any path outside the data dir's own ``raw/`` and ``staging/``.
Everything downstream (normalization, loading) reads only this; it never calls the Hub.
"""

from __future__ import annotations

import gc
import hashlib
import io
import json
import os
import re
import secrets
import shutil
import socket
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any, Iterable, Iterator
from urllib.parse import quote, unquote

import orjson
import zstandard

from harvesters.listing_index import index_entry
from harvesters.scope import SETTLED as SETTLED  # fetch statuses that are final: part of the fetch log's contract
from hubcensus.errors import HubcensusError, InvalidInput

RAW_DIR = "raw"
STAGING_DIR = "staging"
WAREHOUSE_FILE = "warehouse.duckdb"
REPORTS_DIR = "reports"
MANIFEST = "run.json"
MODELS = "models.ndjson"  # uncompressed listing of runs landed before 0.2 (read, never written)
MODELS_ZST = "models.ndjson.zst"
FRAMES = "models.frames.json"
INDEX = "models.index.ndjson.zst"
ZSTD_LEVEL = 3  # ~10-20% of the JSON's size at a few hundred MB/s: the listing is never CPU-bound on it
FETCHES = "fetches.ndjson"
FILES_DIR = "files"
ALIASES = "aliases.ndjson"

FILES_LAYOUT = 2  # 1 (no "layout" in run.json): files/<org>/<name>/<path>; 2: files/<repo_dir_name>/<path>
RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")  # the generated form (20261127T031500Z-a1b2c3) is one
STATUSES = ("running", "complete", "failed", "abandoned")
MAX_DIR_NAME = 200  # bytes; file systems allow 255


class RunNotFound(HubcensusError):
    """No raw run with that id under the data dir."""


class RunInUse(HubcensusError):
    """The run is still running in a live process: resuming it would write twice."""


class ListingUnreadable(HubcensusError):
    """A landed listing whose frame table is missing or does not match its file."""


@dataclass(frozen=True)
class ListingSpan:
    """A page of a run's listing: whole lines, read alone (``RawRun.read_span``); small and picklable.

    ``[start, end)`` are byte offsets in the stored file; ``frames`` are the compressed sizes of the zstd
    frames that fill it (empty for an uncompressed ``models.ndjson``, cut at line ends instead).
    """

    index: int
    start: int
    end: int
    first_line: int  # 1-based number of the span's first line (quarantine reasons name lines)
    frames: tuple[int, ...] = field(default=())
    uncompressed_bytes: int = 0


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a page is parsed or indexed.

    Parsing a page makes ~60 container objects per model, none of them in a cycle, and each 700 of them start a
    collection that walks the young ones: a quarter of the page's parse-and-dump time (43 against 60 us a
    model, measured on a 1,000-model page of the synthetic Hub). Reference counting still frees everything;
    only cycles wait, for the few milliseconds of a page. Process-wide, so it re-enables only what it paused.
    """
    paused = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


class ParsedPage(list):
    """A listing page as landed (a list of JSON lines) that also carries the models the lines were dumped from:
    the client parsed them to cut the page into lines, and the index is made of them (parsing a line costs
    ~30x taking the fields off a parsed model)."""

    def __init__(self, lines: Iterable[bytes], models: list[Any]) -> None:
        super().__init__(lines)
        self.models = models


def new_run_id(now: datetime | None = None) -> str:
    """A sortable, unique run id: UTC timestamp plus a short random suffix."""
    now = now or datetime.now(UTC)
    return f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def check_run_id(run_id: Any) -> str:
    """The run id itself if it is a plain slug (letters, digits, '-' and '_'); else InvalidInput.

    A run id names folders that are later deleted: '../x', '/tmp' or 'a/b' must never get that far.
    """
    if not isinstance(run_id, str) or RUN_ID.fullmatch(run_id) is None:
        raise InvalidInput(
            f"invalid run id {run_id!r}: a run id is letters, digits, '-' and '_' (e.g. {new_run_id()}), "
            "never a path"
        )
    return run_id


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


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


def repo_dir_name(repo_id: str) -> str:
    """A repo id as ONE directory name: '/' and anything unsafe percent-encoded, never '.' or '..'.

    Repos ``a`` and ``a/config.json`` then land apart (``a/config.json`` vs ``a%2Fconfig.json/...``).
    Over-long names keep a readable prefix and a hash of the whole id.
    """
    name = quote(repo_id, safe="-_.")
    if name.startswith("."):
        name = "%2E" + name[1:]
    if len(name) > MAX_DIR_NAME:
        name = name[: MAX_DIR_NAME - 41] + "~" + hashlib.sha1(repo_id.encode()).hexdigest()
    return name


def _is_safe_name(value: str) -> bool:
    return value not in ("", ".", "..") and not any(c in value for c in ("/", "\\", "\x00"))


def _process_alive(pid: Any) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True


@dataclass(frozen=True)
class DataDir:
    """The data dir's layout: the only code that knows its folder and file names."""

    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    @classmethod
    def of(cls, value: "DataDir | Path | str") -> "DataDir":
        return value if isinstance(value, DataDir) else cls(Path(value))

    def __str__(self) -> str:
        return str(self.root)

    @property
    def raw(self) -> Path:
        return self.root / RAW_DIR

    @property
    def staging(self) -> Path:
        return self.root / STAGING_DIR

    @property
    def warehouse(self) -> Path:
        return self.root / WAREHOUSE_FILE

    @property
    def reports(self) -> Path:
        return self.root / REPORTS_DIR

    def run_dir(self, run_id: str) -> Path:
        return self.raw / check_run_id(run_id)

    def staging_for(self, run_id: str) -> Path:
        return self.staging / check_run_id(run_id)

    def run_ids(self) -> list[str]:
        """Ids of the runs present under raw/, oldest first (folders that are not runs are ignored)."""
        if not self.raw.is_dir():
            return []
        return sorted(p.name for p in self.raw.iterdir() if RUN_ID.fullmatch(p.name) and (p / MANIFEST).is_file())

    def runs(self) -> list["RawRun"]:
        return [RawRun(self.run_dir(run_id), run_id) for run_id in self.run_ids()]

    def remove(self, path: Path) -> None:
        """Delete a run's folder or a staging folder, and nothing else.

        The path must lie strictly inside this data dir's ``raw/`` or ``staging/`` once resolved (its last
        component is not followed: a symlink is removed, never its target).
        """
        path = Path(path)
        resolved = path.parent.resolve() / path.name
        bases = [self.raw.resolve(), self.staging.resolve()]
        if not any(resolved != base and resolved.is_relative_to(base) for base in bases):
            raise InvalidInput(f"refusing to delete {path}: only folders inside {self.raw} or {self.staging} are ever deleted")
        if resolved.is_symlink() or resolved.is_file():
            resolved.unlink()
        elif resolved.exists():
            # renamed aside first (atomic): a crash mid-delete leaves no half-run that still looks like a run
            aside = resolved.with_name(f".{resolved.name}.removing")
            os.replace(resolved, aside)
            shutil.rmtree(aside)
        for leftover in resolved.parent.glob(".*.removing"):  # what a crash mid-delete left
            shutil.rmtree(leftover, ignore_errors=True)

    def clear_staging(self, keep: Iterable[str] = ()) -> list[str]:
        """Remove staged pages of runs that are not running (they restage if resumed), except ``keep``."""
        if not self.staging.is_dir():
            return []
        keep, removed = set(keep), []
        for leftover in self.staging.iterdir():
            name = leftover.name
            running = RUN_ID.fullmatch(name) and RawRun(self.raw / name, name).status == "running"
            if name not in keep and not running:
                self.remove(leftover)
                removed.append(name)
        return removed

    def abandon_stale_runs(self) -> list[str]:
        """Runs still marked running whose process is gone (on this host) become ``abandoned``."""
        host, abandoned = socket.gethostname(), []
        for run in self.runs():
            manifest = run.read_manifest()
            if manifest.get("status") != "running" or manifest.get("host") not in (None, host):
                continue
            if not _process_alive(manifest.get("pid")):
                run.write_manifest(status="abandoned", abandoned_at=now_iso())
                abandoned.append(run.run_id)
        return abandoned


@dataclass(frozen=True)
class RawRun:
    """One run's folder under ``DATA_DIR/raw``, and its lifecycle."""

    root: Path
    run_id: str

    # ---- lifecycle
    @classmethod
    def begin(cls, data_dir: DataDir | Path | str, run_id: str | None = None, **manifest: Any) -> "RawRun":
        """A new run: its folder and manifest (status running, this process as its owner).

        Runs left ``running`` by a dead process are marked ``abandoned`` first, and staging that no
        running run owns is cleared.
        """
        data = DataDir.of(data_dir)
        run_id = check_run_id(run_id) if run_id is not None else new_run_id()
        data.abandon_stale_runs()
        run = cls(data.run_dir(run_id), run_id)
        if run.manifest_path.exists():
            raise InvalidInput(f"run {run_id} already exists under {data.raw}: resume it, or start a new run")
        run.root.mkdir(parents=True)
        run.write_manifest(status="running", layout=FILES_LAYOUT, **manifest, **_owner())
        data.clear_staging(keep=[run_id])
        return run

    @classmethod
    def resume(cls, data_dir: DataDir | Path | str, run_id: str) -> "RawRun":
        """An existing run, taken over by this process: what it landed is kept, leftovers are cleared."""
        data = DataDir.of(data_dir)
        data.abandon_stale_runs()
        run = cls.open(data, run_id)
        manifest = run.read_manifest()
        if manifest.get("status") == "running" and manifest.get("pid") != os.getpid():
            raise RunInUse(f"run {run_id} is still running (pid {manifest.get('pid')} on {manifest.get('host')})")
        run.remove_temporaries()
        run.write_manifest(status="running", resumed_at=now_iso(), finished_at=None, error=None, **_owner())
        data.clear_staging()  # this run's own staged pages too: they are restaged from the raw listing
        return run

    def finish(self, **fields: Any) -> dict[str, Any]:
        return self.write_manifest(status="complete", finished_at=now_iso(), **fields)

    def fail(self, error: BaseException | str) -> dict[str, Any]:
        reason = error if isinstance(error, str) else (f"{type(error).__name__}: {error}".strip().rstrip(":"))
        return self.write_manifest(status="failed", finished_at=now_iso(), error=reason.splitlines()[0][:500] if reason else None)

    def record_load(self, status: str, error: str | None = None) -> dict[str, Any]:
        """What happened when the run was loaded into the warehouse (the harvest status stays as it was)."""
        return self.write_manifest(load={"status": status, "at": now_iso(), "error": error})

    def record_stage(self, stage: str, **seconds: float) -> dict[str, Any]:
        """How long a stage of the run took (``stages`` in the manifest: {stage: {wall_s, cpu_s}})."""
        stages = dict(self.read_manifest().get("stages") or {})
        stages[stage] = {name: round(value, 3) for name, value in seconds.items()}
        return self.write_manifest(stages=stages)

    def remove_temporaries(self) -> int:
        """Delete what an interrupted write left behind (``.*.tmp``, ``*.partial``): never a landed file."""
        removed = 0
        for path in list(self.root.rglob(".*.tmp")) + list(self.root.glob("*.partial")):
            if path.is_file():
                path.unlink()
                removed += 1
        return removed

    @classmethod
    def open(cls, data_dir: DataDir | Path | str, run_id: str) -> "RawRun":
        data = DataDir.of(data_dir)
        run = cls(data.run_dir(run_id), run_id)
        if not run.manifest_path.is_file():
            raise RunNotFound(f"no raw run {run_id!r} under {data.raw}")
        return run

    @classmethod
    def create(cls, data_dir: DataDir | Path | str, run_id: str | None = None, **manifest: Any) -> "RawRun":
        """A run's folder for hand-made runs (tests, fixtures): made with its manifest if new, kept if not."""
        data = DataDir.of(data_dir)
        run_id = check_run_id(run_id) if run_id is not None else new_run_id()
        run = cls(data.run_dir(run_id), run_id)
        run.root.mkdir(parents=True, exist_ok=True)
        if not run.manifest_path.exists():
            run.write_manifest(status="running", layout=FILES_LAYOUT, **manifest)
        return run

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

    @property
    def files_root(self) -> Path:
        return self.root / FILES_DIR

    @cached_property
    def files_layout(self) -> int:
        try:
            return int(self.read_manifest().get("layout") or 1)
        except (OSError, ValueError, TypeError):
            return FILES_LAYOUT

    def file_path(self, repo_id: str, path: str) -> Path:
        """Where a repo's file lands; ValueError for a path that could leave the run's files folder."""
        parts = path.split("/")
        if not all(_is_safe_name(p) for p in parts):
            raise ValueError(f"refusing to land {path!r} of {repo_id!r}: not a plain relative path")
        if self.files_layout >= 2:
            target = self.files_root / repo_dir_name(repo_id) / path
        else:
            target = (self.files_root / repo_id / path).resolve()
            if not target.is_relative_to(self.files_root.resolve()):
                raise ValueError(f"refusing to land {repo_id}/{path} outside the run folder")
        return target

    def landed_files(self, names: Iterable[str]) -> Iterator[tuple[str, str, Path]]:
        """(repo_id, file name, path) of every landed file with one of ``names`` (runs without a fetch log)."""
        names = set(names)
        if not self.files_root.is_dir():
            return
        for path in sorted(self.files_root.rglob("*")):
            if path.name not in names or not path.is_file():
                continue
            relative = path.parent.relative_to(self.files_root).as_posix()
            repo_id = unquote(relative) if self.files_layout >= 2 else relative
            yield repo_id, path.name, path

    # ---- manifest
    @property
    def status(self) -> str | None:
        try:
            return self.read_manifest().get("status")
        except (OSError, ValueError):
            return None

    def read_manifest(self) -> dict[str, Any]:
        return json.loads(self.manifest_path.read_text())

    def write_manifest(self, **fields: Any) -> dict[str, Any]:
        manifest = self.read_manifest() if self.manifest_path.exists() else {"run_id": self.run_id}
        manifest.update(fields)
        write_atomic(self.manifest_path, json.dumps(manifest, indent=2, sort_keys=True).encode())
        return manifest

    # ---- listing
    @property
    def listing_path(self) -> Path:
        """The stored listing: ``models.ndjson.zst``, or the ``models.ndjson`` of an earlier version's run."""
        zst = self.root / MODELS_ZST
        return zst if zst.exists() or not self.models_path.exists() else self.models_path

    @property
    def listing_compressed(self) -> bool:
        return self.listing_path.name == MODELS_ZST

    @property
    def listing_complete(self) -> bool:
        return self.listing_path.exists()

    def land_listing(self, pages: Iterable[list[bytes]], compressed: bool = True) -> int:
        """Stream listing pages (each a list of raw JSON lines) to models.ndjson.zst, one zstd frame per page,
        and each page's index entries to models.index.ndjson.zst (a ``ParsedPage`` brings its models parsed;
        a plain list is parsed here).

        Frames are appended to .partial files, then the frame table is written and the files renamed (the index
        first), so a crashed listing leaves no listing file and is redone whole on resume. The manifest records
        the models, pages, and the compressed and uncompressed bytes. Returns the model count.
        ``compressed=False`` writes an earlier version's plain models.ndjson, without an index (tests of old runs).
        """
        target = self.root / (MODELS_ZST if compressed else MODELS)
        partial = target.with_name(target.name + ".partial")
        index_partial = self.index_path.with_name(INDEX + ".partial")
        compressor = zstandard.ZstdCompressor(level=ZSTD_LEVEL, write_content_size=True)
        frames: list[list[int]] = []
        index_bytes = 0
        with open(partial, "wb") as fh, open(index_partial, "wb") as index:
            for page in pages:
                if not page:
                    continue
                text = b"".join(line.rstrip(b"\n") + b"\n" for line in page)
                stored = compressor.compress(text) if compressed else text
                fh.write(stored)
                frames.append([len(stored), len(text), len(page)])
                if compressed:
                    with cyclic_gc_paused():
                        models = page.models if isinstance(page, ParsedPage) else [parse_line(line) for line in page]
                        entries = _index_lines(models)
                    index_bytes += index.write(compressor.compress(entries))
            for out in (fh, index):
                out.flush()
                os.fsync(out.fileno())
        if compressed:
            write_atomic(self.root / FRAMES, json.dumps({"frames": frames}).encode())
            os.replace(index_partial, self.index_path)
        else:
            index_partial.unlink()
        os.replace(partial, target)
        count = sum(f[2] for f in frames)
        self.write_manifest(listing={
            "format": target.name, "models": count, "pages": len(frames),
            "bytes": sum(f[0] for f in frames), "uncompressed_bytes": sum(f[1] for f in frames),
            "index_bytes": index_bytes,
        })  # fmt: skip
        return count

    def listing_sizes(self) -> dict[str, int]:
        """The listing's stored bytes and its uncompressed bytes (the same for an uncompressed run)."""
        if not self.listing_complete:
            return {"bytes": 0, "uncompressed_bytes": 0}
        stored = self.listing_path.stat().st_size
        if not self.listing_compressed:
            return {"bytes": stored, "uncompressed_bytes": stored}
        return {"bytes": stored, "uncompressed_bytes": sum(f[1] for f in self._frames())}

    def _frames(self) -> list[list[int]]:
        try:
            frames = json.loads((self.root / FRAMES).read_bytes())["frames"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ListingUnreadable(f"run {self.run_id}: {FRAMES} is missing or unreadable ({exc})") from None
        if sum(f[0] for f in frames) != self.listing_path.stat().st_size:
            raise ListingUnreadable(f"run {self.run_id}: {FRAMES} does not describe {MODELS_ZST} (sizes differ)")
        return frames

    def listing_spans(self, page_bytes: int) -> list[ListingSpan]:
        """The listing cut into pages of about ``page_bytes`` uncompressed bytes, at frame or line ends."""
        if not self.listing_complete:
            return []
        if not self.listing_compressed:
            return _line_spans(self.listing_path, page_bytes)
        spans: list[ListingSpan] = []
        start = offset = size = 0
        line, lines, group = 1, 0, []
        for compressed, uncompressed, count in self._frames():
            group.append(compressed)
            offset, size, lines = offset + compressed, size + uncompressed, lines + count
            if size >= page_bytes:
                spans.append(ListingSpan(len(spans), start, offset, line, tuple(group), size))
                start, line, size, lines, group = offset, line + lines, 0, 0, []
        if group:
            spans.append(ListingSpan(len(spans), start, offset, line, tuple(group), size))
        return spans

    def stored_span(self, span: ListingSpan) -> bytes:
        """A span's bytes as stored: its zstd frames (a zstd stream of their own), or a range of ``models.ndjson``."""
        with open(self.listing_path, "rb") as fh:
            fh.seek(span.start)
            return fh.read(span.end - span.start)

    def read_span(self, span: ListingSpan) -> bytes:
        """A span's ndjson bytes, uncompressed: only its own frames (or byte range) are read."""
        stored = self.stored_span(span)
        if not span.frames:
            return stored
        decompressor = zstandard.ZstdDecompressor()
        parts, at = [], 0
        for size in span.frames:
            parts.append(decompressor.decompress(stored[at : at + size]))
            at += size
        return b"".join(parts)

    def iter_listing_lines(self, page_bytes: int = 16 * 1024 * 1024) -> Iterator[bytes]:
        """Every listing line, as landed (without its newline), a span at a time."""
        for span in self.listing_spans(page_bytes):
            for line in self.read_span(span).split(b"\n"):
                if line.strip():
                    yield line

    def iter_models(self) -> Iterator[Any]:
        """Each listing line, parsed; a line that is not JSON is skipped (normalization quarantines it)."""
        for line in self.iter_listing_lines():
            model = parse_line(line)
            if model is not UNPARSED:
                yield model

    @property
    def index_path(self) -> Path:
        return self.root / INDEX

    def iter_index(self) -> Iterator[dict[str, Any]]:
        """Each listed model's index entry (``listing_index.index_entry``), streamed from the run's index; a run
        landed without one (earlier versions) gets the same entries from its listing, parsed line by line."""
        if not self.listing_complete:
            return
        if not self.index_path.exists():
            for model in self.iter_models():
                if (entry := index_entry(model)) is not None:
                    yield entry
            return
        with open(self.index_path, "rb") as fh, zstandard.ZstdDecompressor().stream_reader(fh, read_across_frames=True) as raw:
            for line in io.BufferedReader(raw, buffer_size=1 << 20):
                if isinstance(entry := parse_line(line), dict):
                    yield entry

    # ---- files
    def land_file(self, repo_id: str, path: str, content: bytes) -> Path:
        target = self.file_path(repo_id, path)
        write_atomic(target, content)
        return target

    def record_fetch(self, **outcome: Any) -> None:
        """Append one fetch outcome as it settles (one write of one line, O_APPEND: shards may share the log).

        A resumed run may append again; readers keep the last line per (repo_id, path).
        """
        line = json.dumps(outcome, sort_keys=True).encode() + b"\n"
        fd = os.open(self.fetches_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)

    def fetch_outcomes(self) -> dict[tuple[str, str], dict[str, Any]]:
        """The last outcome per (repo_id, path); a line torn by a crash is skipped."""
        outcomes: dict[tuple[str, str], dict[str, Any]] = {}
        self.fetches_since(0, outcomes, whole=False)
        return outcomes

    def fetches_since(self, offset: int, outcomes: dict[tuple[str, str], dict[str, Any]], whole: bool = True) -> int:
        """Read the fetch log from byte ``offset`` into ``outcomes`` (the last per (repo_id, path)); returns the
        offset to read from next. ``whole``: stop at the last complete line, for a reader that follows the log
        while shards still append to it (a line being written is read next time, not skipped)."""
        try:
            with open(self.fetches_path, "rb") as fh:
                fh.seek(offset)
                data = fh.read()
        except FileNotFoundError:
            return offset
        if whole:
            data = data[: data.rfind(b"\n") + 1]
        for line in data.splitlines():
            try:
                row = json.loads(line)
                outcomes[(row["repo_id"], row["path"])] = row
            except (ValueError, KeyError, TypeError):
                continue
        return offset + len(data)


UNPARSED = object()


def parse_line(line: bytes) -> Any:
    """One listing line, parsed (``UNPARSED`` if it is not JSON). orjson is ~2x the stdlib, and the harvest
    reads the listing more than once; what it refuses (NaN, integers beyond 64 bits) the stdlib still reads."""
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        try:
            return json.loads(line)
        except (ValueError, RecursionError):
            return UNPARSED


def _index_lines(models: list[Any]) -> bytes:
    """A page's index entries as ndjson (orjson; the stdlib for what it refuses, e.g. a lone surrogate)."""
    out = []
    for model in models:
        entry = index_entry(model)
        if entry is None:
            continue
        try:
            out.append(orjson.dumps(entry))
        except orjson.JSONEncodeError:
            out.append(json.dumps(entry).encode())
    return b"".join(line + b"\n" for line in out)


def _line_spans(path: Path, page_bytes: int) -> list[ListingSpan]:
    """An uncompressed listing's pages: byte spans cut at line ends (one pass counting lines, no parsing)."""
    spans: list[ListingSpan] = []
    start = pos = 0
    line = 1
    tail_blank = True  # the bytes after the last cut hold no newline; do they hold anything but whitespace?
    with open(path, "rb") as fh:
        while chunk := fh.read(page_bytes):
            pos += len(chunk)
            cut = chunk.rfind(b"\n")
            if cut < 0:
                tail_blank = tail_blank and not chunk.strip()
                continue
            end = pos - len(chunk) + cut + 1
            spans.append(ListingSpan(len(spans), start, end, line, uncompressed_bytes=end - start))
            line += chunk.count(b"\n", 0, cut + 1)
            start, tail_blank = end, not chunk[cut + 1 :].strip()
    if start < pos and not tail_blank:
        spans.append(ListingSpan(len(spans), start, pos, line, uncompressed_bytes=pos - start))
    return spans


def _owner() -> dict[str, Any]:
    return {"pid": os.getpid(), "host": socket.gethostname()}


def list_runs(data_dir: DataDir | Path | str) -> list[str]:
    """Run ids present under DATA_DIR/raw, oldest first."""
    return DataDir.of(data_dir).run_ids()
