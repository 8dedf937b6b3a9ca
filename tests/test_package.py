"""Spyglass as an installed package: the wheel carries what the commands need, the Datasette plugin
registers through its entry point, `spyglass init` starts a working directory, runs name their version."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
import yaml

import archive
from archive.archive import Archive
from archive.index.db import open_index
from archive.index.runs import start_run
from archive.publish.datasette import METADATA, plugin_modules
from archive.sources.load import load_sources
from archive.sources.starter import HEADER
from archive.version import spyglass_version
from scripts.try_wheel import FRONT_PAGE_MARK, clean_copy

from .conftest import ROOT

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PLUGIN_FILES = sorted(p for p in (ROOT / "datasette" / "plugins").glob("*.py") if p.stem != "__init__")


def spyglass(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """`spyglass ARGS` run from `cwd`, with this checkout's code."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    return subprocess.run(
        [sys.executable, "-m", "archive.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_every_plugin_module_is_an_entry_point_and_the_installed_ones_match():
    declared = set(PYPROJECT["project"]["entry-points"]["datasette"].values())
    expected = {"spyglass_datasette"} | {f"spyglass_datasette.plugins.{p.stem}" for p in PLUGIN_FILES}
    assert not expected - declared, (
        f"plugin modules without an entry in pyproject.toml's [project.entry-points.datasette]: "
        f"{sorted(expected - declared)}"
    )
    assert not declared - expected, f"entries naming no plugin module: {sorted(declared - expected)}"
    # The environment the tests run in was installed from this pyproject (scripts/setup).
    assert set(plugin_modules()) == expected


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    """The wheel built from the checkout's tracked files, as a clean clone would build it."""
    work = tmp_path_factory.mktemp("wheel")
    source = clean_copy(work / "src")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(work / "dist"), str(source)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    (path,) = (work / "dist").glob("spyglass-*.whl")
    with zipfile.ZipFile(path) as opened:
        yield opened


def test_the_wheel_carries_the_metadata_templates_plugins_and_sources(wheel):
    names = wheel.namelist()
    assert len(names) == len(set(names))
    same = {
        "spyglass_datasette/metadata.yml": ROOT / "datasette" / "metadata.yml",
        "archive/demo/sources.yml": ROOT / "sources.yml",
        "archive/sources/sources.example.yml": ROOT / "sources.example.yml",
    }
    for template in (ROOT / "datasette" / "templates").glob("*.html"):
        same[f"spyglass_datasette/templates/{template.name}"] = template
    for plugin in PLUGIN_FILES:
        same[f"spyglass_datasette/plugins/{plugin.name}"] = plugin
    for template in (ROOT / "archive" / "publish" / "templates").glob("*.html"):
        same[f"archive/publish/templates/{template.name}"] = template
    for name, path in same.items():
        assert wheel.read(name) == path.read_bytes(), name
    # A top-level datasette/ would shadow Datasette itself.
    assert not [n for n in names if n.startswith("datasette/")]
    (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
    text = wheel.read(entry_points).decode()
    assert all(
        f"= {module}\n" in text for module in PYPROJECT["project"]["entry-points"]["datasette"].values()
    )
    (metadata,) = [n for n in names if n.endswith(".dist-info/METADATA")]
    assert f"\nVersion: {archive.__version__}\n" in wheel.read(metadata).decode()


def test_plain_datasette_with_the_packaged_metadata_shows_the_reporters_front_page(tmp_path):
    from datasette.app import Datasette

    open_index(Archive(tmp_path)).close()
    # No plugins or templates directory: the entry point brings both.
    ds = Datasette([str(Archive(tmp_path).db_path)], metadata=yaml.safe_load(METADATA.read_text()))
    response = asyncio.run(ds.client.get("/"))
    assert response.status_code == 200
    assert FRONT_PAGE_MARK in response.text


def test_init_writes_a_starter_that_the_commands_read(tmp_path):
    made = spyglass("init", "archivist", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    home = tmp_path / "archivist"
    written = (home / "sources.yml").read_text()
    assert written == HEADER + (ROOT / "sources.example.yml").read_text()
    assert Archive(home / "data").exists()
    sources = load_sources(home / "sources.yml", {})
    assert [s.name for s in sources] == [s.name for s in load_sources(ROOT / "sources.example.yml", {})]
    assert not [s.name for s in sources if s.unresolved]
    # Run from the directory, the commands find both by default; every source is ready to crawl.
    for command in (["status"], ["run-due", "--dry-run"]):
        listed = spyglass(*command, cwd=home)
        assert listed.returncode == 0, listed.stderr
        assert all(s.name in listed.stdout for s in sources), listed.stdout
    again = spyglass("init", "archivist", cwd=tmp_path)
    assert again.returncode == 1
    assert again.stderr == (
        f"Error: {Path('archivist') / 'sources.yml'}: already exists; "
        "spyglass init leaves an existing sources file alone\n"
    )
    assert (home / "sources.yml").read_text() == written


def test_a_command_without_a_sources_file_says_where_it_looked_and_how_to_make_one(tmp_path):
    result = spyglass("crawl", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr == (
        f"Error: sources.yml: no such file (looked for {tmp_path.resolve() / 'sources.yml'}); "
        "`spyglass init` writes a starter sources.yml, or name another file with --sources\n"
    )


def test_version_names_the_release_and_the_commit_of_a_checkout(tmp_path):
    shown = spyglass("--version", cwd=tmp_path)
    assert shown.stdout == f"spyglass {spyglass_version()}\n"
    assert re.fullmatch(
        re.escape(archive.__version__) + r" \(git [0-9a-f]{12}(-dirty)?\)", spyglass_version()
    )
    index = open_index(Archive(tmp_path))
    try:
        run = start_run(index, "a-source", "vendor")
        assert index.table("crawl_runs").get(run)["spyglass_version"] == spyglass_version()
    finally:
        index.close()
