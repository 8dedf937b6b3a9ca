"""`spyglass crawl`: fill the archive (archive/cli/documents.py reads the documents it holds)."""

from __future__ import annotations

import os
import sys
from contextlib import nullcontext
from pathlib import Path

import click

from archive.cli.options import command_config, data_option, redis_option, set_option, sources_option
from archive.crawl import spawn


@click.command()
@sources_option
@data_option
@click.option(
    "--source",
    "names",
    multiple=True,
    metavar="NAME",
    help="Crawl only this source (repeatable). Default: every source.",
)
@set_option
@click.option(
    "--only",
    type=click.Choice(["live", "wayback"]),
    default=None,
    help="Run only the live crawl, or only the Wayback history harvest.",
)
@click.option(
    "--no-resume",
    is_flag=True,
    help="Start afresh even if the last run of a source was interrupted (it is still "
    "reconciled and closed). Default: continue it if it started within "
    "SPYGLASS_RESUME_WITHIN.",
)
@click.option("-v", "--verbose", is_flag=True, help="Show Scrapy's log at INFO level.")
@redis_option
@click.option(
    "--workers",
    type=click.IntRange(0, 64),
    default=0,
    show_default=True,
    help="With --redis: also run this many workers on this machine for the length of the crawl.",
)
def crawl(
    sources_file: Path | None,
    data_dir: Path | None,
    names: tuple[str, ...],
    overrides: tuple[str, ...],
    only: str | None,
    no_resume: bool,
    verbose: bool,
    redis_url: str | None,
    workers: int,
) -> None:
    """Crawl sources into the archive (WARC files + SQLite index).

    An interrupted or killed crawl of a source is continued where it stopped.
    With --redis, vendor sources are crawled by `spyglass worker` processes on
    any machine, sharing one frontier in Redis, and indexed here as they go.
    Example: spyglass crawl --sources sources.yml --data data --source northwind-recognize
    """
    # A progress line by default on the terminal; `-s SPYGLASS_PROGRESS=false` turns it off.
    config, scrapy = command_config(
        ("SPYGLASS_PROGRESS=true", *overrides),
        data_dir=data_dir,
        sources_file=sources_file,
        resume_within=0 if no_resume else None,
        redis_url=redis_url,
    )
    if workers and not config.redis_url:
        raise click.BadParameter("needs --redis (or SPYGLASS_REDIS_URL)", param_hint="--workers")
    # Redis workers write their own rows: a writer here would go unused.
    with spawn.ahead() if not config.redis_url else nullcontext():
        # Imported once the writer is starting: Scrapy's and Twisted's imports then overlap its own.
        from archive.cli.report import crawl_and_print

        ok = crawl_and_print(
            config, scrapy, os.environ, names=names, only=only, verbose=verbose, workers=workers
        )
    if not ok:
        sys.exit(1)
