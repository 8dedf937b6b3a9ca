"""Options every command group shares, and the one place a command builds its Config."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from archive.config import Config

data_option = click.option(
    "--data",
    "data_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Data directory: holds spyglass.db and warcs/ (default: $SPYGLASS_DATA_DIR, else data).",
)
sources_option = click.option(
    "--sources",
    "sources_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The sources file to read (default: $SPYGLASS_SOURCES_FILE, else sources.yml).",
)
set_option = click.option(
    "-s",
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a Scrapy or SPYGLASS_* setting (repeatable).",
)
redis_option = click.option(
    "--redis",
    "redis_url",
    default=None,
    metavar="URL",
    help="Redis mode: the Redis server workers share (redis://host:6379/0; default: "
    '$SPYGLASS_REDIS_URL). See the README\'s "Many crawl workers".',
)
tsa_ca_option = click.option(
    "--tsa-ca",
    "tsa_ca",
    type=click.Path(dir_okay=False, exists=True),
    default=None,
    help="CA certificate(s) the time-stamp authority chains to "
    "(default: $SPYGLASS_TSA_CA_FILE, else the system's).",
)


def parse_overrides(pairs: tuple[str, ...]) -> dict[str, str]:
    """`-s KEY=VALUE` pairs as a dict; a pair without '=' is a usage error."""
    parsed = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--set")
        parsed[key.strip()] = value
    return parsed


def command_config(overrides: tuple[str, ...] = (), **options: Any) -> tuple[Config, dict[str, str]]:
    """The command's Config (environment, `-s`, then its options) and the `-s` values meant for Scrapy."""
    pairs = parse_overrides(overrides)
    config = Config.load(os.environ, pairs, **options)
    names = Config.setting_names()
    return config, {key: value for key, value in pairs.items() if key not in names}
