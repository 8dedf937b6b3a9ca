"""Run spiders for a set of sources in one Scrapy process and report on the runs."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scrapy.crawler import Crawler, CrawlerProcess
from scrapy.settings import Settings
from scrapy.utils.project import get_project_settings

from . import db as dbmod
from .sources import Source


def crawl_settings(data_dir: Path, sources_file: Path, overrides: dict[str, Any] | None = None) -> Settings:
    """Project settings, then SPYGLASS_* / USER_AGENT environment variables, then `overrides`."""
    os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "archive.settings")
    settings = get_project_settings()
    for key in list(settings.attributes):
        if (key.startswith("SPYGLASS_") or key == "USER_AGENT") and key in os.environ:
            settings.set(key, os.environ[key], priority="cmdline")
    settings.set("SPYGLASS_DATA_DIR", str(data_dir), priority="cmdline")
    settings.set("SPYGLASS_SOURCES_FILE", str(sources_file), priority="cmdline")
    for key, value in (overrides or {}).items():
        settings.set(key, value, priority="cmdline")
    return settings


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

    def line(self) -> str:
        rate = self.pages / self.seconds if self.seconds > 0 else 0.0
        return (
            f"{self.source}: {self.status} ({self.reason}), {self.pages} pages "
            f"({self.captures} new, {self.revisits} unchanged"
            + (f", {self.skipped} skipped as unchanged per sitemap" if self.skipped else "")
            + f"), {self.errors} errors, "
            f"{human_bytes(self.bytes)} in {self.seconds:.1f} s ({rate:.1f} pages/s)"
        )


def run_crawl(sources: list[Source], settings: Settings) -> list[RunReport]:
    """Crawl each source with its kind's spider, all in one reactor; returns one report per run."""
    process = CrawlerProcess(settings)
    crawlers: list[tuple[Source, Crawler]] = []
    for number, source in enumerate(sources):
        spidercls = process.spider_loader.load(source.kind)
        per_source = settings.copy()
        per_source.set("ROBOTSTXT_OBEY", source.robots, priority="spider")
        # The first crawler installs the reactor named in the settings.
        crawler = Crawler(spidercls, per_source, init_reactor=number == 0)
        process.crawl(crawler, source=source.name)
        crawlers.append((source, crawler))
    process.start()
    index = dbmod.open_db(Path(settings["SPYGLASS_DATA_DIR"]) / dbmod.DB_NAME)
    reports = []
    try:
        for source, crawler in crawlers:
            run_id = crawler.stats.get_value("spyglass/run_id") if crawler.stats else None
            reports.append(_report(index, source.name, run_id))
    finally:
        index.close()
    return reports


def _report(index: Any, source: str, run_id: int | None) -> RunReport:
    if run_id is None:
        return RunReport(source, None, "failed", "spider did not start (see the log above)",
                         0, 0, 0, 0, 0, 0.0)
    row = index.table("crawl_runs").get(run_id)
    seconds = 0.0
    if row["ended_at"]:
        from datetime import datetime

        start = datetime.fromisoformat(row["started_at"].replace("Z", "+00:00"))
        end = datetime.fromisoformat(row["ended_at"].replace("Z", "+00:00"))
        seconds = (end - start).total_seconds()
    return RunReport(
        source=source, run_id=run_id, status=row["status"] or "unknown",
        reason=row["finish_reason"] or "", pages=row["pages"] or 0,
        captures=row["captures"] or 0, revisits=row["revisits"] or 0,
        errors=row["errors"] or 0, bytes=row["bytes"] or 0, seconds=seconds,
        skipped=row.get("skipped") or 0,
    )
