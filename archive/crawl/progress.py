"""A progress line while crawling: pages done, errors and rate, every few seconds."""

from __future__ import annotations

import sys
import time
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from twisted.internet import task

from archive.config import Config


class Progress:
    """Prints `[source] N pages, Q requisites, U unchanged (304), E errors, R pages/s` to stderr;
    on with SPYGLASS_PROGRESS."""

    def __init__(self, crawler: Crawler, interval: float) -> None:
        self.crawler = crawler
        self.interval = interval
        self.started = time.monotonic()
        self.loop: task.LoopingCall | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Progress:
        config = Config.from_settings(crawler.settings)
        if not config.progress:
            raise NotConfigured
        ext = cls(crawler, config.progress_interval)
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    def spider_opened(self, spider: Any) -> None:
        self.started = time.monotonic()
        self.loop = task.LoopingCall(self.report, spider)
        self.loop.start(self.interval, now=False)

    def spider_closed(self, spider: Any) -> None:
        if self.loop is not None and self.loop.running:
            self.loop.stop()

    def report(self, spider: Any) -> None:
        stats = self.crawler.stats
        pages = stats.get_value("spyglass/pages", 0)
        seen = stats.get_value("spyglass/observations", 0)
        replayed = stats.get_value("spyglass/replayed", 0)
        errors = stats.get_value("spyglass/errors", 0)
        requisites = stats.get_value("spyglass/requisites", 0)
        elapsed = max(time.monotonic() - self.started, 1e-6)
        name = getattr(spider, "source_name", spider.name)
        print(
            f"[{name}] {pages} pages, "
            + (f"{requisites} requisites, " if requisites else "")
            + f"{seen} unchanged (304), {errors} errors"
            + (f", {replayed} read back from the interrupted run" if replayed else "")
            + f", {(pages + seen) / elapsed:.1f} pages/s",
            file=sys.stderr,
            flush=True,
        )
