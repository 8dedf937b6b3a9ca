"""`spyglass worker`: a long-running crawl worker taking requests from the runs published in Redis.

One process, one reactor, one Scrapy crawler per active run (each with its
own writer process writing this worker's WARC files). Every second it renews
its heartbeat, starts crawlers for new runs, and reports its request counts;
a crawler closes when the ingest has finished its run. A worker that cannot
renew its heartbeat in time stops at once: the ingest is about to hand its
requests to others, and it must not write anything after that.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from collections.abc import Mapping
from typing import Any

from scrapy.core.engine import ExecutionEngine
from scrapy.crawler import Crawler
from scrapy.settings import Settings
from scrapy.utils.reactor import install_reactor

from archive.browser.run import SPIDER
from archive.cluster import keys
from archive.cluster.frontier import RedisFrontier
from archive.cluster.jobs import Job, active_jobs, mark_started, stat_adder
from archive.cluster.middlewares import WorkerRun
from archive.cluster.render import Renderer
from archive.cluster.sink import WorkerTarget
from archive.config import Config
from archive.crawl.client import stopping_now
from archive.crawl.pipelines import close_at_once
from archive.crawl.runner import SpyglassProcess, crawl_settings
from archive.redis_client import connect
from archive.times import iso, utc_now

logger = logging.getLogger(__name__)

POLL_SECONDS = 1.0
# How long a worker started with --exit-when-idle waits for a first run to be
# published: one started just before the crawl command publishes must not leave.
FIRST_RUN_WAIT = 60.0
# Scrapy asks an idle crawler's scheduler for requests every 5 s; other workers'
# requests would wait that long in Redis. Half a second costs one Redis call.
ENGINE_HEARTBEAT = 0.5


def heartbeat(client: Any, worker: str, state: Mapping[str, Any], lease: float) -> None:
    """Say `worker` is alive for `lease` seconds, and a member of the workers the ingest watches.

    Both in one transaction, at every beat: a worker listed without its heartbeat
    key is dead to the reaper (archive/cluster/reap.py), which drops it from the
    list; had it joined the list before its first beat, a reaper passing in
    between would drop it for good, and its leases would never be handed back
    when it later died.
    """
    pipe = client.pipeline(transaction=True)
    pipe.set(keys.alive(worker), json.dumps(dict(state)), ex=max(1, int(lease)))
    pipe.sadd(keys.WORKERS, worker)
    pipe.execute()


def job_settings(base: Settings, job: Job, redis_url: str) -> Settings:
    """A crawler's settings for its share of `job`: scrapy-redis's scheduler on the run's keys."""
    settings = base.copy()
    settings.set("ROBOTSTXT_OBEY", job.source.robots, priority="spider")
    for name, value in {
        "SCHEDULER": "archive.cluster.scheduler.LeasedScheduler",
        "SCHEDULER_QUEUE_CLASS": "scrapy_redis.queue.PriorityQueue",
        "SCHEDULER_QUEUE_KEY": keys.run_key(job.run_id, "requests"),
        # For requests a spider does not dedupe itself (dont_filter False).
        "DUPEFILTER_CLASS": "scrapy_redis.dupefilter.RFPDupeFilter",
        "SCHEDULER_DUPEFILTER_KEY": keys.run_key(job.run_id, "dupefilter"),
        "SCHEDULER_PERSIST": True,  # the run's queue outlives any one worker
        "REDIS_URL": redis_url,
    }.items():
        settings.set(name, value, priority="cmdline")
    mws = dict(settings.getdict("DOWNLOADER_MIDDLEWARES"))
    mws.update(
        {
            "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
            "archive.cluster.middlewares.SharedRobotsTxtMiddleware": 100,
            # Just after Scrapy's DownloaderStats (850), so it counts the requests that counts.
            "archive.cluster.middlewares.RequestCount": 851,
        }
    )
    settings.set("DOWNLOADER_MIDDLEWARES", mws, priority="cmdline")
    settings.set(
        "SPIDER_MIDDLEWARES",
        {**settings.getdict("SPIDER_MIDDLEWARES"), "archive.cluster.middlewares.WorkerStart": 10},
        priority="cmdline",
    )
    settings.set(
        "EXTENSIONS",
        {**settings.getdict("EXTENSIONS"), "archive.cluster.middlewares.LeaseRelease": 400},
        priority="cmdline",
    )
    return settings


