"""The Wayback Machine's commands: `save` (Save Page Now) and `closest`."""

from __future__ import annotations

import sys
from pathlib import Path
from urllib.parse import urlsplit

import click

from archive.archive import Archive
from archive.cli.options import command_config, data_option, set_option
from archive.index.db import open_index
from archive.wayback.budget import wayback_budget
from archive.wayback.client import Endpoints


@click.command()
@click.argument("urls", nargs=-1, required=True)
@data_option
@set_option
def save(urls: tuple[str, ...], data_dir: Path | None, overrides: tuple[str, ...]) -> None:
    """Ask the Wayback Machine's Save Page Now for a snapshot of each URL.

    Uses SPN2 when SPYGLASS_SPN_ACCESS_KEY and SPYGLASS_SPN_SECRET_KEY are set
    in the environment (anonymous otherwise), confirms each save through the
    CDX and records the outcome in the save_requests table. Exits 1 unless
    every URL was confirmed saved.

    Example: spyglass save https://aws.amazon.com/rekognition/
    """
    from archive.wayback.savepagenow import SaveSettings, save_and_record

    for url in urls:
        if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
            raise click.BadParameter(f"{url!r} is not an http(s) URL", param_hint="URLS")
    config, _ = command_config(overrides, data_dir=data_dir)
    options = SaveSettings.from_config(config)
    index = open_index(Archive.from_config(config))
    saved = 0
    try:
        for url in urls:
            row = save_and_record(index, url, options)
            where = row.get("snapshot_url") or ""
            note = f" ({row['message']})" if row.get("message") else ""
            click.echo(f"{url}: {row['state']} {where}".rstrip() + note)
            saved += row["state"] == "saved"
    finally:
        index.close()
    if saved != len(urls):
        sys.exit(1)


@click.command()
@click.argument("url")
@click.option(
    "--at",
    "timestamp",
    default=None,
    metavar="TIMESTAMP",
    help="Wayback timestamp (1 to 14 digits, e.g. 2018 or 20180225). Default: the newest.",
)
@set_option
def closest(url: str, timestamp: str | None, overrides: tuple[str, ...]) -> None:
    """Name the Wayback Machine snapshot of URL closest to a time, in citation form.

    Asks the availability API at SPYGLASS_WAYBACK_URL (or
    SPYGLASS_WAYBACK_AVAILABILITY_URL). Example: spyglass closest https://aws.amazon.com/rekognition/ --at 2018
    """
    from archive.wayback.closest import closest_snapshot

    if timestamp is not None and not (timestamp.isdigit() and 1 <= len(timestamp) <= 14):
        raise click.BadParameter(f"{timestamp!r} is not a Wayback timestamp", param_hint="--at")
    config, _ = command_config(overrides)
    found = closest_snapshot(
        url, Endpoints.from_config(config), timestamp, config.user_agent, wayback_budget(config)
    )
    if found is None:
        click.echo(f"{url}: the Wayback Machine names no snapshot", err=True)
        sys.exit(1)
    click.echo(f"{found.snapshot_url} (captured {found.timestamp})")
