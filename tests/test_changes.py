"""model_changes: recorded at load time from day-to-day drift of a replay Hub, checked against the raw listings.

Three days of one Hub (snapshot copies edited between harvests: repos removed, added, restored; shas, licences,
parameter counts, gates and model types changed), each harvested over HTTP by the real client from a replay Hub and
loaded. The changes the warehouse records for a day must equal the difference between that day's raw listing and
the day before's, computed here from the JSON lines alone. Then: reloads, late older runs and rebuild record
nothing new; a rename the harvest resolved (model_aliases) is one `renamed` row; `hubcensus changes` reads them back.
"""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from flows.cli import app
from harvesters.landing import DataDir, RawRun
from harvesters.replay import ReplayHub
from harvesters.settings import DEMO_SNAPSHOT
from harvesters.replay.fixtures import make_raw_run, snapshot_bodies
from warehouse.loading import load_raw_run, rebuild, table_contents

DAYS = ("20250601T030000Z-day000", "20250602T030000Z-day001", "20250603T030000Z-day002")
SCOPE = "listing:search=;author=;filter="


def harvest_day(snapshot, data_dir: Path, run_id: str, page_size: int = 20) -> RawRun:
    """One night: the replay Hub serves ``snapshot`` (a folder or a Snapshot), the real client lists it (expand fields) into a run."""
    from harvesters.harvest import land_listing
    from harvesters.hub import HubClient, ListingQuery

    day = f"{run_id[0:4]}-{run_id[4:6]}-{run_id[6:8]}T03:00:00+00:00"
    with ReplayHub(snapshot, host="127.0.0.1", port=0, page_size=page_size) as hub:
        run = RawRun.create(data_dir, run_id, endpoint=hub.url, scope=SCOPE, file_scope="metadata", started_at=day)
        land_listing(HubClient(hub.url), run, ListingQuery(page_size=page_size))
    run.write_manifest(status="complete", finished_at=day)
    return run


def _body_path(snapshot: Path, repo_id: str) -> Path:
    return snapshot / "api" / "models" / f"{repo_id}.json"


def _edit(snapshot: Path, repo_id: str, change) -> None:
    path = _body_path(snapshot, repo_id)
    body = json.loads(path.read_text())
    change(body)
    path.write_text(json.dumps(body))


def _relicense(license_id: str):
    def change(body: dict) -> None:
        body["cardData"] = {**(body.get("cardData") or {}), "license": license_id}
        body["tags"] = [t for t in body.get("tags", []) if not t.startswith("license:")] + [f"license:{license_id}"]
    return change


def drift(snapshot: Path, ids: list[str]) -> None:
    """Day 0 -> day 1: what a night on the Hub does, applied by hand to the snapshot's bodies."""
    with_counts = [i for i in ids[16:] if (json.loads(_body_path(snapshot, i).read_text()).get("safetensors") or {}).get("total")]
    for repo_id in ids[3:6]:
        _body_path(snapshot, repo_id).unlink()  # gone from the Hub
    for n, template in enumerate(ids[6:8]):
        body = json.loads(_body_path(snapshot, template).read_text())
        body.update(id=f"drift-lab/new-model-{n}", modelId=f"drift-lab/new-model-{n}", author="drift-lab", sha=f"{n}" * 40)
        (snapshot / "api" / "models" / "drift-lab").mkdir(exist_ok=True)
        _body_path(snapshot, body["id"]).write_text(json.dumps(body))
    for repo_id in ids[8:12]:
        _edit(snapshot, repo_id, lambda b: b.update(sha="d" * 40))
    for repo_id, license_id in zip(ids[12:14], ("mit", "cc-by-nc-4.0")):
        _edit(snapshot, repo_id, _relicense(license_id))
    for repo_id in with_counts[:2]:
        _edit(snapshot, repo_id, lambda b: b["safetensors"].update(total=b["safetensors"]["total"] * 2))
    _edit(snapshot, ids[14], lambda b: b.update(gated="manual" if b.get("gated") in (False, None) else False))
    _edit(snapshot, ids[15], lambda b: b.update(config={**(b.get("config") or {}), "model_type": "drifted_type"}))


# --- what the two raw listings say changed, computed from the JSON lines alone -----------------------------------

def _listing(run: RawRun) -> dict[str, dict]:
    return {b["id"]: b for b in (json.loads(line) for line in run.iter_listing_lines())}


def _license(body: dict) -> str | None:
    card = (body.get("cardData") or {}).get("license")
    tags = [t.split(":", 1)[1] for t in body.get("tags") or [] if t.startswith("license:")]
    value = card if isinstance(card, str) else (tags[0] if tags else None)
    return value.lower() if value else None


