"""`spyglass crawl` and `spyglass documents`: fill the archive, then read the documents it holds."""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

import click

from archive.archive import Archive
from archive.cli.options import command_config, data_option, redis_option, set_option, sources_option
from archive.config import Config
from archive.errors import ArchiveError, ConfigError
from archive.index.db import open_existing, open_index, writing
from archive.sources.load import load_sources
from archive.sources.model import Source, select
from archive.times import utc_now

TERM_FIELD = re.compile(r"field '(vendor|product)\b")


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
    if not crawl_and_report(config, scrapy, names, verbose, only, os.environ, workers=workers):
        sys.exit(1)


def crawl_and_report(
    config: Config,
    scrapy: Mapping[str, str],
    names: tuple[str, ...],
    verbose: bool,
    only: str | None,
    variables: Mapping[str, str],
    runs: list[tuple[Source, str]] | None = None,
    clock: datetime | None = None,
    workers: int = 0,
) -> bool:
    """Crawl the chosen sources, print what happened, read new documents; True if every run finished.

    `variables` fill the `${VAR}` placeholders of the sources file. `runs`
    names exact (source, spider) runs instead of `names` and `only`; `clock`
    is the scheduler's time they count as started at (default: now). With
    SPYGLASS_REDIS_URL, vendor crawls go to Redis workers (`workers` of them
    started here too).
    """
    from archive.crawl.runner import human_bytes, planned_runs, run_crawl
    from archive.ops.schedule import record_started

    if runs is None:
        chosen = select(load_sources(config.sources_file, variables), names)
    else:
        chosen = list({source.name: source for source, _ in runs}.values())
    archive = Archive.from_config(config)
    # Fail before crawling if the data directory cannot hold an index and WARCs.
    open_index(archive).close()
    try:
        archive.warc_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ArchiveError(f"{archive.warc_dir}: cannot hold WARC files: {exc.strerror}") from None
    if only == "wayback":
        chosen = [s for s in chosen if s.wayback is not None]
        if not chosen:
            raise ConfigError(f"{config.sources_file}: no source chosen has 'wayback' set")
    started = time.monotonic()
    clock = clock or utc_now()
    click.echo(f"Crawling {len(chosen)} source(s) into {config.data_dir}/ ...", err=True)
    settings = {"LOG_LEVEL": "INFO" if verbose else "WARNING", **scrapy}
    if config.redis_url:
        from archive.cluster.coordinator import crawl_with_redis

        reports = crawl_with_redis(
            config,
            settings,
            runs if runs is not None else planned_runs(chosen, only),
            workers,
            say=click.echo,
        )
    else:
        reports = run_crawl(chosen, config, settings, only, runs)
    elapsed = time.monotonic() - started
    index = open_index(archive)
    try:
        with writing(index):
            # The screenshot pass follows its live run: it is not a run a schedule starts.
            record_started(
                index,
                [(r.name, r.spider) for r in reports if r.run_id is not None and r.spider != "screenshot"],
                clock,
            )
    finally:
        index.close()
    live = [r for r in reports if r.spider not in ("wayback", "screenshot")]
    history = [r for r in reports if r.spider == "wayback"]
    shots = [r for r in reports if r.spider == "screenshot"]
    # A run skipped because another process is crawling that source right now did not fail.
    failed = [r for r in reports if r.status not in ("finished", "skipped")]
    click.echo(
        f"\nCrawled {len(live)} source(s) in {elapsed:.1f} s: {sum(r.pages for r in live)} pages "
        f"archived ({sum(r.captures for r in live)} new or changed, {sum(r.revisits for r in live)} "
        f"unchanged and stored as revisits), "
        + (f"{sum(r.requisites for r in live)} page requisites, " if any(r.requisites for r in live) else "")
        + f"{sum(r.errors for r in live)} fetch errors, "
        f"{human_bytes(sum(r.bytes for r in live))} of payload. WARC files are in {archive.warc_dir}/, "
        f"the index is {archive.db_path}"
        + (f"; {len(failed)} run(s) did not finish cleanly." if failed else ".")
    )
    if history:
        click.echo(
            f"Wayback history of {len(history)} source(s): "
            f"{sum(r.pages for r in history)} archived versions fetched, "
            f"{sum(r.errors for r in history)} versions or queries recorded as errors."
        )
    if shots:
        click.echo(
            f"Screenshots of {len(shots)} source(s): {sum(r.pages for r in shots)} kept, "
            f"{sum(r.errors for r in shots)} pages could not be drawn."
        )
    for report in reports:
        click.echo(f"  {report.line()}")
    if any(r.reason == "shutdown" for r in reports):
        click.echo("Stopped by a signal: the interrupted runs continue at the next crawl.", err=True)
        return False
    if any(source.kind == "records" for source in chosen):
        read_documents(config, variables, redo=False)
    if config.timestamp_after_crawl:
        from archive.cli.evidence import stamped_summary
        from archive.evidence.timestamp import timestamp_warcs

        stamped = timestamp_warcs(archive, config.tsa_url, config.tsa_ca_file or None)
        click.echo(f"Time-stamped {stamped_summary(stamped)} with {config.tsa_url}.")
    return not failed


def read_documents(config: Config, variables: Mapping[str, str], redo: bool) -> None:
    """The post-pass after a records crawl: document text (OCR where needed), then mentions."""
    from archive.records.extraction import extract_documents
    from archive.records.mentions import rebuild_mentions

    sources = load_sources(config.sources_file, variables)
    for source in sources:
        if source.unresolved and source.kind == "vendor":
            if not (source.vendor or source.product):
                # Its terms are unknown: a rebuild would silently drop its mentions.
                raise ConfigError(
                    next((u for u in source.unresolved if TERM_FIELD.search(u)), source.unresolved[0])
                )
            click.echo(f"note: {source.unresolved[0]}; its product terms are used all the same", err=True)
    index = open_existing(Archive.from_config(config))
    try:
        started = time.monotonic()
        report = extract_documents(Archive.from_config(config), index, redo=redo)
        mentions = rebuild_mentions(index, sources)
    finally:
        index.close()
    click.echo(
        f"Documents: {report.line()}; {mentions} mention(s) of vendor terms "
        f"({time.monotonic() - started:.1f} s)."
    )


@click.command()
@sources_option
@data_option
@click.option("--redo", is_flag=True, help="Read every document again, not only new ones.")
def documents(sources_file: Path | None, data_dir: Path | None, redo: bool) -> None:
    """Read archived documents (text layer, OCR for scans) and find product mentions.

    `crawl` does this after crawling records sources; run it again after
    adding a vendor source or installing Tesseract. Example: spyglass documents --data data
    """
    config, _ = command_config(data_dir=data_dir, sources_file=sources_file)
    read_documents(config, os.environ, redo)
