"""Item pipeline: validate items and hand their rows to the archive writer process."""

from __future__ import annotations

import json
import os
import weakref
from collections import Counter
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem

from archive.archive import Archive
from archive.config import Config
from archive.crawl.capture import exchange_without_callback
from archive.crawl.client import close_writer, writer_for
from archive.crawl.items import Capture, FetchError, Observation
from archive.crawl.messages import RunEnd
from archive.crawl.resume import ResumeState, load_resume_state, set_resume_state
from archive.errors import ArchiveError
from archive.index.capture_row import CaptureRow, record_columns
from archive.index.db import open_index, writing
from archive.index.runs import finish_run, run_chain
from archive.locks import Busy, Lock, crawl_lock
from archive.records.items import RECORD_ITEMS
from archive.sources.model import Source

# The pipelines whose run is open, by crawler: what a stop at once ends (close_at_once).
_open: weakref.WeakKeyDictionary[Crawler, IndexPipeline] = weakref.WeakKeyDictionary()


def close_at_once(crawler: Crawler) -> None:
    """After a second signal stopped the reactor before spider_closed: end the run as interrupted.

    The writer gets STOP_GRACE seconds to write what it holds and close the run;
    then it is killed and the run is marked here (the next crawl reconciles its files).
    """
    pipe = _open.get(crawler)
    if pipe is not None and crawler.spider is not None:
        pipe.spider_closed(crawler.spider, "shutdown")