def _gated(body: dict) -> str | None:
    gated = body.get("gated")
    return None if gated is None else {False: "false", True: "auto"}.get(gated, gated)


FIELDS = {  # (change, field) -> the value a listing line gives
    ("sha_changed", "sha"): lambda b: b.get("sha"),
    ("license_changed", "license"): _license,
    ("params_changed", "params"): lambda b: (b.get("safetensors") or {}).get("total"),
    ("gated_changed", "gated"): _gated,
    ("arch_changed", "model_type"): lambda b: (b.get("config") or {}).get("model_type"),
    ("arch_changed", "architectures"): lambda b: (b.get("config") or {}).get("architectures"),
}


def listing_difference(before: RawRun, after: RawRun, earlier: list[RawRun] = ()) -> set[tuple]:
    """(repo_id, change, field) between two listings; ``earlier`` runs tell a restored repo from a new one."""
    old, new = _listing(before), _listing(after)
    seen_before = set(old).union(*(_listing(r) for r in earlier))
    out = {(i, "new", "repo_id") for i in set(new) - seen_before}
    out |= {(i, "restored", "deleted_on") for i in (set(new) - set(old)) & seen_before}
    out |= {(i, "deleted", "deleted_on") for i in set(old) - set(new)}
    for repo_id in set(old) & set(new):
        for (change, field), value in FIELDS.items():
            a, b = value(old[repo_id]), value(new[repo_id])
            if a != b and not (change in ("sha_changed", "gated_changed") and None in (a, b)):
                out.add((repo_id, change, field))
    return out


def recorded(con, run_id: str) -> set[tuple]:
    return set(con.execute("SELECT repo_id, change, field FROM model_changes WHERE run_id = ?", [run_id]).fetchall())


# --- the three nights ----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def nights(tmp_path_factory):
    """Three harvested days of a drifting Hub, loaded in order into one warehouse."""
    base = tmp_path_factory.mktemp("drift")
    snapshot = base / "snapshot"
    shutil.copytree(DEMO_SNAPSHOT, snapshot)
    ids = sorted(b["id"] for b in snapshot_bodies(snapshot))
    data = DataDir(base / "data")
    runs = [harvest_day(snapshot, data.root, DAYS[0])]
    day0 = copy.deepcopy({i: _body_path(snapshot, i).read_text() for i in ids})
    drift(snapshot, ids)
    runs.append(harvest_day(snapshot, data.root, DAYS[1]))
    _body_path(snapshot, ids[3]).write_text(day0[ids[3]])  # back on the Hub
    _edit(snapshot, ids[20], lambda b: b.update(sha="e" * 40))
    runs.append(harvest_day(snapshot, data.root, DAYS[2]))
    counts = [load_raw_run(data.warehouse, run.root) for run in runs]
    return data, runs, ids, counts


def test_changes_between_two_days_equal_the_raw_listings_difference(nights):
    data, runs, ids, counts = nights
    con = duckdb.connect(str(data.warehouse), read_only=True)
    expected = listing_difference(runs[0], runs[1])
    assert {c for _, c, _ in expected} >= {"new", "deleted", "sha_changed", "license_changed", "params_changed", "gated_changed", "arch_changed"}
    assert recorded(con, DAYS[1]) == expected
    assert counts[1]["model_changes"] == len(expected)
    # values as the listings give them, for the fields the loader does not reinterpret
    old, new = _listing(runs[0]), _listing(runs[1])
    for repo_id, change, field, before, after in con.execute(
        "SELECT repo_id, change, field, before, after FROM model_changes WHERE run_id = ? AND change IN ('sha_changed', 'gated_changed', 'license_changed')", [DAYS[1]]
    ).fetchall():
        value = FIELDS[(change, field)]
        assert (before, after) == (value(old[repo_id]), value(new[repo_id])), repo_id


def test_changes_between_two_days_of_the_synthetic_hub_equal_its_listings_difference(tmp_path):
    """The replay Hub's own drift (``replay-hub --synthetic N --day D``): new, deleted and re-committed models."""
    from harvesters.replay.synthetic import SyntheticSnapshot

    data = DataDir(tmp_path / "data")
    run_ids = ("20251201T030000Z-syn000", "20251202T030000Z-syn001")
    runs = [harvest_day(SyntheticSnapshot(5000, seed=3, day=d), data.root, run_id, page_size=1000) for d, run_id in enumerate(run_ids)]
    for run in runs:
        load_raw_run(data.warehouse, run.root)
    expected = listing_difference(runs[0], runs[1])
    assert {c for _, c, _ in expected} >= {"new", "deleted", "sha_changed"}
    with duckdb.connect(str(data.warehouse), read_only=True) as con:
        assert recorded(con, run_ids[1]) == expected


