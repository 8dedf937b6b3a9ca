"""What every Spyglass spider shares: its source, its items, its error reports."""

from __future__ import annotations

import os
import re
from typing import Any

import scrapy
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import Response
from twisted.python.failure import Failure

from archive.config import Config
from archive.crawl.conditional import STORED_LINKS
from archive.crawl.guard import AddressRefused
from archive.crawl.items import Capture, FetchError, Observation
from archive.crawl.resume import AlreadyRecorded
from archive.errors import ConfigError
from archive.index.kinds import ErrorType
from archive.sources.load import load_sources
from archive.sources.model import Source, select
from archive.times import iso, utc_now


class SourceSpider(scrapy.Spider):
    """A spider that crawls one source of sources.yml: a Source, or its name (`-a source=NAME`)."""

    kind = ""
    via = "live"  # how this spider's captures were obtained (captures.via)
    source: Source
    config: Config

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> SourceSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.config = Config.from_settings(crawler.settings)
        source = kwargs.get("source")
        if not source:
            raise NotConfigured(f"the {cls.name} spider needs -a source=NAME")
        if not isinstance(source, Source):
            # `scrapy crawl SPIDER -a source=NAME` from a shell: its environment fills ${VAR}s.
            [source] = select(load_sources(spider.config.sources_file, os.environ), [source])
        if not cls.accepts(source):
            raise ConfigError(f"{spider.config.sources_file}: source {source.name!r}: {cls.refusal(source)}")
        spider.source = source
        spider.source_name = source.name
        return spider

    @classmethod
    def accepts(cls, source: Source) -> bool:
        """Whether this spider crawls `source` (by default: sources of its kind)."""
        return source.kind == cls.kind

    @classmethod
    def refusal(cls, source: Source) -> str:
        """Why `accepts` said no, naming the field."""
        return f"field 'kind': is {source.kind!r}, the {cls.name} spider crawls {cls.kind!r} sources"

    @property
    def tags(self) -> dict[str, str | None]:
        return {"vendor": self.source.vendor, "product": self.source.product, "agency": self.source.agency}

    def capture(
        self, response: Response, via: str | None = None, **extra: Any
    ) -> Capture | Observation | None:
        """The item for a response the WARC middleware has recorded (via: the spider's).

        A Capture; an Observation when it answered a conditional request with
        304 (the response is then the archived page it confirmed); None when it
        was replayed from the archive for a resumed run, which indexed it already.
        """
        meta = response.meta
        if meta.get("spyglass_replayed"):
            return None
        not_modified = meta.get("spyglass_not_modified")
        if not_modified is not None:
            confirmed = meta["spyglass_validated"]
            return Observation(
                url=response.request.url if response.request else response.url,
                source=self.source.name,
                status=304,
                observed_at=not_modified.date,
                sha256=confirmed["sha256"],
                confirms_record_id=confirmed["warc_record_id"],
                warc=not_modified,
                # Found in the archived copy (none kept at its capture): kept for the next 304.
                links=None if meta.get(STORED_LINKS) else extra.get("links"),
            )
        location = response.headers.get("Location")
        return Capture(
            url=response.request.url if response.request else response.url,
            source=self.source.name,
            via=via or self.via,
            status=response.status,
            captured_at=meta["spyglass_warc"].date,
            content_type=_text(response.headers.get("Content-Type")),
            body=response.body,
            warc=meta["spyglass_warc"],
            fetch_ms=meta.get("spyglass_fetch_ms"),
            depth=meta.get("spyglass_depth", 0),
            referrer=meta.get("spyglass_referrer"),
            location=_text(location),
            tags=self.tags,
            etag=_text(response.headers.get("ETag")),
            last_modified=_text(response.headers.get("Last-Modified")),
            **extra,
        )

    def fetch_error(self, failure: Failure) -> FetchError:
        """A FetchError item naming what went wrong, in one readable line."""
        request = getattr(failure, "request", None)
        meta = request.meta if request is not None else {}
        exc = failure.value
        error_type, reason = describe_failure(exc, self.settings.getint("DOWNLOAD_MAXSIZE"))
        # Set when the response was archived before a later step refused it (a gzip bomb).
        location = meta.get("spyglass_warc")
        return FetchError(
            url=request.url if request is not None else "",
            source=self.source.name,
            error_type=error_type,
            reason=reason,
            occurred_at=iso(utc_now()),
            referrer=meta.get("spyglass_referrer"),
            depth=meta.get("spyglass_depth", 0),
            warc_record_id=location.record_id if location else None,
        )

    def error_item(
        self,
        url: str,
        error_type: str,
        reason: str,
        referrer: str | None = None,
        depth: int = 0,
        response: Response | None = None,
    ) -> FetchError:
        """A FetchError for something the spider decided not to fetch or keep, and why.

        With the refused `response`, the row names its WARC record.
        """
        location = response.meta.get("spyglass_warc") if response is not None else None
        return FetchError(
            url=url,
            source=self.source.name,
            error_type=error_type,
            reason=reason,
            occurred_at=iso(utc_now()),
            referrer=referrer,
            depth=depth,
            warc_record_id=location.record_id if location else None,
        )

    def errback(self, failure: Failure):
        if not failure.check(AlreadyRecorded):
            yield self.fetch_error(failure)


