"""What follows a crawl: its runs, then the passes after them, in one order, however it was started.

`crawl`, `run-due` and the demo, with or without Redis workers, all go through
`crawl_and_follow`: it runs the crawl's runs with an engine (`run_here`, or
Redis mode's archive/cluster/coordinator.py `crawl_with_redis`), then each
pass of PASSES in turn, and hands back a CrawlResult for the command to print.
A new pass is one entry in PASSES.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archive.archive import Archive
from archive.config import Config
from archive.crawl import rendering
from archive.crawl.client import stopping_now
from archive.crawl.runner import Crawled, RunReport, human_bytes, planned_runs, report_of, run_crawl
from archive.errors import ArchiveError, ConfigError, SpyglassError
from archive.index.db import open_index, writing
from archive.sources.load import load_sources
from archive.sources.model import Source, select
from archive.times import utc_now

if TYPE_CHECKING:
    from archive.evidence.timestamp import Stamped
    from archive.notify.run import Round
    from archive.records.reading import DocumentsRead

# Runs a crawl's (source, spider) runs with these Scrapy overrides. What the
# engine puts on the ExitStack (Redis mode's locks) is kept until the passes end.
Engine = Callable[[Config, Mapping[str, Any], list[tuple[Source, str]], ExitStack], Crawled]


def run_here(
    config: Config, overrides: Mapping[str, Any], runs: list[tuple[Source, str]], held: ExitStack
) -> Crawled:
    """The engine without Redis: every run in this process (each run's lock is its own pipeline's)."""
    return run_crawl(config, overrides, runs)


@dataclass(frozen=True)
class Plan:
    """The sources a crawl covers and its (source, spider) runs."""

    sources: list[Source]
    runs: list[tuple[Source, str]]
    data_dir: Path

    def line(self) -> str:
        return f"Crawling {len(self.sources)} source(s) into {self.data_dir}/ ..."


def plan_crawl(
    config: Config,
    variables: Mapping[str, str],
    names: tuple[str, ...] = (),
    only: str | None = None,
    runs: list[tuple[Source, str]] | None = None,
) -> Plan:
    """The sources named (default: all) and their runs, `only` 'live' or 'wayback'; or exactly `runs`.

    `variables` fill the `${VAR}` placeholders of the sources file. Fails
    before anything is crawled if the data directory cannot hold an index and
    WARC files.
    """
    if runs is None:
        chosen = select(load_sources(config.sources_file, variables), names)
    else:
        chosen = list({source.name: source for source, _ in runs}.values())
    archive = Archive.from_config(config)
    open_index(archive).close()
    try:
        archive.warc_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ArchiveError(f"{archive.warc_dir}: cannot hold WARC files: {exc.strerror}") from None
    if only == "wayback":
        chosen = [s for s in chosen if s.wayback is not None]
        if not chosen:
            raise ConfigError(f"{config.sources_file}: no source chosen has 'wayback' set")
    return Plan(chosen, runs if runs is not None else planned_runs(chosen, only), config.data_dir)


@dataclass
class CrawlResult:
    """What a crawl and the passes after it did, for the command to print."""

    config: Config
    plan: Plan
    runs: list[RunReport] = field(default_factory=list)  # then the passes' own runs (screenshots)
    busy: list[RunReport] = field(default_factory=list)  # runs another process was crawling
    seconds: float = 0.0  # the runs and the passes of their runs
    passes: list[str] = field(default_factory=list)  # the passes that ran, in order
    saves: list[dict[str, Any]] = field(default_factory=list)  # save_requests rows
    notes: list[str] = field(default_factory=list)  # for stderr
    documents: DocumentsRead | None = None
    stamped: list[Stamped] | None = None
    alerts: Round | None = None
    error: SpyglassError | None = None  # the pass that raised it stopped the passes

    @property
    def reports(self) -> list[RunReport]:
        return self.runs + self.busy

    @property
    def stopped(self) -> bool:
        """A signal stopped the crawl: its runs continue at the next crawl."""
        return any(r.reason == "shutdown" for r in self.reports)

    @property
    def failed(self) -> list[RunReport]:
        # A run skipped because another process is crawling that source right now did not fail;
        # a partial one finished, short of a limit the sources file or a setting sets.
        return [r for r in self.reports if r.status not in ("finished", "partial", "skipped")]

    @property
    def ok(self) -> bool:
        """Every run finished, no signal stopped the crawl and every pass went through."""
        return not self.failed and not self.stopped and self.error is None

    def lines(self) -> list[tuple[str, bool]]:
        """What the command prints, in order, as (line, for stderr) pairs."""
        archive = Archive.from_config(self.config)
        live = [r for r in self.reports if r.spider not in ("wayback", "screenshot", "browser")]
        history = [r for r in self.reports if r.spider == "wayback"]
        shots = [r for r in self.reports if r.spider == "screenshot"]
        rendered = [r for r in self.reports if r.spider == "browser"]
        failed = self.failed
        out = [
            (
                f"\nCrawled {len(live)} source(s) in {self.seconds:.1f} s: {sum(r.pages for r in live)} "
                f"pages archived ({sum(r.captures for r in live)} new or changed, "
                f"{sum(r.revisits for r in live)} unchanged and stored as revisits), "
                + (
                    f"{sum(r.requisites for r in live)} page requisites, "
                    if any(r.requisites for r in live)
                    else ""
                )
                + f"{sum(r.errors for r in live)} fetch errors, "
                f"{human_bytes(sum(r.bytes for r in live))} of payload. WARC files are in "
                f"{archive.warc_dir}/, the index is {archive.db_path}"
                + (f"; {len(failed)} run(s) did not finish cleanly." if failed else "."),
                False,
            )
        ]
        if history:
            out.append(
                (
                    f"Wayback history of {len(history)} source(s): "
                    f"{sum(r.pages for r in history)} archived versions fetched, "
                    f"{sum(r.errors for r in history)} versions or queries recorded as errors.",
                    False,
                )
            )
        if shots:
            out.append(
                (
                    f"Screenshots of {len(shots)} source(s): {sum(r.pages for r in shots)} kept, "
                    f"{sum(r.errors for r in shots)} pages could not be drawn.",
                    False,
                )
            )
        if rendered:
            out.append(
                (
                    f"Loaded in a browser for {len(rendered)} source(s): {sum(r.pages for r in rendered)} "
                    f"pages rendered, {sum(r.requisites for r in rendered)} responses recorded, "
                    f"{sum(r.errors for r in rendered)} errors.",
                    False,
                )
            )
        out += [(f"  {report.line()}", False) for report in self.reports]
        if self.stopped:
            out.append(("Stopped by a signal: the interrupted runs continue at the next crawl.", True))
        out += [(f"note: {note}", True) for note in self.notes]
        if self.documents is not None:
            out.append((self.documents.line(), False))
        if self.alerts is not None and not self.alerts.quiet:
            out.append((self.alerts.line(), False))
            out += [(f"note: alert not sent to {answer}", True) for answer in self.alerts.answers]
        if self.stamped is not None:
            from archive.evidence.timestamp import stamped_summary

            out.append((f"Time-stamped {stamped_summary(self.stamped)} with {self.config.tsa_url}.", False))
        return out


@dataclass
class After:
    """What a pass works from: the crawl's settings, its live runs, and the result it adds to."""

    config: Config
    variables: Mapping[str, str]
    clock: datetime  # the time the crawl's runs count as started at (the scheduler's)
    live: list[tuple[Source, int]]
    result: CrawlResult
    pretended: bool = False  # `clock` is a time `run-due --now` gave, not the real one


