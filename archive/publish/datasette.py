"""How the archive is published with Datasette: one configuration, served or in-process."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

from archive.archive import Archive
from archive.publish.safety import Stance

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DATASETTE_DIR = PROJECT_ROOT / "datasette"
METADATA = DATASETTE_DIR / "metadata.yml"
PLUGINS = DATASETTE_DIR / "plugins"
TEMPLATES = DATASETTE_DIR / "templates"
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
    if any(PLUGINS.glob("*.py")):
        command += ["--plugins-dir", str(PLUGINS)]
    if any(TEMPLATES.glob("*.html")):
        command += ["--template-dir", str(TEMPLATES)]
    return command


def datasette_app(data_dir: Path, allow_sql: bool = False) -> Any:
    """An in-process Datasette configured exactly as `datasette_command` serves it."""
    from datasette.app import Datasette

    metadata = yaml.safe_load(METADATA.read_text())
    metadata["plugins"]["spyglass"]["allow_sql"] = allow_sql
    return Datasette(
        [str(Archive(data_dir).db_path)],
        metadata=metadata,
        plugins_dir=str(PLUGINS) if any(PLUGINS.glob("*.py")) else None,
        template_dir=str(TEMPLATES) if any(TEMPLATES.glob("*.html")) else None,
        settings=SETTINGS,
    )
