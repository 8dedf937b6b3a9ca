"""The one ingest: rows from every worker, through one Redis stream, into the one index.

Why one ingest process and not a merge of per-worker indexes: the captures
hash chain has one order, and the stream gives it (entries are appended in
the order workers commit them, and applied in that order, batch after batch,
through the same write path as on one machine: archive/ingest/sink.py's
IndexSink). Captures also reach the published index while the crawl runs, so
`status`, Datasette and the next `run-due` see them at once, and there is no
merge step to forget or to fail half-way.

Exactly once: entries are read through a consumer group and stay pending until
acknowledged; the id of the last entry applied is committed in the same SQLite
transaction as its rows (`ingest_positions`), with synchronous=FULL, so an entry
delivered again after a crash is skipped, never applied twice. A capture row
exists only for a WARC record on disk: an entry whose records this machine does
not see yet (a worker's shared disk lagging) waits, and says so.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from typing import Any

import redis

from archive.cluster import keys
from archive.cluster.sink import unpack
from archive.index.db import writing
from archive.ingest.sink import IndexSink
from archive.times import iso, utc_now

logger = logging.getLogger(__name__)

READ_COUNT = 200  # entries applied in one transaction at most
WAIT_WARNING = 10.0  # seconds an entry may wait for its records before a warning names the file


# KEYS: the stream, jobs. An empty stream is dropped (with its consumer group) once no run is
# active: a clean stop leaves no key behind. The next Ingest creates it again.
FORGET_IDLE_STREAM = """
if redis.call('HLEN', KEYS[2]) > 0 then return 0 end
if redis.call('XLEN', KEYS[1]) > 0 then return 0 end
return redis.call('DEL', KEYS[1])
"""


def _entry_id(value: bytes | str) -> tuple[int, int]:
    text = value.decode() if isinstance(value, bytes) else value
    ms, _, seq = text.partition("-")
    return int(ms), int(seq or 0)


class Ingest:
    """Applies the stream's entries to the index through `sink`; one per archive (the caller locks)."""

    def __init__(self, client: redis.Redis, sink: IndexSink) -> None:
        self.client = client
        self.sink = sink
        self.consumer = f"{socket.gethostname()}-{os.getpid()}"
        # The stream is the only copy of these rows once acknowledged: commit them for real.
        sink.index.execute("PRAGMA synchronous = FULL")
        try:
            client.xgroup_create(keys.STREAM, keys.GROUP, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        row = sink.index.execute(
            "SELECT last_id FROM ingest_positions WHERE stream = ?", [keys.STREAM]
        ).fetchone()
        self.last = _entry_id(row[0]) if row else (0, 0)
        self.waiting_since: float | None = None

    def step(self, block_ms: int = 0) -> int:
        """Apply the next entries (pending ones first); the number applied."""
        claimed = self.client.xautoclaim(
            keys.STREAM, keys.GROUP, self.consumer, min_idle_time=0, start_id="0-0", count=READ_COUNT
        )
        entries = claimed[1]
        if not entries:
            read = self.client.xreadgroup(
                keys.GROUP, self.consumer, {keys.STREAM: ">"}, count=READ_COUNT, block=block_ms or None
            )
            entries = read[0][1] if read else []
        entries = [(entry_id, fields) for entry_id, fields in entries if fields]
        if not entries:
            return 0
        fresh = [(i, unpack(f[b"batch"]), int(f[b"run"])) for i, f in entries if _entry_id(i) > self.last]
        missing = self._missing_records(fresh)
        if missing:
            self._wait(missing)
            return 0
        self.waiting_since = None
        if fresh:
            with writing(self.sink.index):
                for _, (batch, opened), run_id in fresh:
                    self._apply(batch, opened, run_id)
                last = fresh[-1][0].decode()
                self.sink.index.table("ingest_positions").upsert(
                    {"stream": keys.STREAM, "last_id": last, "updated_at": iso(utc_now())}, pk="stream"
                )
            self.last = _entry_id(last)
        ids = [entry_id for entry_id, _ in entries]
        pipe = self.client.pipeline(transaction=True)
        pipe.xack(keys.STREAM, keys.GROUP, *ids)
        pipe.xdel(keys.STREAM, *ids)
        pipe.execute()
        return len(fresh)

    def drain(self) -> int:
        """Apply every entry in the stream now; the number applied."""
        total = 0
        while True:
            applied = self.step()
            total += applied
            if not applied and not self.backlog():
                return total
            if not applied:
                time.sleep(0.2)  # entries waiting for their records

    def forget_if_idle(self) -> bool:
        """Drop the stream if it is empty and no run is active; whether it was dropped."""
        return bool(self.client.eval(FORGET_IDLE_STREAM, 2, keys.STREAM, keys.JOBS))

    def backlog(self) -> int:
        """Entries in the stream not yet applied."""
        return int(self.client.xlen(keys.STREAM))

    def _apply(self, batch: Any, opened: list[str], run_id: int) -> None:
        for filename in opened:
            self.sink.index.table("warc_files").insert(
                {"filename": filename, "crawl_run": run_id, "opened_at": iso(utc_now())}, replace=True
            )
        self.sink.apply(batch)

    def _missing_records(self, fresh: list[tuple[Any, tuple[Any, list[str]], int]]) -> list[str]:
        """WARC files that do not (yet) hold the records the entries' rows point at."""
        sizes: dict[str, int] = {}
        missing = []
        for _, (batch, _), _ in fresh:
            for row in [*batch.captures, *batch.observations]:
                name = row["warc_filename"]
                if name not in sizes:
                    path = self.sink.archive.warc_path(name)
                    sizes[name] = path.stat().st_size if path.exists() else -1
                if sizes[name] < row["warc_offset"] + row["warc_length"] and name not in missing:
                    missing.append(name)
        return missing

    def _wait(self, missing: list[str]) -> None:
        now = time.monotonic()
        if self.waiting_since is None:
            self.waiting_since = now
        elif now - self.waiting_since > WAIT_WARNING:
            logger.warning(
                "ingest: waiting for WARC records in %s: a worker on another machine "
                "must write into this data directory (see the README)",
                ", ".join(missing),
            )
            self.waiting_since = now
        time.sleep(0.2)
