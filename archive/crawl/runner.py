"""Run spiders for a set of sources in one Scrapy process and report on the runs."""

from __future__ import annotations

import gc
import json
import signal
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from scrapy.crawler import Crawler, CrawlerProcess
from scrapy.settings import Settings

from archive.archive import Archive
from archive.config import Config
from archive.crawl.client import stop_now
from archive.crawl.pipelines import close_at_once
from archive.crawl.runlog import crawl_log, name_log
from archive.index.db import open_index, writing
from archive.locks import crawl_lock, is_locked
from archive.sources.model import Source
from archive.times import parse_when


class SpyglassProcess(CrawlerProcess):
    """Scrapy's process, whose second SIGINT/SIGTERM also ends every wait on a writer (stop now)."""

    def _signal_kill(self, signum: int, frame: Any) -> None:
        # Scrapy's own second-signal handler stops the reactor; a reactor blocked
        # in a wait on a writer would never get there without stop_now().
        stop_now()
        super()._signal_kill(signum, frame)


# Scrapy imports an extension before the extension can say its setting keeps it off: the
# remote control's web server (aiohttp) alone was ~0.3 s of a crawl's start-up on a quiet machine.
OFF_UNLESS_ENABLED = {
    "TELNETCONSOLE_ENABLED": "scrapy.extensions.telnet.TelnetConsole",
    "REMOTE_CONTROL_ENABLED": "scrapy.extensions.remote_control.RemoteControl",
}


def crawl_settings(config: Config, overrides: Mapping[str, Any] | None = None) -> Settings:
    """The project's Scrapy settings, every Spyglass setting from `config`, then Scrapy `overrides`."""
    settings = Settings()
    settings.setmodule("archive.crawl.settings", priority="project")
    for key, value in {**config.as_settings(), **(overrides or {})}.items():
        settings.set(key, value, priority="cmdline")
    # Out of the base list, not set to None in EXTENSIONS: Scrapy imports every key of that.
    off = [path for key, path in OFF_UNLESS_ENABLED.items() if not settings.getbool(key)]
    base = {path: order for path, order in settings.getdict("EXTENSIONS_BASE").items() if path not in off}
    settings.set("EXTENSIONS_BASE", base, priority="project")
    return settings


def quiet_collector() -> None:
    """Keep Python's cyclic garbage collector from walking what a crawl loads at start.

    Everything loaded so far (modules, settings, the sources) lives for the
    whole process: frozen, full collections stop walking it. The collector took
    16% of the crawler's CPU on the 2,050-page benchmark site (py-spy --gil).
    The freeze together with collecting young objects every 5,000 allocations
    instead of 700 cut the crawler's CPU by ~10%, but the larger threshold let
    cyclic garbage (responses with their bodies) pile up: 371 MB against 274 MB
    for a 20,500-page crawl (which took 186 against 269 CPU-s: full collections
    then walked every request in the frontier, which now waits on disk,
    archive/crawl/scheduler.py). Memory that stays flat as a site grows is the
    goal here: only the freeze is kept.
    """
    gc.collect()
    gc.freeze()


def human_bytes(count: int) -> str:
    """1234567 -> '1.2 MB'."""
    size = float(count)
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} GB"


@dataclass
class RunReport:
    """One source's crawl run, as recorded in crawl_runs."""

    source: str
    run_id: int | None
    status: str
    reason: str
    pages: int
    captures: int
    revisits: int
    errors: int
    bytes: int
    seconds: float
    skipped: int = 0
    spider: str = ""
    observations: int = 0
    requests: int = 0
    error_kinds: dict[str, int] = field(default_factory=dict)
    resumed_from: int | None = None
    name: str = ""  # the source's name (`source` is the label shown)
    requisites: int = 0
    found: dict[str, int] = field(default_factory=dict)  # a JSON records walk's items per step

    def line(self) -> str:
        rate = self.pages / self.seconds if self.seconds > 0 else 0.0
        if self.spider == "screenshot":
            return (
                f"{self.source}: {self.status} ({self.reason}), {self.pages} screenshots kept, "
                f"{self.errors} pages could not be drawn, {human_bytes(self.bytes)} in "
                f"{self.seconds:.1f} s"
            )
        kinds = ", ".join(f"{count} {kind}" for kind, count in self.error_kinds.items())
        return (
            f"{self.source}: {self.status} ({self.reason}), {self.pages} pages "
            f"({self.captures} new, {self.revisits} unchanged"
            + (f", {self.skipped} skipped as unchanged per sitemap" if self.skipped else "")
            + ")"
            + (f", {self.requisites} page requisites" if self.requisites else "")
            + f", {self.observations} seen unchanged (304), {self.errors} errors"
            + (f" ({kinds})" if kinds else "")
            + f", {self.requests} requests, {human_bytes(self.bytes)} in {self.seconds:.1f} s "
            f"({rate:.1f} pages/s)"
            + (f"; continues interrupted run {self.resumed_from}" if self.resumed_from else "")
            + (f"; found {self.found_text()}" if self.found else "")
        )

    def found_text(self) -> str:
        """'3 requests, 2 communications, 2 files': what a records walk found, in walk order."""
        return ", ".join(f"{count} {name}" for name, count in self.found.items())


