"""The Scrapy parts a Redis worker adds to a crawl: leases ended at the right moment, no start
requests of its own, one robots.txt fetch per host for the whole run."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import redis
from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.exceptions import DontCloseSpider
from scrapy.http import Response
from scrapy.utils.httpobj import urlparse_cached
from scrapy.utils.misc import build_from_crawler
from twisted.internet.defer import Deferred

from archive.cluster import keys
from archive.cluster.jobs import stat_adder
from archive.crawl.client import writer_for

logger = logging.getLogger(__name__)


@dataclass
class WorkerRun:
    """A worker's part in a crawl run: what its spider carries as `cluster`."""

    run_id: int
    worker: str
    client: redis.Redis
    lease_seconds: float
    held: set[str] = field(default_factory=set)  # leases taken and not yet ended


class LeaseRelease:
    """Ends each request's lease once everything its response produced has been handled.

    Scrapy has no signal for "this response's callback output is all processed"
    (items through the pipeline, requests queued). That moment is the end of
    Scraper._scrape, so it is wrapped (checked at start: Scrapy 2.13 to 2.19 have
    it). The Release goes to the writer after the rows the pipeline sent, and the
    writer ends the lease in the Redis transaction that sends those rows.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        crawler.signals.connect(self.engine_started, signal=signals.engine_started)
        crawler.signals.connect(self.spider_idle, signal=signals.spider_idle)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> LeaseRelease:
        return cls(crawler)

    def engine_started(self) -> None:
        scraper = self.crawler.engine.scraper
        scrape = getattr(scraper, "_scrape", None)
        if scrape is None:
            raise RuntimeError("this Scrapy has no Scraper._scrape: Redis mode cannot end leases")

        async def scrape_then_release(result: Response | Any, request: Request) -> None:
            try:
                await scrape(result, request)
            finally:
                self.release(request)

        scraper._scrape = scrape_then_release

    def release(self, request: Request) -> None:
        held = self.crawler.spider.cluster.held
        lease = request.meta.get("spyglass_lease")
        if lease and lease in held:
            held.discard(lease)
            self._writer().release(lease)

    def _writer(self) -> Any:
        spider = self.crawler.spider
        return writer_for(self.crawler, spider.source.name)

    def spider_idle(self, spider: Any) -> None:
        """Idle here is not the end of the run: other workers may queue more. The run ends when
        the ingest finishes it (its job leaves Redis)."""
        run: WorkerRun = spider.cluster
        if run.held:
            # Nothing is in flight, so no lease can still be ours: end them (none should be left).
            logger.warning("ending %d lease(s) left at idle", len(run.held))
            for lease in list(run.held):
                self._writer().release(lease)
            run.held.clear()
        if run.client.hexists(keys.JOBS, str(run.run_id)):
            raise DontCloseSpider


class RequestCount:
    """Downloader middleware: adds each request to its run's count in Redis as it is sent.

    Counted once a second, a worker killed between two reports took its last
    requests' count with it (1,440 counted where 1,503 were sent, issue #31).
    One call per request, as the lease of each request already costs.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.add: Any = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RequestCount:
        return cls(crawler)

    def process_request(self, request: Request) -> None:
        run: WorkerRun = self.crawler.spider.cluster
        if self.add is None:
            self.add = stat_adder(run.client)
        self.add(run.run_id, "requests", 1)
        return None


class WorkerStart:
    """Spider middleware: a worker's spider sends no start requests (the seeding command queued them)."""

    async def process_start(self, start: AsyncIterator[Any]) -> AsyncIterator[Any]:
        return
        yield  # an async generator that yields nothing, without running the spider's start()


class SharedRobotsTxtMiddleware(RobotsTxtMiddleware):
    """robots.txt fetched (and archived) once per host per run, whatever the number of workers.

    The first worker to claim a host fetches it as Scrapy does; the body goes to
    Redis; the others build their parser from it. A claim lapses after the lease,
    so a worker that died fetching it does not block the host.
    """

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self.bodies: dict[str, bytes] = {}

    async def robot_parser(self, request: Request) -> Any:
        netloc = urlparse_cached(request).netloc
        if netloc in self._parsers:
            return await super().robot_parser(request)
        waiting: Deferred = Deferred()
        self._parsers[netloc] = waiting
        parser = await self._shared_parser(request, netloc)
        self._parsers[netloc] = parser
        waiting.callback(parser)
        return parser

    async def _shared_parser(self, request: Request, netloc: str) -> Any:
        run: WorkerRun = self.crawler.spider.cluster
        bodies, claims = (
            keys.run_key(run.run_id, "robots"),
            keys.run_key(run.run_id, f"robots-claim:{netloc}"),
        )
        while True:
            known = run.client.hget(bodies, netloc)
            if known is not None:
                return (
                    build_from_crawler(self._parserimpl, self.crawler, known[1:])
                    if known[:1] == b"+"
                    else None
                )
            if run.client.set(claims, run.worker, nx=True, ex=max(1, int(run.lease_seconds))):
                del self._parsers[netloc]  # Scrapy's own fetch installs its waiter there
                parser = await super().robot_parser(request)
                body = self.bodies.get(netloc)
                run.client.hset(
                    bodies, netloc, b"+" + body if parser is not None and body is not None else b"-"
                )
                return parser
            await asyncio.sleep(0.2)

    async def _parse_robots(self, response: Response, netloc: str, request: Request) -> None:
        self.bodies[netloc] = response.body
        await super()._parse_robots(response, netloc, request)
