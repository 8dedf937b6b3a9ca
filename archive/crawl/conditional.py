"""Conditional requests: ask the server whether a page changed since its last capture.

A GET for a page captured before carries If-None-Match / If-Modified-Since
from that capture's ETag / Last-Modified (kept in `page_validators`). A 304
answer is archived as what it was, a 304 exchange, and becomes an
observation. Links are still followed from a page that did not change: from
the links kept at its capture (`page_links`, in meta[STORED_LINKS]), or, for
a page captured before they were kept, from the page read back from the
archive. Reading and parsing it again was most of a 304's cost (issue #31). A
requisite is read back only when it is a stylesheet, whose own requisites the
spider follows.

Order 900: below WarcCaptureMiddleware (950), so the WARC request record
shows the conditional headers and the 304 is written before it is replaced,
and above HttpCompressionMiddleware (590), which decodes the archived body.
"""

from __future__ import annotations

import logging
from typing import Any

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Response
from scrapy.http.request import NO_CALLBACK

from archive.archive import Archive
from archive.config import Config
from archive.crawl.replay import replayed_response
from archive.index.capture_row import PAYLOAD_COLUMNS, location_of
from archive.index.db import open_index
from archive.index.links import links_of
from archive.index.observations import validators_of

logger = logging.getLogger(__name__)

# meta key: the PageLinks a 304 answer's page was captured with (the response is the bare 304).
STORED_LINKS = "spyglass_stored_links"


class ConditionalRequestMiddleware:
    """Adds validators to requests for archived pages and turns a 304 into the archived page."""

    def __init__(self, crawler: Crawler, config: Config) -> None:
        self.crawler = crawler
        self.archive = Archive.from_config(config)
        self.validators: dict[str, dict[str, Any]] = {}
        self.index: Any = None  # read for page_links, from the first 304 on
        self.requisites = False  # whether the spider follows a page's requisites
        self.stored_links = False  # whether the spider follows links from STORED_LINKS

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ConditionalRequestMiddleware:
        config = Config.from_settings(crawler.settings)
        if not config.conditional_requests:
            raise NotConfigured
        mw = cls(crawler, config)
        crawler.signals.connect(mw.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(mw.spider_closed, signal=signals.spider_closed)
        return mw

    def spider_opened(self, spider: Any) -> None:
        source = getattr(spider, "source", None)
        # Live pages only: a Wayback snapshot never changes.
        if source is None or getattr(spider, "via", "") != "live" or not self.archive.exists():
            return
        self.requisites = bool(getattr(source, "requisites", False))
        self.stored_links = bool(getattr(spider, "follows_stored_links", False))
        self.index = open_index(self.archive)
        self.validators = validators_of(self.index, source.name, (*PAYLOAD_COLUMNS, "content_type"))

    def spider_closed(self, spider: Any) -> None:
        if self.index is not None:
            self.index.close()
            self.index = None

    def process_request(self, request: Request) -> None:
        # robots.txt (no callback) is fetched whole: its exchange is indexed outside any callback.
        if request.method != "GET" or request.callback is NO_CALLBACK:
            return None
        known = self.validators.get(request.url)
        if known is None or request.meta.get("spyglass_replayed"):
            return None
        if known["etag"] and b"If-None-Match" not in request.headers:
            request.headers[b"If-None-Match"] = known["etag"]
        if known["last_modified"] and b"If-Modified-Since" not in request.headers:
            request.headers[b"If-Modified-Since"] = known["last_modified"]
        request.meta["spyglass_validated"] = known
        return None

    def process_response(self, request: Request, response: Response) -> Response:
        known = request.meta.get("spyglass_validated")
        if response.status != 304 or known is None or request.meta.get("spyglass_replayed"):
            return response
        self.crawler.stats.inc_value("spyglass/not_modified")
        request.meta["spyglass_not_modified"] = request.meta.get("spyglass_warc")
        # From here on the page is the archived payload the 304 confirmed.
        request.meta["spyglass_warc"] = location_of(known)
        if not self._needs_payload(request, known):
            self.crawler.stats.inc_value("spyglass/not_modified_unread")
            # Nothing to decode: the spider reads no body, only what the 304 confirmed.
            bare = response.replace(body=b"")
            bare.headers.pop(b"Content-Encoding", None)
            return bare
        try:
            replay = replayed_response(self.archive, request, known)
        except (OSError, EOFError, ValueError) as exc:
            # The observation stands; only the links of this page go unfollowed.
            logger.warning("304 for %s: cannot read its archived copy (%s)", request.url, exc)
            return response
        return replay

    def _needs_payload(self, request: Request, known: dict[str, Any]) -> bool:
        """Whether the spider needs the confirmed page's payload: a stylesheet's own requisites,
        a page's links not kept at its capture (or its requisites, when they were not looked for)."""
        if request.meta.get("spyglass_requisite"):
            return "css" in (known.get("content_type") or "").lower()
        if not self.stored_links or self.index is None:
            return True
        kept = links_of(self.index.conn, known["warc_record_id"])
        if kept is None or (self.requisites and kept.requisites is None):
            return True
        request.meta[STORED_LINKS] = kept
        return False
