"""WaybackRateLimitMiddleware: keeps the wayback spider inside the Wayback Machine's budgets.

It sits at 960, just above the WARC middleware (950), so it waits *before* the
WARC middleware's send time is taken (it resets it after waiting) and it sees
429s and 503s first: they are retried after a pause, never archived as
captures, unless they carry Memento-Datetime (the site's own archived answer,
which is evidence). The policy is named data in archive/wayback/policy.py
(RatePolicy); the budget and pause are the machine's (archive/wayback/budget.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response

from archive.config import Config
from archive.index.kinds import ErrorType
from archive.wayback.budget import Budget, wait_async, wayback_budget
from archive.wayback.policy import MAX_429_PER_REQUEST, RatePolicy

logger = logging.getLogger(__name__)

RETRY_STATUSES = {500, 502, 503, 504}


class WaybackGaveUp(IgnoreRequest):
    """A Wayback request abandoned after the policy's retries; the spider records why."""

    def __init__(self, error_type: str, reason: str) -> None:
        super().__init__(reason)
        self.error_type = error_type
        self.reason = reason


class WaybackRateLimitMiddleware:
    """Spaces requests per budget ('cdx', 'snapshot'), pauses everything on a 429, retries slowly.

    The budget and the pause are the machine's (archive/wayback/budget.py), shared
    with every other crawler, command and process sending to the same Wayback Machine.
    """

    def __init__(self, policy: RatePolicy, crawler: Crawler, budget: Budget) -> None:
        self.policy = policy
        self.crawler = crawler
        self.budget = budget

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> WaybackRateLimitMiddleware:
        config = Config.from_settings(crawler.settings)
        return cls(RatePolicy.from_config(config), crawler, wayback_budget(config))

    async def process_request(self, request: Request) -> None:
        bucket = request.meta.get("wayback_bucket")
        if not bucket:
            return None
        # A slow retry waits out its own backoff before it takes a slot.
        backoff = request.meta.get("wayback_not_before", 0.0) - time.monotonic()
        if backoff > 0:
            await asyncio.sleep(backoff)
        await wait_async(self.budget, bucket)
        return None

    def process_response(self, request: Request, response: Response) -> Request | Response:
        if not request.meta.get("wayback_bucket"):
            return response
        if response.headers.get("Memento-Datetime"):
            # An archived answer (the site said 429 or 503 when the Wayback Machine
            # crawled it): evidence to keep, not the service refusing us.
            return response
        stats = self.crawler.stats
        if response.status == 429:
            self.budget.pause(self.policy.pause_on_429)
            stats.inc_value("spyglass/wayback_429")
            count = request.meta.get("wayback_429s", 0) + 1
            logger.warning(
                "Wayback Machine answered 429: pausing all requests for %.0f s", self.policy.pause_on_429
            )
            if count > MAX_429_PER_REQUEST:
                raise WaybackGaveUp(
                    ErrorType.WAYBACK_RATE_LIMITED, f"answered 429 Too Many Requests {count} times; gave up"
                )
            return self._again(request, wayback_429s=count)
        if response.status in RETRY_STATUSES:
            return self._retry(
                request, f"answered HTTP {response.status}", ErrorType.wayback_status(response.status)
            )
        return response

    def process_exception(self, request: Request, exception: Exception) -> Request | None:
        if not request.meta.get("wayback_bucket") or isinstance(exception, IgnoreRequest):
            return None
        text = str(exception).strip() or type(exception).__name__
        if "DataLoss" in text or "ResponseFailed" in type(exception).__name__:
            text = "body cut short (truncated answer)"
        return self._retry(
            request,
            text,
            ErrorType.WAYBACK_TRUNCATED if "truncated" in text else ErrorType.WAYBACK_CONNECTION,
        )

    def _retry(self, request: Request, what: str, error_type: str) -> Request:
        tries = request.meta.get("wayback_retries", 0)
        if tries >= self.policy.retries:
            raise WaybackGaveUp(error_type, f"{what} {tries + 1} times; gave up")
        self.crawler.stats.inc_value("spyglass/wayback_retries")
        delay = self.policy.retry_backoff * 2**tries
        return self._again(request, wayback_retries=tries + 1, wayback_not_before=time.monotonic() + delay)

    def _again(self, request: Request, **meta: Any) -> Request:
        return request.replace(meta={**request.meta, **meta}, dont_filter=True)
