"""`render: browser` in Redis mode: a live run's pages loaded in Chromium by the workers.

When a live run of a source with `render: browser` has nothing queued or
leased, the ingest opens its browser run (spider `browser`, as after a local
crawl: an unfinished earlier one reconciled and continued, its rendered pages
left out) and publishes it as a job of its own, its pages in the run's queue,
before it finishes the live run, so a worker started with --exit-when-idle
never sees an empty moment between the two. A worker takes a page with a
lease (the scheduler's atomic TAKE), loads it in its one Chromium, writes what
the browser received and rendered and the screenshot into its own WARC files,
and sends the rows in one batch with the lease's end, in one Redis transaction
(archive/cluster/sink.py): a page is rendered once, by one worker. The reaper
reconciles a dead worker's files and puts its leased pages back in the queue
(`hand_back_pages`), where another worker renders them.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
from functools import partial
from typing import Any

import redis

from archive.archive import Archive
from archive.browser.load import Settling
from archive.browser.run import (
    SPIDER,
    load_batch,
    load_pages,
    lost_batch,
    pages_seen,
    rendered_before,
    rendered_in,
)
from archive.cluster import keys
from archive.cluster.jobs import Job, active_jobs, publish
from archive.cluster.scheduler import PUT, TAKE
from archive.cluster.sink import RedisSink, WorkerTarget
from archive.config import Config
from archive.ingest.runs import open_run
from archive.ingest.sink import IndexSink
from archive.redis_client import connect
from archive.warc.write import WarcStore

logger = logging.getLogger(__name__)

IDLE_SECONDS = 0.5  # between looks at an empty queue of a job still active


def follows(job: Job, jobs: dict[int, Job]) -> Job | None:
    """The browser job already published for live job `job`'s run, if any."""
    return next((j for j in jobs.values() if j.spider == SPIDER and j.follows == job.run_id), None)


def waits_for_render(job: Job, jobs: dict[int, Job]) -> bool:
    """Whether live job `job` must wait before its browser job is published: another browser
    run of its source is still active (two would resume each other's pages)."""
    return renders(job) and any(
        j.spider == SPIDER and j.source.name == job.source.name and j.follows != job.run_id
        for j in jobs.values()
    )


def renders(job: Job) -> bool:
    """Whether `job` is a live run whose pages are then loaded in a browser."""
    return job.spider == job.source.kind and job.source.render == "browser"


def seed_render(client: redis.Redis, sink: IndexSink, config: Config, job: Job) -> Job | None:
    """Open and publish the browser run of live job `job`, or adopt the one published already;
    None when its source does not render or the run saw no page to render."""
    if not renders(job):
        return None
    published = follows(job, active_jobs(client))
    if published is not None:
        return published
    source = job.source
    pages = [page["url"] for page in pages_seen(sink.index, job.run_id) if source.renders(page["url"])]
    if not pages:
        return None
    run_id, _ = open_run(sink, sink.archive, source.name, SPIDER, source, None, config.resume_within)
    done = rendered_before(sink.index, run_id)
    pages = [url for url in pages if url not in done]
    render = Job(run_id, source, SPIDER, job.seeded_at, follows=job.run_id)
    publish(client, render, {url: order for order, url in enumerate(pages)})
    return render


def hand_back_pages(client: redis.Redis, index: Any, run_id: int, worker: str) -> int:
    """Queue again each page of browser run `run_id` that dead `worker` had leased and left without a
    rendered capture; how many.

    A lease ends in the transaction that sends its page's rows, so a page still
    leased has no rows from the worker: another worker loads it, unless the
    reconciling of the worker's files just indexed its rendered page from the
    records it wrote (archive/ingest/reconcile.py), which only drops the lease.
    """
    leases = keys.run_key(run_id, "leases")
    put = client.register_script(PUT)
    rendered = rendered_in(index, [run_id])
    count = 0
    for lease, url in client.hgetall(leases).items():
        if not lease.decode().startswith(f"{worker}#"):
            continue
        if url.decode() in rendered:
            client.hdel(leases, lease)
            continue
        put(
            keys=[keys.run_key(run_id, "requests"), leases, keys.taken(run_id, worker)],
            args=[0, url, lease, ""],
        )
        count += 1
    return count


class Renderer(threading.Thread):
    """A worker's share of browser job `job`, in a thread beside its reactor: leased pages loaded one
    at a time, until the job leaves Redis or `stop` is set."""

    def __init__(self, config: Config, job: Job, worker: str) -> None:
        super().__init__(name=f"spyglass-render-{job.run_id}", daemon=True)
        self.config = config
        self.job = job
        self.worker = worker
        self.stop = threading.Event()
        self.failed = False  # then this worker leaves the job to the others

    def run(self) -> None:
        try:
            self._render()
        except Exception:  # noqa: BLE001 - logged; its pages go to the other workers
            logger.exception("worker %s: rendering run %d failed", self.worker, self.job.run_id)
            self.failed = True
            client = connect(self.config.redis_url)
            try:
                hand_back_pages(client, self.job.run_id, self.worker)
            finally:
                client.close()

    def _render(self) -> None:
        from archive.crawl.screenshots import Browser, load_shot_row

        config, job = self.config, self.job
        client = connect(config.redis_url)
        sink = RedisSink(config, WorkerTarget(config.redis_url, job.run_id, self.worker))
        archive = Archive.from_config(config)
        store = WarcStore(
            archive.warc_dir,
            job.source.name,
            max_size=config.warc_max_size,
            gzip_level=config.warc_gzip_level,
            originals=sink.originals(job.source.name),
            on_open=lambda filename: sink.file_opened(filename, job.run_id),
            host=self.worker,
        )
        shot_row = partial(load_shot_row, job.source)
        take_script = client.register_script(TAKE)
        queue, leases = keys.run_key(job.run_id, "requests"), keys.run_key(job.run_id, "leases")
        serial = itertools.count(1)

        def active() -> bool:
            return not self.stop.is_set() and bool(client.hexists(keys.JOBS, str(job.run_id)))

        def take() -> dict[str, Any] | None:
            if not active():
                return None
            lease = f"{self.worker}#render-{next(serial)}"
            url = take_script(keys=[queue, leases], args=[lease])
            return {"url": url.decode(), "lease": lease} if url else None

        def keep(page: dict[str, Any], load: Any, browser: Any) -> None:
            batch = load_batch(store, job.source, job.run_id, load, browser.name, shot_row)
            batch.releases.append(page["lease"])
            sink.commit(batch)

        def lost(page: dict[str, Any], why: str) -> None:
            batch = lost_batch(job.source, job.run_id, page["url"], why)
            batch.releases.append(page["lease"])
            sink.commit(batch)

        settling = Settling.from_config(config)
        try:
            while active():
                asyncio.run(load_pages(take, settling, lambda: Browser(config, job.source), keep, lost))
                self.stop.wait(IDLE_SECONDS)
        finally:
            store.close()
            sink.close()
            client.close()