def test_the_first_run_records_nothing_and_a_restored_repo_is_restored(nights):
    data, runs, ids, _ = nights
    con = duckdb.connect(str(data.warehouse), read_only=True)
    assert recorded(con, DAYS[0]) == set()  # nothing to compare with: not every model "new"
    expected = listing_difference(runs[1], runs[2], earlier=[runs[0]])
    assert (ids[3], "restored", "deleted_on") in expected and (ids[20], "sha_changed", "sha") in expected
    assert recorded(con, DAYS[2]) == expected
    assert con.execute("SELECT deleted_on FROM models WHERE repo_id = ?", [ids[3]]).fetchall() == [(None,)]


def test_v_changes_joins_the_run_date_and_downloads(nights):
    data, _, ids, _ = nights
    con = duckdb.connect(str(data.warehouse), read_only=True)
    rows = con.execute(
        "SELECT v.run_date::VARCHAR, v.downloads = m.downloads FROM v_changes v JOIN models m USING (repo_id) WHERE v.run_id = ?", [DAYS[1]]
    ).fetchall()
    assert rows and {r[0] for r in rows} == {"2025-06-02"} and all(r[1] for r in rows if r[1] is not None)


def test_reload_late_older_run_and_rebuild_record_nothing_twice(nights, tmp_path):
    data, runs, _, _ = nights
    work = DataDir(tmp_path / "data")
    shutil.copytree(data.root, work.root)
    con = duckdb.connect(str(work.warehouse))
    before = table_contents(con, ("model_changes",))
    con.close()
    load_raw_run(work.warehouse, work.run_dir(DAYS[2]))  # a reload of the newest run
    load_raw_run(work.warehouse, work.run_dir(DAYS[1]))  # an older run loaded after a newer one
    con = duckdb.connect(str(work.warehouse))
    assert table_contents(con, ("model_changes",)) == before
    con.close()
    rebuild(work)  # empties the core tables and reloads every run in order
    con = duckdb.connect(str(work.warehouse))
    assert table_contents(con, ("model_changes",)) == before
    con.close()

    late = DataDir(tmp_path / "late")  # day 2 loaded before day 1: day 1 finds a newer run and records nothing
    for day in (DAYS[0], DAYS[2], DAYS[1]):
        load_raw_run(late.warehouse, data.run_dir(day))
    con = duckdb.connect(str(late.warehouse), read_only=True)
    assert recorded(con, DAYS[1]) == set()
    assert recorded(con, DAYS[2]) == listing_difference(runs[0], runs[2])


def test_licence_and_params_edited_by_hand_are_caught(tmp_path):
    snapshot = tmp_path / "snapshot"
    shutil.copytree(DEMO_SNAPSHOT, snapshot)
    data = DataDir(tmp_path / "data")
    first = harvest_day(snapshot, data.root, DAYS[0])
    _edit(snapshot, "google-bert/bert-base-uncased", _relicense("mit"))  # was apache-2.0
    _edit(snapshot, "meta-llama/Llama-3.1-8B-Instruct", lambda b: b["safetensors"].update(total=8_030_262_248))  # was 8,030,261,248
    second = harvest_day(snapshot, data.root, DAYS[1])
    for run in (first, second):
        load_raw_run(data.warehouse, run.root)
    con = duckdb.connect(str(data.warehouse), read_only=True)
    assert sorted(con.execute("SELECT repo_id, change, field, before, after FROM model_changes").fetchall()) == [
        ("google-bert/bert-base-uncased", "license_changed", "license", "apache-2.0", "mit"),
        ("meta-llama/Llama-3.1-8B-Instruct", "params_changed", "params", "8030261248", "8030262248"),
    ]


# --- renames, once aliases are known --------------------------------------------------------------------------