# Scrapy's own exceptions around Twisted's (scrapy/utils/_download_handlers.py).
SCRAPY_WRAPPERS = {
    "DownloadFailedError",
    "DownloadConnectionRefusedError",
    "DownloadTimeoutError",
    "CannotResolveHostError",
}


def describe_failure(exc: BaseException, maxsize: int | None = None) -> tuple[str, str]:
    """(error_type, reason) for a download failure, worded for an archivist in one line."""
    if type(exc).__name__ in SCRAPY_WRAPPERS and exc.__cause__ is not None:
        # Scrapy wraps Twisted's errors; the wrapped one says what happened on the wire.
        return describe_failure(exc.__cause__, maxsize)
    name = type(exc).__name__
    text = _one_line(exc)
    if name == "DownloadCancelledError" and not str(exc).strip():
        # Scrapy's HTTP/1.1 handler cancels bare only when a streamed body
        # passes DOWNLOAD_MAXSIZE (timeouts and announced sizes say so themselves).
        limit = f" of {maxsize} bytes" if maxsize else ""
        return ErrorType.TOO_LARGE, (
            f"body grew past the download size limit{limit} (DOWNLOAD_MAXSIZE) "
            "while streaming; download cancelled"
        )
    if "dataloss" in name.lower():
        return ErrorType.CONNECTION, (
            "connection closed before the whole body arrived (fewer bytes than Content-Length)"
        )
    if isinstance(exc, AddressRefused):
        return ErrorType.ADDRESS, text
    if isinstance(exc, IgnoreRequest):
        if "robots.txt" in text:
            return ErrorType.ROBOTS, "disallowed by robots.txt"
        if "during decompression" in text:
            found = re.search(
                r"\((\d+) B compressed, (\d+) B decompressed so far\) exceeded "
                r"DOWNLOAD_MAXSIZE \((\d+) B\)",
                text,
            )
            if found:
                packed, unpacked, limit = found.groups()
                return ErrorType.TOO_LARGE, (
                    f"compressed body of {packed} bytes expands past the download size limit "
                    f"of {limit} bytes (DOWNLOAD_MAXSIZE; stopped at {unpacked}): a gzip bomb?"
                )
            return ErrorType.TOO_LARGE, text
        return ErrorType.IGNORED, text
    lowered = name.lower()
    if "max size" in text or "maxsize" in lowered:
        found = re.search(r"(Expected to receive|Received) (\d+) bytes .*max size \((\d+)\)", text)
        if found:
            how, size, limit = found.groups()
            said = "announced" if how.startswith("Expected") else "sent at least"
            return ErrorType.TOO_LARGE, (
                f"server {said} {size} bytes, over the download size limit "
                f"of {limit} bytes (DOWNLOAD_MAXSIZE)"
            )
        return ErrorType.TOO_LARGE, text
    if "timeout" in lowered or "timedout" in lowered:
        found = re.search(r"took longer than ([\d.]+) seconds", text)
        if found:
            return ErrorType.TIMEOUT, (
                f"no complete answer within {float(found.group(1)):g} s (DOWNLOAD_TIMEOUT)"
            )
        return ErrorType.TIMEOUT, f"no complete answer in time ({text})"
    if "dnslookup" in lowered or "cannotresolvehost" in lowered:
        return ErrorType.DNS, f"host name did not resolve ({text})"
    if "connectionrefused" in lowered:
        return ErrorType.CONNECTION, "connection refused: nothing listening at that address and port"
    if name in ("ResponseFailed", "ResponseNeverReceived", "_DataLoss") or (
        "connectionlost" in lowered or "connectiondone" in lowered
    ):
        causes = _causes(exc)
        if any("DataLoss" in c or "Content-Length" in c for c in causes):
            return ErrorType.CONNECTION, (
                "connection closed before the whole body arrived (fewer bytes than Content-Length)"
            )
        if name == "ResponseNeverReceived":
            return ErrorType.CONNECTION, "connection closed before any answer arrived"
        return ErrorType.CONNECTION, (
            "connection closed before the answer was complete" + (f" ({'; '.join(causes)})" if causes else "")
        )
    return name, text


def _causes(exc: BaseException) -> list[str]:
    """The underlying errors Twisted wraps in ResponseFailed, as short text."""
    out = []
    for reason in getattr(exc, "reasons", None) or []:
        value = getattr(reason, "value", reason)
        out.append(f"{type(value).__name__}: {_one_line(value)}"[:200])
    return out


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    # Scrapy appends the request's repr; the URL is already in its own column.
    text = re.sub(r" in request <[A-Z]+ [^>]*>\.?", ".", text)
    return text[:500]


def _text(value: bytes | None) -> str | None:
    return value.decode("latin-1") if value is not None else None
