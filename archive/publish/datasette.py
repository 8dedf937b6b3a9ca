"""How the archive is published with Datasette: one configuration, served or in-process."""

from __future__ import annotations

import sys
from importlib.metadata import entry_points
from importlib.resources import files
from pathlib import Path
from typing import Any

import yaml

from archive.archive import Archive
from archive.errors import InstallError
from archive.publish.safety import Stance

# The Datasette plugin package: its hook modules register through the `datasette`
# entry point, and it ships the metadata and templates as package data.
PLUGIN_PACKAGE = "spyglass_datasette"
# Datasette reads `-m` from a file: an installed package's data is a real file.
METADATA = Path(str(files(PLUGIN_PACKAGE) / "metadata.yml"))
# Settings shared by `spyglass serve` and the in-process app the tests use.
SETTINGS = {
    "sql_time_limit_ms": 3000,
    "default_page_size": 50,
    # Extracted text can be long: table views show its start, row pages all of it.
    "truncate_cells_html": 300,
    # One more thread than archive/publish/safety.py lets custom queries hold,
    # so ordinary pages never wait behind a visitor's slow SQL.
    "num_sql_threads": 4,
    # A full CSV download stops at the same size as any other reply (Stance.max_reply_mb).
    "max_csv_mb": Stance.max_reply_mb,
    # Suggesting facets runs a query per column over every match of a search:
    # seconds per page on large archives (3.6-4.9 s at only 5,000 captures on
    # the benchmark's machine). The configured facets are still shown.
    "suggest_facets": False,
}
# The setting that turns custom SQL on; metadata.yml reads it with Datasette's `$env`.
ALLOW_SQL_VARIABLE = "SPYGLASS_ALLOW_SQL"
# The archive's public address (Config.public_url), read by metadata.yml the same way.
PUBLIC_URL_VARIABLE = "SPYGLASS_PUBLIC_URL"


def datasette_environment(allow_sql: bool, public_url: str = "") -> dict[str, str]:
    """What the Datasette process needs in its environment besides its parent's."""
    return {ALLOW_SQL_VARIABLE: "true" if allow_sql else "false", PUBLIC_URL_VARIABLE: public_url}


def datasette_command(
    data_dir: Path, port: int, host: str = "127.0.0.1", metadata: Path = METADATA
) -> list[str]:
    """The Datasette command line that serves an archive; tests start the same one."""
    require_plugin()
    command = [
        sys.executable,
        "-m",
        "datasette",
        "serve",
        str(Archive(data_dir).db_path),
        "--metadata",
        str(metadata),
        "--host",
        host,
        "--port",
        str(port),
    ]
    for key, value in SETTINGS.items():
        command += ["--setting", key, str(value)]
    return command


def plugin_modules() -> list[str]:
    """The modules the installed Spyglass registers with Datasette through its entry point."""
    return sorted(
        point.value for point in entry_points(group="datasette") if point.value.startswith(PLUGIN_PACKAGE)
    )


def require_plugin() -> None:
    """Stop with one line if Datasette would not find the plugin (an install older than the code)."""
    if PLUGIN_PACKAGE not in plugin_modules():
        raise InstallError(
            f"the Datasette plugin {PLUGIN_PACKAGE} is not registered in this Python environment: "
            "reinstall Spyglass (scripts/setup, or pip install .)"
        )


def datasette_app(data_dir: Path, allow_sql: bool = False) -> Any:
    """An in-process Datasette configured exactly as `datasette_command` serves it."""
    from datasette.app import Datasette

    require_plugin()
    metadata = yaml.safe_load(METADATA.read_text())
    metadata["plugins"]["spyglass"]["allow_sql"] = allow_sql
    return Datasette(
        [str(Archive(data_dir).db_path)],
        metadata=metadata,
        settings=SETTINGS,
    )
