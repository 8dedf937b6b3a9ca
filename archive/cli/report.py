"""Printing a crawl and what followed it: shared by `crawl`, `run-due` and `demo`."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import partial

import click

from archive.config import Config
from archive.crawl.after import Engine, crawl_and_follow, plan_crawl, run_here
from archive.sources.model import Source


def crawl_and_print(
    config: Config,
    scrapy: Mapping[str, str],
    variables: Mapping[str, str],
    *,
    names: tuple[str, ...] = (),
    only: str | None = None,
    runs: list[tuple[Source, str]] | None = None,
    clock: datetime | None = None,
    verbose: bool = False,
    workers: int = 0,
) -> bool:
    """Crawl and run what follows (archive/crawl/after.py), print the result; True if all went through.

    With SPYGLASS_REDIS_URL, vendor crawls go to Redis workers (`workers` of them started here too).
    """
    plan = plan_crawl(config, variables, names, only, runs)
    click.echo(plan.line(), err=True)
    engine: Engine = run_here
    if config.redis_url:
        from archive.cluster.coordinator import crawl_with_redis

        engine = partial(crawl_with_redis, workers=workers, say=click.echo)
    settings = {"LOG_LEVEL": "INFO" if verbose else "WARNING", **scrapy}
    result = crawl_and_follow(config, plan, settings, variables, clock, engine)
    for line, to_stderr in result.lines():
        click.echo(line, err=to_stderr)
    if result.error is not None:
        raise result.error
    return result.ok
