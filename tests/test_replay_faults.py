"""The replay Hub under hostile requests (bounded history, bad Content-Length) and its faults from the CLI."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import httpx2
import pytest
from huggingface_hub import HfApi

from harvesters.replay import FaultPlan
from harvesters.replay.faults import FaultSpecError

ROOT = Path(__file__).resolve().parent.parent


def raw_exchange(hub, request: bytes, timeout: float = 10) -> bytes:
    """Send raw bytes, return everything the server sends until it closes (or the timeout fails the test)."""
    host, port = hub.url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


# ------------------------------------------------------------------ finding 11
def test_request_history_is_bounded_and_the_log_file_keeps_everything(replay_hub, tmp_path):
    log = tmp_path / "all.ndjson"
    hub = replay_hub(request_log=log, history=50)
    with httpx2.Client() as client:
        for i in range(120):
            client.get(f"{hub.url}/api/models/gpt2", params={"n": i})
    assert len(hub.requests) == 50
    assert [r["query"] for r in hub.requests[-2:]] == ["n=118", "n=119"]  # the newest, sliceable like a list
    assert hub.requests[0]["query"] == "n=70"
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(lines) == 120 and lines[-50:] == hub.requests


@pytest.mark.parametrize("length", [b"abc", b"-1", b"1e3", b" 12x", b"99999999999999999999"])
def test_a_bad_content_length_is_answered_400(replay_hub, length):
    hub = replay_hub()
    answer = raw_exchange(hub, b"POST /api/models HTTP/1.1\r\nHost: x\r\nContent-Length: " + length + b"\r\n\r\nabc")
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:80]
    assert httpx2.get(f"{hub.url}/api/models/gpt2").status_code == 200  # the server is still there
    assert hub.requests[-2]["status"] == 400


def test_chunked_request_bodies_are_refused(replay_hub):
    hub = replay_hub()
    answer = raw_exchange(hub, b"POST /api/models HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400 ") and answer.count(b"HTTP/1.1 ") == 1


# ------------------------------------------------------------------ --faults SPEC
def test_a_spec_parses_into_rules_with_exact_rates():
    plan = FaultPlan.from_spec("429:0.1,503:0.05,reset:0.03,truncate:0.02,slow:0.05:2s,retry-after=3", seed=7)
    kinds = [(r.status, r.drop_connection, r.truncate, r.delay_s, r.retry_after) for r in plan.rules]
    assert kinds == [
        (429, False, None, 0.0, 3.0), (503, False, None, 0.0, None), (None, True, None, 0.0, None),
        (None, False, 0.5, 0.0, None), (None, False, None, 2.0, None),
    ]  # fmt: skip
    assert all(r.times is None for r in plan.rules)
    decisions = [plan.decide("GET", "/api/models") for _ in range(20_000)]
    names = [d.name if d is not None and d.rule is not None else None for d in decisions]
    for name, rate in (("status_429", 0.1), ("status_503", 0.05), ("drop_connection", 0.03), ("truncate", 0.02)):
        assert abs(names.count(name) / len(names) - rate) < 0.01, name
    assert abs(sum(1 for d in decisions if d is not None and d.delay_s == 2.0) / len(decisions) - 0.05) < 0.01


def test_a_spec_is_seeded_and_filters_paths():
    def run(seed: int) -> list[str | None]:
        plan = FaultPlan.from_spec("500:0.3@files,429:0.2@listing", seed=seed)
        paths = ["/api/models", "/api/models/gpt2", "/gpt2/resolve/main/config.json"] * 200
        return [(d.name if d else None) for d in (plan.decide("GET", p) for p in paths)]

    assert run(1) == run(1) and run(1) != run(2)
    picked = run(1)
    assert {picked[i] for i in range(1, 600, 3)} == {None}  # model_info: no rule applies
    assert {picked[i] for i in range(0, 600, 3)} == {None, "status_429"}
    assert {picked[i] for i in range(2, 600, 3)} == {None, "status_500"}


def test_max_per_request_bounds_repeats_of_one_request():
    plan = FaultPlan.from_spec("503:1,max-per-request=2")
    outcomes = [plan.decide("GET", "/gpt2/resolve/main/config.json") for _ in range(4)]
    assert [o is not None for o in outcomes] == [True, True, False, False]
    assert plan.decide("GET", "/other/resolve/main/config.json") is not None


@pytest.mark.parametrize(
    "spec, message",
    [
        ("", "empty"),
        ("429", "KIND:PROBABILITY"),
        ("429:abc", "probability"),
        ("429:1.5", "probability"),
        ("teapot:0.1", "unknown fault"),
        ("418:0.1", "unknown fault"),
        ("slow:0.1", "duration"),
        ("slow:0.1:fast", "duration"),
        ("truncate:0.1:1.5", "fraction"),
        ("503:0.1@nowhere", "listing, info, files"),
        ("retry-after=-1", "retry-after"),
        ("503:0.6,429:0.6", "add up"),
        ("bogus=1", "unknown setting"),
        ("max-per-request=x", "max-per-request"),
    ],
)
def test_a_bad_spec_is_one_clear_error(spec, message):
    with pytest.raises(FaultSpecError, match=message):
        FaultPlan.from_spec(spec)


def test_replay_hub_command_serves_with_faults(tmp_path):
    """`hubcensus replay-hub --faults SPEC --seed N` (a real process): the log shows the faults, a bad SPEC is one line."""
    bad = subprocess.run([sys.executable, "-m", "flows.cli", "replay-hub", "--synthetic", "5", "--faults", "503:2"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert bad.returncode != 0 and "probability" in bad.stderr and "Traceback" not in bad.stderr
    log = tmp_path / "requests.ndjson"
    proc = subprocess.Popen(
        [sys.executable, "-m", "flows.cli", "replay-hub", "--synthetic", "30", "--faults", "503:1@info,retry-after=0",
         "--seed", "3", "--request-log", str(log), "--page-size", "10"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        assert len(list(HfApi(endpoint=url).list_models())) == 30  # listing: no faults
        first = httpx2.get(f"{url}/api/models", params={"limit": 1}).json()[0]["id"]
        assert httpx2.get(f"{url}/api/models/{first}").status_code == 503  # info: always
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    assert [e.get("fault") for e in entries if e["path"].startswith("/api/models/")] == ["status_503"]