def planned_runs(sources: list[Source], only: str | None = None) -> list[tuple[Source, str]]:
    """(source, spider name) for each run a crawl of `sources` makes; `only`: 'live' or 'wayback'."""
    runs = []
    for source in sources:
        if only != "wayback" and source.live:
            runs.append((source, source.kind))
        if only != "live" and source.wayback is not None:
            runs.append((source, "wayback"))
    return runs


@dataclass
class Crawled:
    """What running a crawl's runs gave: their reports, the live runs made, the runs skipped as busy."""

    reports: list[RunReport]
    live: list[tuple[Source, int]]  # (source, run id) of each live run: what the passes follow
    busy: list[RunReport] = field(default_factory=list)


def run_crawl(config: Config, overrides: Mapping[str, Any] | None, runs: list[tuple[Source, str]]) -> Crawled:
    """Crawl each (source, spider) run here, all in one reactor; each run's report.

    A source with `wayback:` set has a second run with the `wayback` spider
    beside its live one (its own crawl_runs row, WARC files still prefixed with
    the source's name). What follows a live run (Save Page Now, screenshots)
    is archive/crawl/after.py's.
    """
    settings = crawl_settings(config, overrides)
    process = SpyglassProcess(settings)
    crawlers: list[tuple[str, Crawler]] = []
    live: list[tuple[Source, Crawler]] = []  # the sources' own (not Wayback) runs
    busy: list[RunReport] = []
    for source, spider_name in runs:
        label = source.name if spider_name == source.kind else f"{source.name} ({spider_name})"
        if is_locked(crawl_lock(config.data_dir, source.name, spider_name).path):
            busy.append(
                RunReport(
                    label,
                    None,
                    "skipped",
                    "being crawled by another process right now",
                    0,
                    0,
                    0,
                    0,
                    0,
                    0.0,
                    spider=spider_name,
                    name=source.name,
                )
            )
            continue
        spidercls = process.spider_loader.load(spider_name)
        per_source = settings.copy()
        if spider_name == source.kind:
            per_source.set("ROBOTSTXT_OBEY", source.robots, priority="spider")
        # The first crawler installs the reactor named in the settings.
        crawler = Crawler(spidercls, per_source, init_reactor=not crawlers)
        # API tokens go to the spider as an argument, never into settings, which Scrapy logs.
        extra = {"credentials": config.service_tokens} if spider_name == "records" else {}
        process.crawl(crawler, source=source, **extra)
        crawlers.append((label, crawler))
        if spider_name == source.kind:
            live.append((source, crawler))
    log = None
    if crawlers:
        quiet_collector()
        try:
            with crawl_log(config.data_dir, settings) as log:
                process.start()
        finally:
            # Scrapy's shutdown handlers outlive its reactor and would swallow the signals.
            signal.signal(signal.SIGINT, signal.default_int_handler)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            # A reactor stopped at once never closed its spiders: end their runs, writers bounded.
            for _, crawler in crawlers:
                close_at_once(crawler)
    index = open_index(Archive.from_config(config))
    try:
        if log is not None:
            ids = [run_id for _, crawler in crawlers if (run_id := _run_id(crawler)) is not None]
            with writing(index):
                name_log(index, ids, config.data_dir, log)
        reports = [report_of(index, label, _run_id(crawler)) for label, crawler in crawlers]
    finally:
        index.close()
    started = [(source, _run_id(crawler)) for source, crawler in live]
    return Crawled(reports, [(source, run_id) for source, run_id in started if run_id is not None], busy)


def _run_id(crawler: Crawler) -> int | None:
    """The crawl_runs id the crawler's run was given, None if its spider did not start."""
    return crawler.stats.get_value("spyglass/run_id") if crawler.stats else None


def report_of(index: Any, source: str, run_id: int | None) -> RunReport:
    """The report of run `run_id` (labelled `source`) from its crawl_runs row."""
    if run_id is None:
        return RunReport(
            source, None, "failed", "spider did not start (see the log above)", 0, 0, 0, 0, 0, 0.0
        )
    row = index.table("crawl_runs").get(run_id)
    seconds = 0.0
    if row.get("seconds") is not None:
        seconds = row["seconds"]  # how long it crawled (an adopted Redis run: since a worker took it)
    elif row["ended_at"]:
        seconds = (parse_when(row["ended_at"]) - parse_when(row["started_at"])).total_seconds()
    return RunReport(
        source=source,
        run_id=run_id,
        status=row["status"] or "unknown",
        reason=row["finish_reason"] or "",
        pages=row["pages"] or 0,
        captures=row["captures"] or 0,
        revisits=row["revisits"] or 0,
        errors=row["errors"] or 0,
        bytes=row["bytes"] or 0,
        seconds=seconds,
        skipped=row.get("skipped") or 0,
        spider=row["spider"] or "",
        observations=row.get("observations") or 0,
        requests=row.get("requests") or 0,
        error_kinds=json.loads(row.get("error_kinds") or "{}"),
        resumed_from=row.get("resumed_from"),
        name=row["source"],
        requisites=row.get("requisites") or 0,
        found=json.loads(row.get("found") or "{}"),
    )
