"""`crawl --redis` and `run-due --redis`: publish runs to Redis workers, ingest their rows, report.

The seeding command holds each run's crawl lock for as long as the run is in
Redis (so `status` says `running` and nothing seeds it twice), and adopts a
run still in Redis from an earlier command that was stopped. It ingests while
it waits; when another command already holds the ingest lock, that one
ingests for everybody and this one only waits for its runs to end.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import redis

from archive.archive import Archive
from archive.cluster import keys
from archive.cluster.ingest import Ingest
from archive.cluster.jobs import SHARED_SPIDERS, Job, active_jobs, finish, is_done, seed
from archive.cluster.reap import dead_workers, reap
from archive.cluster.render import SPIDER, seed_render, waits_for_render
from archive.config import Config
from archive.crawl.runner import Crawled, RunReport, crawl_settings, report_of, run_crawl
from archive.index.db import open_index
from archive.ingest.sink import IndexSink
from archive.locks import LOCK_DIR, Busy, Lock, crawl_lock
from archive.redis_client import connect, redacted
from archive.sources.model import Source

logger = logging.getLogger(__name__)

PROGRESS_SECONDS = 10.0


def ingest_lock(data_dir: Path) -> Lock:
    """The lock of the one process that ingests Redis workers' rows into this archive."""
    return Lock(Path(data_dir) / LOCK_DIR / "ingest.lock", "Redis ingest")


def crawl_with_redis(
    config: Config,
    overrides: Mapping[str, Any],
    runs: list[tuple[Source, str]],
    held: ExitStack,
    workers: int = 0,
    say: Callable[[str], None] = print,
) -> Crawled:
    """Run `runs`: vendor crawls through Redis workers, the others here; one report per run.

    The runs' locks go on `held`, so they are kept through the passes that
    follow the runs (archive/crawl/after.py), as the runs themselves.
    """
    client = connect(config.redis_url)
    keys.claim_archive(client, config.data_dir)
    shared = [(s, spider) for s, spider in runs if spider in SHARED_SPIDERS]
    here = [(s, spider) for s, spider in runs if spider not in SHARED_SPIDERS]
    locks, busy, mine = _seed_all(client, config, overrides, shared)
    for lock in locks:
        held.callback(lock.release)
    children = [_start_worker(config, overrides) for _ in range(workers)]
    if mine and not workers and not _live_workers(client):
        say(
            f"Waiting for workers: start `spyglass worker --redis {redacted(config.redis_url)}` "
            "on this or another machine."
        )
    stop = threading.Event()
    failure: list[BaseException] = []
    ingesting = threading.Thread(
        target=_guarded,
        args=(ingest_until, failure, config, mine, stop, say),
        name="spyglass-ingest",
        daemon=True,
    )
    ingesting.start()
    try:
        local = run_crawl(config, overrides, here) if here else Crawled([], [])
        while ingesting.is_alive():
            ingesting.join(0.5)
    except KeyboardInterrupt:
        stop.set()
        ingesting.join(60)
        raise
    finally:
        for child in children:
            _stop_worker(child)
    if failure:
        raise failure[0]
    index = open_index(Archive.from_config(config))
    try:
        reports = [report_of(index, job.label, run_id) for run_id, job in mine.items()]
    finally:
        index.close()
    live = [(job.source, run_id) for run_id, job in mine.items() if job.spider == job.source.kind]
    return Crawled(reports + local.reports, live + local.live, local.busy + busy)


def _seed_all(
    client: redis.Redis, config: Config, overrides: Mapping[str, Any], shared: list[tuple[Source, str]]
) -> tuple[list[Lock], list[RunReport], dict[int, Job]]:
    """Lock and publish each run (or adopt the one already in Redis); (locks, busy reports, jobs)."""
    locks, busy, mine = [], [], {}
    settings = crawl_settings(config, overrides)
    published = active_jobs(client)
    sink = IndexSink(config)
    try:
        for source, spider in shared:
            label = source.name if spider == source.kind else f"{source.name} ({spider})"
            try:
                locks.append(crawl_lock(config.data_dir, source.name, spider).acquire())
            except Busy:
                busy.append(
                    RunReport(
                        label,
                        None,
                        "skipped",
                        "being crawled by another process right now",
                        0,
                        0,
                        0,
                        0,
                        0,
                        0.0,
                        spider=spider,
                        name=source.name,
                    )
                )
                continue
            job = next(
                (j for j in published.values() if j.source.name == source.name and j.spider == spider), None
            ) or seed(client, sink, settings, source, spider)
            mine[job.run_id] = job
            # Its browser run, published by an earlier command that was stopped: waited for too.
            mine.update(
                {
                    j.run_id: j
                    for j in published.values()
                    if j.spider == SPIDER and j.source.name == source.name
                }
            )
    finally:
        sink.close()
    return locks, busy, mine


