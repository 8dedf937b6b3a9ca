"""Giving back what a dead worker held, so nothing it had in flight is lost.

A worker renews its heartbeat key every third of SPYGLASS_REDIS_LEASE; once
the key has expired the worker is dead (or frozen: it stops itself when it
cannot renew, archive/cluster/worker.py). The ingest then, for that worker:

1. indexes the records of its WARC files that have no row (it died between
   writing a record and sending the row), as a restart does for one machine
   (archive/ingest/reconcile.py);
2. gives back the URLs it had taken in the seen-set but not queued yet, so
   they can be taken again;
3. puts each request it still leased back in the queue, marked handed back:
   one whose response it had archived is answered from that record (the
   spider follows its links again, nothing is fetched), any other is fetched;
   and each page of a browser run it was loading, for another worker to load
   (archive/cluster/render.py).

Steps 2 and 3 are what scrapy-redis alone lacks: its scheduler forgets a
request once popped, so a killed worker's requests stay seen and unfetched.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import redis
from scrapy_redis import picklecompat

from archive.cluster import keys
from archive.cluster.jobs import Job
from archive.cluster.render import SPIDER, hand_back_pages
from archive.cluster.scheduler import PUT
from archive.index import queries
from archive.index.capture_row import PAYLOAD_COLUMNS
from archive.ingest.reconcile import reconcile_files
from archive.ingest.sink import IndexSink

logger = logging.getLogger(__name__)


def dead_workers(client: redis.Redis, runs: Iterable[int] = ()) -> list[str]:
    """Workers that may hold leases or files and whose heartbeat has expired.

    Those listed, and any holding a lease in `runs`: a worker missing from the
    list (whatever dropped it) must not keep its requests from the run for ever.
    """
    named = {w.decode() for w in client.smembers(keys.WORKERS)}
    for run_id in runs:
        named.update(
            lease.decode().partition("#")[0] for lease in client.hkeys(keys.run_key(run_id, "leases"))
        )
    return sorted(w for w in named if not client.exists(keys.alive(w)))


def reap(client: redis.Redis, sink: IndexSink, jobs: dict[int, Job], worker: str) -> dict[str, int]:
    """Reconcile a dead worker's files, give back its taken URLs and leased requests; counts."""
    files: dict[int, list[str]] = defaultdict(list)
    for entry in client.smembers(keys.files(worker)):
        run, _, filename = entry.decode().partition(" ")
        files[int(run)].append(filename)
    done = {"records": 0, "urls": 0, "requests": 0, "replayed": 0}
    for run_id, names in files.items():
        run = sink.index.table("crawl_runs").get(run_id)
        job = jobs.get(run_id)
        source = job.source if job is not None and run["spider"] != "wayback" else None
        found = reconcile_files(sink.archive, sink.index, run, source, sorted(names), sink.history)
        done["records"] += found["captures"] + found["observations"] + found["errors"]
    for run_id, job in jobs.items():
        if job.spider == SPIDER:
            done["pages"] = done.get("pages", 0) + hand_back_pages(client, sink.index, run_id, worker)
            continue
        done["urls"] += _give_back_taken(client, run_id, worker)
        requests, replayed = _hand_back(client, sink, run_id, worker)
        done["requests"] += requests
        done["replayed"] += replayed
    client.delete(keys.files(worker))
    client.srem(keys.WORKERS, worker)
    logger.warning("worker %s stopped: %s", worker, done)
    return done


def _give_back_taken(client: redis.Redis, run_id: int, worker: str) -> int:
    """URLs the worker took in the seen-set but never queued: no longer seen."""
    taken = keys.taken(run_id, worker)
    members = list(client.smembers(taken))
    pipe = client.pipeline(transaction=True)
    if members:
        pipe.srem(keys.run_key(run_id, "seen"), *members)
    pipe.delete(taken)
    pipe.execute()
    return len(members)


def _hand_back(client: redis.Redis, sink: IndexSink, run_id: int, worker: str) -> tuple[int, int]:
    """Queue again every request `worker` leased in run `run_id`; (requests, of which replayed)."""
    leases = keys.run_key(run_id, "leases")
    put = client.register_script(PUT)
    count = replayed = 0
    for lease, data in client.hgetall(leases).items():
        if not lease.decode().startswith(f"{worker}#"):
            continue
        request = picklecompat.loads(data)
        meta = request.setdefault("meta", {})
        meta["spyglass_handed_back"] = True
        payload = archived_payload(sink.index.conn, run_id, request["url"])
        if payload is not None:
            meta["spyglass_replay_from"] = payload
            replayed += 1
        put(
            keys=[keys.run_key(run_id, "requests"), leases, keys.taken(run_id, worker)],
            args=[-int(request.get("priority", 0)), picklecompat.dumps(request), lease, ""],
        )
        count += 1
    return count, replayed


def archived_payload(conn: Any, run_id: int, url: str) -> dict[str, Any] | None:
    """The payload a run archived for `url` (a capture, or the capture a 304 confirmed), to replay."""
    found = queries.rows(
        conn, "SELECT * FROM captures WHERE crawl_run = ? AND url = ? ORDER BY id DESC LIMIT 1", [run_id, url]
    )
    payload = queries.payload_row(conn, found[0]) if found else None
    if payload is None:
        seen = queries.rows(
            conn,
            "SELECT c.* FROM observations o JOIN captures c ON c.id = o.capture_id "
            "WHERE o.crawl_run = ? AND o.url = ? ORDER BY o.id DESC LIMIT 1",
            [run_id, url],
        )
        payload = seen[0] if seen else None
    return {k: payload[k] for k in PAYLOAD_COLUMNS} if payload is not None else None
