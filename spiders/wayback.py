"""The wayback spider: each distinct archived version of a source's URLs, fetched once.

CDX first (revisits filtered, digests collapsed, resume keys followed to the
end), then each new version through `/web/<ts>id_/<url>`, accepted only when
its Memento-Datetime is the timestamp the CDX named. Nothing is followed
blindly: an archived redirect is kept as the 3xx memento it is.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import scrapy
from scrapy import signals
from scrapy.exceptions import DontCloseSpider
from scrapy.http import Response
from twisted.python.failure import Failure

from archive.archive import Archive
from archive.crawl.items import FetchError
from archive.crawl.ratelimit import WaybackGaveUp
from archive.errors import (
    BlockedError,
    ExcludedError,
    MementoMismatchError,
    NotArchivedError,
    WaybackError,
)
from archive.index.captures import archived_wayback_versions, inexact_wayback_fetches
from archive.index.db import open_index
from archive.index.kinds import ErrorType
from archive.sources.model import Source
from archive.times import iso
from archive.warc.digests import sha1_base32
from archive.wayback.client import (
    CdxRecord,
    Endpoints,
    cdx_query,
    check_memento,
    citation_url,
    parse_cdx,
    parse_snapshot_url,
    surt,
    window_bound,
)
from archive.wayback.policy import RatePolicy

from .base import SourceSpider

# Other captures of the same bytes tried when one cannot be archived; each
# costs a request, and a version that fails this often is failing for a reason.
FALLBACKS_PER_VERSION = 3

ERROR_TYPES = {
    BlockedError: ErrorType.WAYBACK_BLOCKED,
    ExcludedError: ErrorType.WAYBACK_EXCLUDED,
    NotArchivedError: ErrorType.WAYBACK_NOT_ARCHIVED,
    MementoMismatchError: ErrorType.WAYBACK_INEXACT,
}


class WaybackSpider(SourceSpider):
    """Harvests the Wayback history of a source with `wayback:` set, whatever its kind."""

    name = "wayback"
    via = "wayback"
    custom_settings = {
        # Our own budget keeps us polite (archive/crawl/ratelimit.py); AutoThrottle
        # would only slow the spacing the policy already sets.
        "AUTOTHROTTLE_ENABLED": False,
        "CONCURRENT_REQUESTS_PER_DOMAIN": 4,
        # web.archive.org's API paths are not pages to crawl: robots.txt does not apply.
        "ROBOTSTXT_OBEY": False,
        # Retries are the rate limiter's (slow, after a pause), never Scrapy's hot ones.
        "RETRY_ENABLED": False,
        "DOWNLOADER_MIDDLEWARES": {
            # The address guard stays: the Wayback endpoints pass it as configuration.
            "archive.crawl.guard.AddressGuardMiddleware": 50,
            "archive.crawl.retry.PoliteRetryMiddleware": None,
            "archive.crawl.capture.WarcCaptureMiddleware": 950,
            "archive.crawl.ratelimit.WaybackRateLimitMiddleware": 960,
        },
    }

    @classmethod
    def accepts(cls, source: Source) -> bool:
        return source.wayback is not None

    @classmethod
    def refusal(cls, source: Source) -> str:
        return "field 'wayback': not set; the wayback spider harvests sources with wayback: true"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # (urlkey, digest) of versions stored, or that cannot be had (the URL is
        # blocked, excluded or never archived): each version once.
        self.seen: set[tuple[str, str]] = set()
        self.attempts: dict[tuple[str, str], int] = {}
        # (urlkey, digest) being fetched -> other CDX rows with the same bytes, tried
        # in turn if this capture cannot be played back.
        self.fallbacks: dict[tuple[str, str], list[CdxRecord]] = {}
        # (urlkey, timestamp) asked for: the index can list one snapshot under two digests.
        self.asked: set[tuple[str, str]] = set()
        # (timestamp, original) an earlier run could not archive as asked, and the
        # versions whose only rows so far are such: they are tried last, when idle.
        self.failed_before: set[tuple[str, str]] = set()
        self.deferred: dict[tuple[str, str], list[CdxRecord]] = {}

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> WaybackSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider._on_idle, signal=signals.spider_idle)
        return spider  # type: ignore[return-value]

    async def start(self) -> AsyncIterator[scrapy.Request]:
        self.endpoints = Endpoints.from_config(self.config)
        self.policy = RatePolicy.from_config(self.config)
        index = open_index(Archive.from_config(self.config))
        try:
            archived = archived_wayback_versions(index, self.source.name)
            inexact = inexact_wayback_fetches(index, self.source.name)
            named = (parse_snapshot_url(url, self.endpoints.base) for url in inexact)
            self.failed_before = {(n.timestamp, n.original) for n in named if n and n.flag == "id_"}
        finally:
            index.close()
        self.seen = {(surt(url), digest) for url, digest in archived}
        for url in self.source.urls:
            yield self._cdx_request(url, None, page=1)

    def _cdx_request(self, url: str, resume_key: str | None, page: int) -> scrapy.Request:
        window = self.source.wayback
        assert window is not None
        query = cdx_query(
            url,
            match=window.match,
            start=window_bound(window.start, upper=False),
            end=window_bound(window.end, upper=True),
            limit=self.policy.cdx_page_size,
            resume_key=resume_key,
        )
        return scrapy.Request(
            f"{self.endpoints.cdx}?{query}",
            callback=self.parse_cdx,
            errback=self.errback,
            dont_filter=True,
            # The CDX answer is a query result, not a page: it is not archived.
            meta={
                "wayback_bucket": "cdx",
                "spyglass_no_warc": True,
                "wayback_url": url,
                "wayback_page": page,
            },
        )

    def parse_cdx(self, response: Response) -> Iterator[Any]:
        url = response.meta["wayback_url"]
        if response.status != 200:
            runtime = response.headers.get("X-Archive-Wayback-Runtime-Error")
            kind = ErrorType.WAYBACK_BLOCKED if response.status == 403 or runtime else ErrorType.WAYBACK_CDX
            detail = f" ({runtime.decode('latin-1')})" if runtime else ""
            yield self._error(url, kind, f"CDX answered HTTP {response.status}{detail}")
            return
        text = response.body.decode("utf-8", "replace")
        if not text.strip():
            if response.meta["wayback_page"] == 1:
                yield self._error(
                    url,
                    ErrorType.WAYBACK_NONE,
                    "the CDX answer is empty: no captures of this URL in the window",
                )
            return
        page = parse_cdx(text)
        for problem in page.problems:
            yield self._error(url, ErrorType.CDX_MALFORMED, problem)
        for record in page.records:
            request = self._snapshot_request(record)
            if request is not None:
                yield request
        if page.resume_key:
            yield self._cdx_request(url, page.resume_key, response.meta["wayback_page"] + 1)

    def _snapshot_request(self, record: CdxRecord) -> scrapy.Request | None:
        if record.is_revisit:
            return None  # a revisit's bytes are another capture's
        key = _version(record)
        if key in self.seen or (key[0], record.timestamp) in self.asked:
            return None  # already archived, or this very snapshot already asked for
        if self.attempts.get(key, 0) > FALLBACKS_PER_VERSION:
            return None
        if key in self.fallbacks:
            if len(self.fallbacks[key]) < FALLBACKS_PER_VERSION:
                self.fallbacks[key].append(record)  # the same bytes at another time
            return None
        if (record.timestamp, record.original) in self.failed_before:
            self.deferred.setdefault(key, []).append(record)  # a later row may play; else at idle
            return None
        self.fallbacks[key] = []
        return self._fetch(record)

    def _fetch(self, record: CdxRecord) -> scrapy.Request:
        self.asked.add((surt(record.original), record.timestamp))
        self.attempts[_version(record)] = self.attempts.get(_version(record), 0) + 1
        return scrapy.Request(
            self.endpoints.snapshot(record.timestamp, record.original),
            callback=self.parse_snapshot,
            errback=self.errback,
            dont_filter=True,
            meta={
                "wayback_bucket": "snapshot",
                "wayback_record": tuple(record),
                "spyglass_warc_headers": {
                    "WARC-Spyglass-Original-URI": record.original,
                    "WARC-Spyglass-Wayback-Timestamp": record.timestamp,
                    "WARC-Spyglass-Wayback-Digest": f"sha1:{record.digest}",
                },
            },
        )

    def parse_snapshot(self, response: Response) -> Iterator[Any]:
        record = CdxRecord(*response.meta["wayback_record"])
        headers = {
            key.decode("latin-1").lower(): (response.headers.get(key) or b"").decode("latin-1")
            for key in response.headers
        }
        try:
            moment = check_memento(response.status, headers, response.body, record.timestamp)
        except WaybackError as exc:
            yield self._error(
                response.url,
                ERROR_TYPES.get(type(exc), ErrorType.WAYBACK),
                str(exc),
                record.original,
                response=response,
            )
            if isinstance(exc, MementoMismatchError):
                yield from self._next_candidate(record)
            else:  # blocked, excluded, never archived: true of the URL at every time
                self.fallbacks.pop(_version(record), None)
                self.seen.add(_version(record))
            return
        self.seen.add(_version(record))
        self.fallbacks.pop(_version(record), None)
        yield self.capture(
            response,
            via="wayback",
            memento_at=iso(moment),
            wayback_timestamp=record.timestamp,
            original_url=record.original,
            snapshot_url=citation_url(record.timestamp, record.original),
            wayback_digest=record.digest,
            wayback_digest_match=int(sha1_base32(response.body) == record.digest),
        )

    def _next_candidate(self, failed: CdxRecord) -> Iterator[scrapy.Request]:
        """After a capture that could not be archived, try the next row with the same digest."""
        waiting = self.fallbacks.get(_version(failed)) or self.deferred.pop(_version(failed), None)
        if waiting and self.attempts[_version(failed)] <= FALLBACKS_PER_VERSION:
            self.fallbacks[_version(failed)] = waiting
            yield self._fetch(waiting.pop(0))
        else:
            self.fallbacks.pop(_version(failed), None)

    def _on_idle(self) -> None:
        """Nothing left to fetch: try the versions whose only rows failed in an earlier run."""
        ready = [
            key
            for key in self.deferred
            if key not in self.seen
            and key not in self.fallbacks
            and self.attempts.get(key, 0) <= FALLBACKS_PER_VERSION
        ]
        if not ready:
            return
        for key in ready:
            waiting = self.deferred.pop(key)
            self.fallbacks[key] = waiting[1:]
            self.crawler.engine.crawl(self._fetch(waiting[0]))
        raise DontCloseSpider

    def errback(self, failure: Failure):
        request = failure.request
        if isinstance(failure.value, WaybackGaveUp):
            yield self._error(
                request.url, failure.value.error_type, f"the Wayback Machine {failure.value.reason}"
            )
        else:
            yield from super().errback(failure)
        if "wayback_record" in request.meta:
            yield from self._next_candidate(CdxRecord(*request.meta["wayback_record"]))

    def _error(
        self,
        url: str,
        error_type: str,
        reason: str,
        original: str | None = None,
        response: Response | None = None,
    ) -> FetchError:
        return self.error_item(
            url, error_type, reason + (f" [original: {original}]" if original else ""), response=response
        )


def _version(record: CdxRecord) -> tuple[str, str]:
    """A distinct archived version: the URL's key and the digest of its bytes."""
    return surt(record.original), record.digest
