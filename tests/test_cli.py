"""The CLI: every command documents itself; wrong options fail in one line."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from archive.cli.main import COMMANDS as LOADED_LAZILY
from archive.cli.main import cli

from .conftest import run_cli

COMMANDS = sorted(LOADED_LAZILY)


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


def _readme_synopsis() -> dict[str, str]:
    """The README's "The command line" block, by command."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    block = readme[readme.index("### The command line") :]
    block = block[block.index("```") + 3 :]
    synopsis: dict[str, str] = {}
    command = None
    for line in block[: block.index("```")].splitlines():
        if match := re.match(r"spyglass (\S+)", line):
            command = match.group(1)
        if command:
            synopsis[command] = synopsis.get(command, "") + line
    return synopsis


@pytest.mark.parametrize("command", COMMANDS)
def test_the_readme_synopsis_names_every_option_of_the_command_and_no_other(command: str):
    synopsis = _readme_synopsis()
    assert command in synopsis, f"README's command line block has no `spyglass {command}`"
    named = set(re.findall(r"(?<![\w-])(--?[a-zA-Z][\w-]*)", synopsis[command])) - {"--help"}
    options = [p for p in cli.get_command(click.Context(cli), command).params if isinstance(p, click.Option)]
    spelled = {o for p in options for o in (*p.opts, *p.secondary_opts)}
    assert [p.opts for p in options if not set(p.opts) & named and p.name != "help"] == []
    assert named <= spelled, f"README names options `spyglass {command}` does not have: {named - spelled}"
