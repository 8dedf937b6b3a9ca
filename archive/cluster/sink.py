"""Where a Redis worker's writer sends its rows: the ingest stream, with the leases they end.

The worker's writer process (archive/crawl/writer.py) writes WARC records and
extracts text as on one machine; instead of committing rows to SQLite it
appends each batch to one Redis stream, and in the same transaction ends the
leases of the requests whose rows are all in it. A lease therefore never ends
before its rows are safe in Redis, and the one ingest (archive/cluster/ingest.py)
gives the rows their place in the hash chain.
"""

from __future__ import annotations

import pickle
import zlib
from dataclasses import dataclass
from typing import Any

from archive.archive import Archive
from archive.cluster import keys
from archive.config import Config
from archive.index.db import open_index
from archive.ingest.batch import Batch
from archive.redis_client import connect
from archive.warc.write import Original

# Batches carry extracted text: level 1 costs little CPU and shrinks what Redis holds.
COMPRESSION = 1


@dataclass(frozen=True)
class WorkerTarget:
    """A worker's crawl of run `run_id` (picklable: it crosses to the writer process)."""

    redis_url: str
    run_id: int
    worker: str

    def open(self, config: Config) -> RedisSink:
        return RedisSink(config, self)


def pack(batch: Any, opened: list[str]) -> bytes:
    """A batch and the WARC files opened since the last one, as one stream field."""
    return zlib.compress(pickle.dumps((batch, opened), protocol=pickle.HIGHEST_PROTOCOL), COMPRESSION)


def unpack(data: bytes) -> tuple[Any, list[str]]:
    """What `pack` made. Redis is trusted like the workers themselves (scrapy-redis pickles too)."""
    return pickle.loads(zlib.decompress(data))  # noqa: S301 - see the README's Redis security note


class RedisSink:
    """The writer's sink in Redis mode (archive/ingest/sink.py's IndexSink is the other)."""

    def __init__(self, config: Config, target: WorkerTarget) -> None:
        self.archive = Archive.from_config(config)
        self.target = target
        self.client = connect(target.redis_url)
        self.leases = keys.run_key(target.run_id, "leases")
        self.opened: list[str] = []

    def originals(self, prefix: str) -> dict[tuple[str, str], Original]:
        """Revisits need the first record of each payload: read from the index when this
        machine sees it (read-only), else every payload is written whole."""
        if not self.archive.exists():
            return {}
        from archive.index.captures import load_originals

        index = open_index(self.archive)
        try:
            return load_originals(index, prefix)
        finally:
            index.close()

    def file_opened(self, filename: str, run_id: int | None) -> None:
        """Name the file in Redis before any record goes in it: the ingest reconciles a dead
        worker's files, and names each file's run in the index."""
        self.client.sadd(keys.files(self.target.worker), f"{self.target.run_id} {filename}")
        self.opened.append(filename)

    def commit(self, batch: Batch) -> None:
        pipe = self.client.pipeline(transaction=True)
        pipe.xadd(
            keys.STREAM,
            {"run": self.target.run_id, "worker": self.target.worker, "batch": pack(batch, self.opened)},
        )
        if batch.releases:
            pipe.hdel(self.leases, *batch.releases)
        pipe.execute()
        self.opened = []

    def close(self) -> None:
        self.client.close()
