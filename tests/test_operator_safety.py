"""Operator input is untrusted: run ids are validated wherever they enter, and nothing deletes outside the data dir.

Every test here runs in a temporary directory with canary folders that must survive.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.cli import app
from harvesters.landing import DataDir, RawRun, check_run_id, new_run_id, repo_dir_name
from hubcensus.errors import InvalidInput

runner = CliRunner()
RUN = "20250101T000000Z-aaaaaa"


@pytest.fixture
def canaries(tmp_path) -> tuple[Path, list[Path]]:
    """A data dir with a landed run, reports and staging, plus folders beside it and elsewhere."""
    data = tmp_path / "data"
    run = RawRun.create(data, RUN)
    run.land_listing([[b'{"id":"o/m"}']])
    keep = [
        run.listing_path,
        data / "reports" / "2025-01-01" / "index.html",
        data / "staging" / "20250101T000000Z-bbbbbb" / "page-000000" / "page.json",
        tmp_path / "sibling" / "keep.txt",
        tmp_path / "elsewhere" / "deep" / "keep.txt",
    ]
    for path in keep[1:]:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("canary")
    return data, keep


def hostile_ids(tmp_path: Path) -> list[str]:
    return ["../x", "../../x", "../sibling", str(tmp_path / "elsewhere"), "/", "a/b", "..", ".", "", "x y", "..\\x", "x\x00y", "~", "-rf"]


def test_generated_run_ids_pass_and_path_like_ones_are_refused(tmp_path):
    assert check_run_id(new_run_id()) and check_run_id("s1") == "s1"
    for bad in hostile_ids(tmp_path) + [None, 7]:
        with pytest.raises(InvalidInput, match="invalid run id"):
            check_run_id(bad)


@pytest.mark.parametrize(
    "command",
    [["refresh", "--resume"], ["rebuild", "--run"], ["reports", "build", "--run"]],
    ids=["refresh --resume", "rebuild --run", "reports build --run"],
)
def test_every_command_refuses_a_path_like_run_id_and_deletes_nothing(canaries, tmp_path, command):
    data, keep = canaries
    for bad in hostile_ids(tmp_path):
        result = runner.invoke(app, [*command, bad, "--data-dir", str(data), *(["--endpoint", "http://127.0.0.1:9"] if command[0] == "refresh" else [])])
        assert result.exit_code == 1, (bad, result.output)
        assert "invalid run id" in result.output and "Traceback" not in result.output
        assert all(path.exists() for path in keep), bad


def test_deleting_is_only_ever_inside_raw_and_staging(canaries, tmp_path):
    data, keep = canaries
    layout = DataDir(data)
    for outside in (data, data / "raw", data / "staging", data / "reports", tmp_path / "sibling", tmp_path, Path("/"),
                    data / "raw" / ".." / "reports", data / "staging" / ".." / ".."):  # fmt: skip
        with pytest.raises(InvalidInput, match="refusing to delete"):
            layout.remove(outside)
    assert all(path.exists() for path in keep)


def test_a_symlink_in_staging_is_removed_never_followed(canaries, tmp_path):
    data, keep = canaries
    link = data / "staging" / "20250101T000000Z-cccccc"
    link.symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    assert set(DataDir(data).clear_staging()) == {"20250101T000000Z-bbbbbb", "20250101T000000Z-cccccc"}
    assert not link.exists() and not link.is_symlink()
    assert (tmp_path / "elsewhere" / "deep" / "keep.txt").exists()


def test_staging_of_a_live_run_is_kept(canaries):
    data, _ = canaries
    live = RawRun.create(data, "20250101T000000Z-dddddd", pid=os.getpid(), host=socket.gethostname())
    (data / "staging" / live.run_id).mkdir(parents=True)
    removed = DataDir(data).clear_staging()
    assert "20250101T000000Z-bbbbbb" in removed  # no such run: a leftover
    assert (data / "staging" / live.run_id).is_dir()


def test_repo_ids_never_collide_or_climb_out_of_the_files_folder(tmp_path):
    run = RawRun.create(tmp_path / "data", RUN)
    landed = {}
    for repo_id in ("collide", "collide/config.json", "..", ".hidden", "a%2Fb", "a/b", "x" * 300, "y" * 300):
        landed[repo_id] = run.land_file(repo_id, "config.json", repo_id.encode())
    assert len(set(landed.values())) == len(landed)
    for repo_id, path in landed.items():
        assert path.read_bytes() == repo_id.encode()
        assert path.parent.parent == run.files_root and len(path.parent.name) <= 200
    assert repo_dir_name("google-bert/bert-base-uncased") == "google-bert%2Fbert-base-uncased"
    for bad in ("../x", "a/../../b", "", "/etc/passwd"):
        with pytest.raises(ValueError):
            run.land_file("o/m", bad, b"x")