def ingest_until(
    config: Config, wanted: dict[int, Job], stop: threading.Event, say: Callable[[str], None]
) -> None:
    """Ingest (when this process holds the ingest lock) until every run in `wanted` has ended; the
    browser run of a live run in `wanted` joins it when the ingest publishes it (settle)."""
    client = connect(config.redis_url)
    sink = IndexSink(config)
    lock = ingest_lock(config.data_dir)
    ingest: Ingest | None = None
    shown = time.monotonic()
    try:
        while not stop.is_set() and _running(sink, wanted):
            if ingest is None:
                try:
                    lock.acquire()
                    ingest = Ingest(client, sink)
                except Busy:
                    time.sleep(1.0)
                    continue
            ingest.step(block_ms=500)
            settle(client, sink, ingest, config, wanted)
            if time.monotonic() - shown > PROGRESS_SECONDS:
                say(progress_line(client, sink, wanted))
                shown = time.monotonic()
        if ingest is not None:
            ingest.forget_if_idle()
    finally:
        lock.release()
        sink.close()


def settle(
    client: redis.Redis, sink: IndexSink, ingest: Ingest, config: Config, wanted: dict[int, Job] | None = None
) -> None:
    """Hand on what dead workers held, and finish every run with nothing queued or leased.

    A live run of a source with `render: browser` publishes its browser run
    before it is finished (archive/cluster/render.py), which joins `wanted`
    if the live run is in it; it waits while another browser run of its source is active.
    """
    jobs = active_jobs(client)
    dead = dead_workers(client, jobs)
    if dead:
        ingest.drain()  # a dead worker's last rows are in the stream: index them before reconciling
        for worker in dead:
            reap(client, sink, jobs, worker)
    ready = [job for job in jobs.values() if is_done(client, job.run_id)]
    if ready:
        ingest.drain()
        for job in ready:
            if waits_for_render(job, jobs) or not is_done(client, job.run_id):
                continue
            render = seed_render(client, sink, config, job)
            finish(client, sink, job)
            if render is not None and wanted is not None and job.run_id in wanted:
                wanted[render.run_id] = render


def progress_line(client: redis.Redis, sink: IndexSink, wanted: Iterable[int]) -> str:
    """`N pages archived, Q queued, L in flight, W workers` for the runs in `wanted`."""
    runs = list(wanted)
    marks = ", ".join("?" * len(runs))
    pages = sink.index.execute(
        f"SELECT count(*) FROM captures WHERE crawl_run IN ({marks})", runs
    ).fetchone()[0]
    queued = sum(client.zcard(keys.run_key(r, "requests")) for r in runs)
    leased = sum(client.hlen(keys.run_key(r, "leases")) for r in runs)
    return f"  {pages} pages archived, {queued} queued, {leased} in flight, {_live_workers(client)} worker(s)"


def _running(sink: IndexSink, wanted: Iterable[int]) -> bool:
    runs = list(wanted)
    if not runs:
        return False
    marks = ", ".join("?" * len(runs))
    return (
        sink.index.execute(
            f"SELECT count(*) FROM crawl_runs WHERE id IN ({marks}) AND status = 'running'", runs
        ).fetchone()[0]
        > 0
    )


def _live_workers(client: redis.Redis) -> int:
    return sum(1 for w in client.smembers(keys.WORKERS) if client.exists(keys.alive(w.decode())))


def _guarded(target: Callable[..., None], failure: list[BaseException], *args: Any) -> None:
    try:
        target(*args)
    except BaseException as exc:  # noqa: BLE001 - handed to the main thread, which raises it
        failure.append(exc)


def _start_worker(config: Config, overrides: Mapping[str, Any]) -> subprocess.Popen:
    """A `spyglass worker` on this machine for the length of the crawl."""
    command = [
        sys.executable,
        "-m",
        "archive.cli",
        "worker",
        "--redis",
        config.redis_url,
        "--data",
        str(config.data_dir),
        "--exit-when-idle",
    ]
    defaults = Config().as_settings()
    given = {k: v for k, v in config.as_settings().items() if v != defaults[k]}
    # Their progress lines would interleave with this command's own.
    for key, value in {**given, **overrides, "SPYGLASS_PROGRESS": "false"}.items():
        if key not in ("SPYGLASS_REDIS_URL", "SPYGLASS_DATA_DIR"):
            command += ["-s", f"{key}={value}"]
    return subprocess.Popen(command, stdin=subprocess.DEVNULL)


def _stop_worker(child: subprocess.Popen) -> None:
    try:
        child.wait(timeout=30)  # it exits by itself once no run is active
    except subprocess.TimeoutExpired:
        child.terminate()
        child.wait(timeout=60)
