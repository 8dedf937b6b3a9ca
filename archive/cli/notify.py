"""`spyglass notify`: send the alerts waiting now, or a test message to every target."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from archive.archive import Archive
from archive.cli.options import command_config, data_option, set_option, sources_option
from archive.index.db import open_existing
from archive.sources.load import load_sources
from archive.times import utc_now


@click.command()
@sources_option
@data_option
@set_option
@click.option("--test", "test", is_flag=True, help="Send a test message to every target, and nothing else.")
def notify(sources_file: Path | None, data_dir: Path | None, overrides: tuple[str, ...], test: bool) -> None:
    """Look for new events and send every alert waiting (a target that was down gets them now).

    Crawls and run-due do the same after their runs; this sends without
    crawling. Exits 1 while a target refuses its alerts (they stay waiting).
    Example: spyglass notify --data data; spyglass notify --test
    """
    from archive.notify.run import notify_round, targets_of, test_all

    config, _ = command_config(overrides, data_dir=data_dir, sources_file=sources_file)
    sources = load_sources(config.sources_file, os.environ)
    if test:
        results = test_all(sources)
        if not results:
            click.echo(f"No targets: {config.sources_file} has no `notify:`.", err=True)
            sys.exit(1)
        for target, ok, answer in results:
            click.echo(f"{target.label}: {answer}" if ok else f"FAIL {target.label}: {answer}", err=not ok)
        if not all(ok for _, ok, _ in results):
            sys.exit(1)
        return
    open_existing(Archive.from_config(config)).close()
    if not targets_of(sources):
        click.echo(f"note: {config.sources_file} has no `notify:`: alerts have nowhere to go.", err=True)
    done = notify_round(config, sources, utc_now())
    click.echo(done.line())
    for answer in done.answers:
        click.echo(f"FAIL {answer}", err=True)
    if done.answers:
        sys.exit(1)
