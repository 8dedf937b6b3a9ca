"""What every Spyglass spider shares: its source, its items, its error reports."""

from __future__ import annotations

from typing import Any

import scrapy
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import Response
from twisted.python.failure import Failure

from archive.capture import header_pairs
from archive.errors import ConfigError
from archive.items import Capture, FetchError
from archive.sources import Source, load_sources, select
from archive.warc import iso, utc_now


class SourceSpider(scrapy.Spider):
    """A spider that crawls one source of sources.yml, named by the `source` argument."""

    kind = ""
    source: Source

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> "SourceSpider":
        spider = super().from_crawler(crawler, *args, **kwargs)
        name = kwargs.get("source")
        if not name:
            raise NotConfigured(f"the {cls.name} spider needs -a source=NAME")
        path = crawler.settings.get("SPYGLASS_SOURCES_FILE", "sources.yml")
        [source] = select(load_sources(path), [name])
        if not cls.accepts(source):
            raise ConfigError(f"{path}: source {name!r}: {cls.refusal(source)}")
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
        return {"vendor": self.source.vendor, "product": self.source.product,
                "agency": self.source.agency}

    def capture(self, response: Response, via: str = "live", **extra: Any) -> Capture:
        """The Capture item for a response the WARC middleware has recorded."""
        meta = response.meta
        location = response.headers.get("Location")
        return Capture(
            url=response.request.url if response.request else response.url,
            source=self.source.name,
            via=via,
            status=response.status,
            captured_at=meta["spyglass_warc"].date,
            content_type=_text(response.headers.get("Content-Type")),
            request_method=response.request.method if response.request else "GET",
            request_headers=header_pairs(response.request.headers) if response.request else [],
            response_headers=meta.get("spyglass_response_headers", []),
            body=response.body,
            warc=meta["spyglass_warc"],
            fetch_ms=meta.get("spyglass_fetch_ms"),
            depth=meta.get("spyglass_depth", 0),
            referrer=meta.get("spyglass_referrer"),
            location=_text(location),
            tags=self.tags,
            **extra,
        )

    def fetch_error(self, failure: Failure) -> FetchError:
        """A FetchError item naming what went wrong, in one readable line."""
        request = getattr(failure, "request", None)
        meta = request.meta if request is not None else {}
        exc = failure.value
        error_type, reason = describe_failure(exc)
        return FetchError(
            url=request.url if request is not None else "",
            source=self.source.name,
            error_type=error_type,
            reason=reason,
            occurred_at=iso(utc_now()),
            referrer=meta.get("spyglass_referrer"),
            depth=meta.get("spyglass_depth", 0),
        )

    def errback(self, failure: Failure):
        yield self.fetch_error(failure)


def describe_failure(exc: BaseException) -> tuple[str, str]:
    """(error_type, reason) for a download failure, worded for an archivist."""
    name = type(exc).__name__
    text = str(exc).strip() or name
    if isinstance(exc, IgnoreRequest):
        if "robots.txt" in text:
            return "robots", "disallowed by robots.txt"
        return "ignored", text
    lowered = name.lower()
    if "timeout" in lowered or "timedout" in lowered:
        return "timeout", f"no complete answer in time ({text})"
    if "dnslookup" in lowered:
        return "dns", f"host name did not resolve ({text})"
    if "connectionrefused" in lowered:
        return "connection", f"connection refused ({text})"
    if "responsenever" in lowered or "connectionlost" in lowered or "connectiondone" in lowered:
        return "connection", f"connection closed before the answer was complete ({text})"
    if "maxsize" in lowered or "exceeded" in text.lower() and "size" in text.lower():
        return "too-large", text
    return name, text


def _text(value: bytes | None) -> str | None:
    return value.decode("latin-1") if value is not None else None