class Worker:
    """The worker's state in its reactor: its id, its crawlers by run, what it reported."""

    def __init__(self, config: Config, settings: Settings, exit_when_idle: bool) -> None:
        self.config = config
        self.settings = settings
        self.exit_when_idle = exit_when_idle
        self.client = connect(config.redis_url)
        self._add_stat = stat_adder(self.client)
        self.id = keys.worker_id()
        self.process = SpyglassProcess(settings)  # a second signal stops it at once
        self.crawlers: dict[int, Crawler] = {}
        self.renderers: dict[int, Renderer] = {}  # browser jobs, each in a thread
        self.reported: dict[tuple[int, str], int] = {}
        self.last_beat = 0.0
        self.stopping = False
        self.started = time.monotonic()
        self.seen_run = False

    def start(self) -> None:
        """Register, then poll every POLL_SECONDS until stopped (or idle, with exit_when_idle)."""
        from twisted.internet import reactor, task

        self.beat()
        self.loop = task.LoopingCall(self.poll)
        self.loop.start(POLL_SECONDS, now=True).addErrback(self._failed)
        reactor.addSystemEventTrigger("before", "shutdown", self.goodbye)

    def beat(self) -> None:
        """Renew the heartbeat; stop at once if it lapsed (the ingest may be handing our requests on)."""
        import time

        now = time.monotonic()
        if self.last_beat and now - self.last_beat > self.config.redis_lease * 2 / 3:
            logger.error(
                "worker %s: heartbeat late by %.0f s: stopping without writing more",
                self.id,
                now - self.last_beat,
            )
            os._exit(75)
        heartbeat(
            self.client,
            self.id,
            {
                "host": socket.gethostname(),
                "pid": os.getpid(),
                "at": iso(utc_now()),
                "runs": sorted([*self.crawlers, *self.renderers]),
            },
            self.config.redis_lease,
        )
        self.last_beat = now

    def poll(self) -> None:
        self.beat()
        jobs = active_jobs(self.client)
        self.seen_run = self.seen_run or bool(jobs)
        # One that failed stays while its job lasts: this worker leaves that job to the others.
        self.renderers = {
            run_id: r for run_id, r in self.renderers.items() if r.is_alive() or (r.failed and run_id in jobs)
        }
        for run_id, job in jobs.items():
            if run_id in self.crawlers or run_id in self.renderers or self.stopping:
                continue
            if job.spider == SPIDER:
                self.render(job)
            else:
                self.crawl(job)
        self.report()
        waited = self.seen_run or time.monotonic() - self.started > FIRST_RUN_WAIT
        busy = self.crawlers or self.renderers
        if self.exit_when_idle and waited and not jobs and not busy and not self.stopping:
            self.stopping = True
            from twisted.internet import reactor

            reactor.stop()

    def crawl(self, job: Job) -> None:
        """Start this worker's crawler for `job`."""
        crawler = Crawler(
            self.process.spider_loader.load(job.spider),
            job_settings(self.settings, job, self.config.redis_url),
            init_reactor=False,
        )
        run = WorkerRun(job.run_id, self.id, self.client, self.config.redis_lease)
        self.crawlers[job.run_id] = crawler
        mark_started(self.client, job.run_id)
        done = self.process.crawl(
            crawler,
            source=job.source,
            cluster=run,
            frontier=RedisFrontier(self.client, job.run_id, self.id),
            writer_target=WorkerTarget(self.config.redis_url, job.run_id, self.id),
        )
        done.addBoth(lambda result: self._ended(job.run_id, result))
        logger.info("worker %s: crawling %s (run %d)", self.id, job.label, job.run_id)

    def render(self, job: Job) -> None:
        """Start this worker's share of browser job `job`: one Chromium, in a thread."""
        renderer = Renderer(self.config, job, self.id)
        self.renderers[job.run_id] = renderer
        mark_started(self.client, job.run_id)
        renderer.start()
        logger.info("worker %s: rendering %s (run %d)", self.id, job.label, job.run_id)

    def _ended(self, run_id: int, result: Any) -> Any:
        self.report()
        self.crawlers.pop(run_id, None)
        return result

    def report(self) -> None:
        """Add the pages skipped since the last report to the run's stats (requests are added one
        by one as they are sent: archive/cluster/middlewares.py RequestCount)."""
        for run_id, crawler in list(self.crawlers.items()):
            stats = crawler.stats.get_stats() if crawler.stats else {}
            value = int(stats.get("spyglass/skipped", 0))
            delta = value - self.reported.get((run_id, "skipped"), 0)
            if delta:
                self._add_stat(run_id, "skipped", delta)
                self.reported[(run_id, "skipped")] = value

    def goodbye(self) -> None:
        """A clean stop: report, and drop the heartbeat so the ingest hands our leases on at once."""
        try:
            self.report()
            pipe = self.client.pipeline(transaction=True)
            for renderer in self.renderers.values():
                renderer.stop.set()
            rendering = any(r.is_alive() for r in self.renderers.values())
            if self.stopping or (not self.crawlers and not rendering and not stopping_now()):
                # Stopped because no run is active, or by a signal after every crawler
                # closed and flushed its writer: no lease is held, nothing of ours is
                # left to reconcile. (Stopped at once, its files wait for the reaper.)
                pipe.delete(keys.files(self.id))
                pipe.srem(keys.WORKERS, self.id)
            if not rendering:
                # A page being loaded could still send its rows until this process has
                # exited: its lease goes back when the heartbeat lapses, after that.
                pipe.delete(keys.alive(self.id))
            pipe.execute()
        except Exception:  # noqa: BLE001 - Redis gone: the heartbeat lapses by itself
            logger.warning("worker %s: could not say goodbye to Redis", self.id)

    def _failed(self, failure: Any) -> None:
        logger.error("worker %s: %s", self.id, failure.getErrorMessage())
        os._exit(70)


def run_worker(config: Config, overrides: Mapping[str, Any], exit_when_idle: bool = False) -> str:
    """Run a worker until stopped (SIGTERM, Ctrl-C) or, with `exit_when_idle`, until no run is
    active; returns its id."""
    settings = crawl_settings(config, overrides)
    install_reactor(settings["TWISTED_REACTOR"])
    ExecutionEngine._SLOT_HEARTBEAT_INTERVAL = ENGINE_HEARTBEAT
    worker = Worker(config, settings, exit_when_idle)
    from twisted.internet import reactor

    reactor.callWhenRunning(worker.start)
    worker.process.start(stop_after_crawl=False)
    for crawler in list(worker.crawlers.values()):
        close_at_once(crawler)  # a reactor stopped at once never closed its spiders
    return worker.id