class IndexPipeline:
    """Sends captures and fetch errors of one spider run to the writer, which indexes them."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.config = Config.from_settings(crawler.settings)
        self.counts = {
            "pages": 0,
            "captures": 0,
            "revisits": 0,
            "requisites": 0,
            "observations": 0,
            "errors": 0,
            "bytes": 0,
        }
        self.error_kinds: Counter[str] = Counter()
        self.run_id: int | None = None
        self.lock: Lock | None = None
        self.resumed: ResumeState | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> IndexPipeline:
        pipe = cls(crawler)
        crawler.signals.connect(pipe.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(pipe.exchange_without_callback, signal=exchange_without_callback)
        return pipe

    def open_spider(self) -> None:
        spider = self.crawler.spider
        source: Source | None = getattr(spider, "source", None)
        name = source.name if source else spider.name
        cluster = getattr(spider, "cluster", None)
        if cluster is not None:
            # A Redis worker's share of a run the seeding command opened and the ingest closes.
            self.writer = writer_for(self.crawler, name)
            self.run_id = cluster.run_id
            self.crawler.stats.set_value("spyglass/run_id", self.run_id)
            _open[self.crawler] = self
            return
        # One crawl of a source by a spider at a time, however it was started
        # (run-due, crawl, Scrapyd); the kernel drops the lock if we die.
        try:
            self.lock = crawl_lock(self.config.data_dir, name, spider.name).acquire()
        except Busy as exc:
            raise ArchiveError(f"{name}: not crawled: {exc}") from None
        self.writer = writer_for(self.crawler, name)
        self.run_id, resumed_from = self.writer.start_run(name, spider.name, source, pid=os.getpid())
        self.crawler.stats.set_value("spyglass/run_id", self.run_id)
        _open[self.crawler] = self
        if resumed_from is not None:
            self._resume(resumed_from)

    def _resume(self, resumed_from: int) -> None:
        """Load what the interrupted runs did, so it is replayed from the archive, not fetched."""
        index = open_index(Archive.from_config(self.config))
        try:
            self.resumed = load_resume_state(index.conn, run_chain(index, resumed_from))
        finally:
            index.close()
        set_resume_state(self.crawler, self.resumed)
        self.crawler.stats.set_value("spyglass/resumed_from", resumed_from)

    def process_item(self, item: Any) -> Any:
        if isinstance(item, Capture):
            row = CaptureRow.from_item(item, self.run_id).columns()
            # The body is not sent again: the writer archived it a moment ago.
            validators = self._validators(item)
            links = item.links.row(validators["warc_record_id"]) if validators and item.links else None
            self.writer.add_capture(row, item.content_type, validators=validators, links=links)
            self.counts["bytes"] += item.warc.payload_length
            if item.requisite:
                # Counted apart, so a run's pages are the pages a reader would open.
                self.counts["requisites"] += 1
                self.crawler.stats.inc_value("spyglass/requisites")
                return item
            self.counts["pages"] += 1
            if item.warc.warc_type == "revisit":
                self.counts["revisits"] += 1
            else:
                self.counts["captures"] += 1
            self.crawler.stats.inc_value("spyglass/pages")
        elif isinstance(item, Observation):
            links = item.links.row(item.confirms_record_id) if item.links else None
            self.writer.add_observation(self._observation_row(item), links)
            self.counts["observations"] += 1
            self.crawler.stats.inc_value("spyglass/observations")
        elif isinstance(item, FetchError):
            if self.resumed is not None and (item.url, item.error_type) in self.resumed.errors:
                return item  # recorded by the run this one resumes
            self.writer.add_fetch_error(self._error_row(item))
            self.counts["errors"] += 1
            self.error_kinds[item.error_type] += 1
            self.crawler.stats.inc_value("spyglass/errors")
        elif isinstance(item, RECORD_ITEMS):
            self.writer.add_record(item)
        else:
            raise DropItem(f"not a Spyglass item: {type(item).__name__}")
        return item

    def exchange_without_callback(self, request: Any, response: Any) -> None:
        """Index what the WARC middleware archived outside any callback (robots.txt)."""
        spider = self.crawler.spider
        make = getattr(spider, "capture", None)
        if make is not None and "spyglass_warc" in request.meta:
            response.request = request
            self.process_item(make(response))

    def _validators(self, item: Capture) -> dict[str, Any] | None:
        """The page_validators row a live 200 capture leaves for the next crawl."""
        if item.via != "live" or item.status != 200:
            return None
        loc = item.warc
        return {
            "source": item.source,
            "url": item.url,
            "etag": item.etag,
            "last_modified": item.last_modified,
            "sha256": loc.sha256,
            "warc_record_id": loc.refers_to if loc.warc_type == "revisit" else loc.record_id,
            "captured_at": item.captured_at,
        }

    def _end_run_here(self, reason: str, counts: dict[str, Any]) -> None:
        """The writer died or was killed before it ended the run: end it from the crawler.

        Its WARC files are named by the next crawl of the source, which reconciles
        what the writer wrote but did not index (the run stays continuable).
        """
        index = open_index(Archive.from_config(self.config))
        try:
            with writing(index):
                row = index.table("crawl_runs").get(self.run_id)
                if row["status"] == "running":
                    # Interrupted, whatever the crawler saw: rows may be missing until reconciled.
                    finish_run(
                        index, self.run_id, status="interrupted", reason=reason, counts=counts, warc_files=[]
                    )
        finally:
            index.close()

    def _observation_row(self, item: Observation) -> dict[str, Any]:
        return {
            "url": item.url,
            "source": item.source,
            "crawl_run": self.run_id,
            "observed_at": item.observed_at,
            "kind": item.kind,
            "status": item.status,
            "sha256": item.sha256,
            "confirms_record_id": item.confirms_record_id,
            **record_columns(item.warc),
        }

    def _error_row(self, item: FetchError) -> dict[str, Any]:
        return {
            "crawl_run": self.run_id,
            "source": item.source,
            "url": item.url,
            "occurred_at": item.occurred_at,
            "error_type": item.error_type,
            "reason": item.reason,
            "referrer": item.referrer,
            "depth": item.depth,
            "warc_record_id": item.warc_record_id,
        }

    def spider_closed(self, spider: Any, reason: str) -> None:
        if _open.pop(self.crawler, None) is None or self.run_id is None:
            return  # never opened, or already closed (a stop at once, then Scrapy's own close)
        # What the spider can tell only at its end (a trap's URLs no page vouched for).
        for item in getattr(spider, "closing_items", list)():
            self.process_item(item)
        if getattr(spider, "cluster", None) is not None:
            close_writer(self.crawler)  # its rows go to the ingest, which closes the run
            return
        stats = self.crawler.stats
        if reason in ("finished",) or reason.startswith("closespider_"):
            status = "finished"
        elif reason == "shutdown":
            status = "interrupted"
        else:
            status = "failed"
        if (
            status == "finished"
            and self.counts["errors"]
            and not stats.get_value("downloader/response_count", 0)
        ):
            # Not one answer from any server: the source failed, whatever Scrapy says.
            status, reason = "failed", f"no page could be fetched ({self.counts['errors']} errors)"
        found: dict[str, int] | None = None
        outcome = getattr(spider, "walk_outcome", None)
        if outcome is not None and getattr(spider, "findings", None) is not None:
            # A JSON records walk: what each step found, and whether a step found nothing.
            found, empty = outcome()
            if status == "finished" and empty:
                status, reason = "partial", empty
        counts = {
            **self.counts,
            "found": json.dumps(found) if found is not None else None,
            "skipped": stats.get_value("spyglass/skipped", 0),
            "requests": stats.get_value("downloader/request_count", 0),
            "error_kinds": json.dumps(dict(sorted(self.error_kinds.items()))),
        }
        try:
            files, clean = close_writer(self.crawler, RunEnd(self.run_id, status, reason, counts))
            stats.set_value("spyglass/warc_files", files)
            if not clean:
                self._end_run_here(reason, counts)
        finally:
            if self.lock is not None:
                self.lock.release()
