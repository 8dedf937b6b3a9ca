"""WarcCaptureMiddleware: every HTTP exchange into the WARC store, as it came off the wire.

It sits at 950, above HttpCompressionMiddleware (590) and RedirectMiddleware
(600), so it sees each hop's raw headers and still-encoded body, and it sees
the request after every other middleware has shaped it. The records are
written by the archive writer process (archive/writer.py); the response goes
on to the spider once its record is on disk, carrying the record's location.
"""

from __future__ import annotations

from typing import Any

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.http import Response
from scrapy.http.request import NO_CALLBACK
from scrapy.utils.defer import maybe_deferred_to_future

from archive.config import Config
from archive.crawl.client import writer_for
from archive.crawl.sent import RECEIVED_AT, SENT_AT, fetch_ms
from archive.times import utc_now
from archive.warc.write import REQUISITE_HEADER, Exchange, archivable_headers

# Credentials a request carried: kept out of the WARC request record (see redact_credentials).
CREDENTIAL_HEADERS = {"authorization", "proxy-authorization", "cookie"}
REDACTED = "[redacted by Spyglass]"

# The page's links as the writer read them (archive/crawl/parsed.py), when the spider asked
# (its `links_wanted`) and the writer's parse could tell them; the spider parses the page otherwise.
WRITER_LINKS = "spyglass_writer_links"

# Sent for exchanges no spider callback will see (robots.txt fetched by
# RobotsTxtMiddleware), so the index pipeline can still make them captures.
exchange_without_callback = object()


def header_pairs(headers: Any) -> list[tuple[str, str]]:
    """Scrapy Headers as (name, value) text pairs, one per value, in order."""
    pairs: list[tuple[str, str]] = []
    for key, values in headers.items():
        name = key.decode("latin-1")
        for value in values:
            pairs.append((name, value.decode("latin-1")))
    return pairs


def redact_credentials(pairs: list[tuple[str, str]]) -> tuple[list[tuple[str, str]], list[str]]:
    """Request headers with credential values replaced, and the names replaced.

    An archive is shared and published; an API token in it would let anyone
    spend the archivist's account. The header's name and scheme are kept (the
    request was authenticated, and how), the secret is not; the record says so
    in WARC-Spyglass-Redacted. Responses are never altered.
    """
    out, redacted = [], []
    for name, value in pairs:
        if name.lower() in CREDENTIAL_HEADERS:
            scheme = value.split(" ", 1)[0] if " " in value and name.lower() != "cookie" else ""
            out.append((name, f"{scheme} {REDACTED}".strip()))
            redacted.append(name)
        else:
            out.append((name, value))
    return out, redacted


class WarcCaptureMiddleware:
    """Writes request + response (or revisit) records for every download of a spider."""

    def __init__(self, crawler: Crawler, dedupe: bool = True) -> None:
        self.crawler = crawler
        self.dedupe = dedupe

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> WarcCaptureMiddleware:
        return cls(crawler, Config.from_settings(crawler.settings).warc_dedupe)

    def process_request(self, request: Request) -> None:
        # A retry carries its first attempt's meta: this attempt has no record and no times yet
        # (the download handler takes them as it sends: archive/crawl/sent.py).
        for key in ("spyglass_warc", WRITER_LINKS, SENT_AT, RECEIVED_AT):
            request.meta.pop(key, None)
        return None

    async def process_response(self, request: Request, response: Response) -> Response:
        if request.meta.get("spyglass_no_warc"):
            return response
        # An answer no handler sent (made by a middleware) is dated when it is recorded.
        sent_at = request.meta.get(SENT_AT) or utc_now()
        request_headers, redacted = redact_credentials(header_pairs(request.headers))
        host = response.url.split("/")[2] if "://" in response.url else ""
        if host and not any(k.lower() == "host" for k, _ in request_headers):
            request_headers.insert(0, ("Host", host))
        response_headers, removed = archivable_headers(header_pairs(response.headers))
        extra = dict(request.meta.get("spyglass_warc_headers") or {})
        if redacted:
            extra["WARC-Spyglass-Redacted"] = ", ".join(redacted) + " (credential value removed)"
        extra.update(removed)
        if request.meta.get("spyglass_requisite"):
            # So a crash's reconcile (archive/ingest/reconcile.py) indexes it as a requisite again.
            extra[REQUISITE_HEADER] = request.meta["spyglass_requisite"]
        if response.ip_address is not None:
            extra["WARC-IP-Address"] = str(response.ip_address)
        reason = _reason(response.status)
        spider = self.crawler.spider
        writer = writer_for(self.crawler, getattr(spider, "source_name", None) or spider.name)
        wanted = getattr(spider, "links_wanted", None)
        links = wanted(request, response) if wanted is not None else None
        written = await maybe_deferred_to_future(
            writer.write_exchange(
                Exchange(
                    url=request.url,
                    method=request.method,
                    request_headers=request_headers,
                    request_body=request.body or b"",
                    protocol=(response.protocol or "HTTP/1.1"),
                    status=response.status,
                    reason=reason,
                    response_headers=response_headers,
                    payload=response.body,
                    date=sent_at,
                    extra_headers=extra,
                    dedupe=request.meta.get("spyglass_dedupe", self.dedupe),
                    # A requisite or a released file already archived under another URL (one
                    # image under two names, one PDF re-uploaded or shared by two requests) is
                    # stored once: this copy is a revisit of the first.
                    any_url=bool(request.meta.get("spyglass_requisite") or request.meta.get("spyglass_link")),
                ),
                links,
            )
        )
        if links is None:
            location = written
        else:
            location, found = written
            if found is not None:
                request.meta[WRITER_LINKS] = found
        request.meta["spyglass_warc"] = location
        request.meta["spyglass_fetch_ms"] = fetch_ms(request.meta)
        self.crawler.stats.inc_value("spyglass/warc_records")
        if request.callback is NO_CALLBACK:
            self.crawler.signals.send_catch_log(exchange_without_callback, request=request, response=response)
        return response


def _reason(status: int) -> str:
    """The standard reason phrase: Twisted does not pass the server's own to Scrapy."""
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""
