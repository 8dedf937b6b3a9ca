"""The CLI: every command documents itself; wrong options fail in one line."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from archive.cli.main import cli

from .conftest import run_cli

COMMANDS = cli.list_commands(click.Context(cli))


def test_the_documented_commands_exist():
    assert {"crawl", "serve", "verify", "demo", "cite", "timestamp", "export"} <= set(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_an_example(command: str):
    result = CliRunner().invoke(cli, [command, "--help"])
    assert result.exit_code == 0
    assert "Usage: cli " + command in result.output or f"Usage: spyglass {command}" in result.output
    assert "Example:" in result.output


def test_unknown_option_is_one_clear_line():
    result = run_cli("crawl", "--no-such-option")
    assert result.returncode == 2
    assert "Error: No such option '--no-such-option'." in result.stderr
    assert "Usage: spyglass crawl" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_set_value_is_reported():
    result = run_cli("crawl", "--sources", "sources.example.yml", "-s", "NOEQUALS")
    assert result.returncode == 2
    assert "'NOEQUALS' is not KEY=VALUE" in result.stderr


def test_verify_and_serve_explain_a_missing_archive(tmp_path: Path):
    for command in ("verify", "serve"):
        result = run_cli(command, "--data", str(tmp_path / "nothing"))
        assert result.returncode == 1
        assert result.stderr.strip() == (
            f"Error: {tmp_path / 'nothing' / 'spyglass.db'}: no archive here "
            "(run `spyglass crawl` or `spyglass demo` first)"
        )


def test_crawl_refuses_a_data_directory_that_cannot_hold_warcs(tmp_path: Path):
    (tmp_path / "warcs").write_text("a file where the WARC directory should be")
    result = run_cli("crawl", "--sources", "sources.example.yml", "--data", str(tmp_path))
    assert result.returncode == 1
    assert result.stderr.strip() == f"Error: {tmp_path / 'warcs'}: cannot hold WARC files: File exists"