def save_changed_pages(after: After) -> None:
    """Save Page Now for each changed page of the live runs of sources with `save_on_change`."""
    saving = [(source, run_id) for source, run_id in after.live if source.save_on_change]
    if not saving:
        return
    from archive.index.captures import changed_captures
    from archive.wayback.savepagenow import SaveSettings, save_and_record

    options = SaveSettings.from_config(after.config)
    index = open_index(Archive.from_config(after.config))
    try:
        for source, run_id in saving:
            for capture in changed_captures(index, run_id):
                after.result.saves.append(
                    save_and_record(
                        index, capture["url"], options, source=source.name, capture_id=capture["id"]
                    )
                )
    finally:
        index.close()


def take_screenshots(after: After) -> None:
    """A screenshot pass (a run of its own) of each live run of sources with `screenshot`."""
    shooting = [(source, run_id) for source, run_id in after.live if source.screenshot]
    if not shooting:
        return
    from archive.crawl.screenshots import screenshot_run

    for source, run_id in shooting:
        shot_run = screenshot_run(after.config, source, run_id)
        index = open_index(Archive.from_config(after.config))
        try:
            after.result.runs.append(report_of(index, f"{source.name} (screenshot)", shot_run))
        finally:
            index.close()


def note_started(after: After) -> None:
    """Record when each run started, for run-due to know when it is next due."""
    from archive.ops.schedule import record_started

    index = open_index(Archive.from_config(after.config))
    try:
        with writing(index):
            # The screenshot and browser passes follow their live run: not runs a schedule starts.
            record_started(
                index,
                [
                    (r.name, r.spider)
                    for r in after.result.reports
                    if r.run_id is not None and r.spider not in ("screenshot", "browser")
                ],
                after.clock,
                pretended=after.pretended,
            )
    finally:
        index.close()


