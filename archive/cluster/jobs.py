"""Crawl runs handed to Redis workers: seeding one, finding the active ones, finishing one.

The command that seeds a run (`spyglass crawl --redis`, `spyglass run-due
--redis`) holds the index: it opens the crawl_runs row as any crawl does,
asks the spider itself for its start requests, and then, in one Redis
transaction, queues them, marks their URLs seen and publishes the job. Workers
never open runs; they crawl the jobs they find.
"""

from __future__ import annotations

import asyncio
import json
import pickle
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import redis
from scrapy.crawler import Crawler
from scrapy.settings import Settings
from scrapy_redis import picklecompat

from archive.cluster import keys
from archive.cluster.frontier import RedisFrontier
from archive.crawl.frontier import LocalFrontier, trap_error
from archive.crawl.items import FetchError
from archive.index.db import writing
from archive.index.kinds import ObservationKind
from archive.index.runs import finish_run, save_fetch_errors
from archive.ingest.runs import open_run
from archive.ingest.sink import IndexSink
from archive.sources.model import Source
from archive.times import iso, utc_now

# The spiders whose requests workers share. Wayback harvests and records walks keep
# state across requests in their spider (fallback captures, pending agency look-ups)
# and are paced by their services' budgets, not by CPU: they run in the seeding process.
SHARED_SPIDERS = ("vendor",)


@dataclass(frozen=True)
class Job:
    """A crawl run workers crawl: its crawl_runs id, its source and spider."""

    run_id: int
    source: Source
    spider: str
    seeded_at: str
    follows: int | None = (
        None  # a browser run's: the live run whose pages it loads (archive/cluster/render.py)
    )

    @property
    def label(self) -> str:
        return self.source.name if self.spider == self.source.kind else f"{self.source.name} ({self.spider})"


def active_jobs(client: redis.Redis) -> dict[int, Job]:
    """Every job published and not finished, by run id."""
    return {int(run): pickle.loads(data) for run, data in client.hgetall(keys.JOBS).items()}


def seed(client: redis.Redis, sink: IndexSink, settings: Settings, source: Source, spider: str) -> Job:
    """Open a run of `source` by `spider` in the index and publish it with its start requests."""
    run_id, _ = open_run(sink, sink.archive, source.name, spider, source, pid=None, resume_within=0)
    crawler = Crawler(_spider_class(settings, spider), settings, init_reactor=False)
    frontier = LocalFrontier(keep=True)
    instance = crawler.spidercls.from_crawler(crawler, source=source, frontier=frontier)
    requests, errors = [], []
    for output in asyncio.run(_collect(instance.start())):
        (errors if isinstance(output, FetchError) else requests).append(output)
    if errors:
        with writing(sink.index):
            save_fetch_errors(sink.index, [{**asdict(e), "crawl_run": run_id} for e in errors])
    job = Job(run_id, source, spider, iso(utc_now()))
    pipe = client.pipeline(transaction=True)
    if frontier.kept:
        pipe.sadd(keys.run_key(run_id, "seen"), *frontier.kept)
    if frontier.similar:
        pipe.hset(keys.run_key(run_id, "similar"), mapping=frontier.similar)
    queued = {picklecompat.dumps(r.to_dict(spider=instance)): -r.priority for r in requests}
    publish(client, job, queued, pipe)
    return job


def publish(client: redis.Redis, job: Job, queued: Mapping[Any, float], pipe: Any = None) -> None:
    """Queue `queued` (member: score, lowest first) in the run's queue and publish `job`, in one
    transaction (with what `pipe` holds already): a worker never finds the job without its queue."""
    pipe = pipe if pipe is not None else client.pipeline(transaction=True)
    if queued:
        pipe.zadd(keys.run_key(job.run_id, "requests"), dict(queued))
    pipe.hset(keys.JOBS, str(job.run_id), pickle.dumps(job))
    pipe.execute()


async def _collect(start: Any) -> list[Any]:
    return [output async for output in start]


def _spider_class(settings: Settings, name: str) -> type:
    from scrapy.spiderloader import SpiderLoader

    return SpiderLoader.from_settings(settings).load(name)


