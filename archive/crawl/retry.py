"""Retries that honour Retry-After, and a recorded reason when a server keeps refusing.

Scrapy's RetryMiddleware retries 429 and 5xx at once, ignoring Retry-After:
the Wayback Machine and vendor CDNs answer that with longer bans. This one
waits as told (up to SPYGLASS_RETRY_AFTER_MAX seconds), gives up at once when
told to wait longer, and leaves in `request.meta["spyglass_gave_up"]` why the
last answer was still a refusal, for the spider to record in fetch_errors.
"""

from __future__ import annotations

import asyncio
from email.utils import parsedate_to_datetime
from http import HTTPStatus

from scrapy import Request
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.http import Response
from scrapy.http.request import NO_CALLBACK

from archive.config import Config
from archive.crawl.capture import exchange_without_callback
from archive.times import utc_now


def retry_after_seconds(value: bytes | str | None) -> float | None:
    """Retry-After as seconds to wait: delta-seconds or an HTTP date; None if absent or unreadable."""
    if value is None:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - utc_now()).total_seconds())


def _status(code: int) -> str:
    try:
        return f"{code} {HTTPStatus(code).phrase}"
    except ValueError:
        return str(code)


class PoliteRetryMiddleware(RetryMiddleware):
    """RetryMiddleware that sleeps for Retry-After before retrying 429/5xx answers."""

    def __init__(self, settings) -> None:  # type: ignore[no-untyped-def]
        super().__init__(settings)
        self.retry_after_max = Config.from_settings(settings).retry_after_max

    async def process_response(self, request: Request, response: Response):  # type: ignore[override]
        if request.meta.get("dont_retry") or response.status not in self.retry_http_codes:
            return response
        status = _status(response.status)
        attempts = request.meta.get("retry_times", 0) + 1
        wait = retry_after_seconds(response.headers.get("Retry-After"))
        if wait is not None and wait > self.retry_after_max:
            request.meta["spyglass_gave_up"] = (
                f"server answered {status} and asked to wait {wait:.0f} s (Retry-After), "
                f"more than SPYGLASS_RETRY_AFTER_MAX ({self.retry_after_max:.0f} s); not retried"
            )
            return response
        retry = self._retry(request, status)
        if retry is not None:
            self._index_attempt(request, response)
        if retry is None:
            after = f" (Retry-After {wait:.0f} s honoured)" if wait is not None else ""
            request.meta["spyglass_gave_up"] = (
                f"server answered {status} {attempts} time(s){after}; gave up (RETRY_TIMES)"
            )
            return response
        if wait:
            await asyncio.sleep(wait)
        return retry

    def _index_attempt(self, request: Request, response: Response) -> None:
        """The attempt being retried is already in the WARC file: index it as a capture too.

        Otherwise a later identical answer becomes a revisit record pointing at a
        record no capture holds, and the refusal itself would leave no trace.
        """
        if request.callback is not NO_CALLBACK and "spyglass_warc" in request.meta:
            self.crawler.signals.send_catch_log(exchange_without_callback, request=request, response=response)
