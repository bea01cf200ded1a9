"""The end-to-end census benchmark: K nights of the real ``hubcensus refresh`` against a drifting synthetic Hub.

    .venv/bin/python benchmarks/census.py --models N --nights K --json FILE [--seed S] [--work DIR] [--naive-models 300]

For each night d = 0..K-1 it starts ``hubcensus replay-hub --synthetic N --day d`` (a subprocess, with a
request log) and runs ``hubcensus refresh`` (a subprocess) into ONE data dir, with a settings file whose file
scope is the top 1% by downloads (no catalog, no authors, no search) and whose ``[rate_limit]`` lets a loopback
run go at full speed. Per night: wall time; CPU (user+sys) of the refresh's process tree (``os.wait4``: the
refresh and every descendant it reaped, e.g. Prefect's ephemeral server); peak RSS of the tree (the sum over
the tree, sampled every 0.2 s with psutil); listing and file requests from the replay's request log; raw bytes
landed (the run folder on disk, and the same with the listing counted uncompressed); warehouse bytes; seconds
per flow stage (the run's manifest, ``stages``). Then, on the same data:

- the floor: DuckDB ``read_json`` of night 0's raw listing into a table (wall and CPU, in this process);
- the load alone: ``load_raw_run`` of night 0's raw run into an empty warehouse (wall and CPU, in this process),
  the loader the flow runs (``warehouse.loading.load_run``) on threads instead of Prefect tasks. In the flow the
  load runs beside the files stage, so the flow's own ``normalize_load`` CPU (``normalize_load_in_flow_cpu_s``)
  also holds the fetches': the ratio to the floor is taken on the load alone;
- a naive reference: a harvester written here with the plain ``huggingface_hub`` client, one ``model_info``
  plus one ``hf_hub_download`` per file (config.json, README.md the repo has) per model, on ``--naive-models``
  models of the same Hub: requests per model and seconds per model.

Writes FILE with the keys ``models``, ``nights`` (each: ``night``, ``wall_s``, ``cpu_s``, ``peak_rss_mb``,
``listing_requests``, ``file_requests``, ``raw_bytes``, ``raw_uncompressed_bytes``, ``warehouse_bytes``,
``stages``), ``read_json_wall_s``, ``read_json_cpu_s``, ``normalize_load_cpu_s`` (night 0, the load alone),
``naive_requests_per_model``, ``naive_seconds_per_model``, plus context (the machine, targets' figures).
Never asserts a timing.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
HUBCENSUS = str(BIN / "hubcensus")


def settings(models: int) -> str:
    """File scope: the top 1% by downloads only; quotas no loopback run reaches."""
    return (
        "[files]\n"
        f"catalog = false\ntop_downloads = {max(1, models // 100)}\nauthors = []\nsearch = []\n\n"
        "[rate_limit]\napi = 1000000000\nresolvers = 1000000000\n"
    )


def quiet_env(work: Path, night: int) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PREFECT_API_URL", None)
    env.update({
        "PREFECT_HOME": str(work / "prefect"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180", "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_HUB_DISABLE_PROGRESS_BARS": "1", "HF_HOME": str(work / f"hf-home-{night}"),
    })  # fmt: skip
    return env


# ------------------------------------------------------------------ the replay Hub, as a subprocess
class Replay:
    def __init__(self, models: int, day: int, seed: int, log: Path, env: dict[str, str]) -> None:
        self.log = log
        self.proc = subprocess.Popen(
            [HUBCENSUS, "replay-hub", "--synthetic", str(models), "--day", str(day), "--seed", str(seed), "--request-log", str(log)],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
        )  # fmt: skip
        self.url = self.proc.stdout.readline().strip()
        if not self.url.startswith("http"):
            raise SystemExit(f"the replay Hub did not start (got {self.url!r})")

    def stop(self) -> None:
        import psutil

        try:  # the Hub's side of the night: it shares the machine's cores
            times = psutil.Process(self.proc.pid).cpu_times()
            self.cpu_s: float | None = round(times.user + times.system, 2)
        except psutil.Error:  # it already exited: stop() runs in a finally, and must not hide why
            self.cpu_s = None
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def requests(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.log.read_text().splitlines() if line.strip()]


# ------------------------------------------------------------------ one refresh, measured
class TreeSampler(threading.Thread):
    """Peak of the summed RSS of a process and all its descendants (psutil, every ``every_s``)."""

    def __init__(self, pid: int, every_s: float = 0.2) -> None:
        super().__init__(daemon=True)
        import psutil

        self.root, self.every_s, self.peak, self.stopped = psutil.Process(pid), every_s, 0, threading.Event()
        self.started, self.peak_at_s, self.peak_by_process = time.monotonic(), 0.0, {}
        self.timeline: list[tuple[float, int, int]] = []  # (s since start, tree RSS MB, refresh process RSS MB), ~1/s

    def run(self) -> None:
        import psutil

        while not self.stopped.is_set():
            try:
                procs = [self.root, *self.root.children(recursive=True)]
            except psutil.Error:
                return
            sizes = {}
            for proc in procs:
                try:
                    sizes[f"{proc.pid} {' '.join(proc.cmdline()[1:4])[:80]}"] = proc.memory_info().rss
                except psutil.Error:
                    continue
            now = time.monotonic() - self.started
            if not self.timeline or now - self.timeline[-1][0] >= 1.0:
                own = next((rss for name, rss in sizes.items() if name.startswith(f"{self.root.pid} ")), 0)
                self.timeline.append((round(now, 1), round(sum(sizes.values()) / 2**20), round(own / 2**20)))
            if sum(sizes.values()) > self.peak:
                self.peak, self.peak_at_s = sum(sizes.values()), time.monotonic() - self.started
                self.peak_by_process = {name: round(rss / 2**20) for name, rss in sizes.items()}
            self.stopped.wait(self.every_s)


def refresh(url: str, data: Path, config: Path, env: dict[str, str], log: Path) -> dict[str, float]:
    started = time.perf_counter()
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [HUBCENSUS, "refresh", "--endpoint", url, "--data-dir", str(data), "--config", str(config)],
            stdout=out, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
        sampler = TreeSampler(proc.pid)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    sampler.stopped.set()
    sampler.join()
    # beside the log: RSS over time (seconds, the tree, the refresh process alone)
    log.with_suffix(".rss.tsv").write_text("".join(f"{t}\t{tree}\t{own}\n" for t, tree, own in sampler.timeline))
    if proc.returncode != 0:
        raise SystemExit(f"hubcensus refresh failed ({proc.returncode}): see {log}\n" + log.read_text()[-3000:])
    return {"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime, "peak_rss_mb": sampler.peak / 2**20,
            "peak_at_s": round(sampler.peak_at_s, 1), "peak_by_process_mb": sampler.peak_by_process}  # fmt: skip


def folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def night(number: int, args: argparse.Namespace, work: Path, config: Path) -> dict[str, Any]:
    from harvesters.landing import DataDir

    env = quiet_env(work, number)
    data = DataDir(work / "data")
    before = set(data.run_ids())
    replay = Replay(args.models, number, args.seed, work / f"requests-{number}.ndjson", env)
    load = os.getloadavg()
    try:
        figures = refresh(replay.url, data.root, config, env, work / f"refresh-{number}.log")
    finally:
        replay.stop()
    requests = replay.requests()
    (run,) = [r for r in data.runs() if r.run_id not in before]
    manifest = run.read_manifest()
    sizes = run.listing_sizes()
    raw = folder_bytes(run.root)
    warehouse = sum(p.stat().st_size for p in data.root.glob(data.warehouse.name + "*"))
    files = json.loads(json.dumps(manifest.get("counts", {}).get("files", {})))
    return {
        "night": number,
        "wall_s": round(figures["wall_s"], 2),
        "cpu_s": round(figures["cpu_s"], 2),
        "peak_rss_mb": round(figures["peak_rss_mb"], 1),
        "listing_requests": sum(r["path"] == "/api/models" for r in requests),
        "file_requests": sum("/resolve/" in r["path"] for r in requests),
        "raw_bytes": raw,
        "raw_uncompressed_bytes": raw - sizes["bytes"] + sizes["uncompressed_bytes"],
        "warehouse_bytes": warehouse,
        "stages": {name: v["wall_s"] for name, v in (manifest.get("stages") or {}).items()},
        "stages_cpu": {name: v["cpu_s"] for name, v in (manifest.get("stages") or {}).items()},
        "listing_bytes": sizes["bytes"],
        "listing_uncompressed_bytes": sizes["uncompressed_bytes"],
        "models_listed": manifest.get("counts", {}).get("models"),
        "file_outcomes": files,
        "file_gets": sum("/resolve/" in r["path"] and r["method"] == "GET" for r in requests),
        "run_id": run.run_id,
        "loadavg_at_start": [round(x, 2) for x in load],
        "peak_rss_at_s": figures["peak_at_s"],
        "peak_rss_by_process_mb": figures["peak_by_process_mb"],
        "replay_cpu_s": replay.cpu_s,
    }


# ------------------------------------------------------------------ what changed in scope (for the file-request target)
def top_shas(listing: Path, top: int) -> dict[str, str | None]:
    import duckdb

    compression = ", compression = 'zstd'" if listing.suffix == ".zst" else ""
    rows = duckdb.sql(
        f"SELECT id, sha FROM read_json(?, format = 'newline_delimited', columns = {{id: 'VARCHAR', sha: 'VARCHAR', downloads: 'BIGINT'}}{compression}) "
        "WHERE id IS NOT NULL ORDER BY downloads DESC NULLS LAST, id LIMIT ?",
        params=[str(listing), top],
    ).fetchall()
    return dict(rows)


def changed_in_scope(data_root: Path, runs: list[str], top: int) -> list[int]:
    """Per night: models in the file scope (top N by downloads) whose files the night before did not fetch at
    this sha: new to the Hub or to the scope (downloads move), or a new sha."""
    from harvesters.landing import DataDir, RawRun

    data, out, previous = DataDir(data_root), [], None
    for run_id in runs:
        current = top_shas(RawRun.open(data, run_id).listing_path, top)
        out.append(sum(1 for repo_id, sha in current.items() if previous is None or previous.get(repo_id, "\0") != sha))
        previous = current
    return out


# ------------------------------------------------------------------ the floor and the naive reference
def read_json_floor(listing: Path, work: Path) -> dict[str, float]:
    import duckdb

    db = work / "floor.duckdb"
    db.unlink(missing_ok=True)
    con = duckdb.connect(str(db))
    compression = ", compression = 'zstd'" if listing.suffix == ".zst" else ""
    wall, cpu = time.perf_counter(), time.process_time()
    con.execute(f"CREATE TABLE models_raw AS SELECT * FROM read_json(?, format = 'newline_delimited', union_by_name = true{compression})", [str(listing)])
    figures = {"wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu}
    figures["rows"] = con.execute("SELECT count(*) FROM models_raw").fetchone()[0]
    con.close()
    db.unlink(missing_ok=True)
    return figures


def load_alone(run_root: Path, work: Path) -> dict[str, float]:
    from warehouse.loading import load_raw_run

    db = work / "load-alone.duckdb"
    db.unlink(missing_ok=True)
    wall, cpu = time.perf_counter(), time.process_time()
    load_raw_run(db, run_root)
    figures = {"wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu}
    db.unlink(missing_ok=True)
    return figures


def naive(args: argparse.Namespace, work: Path) -> dict[str, float]:
    """Plain huggingface_hub, no listing expand: model_info, then each wanted file the repo has, per model."""
    env = quiet_env(work, 999)
    os.environ["HF_HOME"] = env["HF_HOME"]  # before huggingface_hub is imported
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    from huggingface_hub import HfApi, hf_hub_download
    from huggingface_hub.errors import GatedRepoError, RemoteEntryNotFoundError

    replay = Replay(args.models, 0, args.seed, work / "requests-naive.ndjson", env)
    try:
        api = HfApi(endpoint=replay.url)
        ids = [m.id for m in api.list_models(limit=args.naive_models)]
        listed = len(replay.requests())
        started = time.perf_counter()
        for repo_id in ids:
            info = api.model_info(repo_id)
            names = {s.rfilename for s in info.siblings or []}
            for name in ("config.json", "README.md"):
                if name in names:
                    try:
                        hf_hub_download(repo_id, name, endpoint=replay.url, cache_dir=work / "naive-cache")
                    except (GatedRepoError, RemoteEntryNotFoundError):
                        continue
        seconds = time.perf_counter() - started
    finally:
        replay.stop()
    requests = len(replay.requests()) - listed
    return {"models": len(ids), "requests": requests, "seconds": seconds}


# ------------------------------------------------------------------ main
def machine() -> dict[str, Any]:
    import psutil

    return {
        "cpus": os.cpu_count(), "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "platform": platform.platform(), "python": platform.python_version(), "loadavg": [round(x, 2) for x in os.getloadavg()],
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=int, default=20_000, help="models in the synthetic Hub on night 0 (default 20,000)")
    parser.add_argument("--nights", type=int, default=3, help="nights d = 0..K-1 (default 3)")
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "census.json", help="where to write the figures")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--naive-models", type=int, default=300)
    parser.add_argument("--work", type=Path, default=None, help="work in DIR and keep it (default: a temp dir, removed)")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))

    work = args.work or Path(tempfile.mkdtemp(prefix="bench-census-"))
    work.mkdir(parents=True, exist_ok=True)
    config = work / "hubcensus.toml"
    config.write_text(settings(args.models))
    result: dict[str, Any] = {"models": args.models, "nights": [], "machine_at_start": machine()}
    try:
        for number in range(args.nights):
            figures = night(number, args, work, config)
            result["nights"].append(figures)
            print(json.dumps({k: v for k, v in figures.items() if k not in ("stages_cpu", "file_outcomes")}), flush=True)
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(result, indent=2) + "\n")  # what is done so far survives a stop
        from harvesters.landing import DataDir, RawRun

        first = RawRun.open(DataDir(work / "data"), result["nights"][0]["run_id"])
        floor = read_json_floor(first.listing_path, work)
        result["read_json_wall_s"], result["read_json_cpu_s"] = round(floor["wall_s"], 2), round(floor["cpu_s"], 2)
        result["read_json_rows"] = floor["rows"]
        alone = load_alone(first.root, work)
        result["normalize_load_cpu_s"], result["normalize_load_wall_s"] = round(alone["cpu_s"], 3), round(alone["wall_s"], 3)
        result["normalize_load_in_flow_cpu_s"] = result["nights"][0]["stages_cpu"].get("normalize_load")
        result["normalize_load_in_flow_wall_s"] = result["nights"][0]["stages"].get("normalize_load")
        result["changed_in_scope"] = changed_in_scope(work / "data", [n["run_id"] for n in result["nights"]], max(1, args.models // 100))
        reference = naive(args, work)
        result["naive_requests_per_model"] = round(reference["requests"] / max(1, reference["models"]), 2)
        result["naive_seconds_per_model"] = round(reference["seconds"] / max(1, reference["models"]), 4)
        result["naive_models"] = reference["models"]
        result["machine_at_end"] = machine()
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
        report(result)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)


def report(result: dict[str, Any]) -> None:
    print(f"\ncensus: {result['models']:,} models, {len(result['nights'])} nights")
    for n in result["nights"]:
        print(
            f"  night {n['night']}: wall {n['wall_s']:.0f} s, cpu {n['cpu_s']:.0f} s, peak RSS {n['peak_rss_mb']:,.0f} MB, "
            f"{n['listing_requests']} listing + {n['file_requests']} file requests, raw {n['raw_bytes'] / 1e6:,.1f} MB "
            f"({n['raw_uncompressed_bytes'] / 1e6:,.1f} MB uncompressed), warehouse {n['warehouse_bytes'] / 1e6:,.1f} MB; stages {n['stages']}"
        )
    ratio = (result["normalize_load_cpu_s"] or 0) / result["read_json_cpu_s"] if result["read_json_cpu_s"] else float("nan")
    print(f"  floor read_json: {result['read_json_wall_s']} s wall, {result['read_json_cpu_s']} s cpu; normalize+load cpu "
          f"{result['normalize_load_cpu_s']} s (the load alone) = {ratio:.2f}x")  # fmt: skip
    print(f"  changed in scope per night: {result['changed_in_scope']}")
    print(f"  naive: {result['naive_requests_per_model']} requests/model, {result['naive_seconds_per_model']} s/model")


if __name__ == "__main__":
    main()
