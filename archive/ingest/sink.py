"""Where a batch goes: the Sink every writer commits to, and IndexSink, this machine's index."""

from __future__ import annotations

from typing import Protocol

from archive.archive import Archive
from archive.config import Config
from archive.history.context import Rules
from archive.history.ingest import HistoryWriter
from archive.index.captures import IndexedOriginals, save_captures, save_screenshots
from archive.index.db import open_index, writing
from archive.index.kinds import ObservationKind
from archive.index.links import save_links
from archive.index.observations import revisit_observations, save_observations, save_validators
from archive.index.runs import save_fetch_errors
from archive.ingest.batch import Batch
from archive.records.store import save_records
from archive.times import iso, utc_now
from archive.warc.write import Original, Originals


class Sink(Protocol):
    """What the writer process needs of where its rows go: IndexSink here, RedisSink in Redis mode
    (archive/cluster/sink.py)."""

    def originals(self, prefix: str) -> Originals | dict[tuple[str, str], Original]:
        """First full records of `prefix`'s payloads, so repeats become revisits."""
        ...

    def file_opened(self, filename: str, run_id: int | None) -> None:
        """Name a new WARC file's run before any record goes in it."""
        ...

    def commit(self, batch: Batch) -> None:
        """Keep every row of `batch`, all or none."""
        ...

    def close(self) -> None:
        """Let go of the index or the connection."""
        ...


class IndexSink:
    """Where a batch goes on one machine: the SQLite index, with history folded in the same transaction.

    The Redis ingest (archive/cluster/ingest.py) applies the batches workers send through
    this same class, so there is one write path for rows however they were crawled.
    """

    def __init__(self, config: Config) -> None:
        self.archive = Archive.from_config(config)
        self.index = open_index(self.archive)
        # Versions and changes follow the captures in the same transaction.
        self.history = HistoryWriter(self.index, Rules.from_config(config))

    def originals(self, prefix: str) -> Originals:
        """First full records of `prefix`'s payloads, so repeats become revisits: looked up in
        the index as they are needed, not loaded."""
        return IndexedOriginals(self.index, prefix)

    def file_opened(self, filename: str, run_id: int | None) -> None:
        """Name a new WARC file's run in the index before any record goes in it, so a restart
        after a crash knows which files to reconcile."""
        with writing(self.index):
            self.index.table("warc_files").insert(
                {"filename": filename, "crawl_run": run_id, "opened_at": iso(utc_now())}, replace=True
            )

    def commit(self, batch: Batch) -> None:
        """Apply every row of `batch` in one transaction."""
        with writing(self.index):
            self.apply(batch)

    def apply(self, batch: Batch) -> None:
        """Apply `batch` inside the caller's transaction."""
        if batch.captures:
            self.history.add(save_captures(self.index, batch.captures))
        seen = save_observations(self.index, revisit_observations(batch.captures) + batch.observations)
        # A revisit is a capture, in history already; a 304 extends the version it confirms.
        self.history.observe(
            [
                (o["capture_id"], o["observed_at"])
                for o in seen
                if o["kind"] == ObservationKind.NOT_MODIFIED and o["capture_id"] is not None
            ]
        )
        if batch.validators:
            save_validators(self.index, batch.validators)
        # getattr: a batch pickled by a worker of an earlier version has no links.
        links = getattr(batch, "links", None)
        if links:
            save_links(self.index, links)
        if batch.errors:
            save_fetch_errors(self.index, batch.errors)
        if batch.records:
            save_records(self.index, batch.records)
        shots = getattr(batch, "screenshots", None)
        if shots:
            save_screenshots(self.index, shots)

    def close(self) -> None:
        self.index.close()