@pytest.mark.parametrize("aliases_resolved", [True, False])
def test_a_renamed_repo_is_one_renamed_row_once_its_alias_is_resolved(tmp_path, aliases_resolved):
    """Day 0 lists t5-small; by day 1 the Hub renamed it google-t5/t5-small (t5-small answers 307), and a card still
    names t5-small as its base: the harvest resolves that alias (aliases.ndjson -> model_aliases), so the day's change
    is one `renamed`, not a `new` and a `deleted`."""
    from harvesters.aliases import resolve_aliases, unlisted_parents
    from harvesters.hub import HubClient

    snapshot = tmp_path / "snapshot"
    shutil.copytree(DEMO_SNAPSHOT, snapshot)
    renamed = json.loads(_body_path(snapshot, "google-t5/t5-small").read_text())
    _body_path(snapshot, "google-t5/t5-small").unlink()
    _body_path(snapshot, "t5-small").write_text(json.dumps(dict(renamed, id="t5-small", modelId="t5-small")))
    data = DataDir(tmp_path / "data")
    first = harvest_day(snapshot, data.root, DAYS[0])
    _body_path(snapshot, "t5-small").unlink()
    _body_path(snapshot, "google-t5/t5-small").write_text(json.dumps(renamed))
    _edit(snapshot, "google/flan-t5-large", lambda b: b.update(cardData={**(b.get("cardData") or {}), "base_model": "t5-small"}))
    second = harvest_day(snapshot, data.root, DAYS[1])
    if aliases_resolved:  # what the flow's resolve-aliases stage does after the listing
        with ReplayHub(snapshot, host="127.0.0.1", port=0) as hub:
            assert resolve_aliases(HubClient(hub.url), second, unlisted_parents(second))["renamed"] >= 1
    for run in (first, second):
        load_raw_run(data.warehouse, run.root)
    con = duckdb.connect(str(data.warehouse), read_only=True)
    rows = sorted(con.execute("SELECT repo_id, change, before, after FROM model_changes WHERE run_id = ?", [DAYS[1]]).fetchall())
    if aliases_resolved:
        assert rows == [("google-t5/t5-small", "renamed", "t5-small", "google-t5/t5-small")]
    else:
        assert rows == [("google-t5/t5-small", "new", None, "google-t5/t5-small"), ("t5-small", "deleted", None, "2025-06-02")]


# --- the command -------------------------------------------------------------------------------------------------

def test_changes_command(nights):
    data, runs, ids, _ = nights
    runner = CliRunner()
    invoke = lambda *args: runner.invoke(app, ["changes", "--data-dir", str(data.root), *args])  # noqa: E731

    latest = invoke("--format", "json")
    assert latest.exit_code == 0, latest.output
    rows = json.loads(latest.stdout)
    assert {(r["repo_id"], r["change"], r["field"]) for r in rows} == listing_difference(runs[1], runs[2], earlier=[runs[0]])
    assert "since run " + DAYS[1] in latest.stderr

    everything = json.loads(invoke("--since", DAYS[0], "--format", "json").stdout)
    by_date = json.loads(invoke("--since", "2025-06-02", "--format", "json").stdout)
    assert everything == by_date and len(everything) == len(listing_difference(runs[0], runs[1])) + len(rows)

    kinds = invoke("--since", DAYS[0], "--kind", "deleted", "--kind", "new,restored", "--format", "csv")
    lines = kinds.stdout.strip().splitlines()
    assert lines[0] == "run_id,run_date,change,repo_id,field,before,after,downloads"
    assert {line.split(",")[2] for line in lines[1:]} == {"deleted", "new", "restored"}

    top = json.loads(invoke("--since", DAYS[0], "--top", "3", "--format", "json").stdout)
    downloads = [r["downloads"] for r in everything if r["downloads"] is not None]
    assert [r["downloads"] for r in top] == sorted(downloads, reverse=True)[:3]

    table = invoke()
    assert table.exit_code == 0 and ids[3] in table.stdout


@pytest.mark.parametrize("args,message", [
    (["--since", "../etc"], "neither a run id"),
    (["--since", "2025-02-30"], "not a valid day"),
    (["--since", "20990101T000000Z-nope00"], "no such run"),
    (["--kind", "exploded"], "unknown --kind exploded"),
    (["--format", "xml"], "unknown --format"),
])
def test_changes_command_refuses_bad_options_in_one_line(nights, args, message):
    data = nights[0]
    result = CliRunner().invoke(app, ["changes", "--data-dir", str(data.root), *args])
    assert result.exit_code == 1 and message in result.output and "Traceback" not in result.output


def test_changes_command_on_the_first_run_says_so(tmp_path):
    data = DataDir(tmp_path / "data")
    run = make_raw_run(data.root, DAYS[0])
    load_raw_run(data.warehouse, run.root)
    result = CliRunner().invoke(app, ["changes", "--data-dir", str(data.root)])
    n = len(snapshot_bodies())
    assert result.exit_code == 0 and f"first run: {n} models, nothing to compare" in result.output