# KEYS: jobs, the run's stats; ARGV: run id, stat, delta. A crawler still closing after its
# run was finished (finish below) must not bring the run's deleted stats back.
ADD_STAT = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
return redis.call('HINCRBY', KEYS[2], ARGV[2], ARGV[3])
"""


def stat_adder(client: redis.Redis) -> Callable[[int, str, int], None]:
    """A function adding `delta` to a stat of a run still active (requests, skipped)."""
    script = client.register_script(ADD_STAT)

    def add(run_id: int, name: str, delta: int) -> None:
        script(keys=[keys.JOBS, keys.run_key(run_id, "stats")], args=[run_id, name, delta])

    return add


def mark_started(client: redis.Redis, run_id: int) -> None:
    """Note when a worker first crawled the run: a run adopted long after its seeding command
    stopped is timed from then, not from its seeding (finish below)."""
    client.set(keys.run_key(run_id, "started"), iso(utc_now()), nx=True)


def is_done(client: redis.Redis, run_id: int) -> bool:
    """Nothing queued and nothing leased: every request's rows are in the ingest stream
    (a lease ends in the same transaction that sends them, archive/cluster/sink.py)."""
    pipe = client.pipeline(transaction=True)
    pipe.zcard(keys.run_key(run_id, "requests"))
    pipe.hlen(keys.run_key(run_id, "leases"))
    queued, leased = pipe.execute()
    return queued == 0 and leased == 0


def finish(
    client: redis.Redis, sink: IndexSink, job: Job, status: str = "finished", reason: str = "finished"
) -> None:
    """Close the run's row with counts taken from what the index holds, and forget its Redis keys.

    Called by the ingest after the stream is drained, so every row of the run is in.
    """
    index = sink.index
    with writing(index):
        sink.history.settle()
        # URLs still held back as a trap's, now that no page is left to vouch for them.
        frontier = RedisFrontier(client, job.run_id, "ingest")
        traps = [
            trap_error(t, held, job.source.name)
            for t, held in frontier.traps()
            if frontier.first_hit(t.pattern)
        ]
        if traps:
            save_fetch_errors(index, [{**asdict(e), "crawl_run": job.run_id} for e in traps])
    counts = run_counts(index, job.run_id)
    stats = {k.decode(): int(v) for k, v in client.hgetall(keys.run_key(job.run_id, "stats")).items()}
    counts["requests"] = stats.get("requests", 0)
    counts["skipped"] = stats.get("skipped", 0)
    files = [
        row[0]
        for row in index.execute(
            "SELECT filename FROM warc_files WHERE crawl_run = ? ORDER BY filename", [job.run_id]
        ).fetchall()
    ]
    if status == "finished" and counts["errors"] and not counts["pages"]:
        status, reason = "failed", f"no page could be fetched ({counts['errors']} errors)"
    started = client.get(keys.run_key(job.run_id, "started"))
    with writing(index):
        finish_run(
            index,
            job.run_id,
            status=status,
            reason=reason,
            counts=counts,
            warc_files=files,
            crawled_since=started.decode() if started else None,
        )
    client.hdel(keys.JOBS, str(job.run_id))
    stale = keys.run_keys(client, job.run_id)
    if stale:
        client.delete(*stale)


def run_counts(index: Any, run_id: int) -> dict[str, Any]:
    """A run's crawl_runs counts, from its rows (a worker killed mid-run kept no counters)."""
    # Page requisites are counted apart, as the single-process pipeline counts them; a browser
    # run's rendered pages are resource records.
    pages, responses, revisits, requisites, payload = index.execute(
        "SELECT count(*) FILTER (WHERE requisite IS NULL), "
        "count(*) FILTER (WHERE requisite IS NULL AND warc_type IN ('response', 'resource')), "
        "count(*) FILTER (WHERE requisite IS NULL AND warc_type = 'revisit'), "
        "count(*) FILTER (WHERE requisite IS NOT NULL), coalesce(sum(length), 0) "
        "FROM captures WHERE crawl_run = ?",
        [run_id],
    ).fetchone()
    observations = index.execute(
        "SELECT count(*) FROM observations WHERE crawl_run = ? AND kind = ?",
        [run_id, ObservationKind.NOT_MODIFIED],
    ).fetchone()[0]
    kinds = dict(
        index.execute(
            "SELECT error_type, count(*) FROM fetch_errors WHERE crawl_run = ? "
            "GROUP BY error_type ORDER BY error_type",
            [run_id],
        ).fetchall()
    )
    return {
        "pages": pages,
        "captures": responses,
        "revisits": revisits,
        "requisites": requisites,
        "observations": observations,
        "errors": sum(kinds.values()),
        "bytes": payload,
        "error_kinds": json.dumps(kinds),
    }
