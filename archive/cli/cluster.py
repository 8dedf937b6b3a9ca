"""`spyglass worker`: a crawl worker of Redis mode (archive/cluster/)."""

from __future__ import annotations

from pathlib import Path

import click

from archive.archive import Archive
from archive.cli.options import command_config, data_option, redis_option, set_option


@click.command()
@redis_option
@data_option
@set_option
@click.option(
    "--exit-when-idle",
    is_flag=True,
    help="Exit once no crawl run is waiting in Redis (default: keep waiting for new ones).",
)
@click.option("-v", "--verbose", is_flag=True, help="Show Scrapy's log at INFO level.")
def worker(
    redis_url: str | None,
    data_dir: Path | None,
    overrides: tuple[str, ...],
    exit_when_idle: bool,
    verbose: bool,
) -> None:
    """Crawl requests from the runs published in Redis, as long as it runs.

    Start any number, on this machine or others that share the data directory's
    warcs/ (see the README's "Many crawl workers"); `spyglass crawl --redis` or
    `spyglass run-due --redis` publishes the runs and indexes what workers archive.
    SIGTERM or Ctrl-C stops it cleanly; a killed worker's requests go to the others.
    Example: spyglass worker --redis redis://127.0.0.1:6379/0 --data data
    """
    from archive.cluster.worker import run_worker

    config, scrapy = command_config(overrides, data_dir=data_dir, redis_url=redis_url)
    if not config.redis_url:
        raise click.UsageError("spyglass worker needs --redis URL (or SPYGLASS_REDIS_URL)")
    Archive.from_config(config).warc_dir.mkdir(parents=True, exist_ok=True)
    run_worker(config, {"LOG_LEVEL": "INFO" if verbose else "WARNING", **scrapy}, exit_when_idle)