def settle_history(after: After) -> None:
    """Start settling the hosts the runs left pending in the background (archive/history/later.py);
    at once, here, when alerts follow: they must not tell of changes settling would undo."""
    from archive.history.later import pending, settle_archive, start_settling

    index = open_index(Archive.from_config(after.config))
    try:
        if not pending(index).hosts:
            return
    finally:
        index.close()
    sources = (
        load_sources(after.config.sources_file, after.variables) if after.config.sources_file.exists() else []
    )
    if any(source.notify for source in sources):
        settle_archive(after.config)
    else:
        start_settling(after.config)


def read_new_documents(after: After) -> None:
    """After crawling records sources: read the documents not read yet, then rebuild mentions."""
    if any(source.kind == "records" for source in after.result.plan.sources):
        from archive.records.reading import read_documents  # brings text extraction: only for records sources

        after.result.documents = read_documents(after.config, after.variables, False, after.result.notes)


def send_alerts(after: After) -> None:
    """Alerts for the events since the last look (this crawl's and any other's), and those still waiting."""
    if not after.config.sources_file.exists():
        return  # runs given by a caller without a sources file: there are no targets to tell
    from archive.notify.run import notify_round

    sources = load_sources(after.config.sources_file, after.variables)
    after.result.alerts = notify_round(after.config, sources, utc_now())


def stamp_closed_warcs(after: After) -> None:
    """With SPYGLASS_TIMESTAMP_AFTER_CRAWL: RFC 3161 tokens for the closed WARC files and chain head."""
    if after.config.timestamp_after_crawl:
        from archive.evidence.timestamp import timestamp_warcs

        config = after.config
        after.result.stamped = timestamp_warcs(
            Archive.from_config(config), config.tsa_url, config.tsa_ca_file or None
        )


@dataclass(frozen=True)
class Pass:
    """One pass that follows a crawl's runs."""

    name: str
    run: Callable[[After], None]
    # A pass of the runs themselves: it runs even when a signal stopped the
    # crawl, and its time counts in the crawl's. These come first in PASSES.
    of_runs: bool = False
    # Quick and local: it runs even after a second signal asked to stop at once.
    at_once: bool = False


# What follows a crawl, in the order it runs. A new pass is one entry here.
PASSES: tuple[Pass, ...] = (
    Pass("save-page-now", save_changed_pages, of_runs=True),
    Pass("browser", rendering.render_in_browser, of_runs=True),
    Pass("screenshots", take_screenshots, of_runs=True),
    Pass("script-shells", rendering.notice_script_shells, of_runs=True),
    Pass("schedules", note_started, of_runs=True, at_once=True),
    Pass("history", settle_history, of_runs=True, at_once=True),
    Pass("documents", read_new_documents),
    Pass("alerts", send_alerts),
    Pass("time-stamps", stamp_closed_warcs),
)


def crawl_and_follow(
    config: Config,
    plan: Plan,
    overrides: Mapping[str, Any],
    variables: Mapping[str, str],
    clock: datetime | None = None,
    engine: Engine = run_here,
) -> CrawlResult:
    """Run the plan's runs with `engine`, then every pass of PASSES in order; what they all did.

    `clock` is the time the runs count as started at (default: now; `run-due
    --now` gives its own, recorded apart as a pretended start). A pass that raises a SpyglassError stops the passes after
    it; the error is in the result, for the command to show after the rest.
    """
    started = time.monotonic()
    pretended, clock = clock is not None, clock or utc_now()
    with ExitStack() as held:
        crawled = engine(config, overrides, plan.runs, held)
        result = CrawlResult(config, plan, list(crawled.reports), list(crawled.busy))
        result.seconds = time.monotonic() - started
        after = After(config, variables, clock, crawled.live, result, pretended)
        for step in PASSES:
            if (result.stopped and not step.of_runs) or (stopping_now() and not step.at_once):
                continue
            try:
                step.run(after)
            except SpyglassError as exc:
                result.error = exc
                break
            result.passes.append(step.name)
            if step.of_runs:
                result.seconds = time.monotonic() - started
    return result
