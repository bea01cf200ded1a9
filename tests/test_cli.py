"""The CLI: every command explains itself, and domain errors are one line, not a traceback."""

from __future__ import annotations

import click
import pytest
import typer
from typer.testing import CliRunner

from flows.cli import app

runner = CliRunner()


def all_commands(group: click.Group, prefix: tuple[str, ...] = ()):
    for name, command in group.commands.items():
        yield prefix + (name,), command
        if isinstance(command, click.Group):
            yield from all_commands(command, prefix + (name,))


COMMANDS = list(all_commands(typer.main.get_command(app)))


@pytest.mark.parametrize("path,command", COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_every_command_has_help(path, command):
    assert command.help and len(command.help.strip()) > 20, f"{' '.join(path)} needs a help text"
    result = runner.invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_refresh_against_a_dead_endpoint_says_so_in_one_line(tmp_path):
    result = runner.invoke(app, ["refresh", "--endpoint", "http://127.0.0.1:9", "--data-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "cannot reach the Hub at http://127.0.0.1:9" in result.output
    assert "Traceback" not in result.output


def test_bad_settings_file_is_one_line_naming_the_key(tmp_path):
    config = tmp_path / "hubcensus.toml"
    config.write_text("[files]\ncolour = 'red'\n")
    result = runner.invoke(app, ["refresh", "--config", str(config), "--data-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "unknown setting [files] colour" in result.output and "Traceback" not in result.output


def test_incompatible_options_name_both(tmp_path):
    result = runner.invoke(app, ["refresh", "--dask-address", "tcp://127.0.0.1:1", "--data-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "--dask-address needs --task-runner dask" in result.output
