"""Redis mode's key names: every key Spyglass keeps in Redis is named here (the connection: archive/redis_client.py).

Keys of one crawl run carry its crawl_runs id, so one Redis serves one archive's
runs side by side; `claim_archive` keeps a second archive from sharing it.
"""

from __future__ import annotations

import os
import secrets
import socket
from pathlib import Path
from typing import Any

import redis

from archive.errors import ConfigError

PREFIX = "spyglass"
JOBS = f"{PREFIX}:jobs"  # hash: run id -> the pickled Job workers crawl
STREAM = f"{PREFIX}:ingest"  # stream: the rows workers send, in order, to the one ingest
GROUP = "ingest"  # the stream's consumer group (entries stay pending until committed)
ARCHIVE = f"{PREFIX}:archive"  # which archive (host and data directory) this Redis serves
WORKERS = f"{PREFIX}:workers"  # set: ids of workers that may hold leases or files
INGEST_ALIVE = f"{PREFIX}:ingest:alive"  # the ingest's heartbeat


def worker_id() -> str:
    """A name no other worker has, on this machine or another: host, pid and a random part."""
    host = socket.gethostname().split(".")[0] or "host"
    return f"{host}-{os.getpid()}-{secrets.token_hex(3)}"


def alive(worker: str) -> str:
    """A worker's heartbeat: it exists while the worker lives (it expires after the lease)."""
    return f"{PREFIX}:worker:{worker}:alive"


def files(worker: str) -> str:
    """Set of 'run filename' a worker opened: reconciled if it dies."""
    return f"{PREFIX}:worker:{worker}:files"


def run_key(run_id: int, what: str) -> str:
    """A key of crawl run `run_id`: requests (queue), dupefilter, seen, requisites, similar, limits, leases,
    robots, robots-claim, stats, started, held, vouches, held-patterns, traps."""
    return f"{PREFIX}:run:{run_id}:{what}"


def taken(run_id: int, worker: str) -> str:
    """URLs a worker took in the seen-set and has not queued yet (given back if it dies)."""
    return f"{PREFIX}:run:{run_id}:taken:{worker}"


def run_keys(client: redis.Redis, run_id: int) -> list[Any]:
    """Every key of a run, to delete when it is finished."""
    return list(client.scan_iter(match=f"{PREFIX}:run:{run_id}:*", count=1000))


def claim_archive(client: redis.Redis, data_dir: Path) -> None:
    """Make this Redis serve the archive in `data_dir`, or refuse if it serves another one."""
    me = f"{socket.gethostname()}:{Path(data_dir).resolve()}"
    client.set(ARCHIVE, me, nx=True)
    owner = (client.get(ARCHIVE) or b"").decode()
    if owner != me:
        raise ConfigError(
            f"setting SPYGLASS_REDIS_URL: this Redis serves the archive {owner}, "
            f"not {me}: give each archive its own Redis (or database number)"
        )
