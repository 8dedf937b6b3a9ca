"""The archive writer: WARC records, text extraction and SQLite rows in a separate process.

Gzip, extraction and index inserts cost more CPU per page than crawling it
(MEASURED.md: a writer process was the largest single gain, 0.57 -> 0.73 of
bare Scrapy). Scrapy runs on one core; this process uses the other. Order is
kept because one pipe carries everything (archive/crawl/messages.py): an
exchange's WARC record is always written before the row that points at it.
The crawler's side of the pipe is archive/crawl/client.py.
"""

from __future__ import annotations

import signal
import time
from dataclasses import dataclass, field
from typing import Any

from archive.config import Archive, Config
from archive.crawl.messages import (
    AddCapture,
    AddFetchError,
    AddObservation,
    AddRecord,
    Close,
    Message,
    Release,
    Reply,
    RunEnd,
    StartRun,
    WriteExchange,
)
from archive.crawl.payloads import RecentPayloads
from archive.crawl.reconcile import reconcile_run
from archive.errors import ArchiveError
from archive.history.context import Rules
from archive.history.ingest import HistoryWriter
from archive.index.captures import load_originals, save_captures
from archive.index.db import writing
from archive.index.kinds import ObservationKind
from archive.index.observations import revisit_observations, save_observations, save_validators
from archive.index.runs import finish_run, resumable_run, save_fetch_errors, start_run, upsert_source
from archive.records.store import save_records
from archive.sources.model import Source, source_to_dict
from archive.text.extract import extract
from archive.times import iso, parse_when, utc_now
from archive.warc.write import Original, WarcStore

# Rows are committed in batches: a commit per row costs ~2.5 ms (MEASURED.md).
BATCH_ROWS = 500
BATCH_SECONDS = 0.5


@dataclass
class Batch:
    """Rows queued since the last commit; applied in one transaction, in this order."""

    captures: list[dict[str, Any]] = field(default_factory=list)
    observations: list[dict[str, Any]] = field(default_factory=list)
    validators: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    # Records items (releases, documents) name captures by WARC-Record-ID, so
    # they are saved after the captures of the same batch.
    records: list[Any] = field(default_factory=list)
    # Redis mode: leases of requests whose every row is in this batch or an earlier one.
    releases: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.captures) + len(self.errors) + len(self.records)

    def empty(self) -> bool:
        return not (
            self.captures
            or self.errors
            or self.records
            or self.observations
            or self.validators
            or self.releases
        )


class IndexSink:
    """Where a batch goes on one machine: the SQLite index, with history folded in the same transaction.

    The Redis ingest (archive/cluster/ingest.py) applies the batches workers send through
    this same class, so there is one write path for rows however they were crawled.
    """

    def __init__(self, config: Config) -> None:
        self.archive = config.archive
        self.index = config.archive.open_index()
        # Versions and changes follow the captures in the same transaction.
        self.history = HistoryWriter(self.index, Rules.from_config(config))

    def originals(self, prefix: str) -> dict[tuple[str, str], Original]:
        """First full records of `prefix`'s payloads, so repeats become revisits."""
        return load_originals(self.index, prefix)

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
        if batch.errors:
            save_fetch_errors(self.index, batch.errors)
        if batch.records:
            save_records(self.index, batch.records)

    def close(self) -> None:
        self.index.close()


class Writer:
    """The writer process's state: one WARC store, where rows go (`sink`), the rows not yet committed.

    `target` None: rows go to this machine's index (IndexSink), and the writer opens
    and closes runs. Otherwise `target.open(config)` gives the sink (Redis mode: a
    worker's rows go to the ingest stream; archive/cluster/sink.py).
    """

    def __init__(self, conn: Any, config: Config, prefix: str, target: Any = None) -> None:
        self.conn = conn
        self.resume_within = config.resume_within
        self.archive = archive = config.archive
        self.sink = IndexSink(config) if target is None else target.open(config)
        self.run_id: int | None = getattr(target, "run_id", None)
        self.store = WarcStore(
            archive.warc_dir,
            prefix,
            max_size=config.warc_max_size,
            gzip_level=config.warc_gzip_level,
            originals=self.sink.originals(prefix),
            on_open=self.file_opened,
            host=getattr(target, "worker", None),
        )
        self.payloads = RecentPayloads(archive.warc_dir)
        self.batch = Batch()
        self.last_flush = time.monotonic()

    @property
    def index(self) -> Any:
        """The index, when rows go to this machine's (None in Redis mode)."""
        return getattr(self.sink, "index", None)

    @property
    def history(self) -> Any:
        return getattr(self.sink, "history", None)

    def file_opened(self, filename: str) -> None:
        """Tell the sink a new WARC file's run before any record goes in it."""
        self.sink.file_opened(filename, self.run_id)

    def flush(self) -> None:
        """Commit every queued row in one transaction."""
        if not self.batch.empty():
            self.sink.commit(self.batch)
            self.batch = Batch()
        self.last_flush = time.monotonic()

    def handle(self, message: Message) -> bool:
        """Act on one message; False once the writer should stop."""
        if isinstance(message, WriteExchange):
            try:
                location = self.store.write_exchange(message.exchange)
            except Exception as exc:  # noqa: BLE001 - disk full, permissions: tell the crawler
                self.reply(message.request_id, False, f"cannot write WARC record: {exc}")
            else:
                self.payloads.keep(location, message.exchange)
                self.reply(message.request_id, True, location)
        elif isinstance(message, AddCapture):
            row = message.row
            # A requisite's text (CSS, scripts) is not what the page says: not searchable.
            if row["warc_type"] != "revisit" and not row.get("requisite"):
                body = message.body if message.body is not None else self.payloads.decoded(row)
                found = extract(message.content_type, body)
                row.update(
                    title=found.title, text=found.text, extraction=found.method, extraction_error=found.error
                )
            self.batch.captures.append(row)
            if message.validators is not None:
                self.batch.validators.append(message.validators)
        elif isinstance(message, AddObservation):
            self.batch.observations.append(message.row)
        elif isinstance(message, AddFetchError):
            self.batch.errors.append(message.row)
        elif isinstance(message, AddRecord):
            self.batch.records.append(message.item)
        elif isinstance(message, Release):
            self.batch.releases.append(message.lease)
        elif isinstance(message, StartRun):
            self.flush()
            try:
                self.reply(message.request_id, True, self.start(message))
            except Exception as exc:  # noqa: BLE001 - the crawler reports it in one line
                self.reply(message.request_id, False, f"start_run failed: {exc}")
        elif isinstance(message, Close):
            self.close(message.finish)
            self.reply(message.request_id, True, list(self.store.files))
            return False
        if len(self.batch) >= BATCH_ROWS or time.monotonic() - self.last_flush >= BATCH_SECONDS:
            self.flush()
        return True

    def start(self, message: StartRun) -> tuple[int, int | None]:
        """Open the run (reconciling and continuing an unfinished one if asked); (run id, resumed id)."""
        if not isinstance(self.sink, IndexSink):
            raise ArchiveError("a Redis worker's runs are opened by the command that seeded them")
        self.run_id, resumed = open_run(
            self.sink,
            self.archive,
            message.name,
            message.spider,
            message.source,
            message.pid,
            self.resume_within,
        )
        return self.run_id, resumed

    def close(self, finish: RunEnd | None) -> None:
        """Flush, settle history, close the WARC file and record how the run ended."""
        self.flush()
        if self.index is None:  # Redis mode: the ingest settles history and closes the run
            self.store.close()
            return
        with writing(self.index):
            self.history.settle()
        self.store.close()
        if finish is not None:
            with writing(self.index):
                finish_run(
                    self.index,
                    finish.run_id,
                    status=finish.status,
                    reason=finish.reason,
                    counts=finish.counts,
                    warc_files=list(self.store.files),
                )

    def reply(self, request_id: int, ok: bool, value: Any) -> None:
        self.conn.send(Reply(request_id, ok, value))


def open_run(
    sink: IndexSink,
    archive: Archive,
    name: str,
    spider: str,
    source: Source | None,
    pid: int | None,
    resume_within: float,
) -> tuple[int, int | None]:
    """Record the source and open a crawl run; an unfinished earlier run of the same source and
    spider is reconciled first, and continued if it started within `resume_within` seconds.
    Returns (run id, id of the run it resumes or None)."""
    index = sink.index
    with writing(index):
        if source is not None:
            upsert_source(index, source)
            sink.history.watch(source.name, source_to_dict(source))
    previous = resumable_run(index, name, spider)
    resumed = None
    if previous is not None:
        reconcile_run(archive, index, previous, source, sink.history)
        age = (utc_now() - parse_when(previous["started_at"])).total_seconds()
        if age < resume_within:
            resumed = previous["id"]
    with writing(index):
        run_id = start_run(index, name, spider, pid=pid, resumed_from=resumed)
    return run_id, resumed


def serve(conn: Any, config: Config, prefix: str, target: Any = None) -> None:
    """Main loop of the writer process: answer messages until Close or EOF."""
    # Ctrl-C and systemd's stop signal reach every process of the group; the
    # crawler alone decides when to stop, so the writer keeps writing until
    # the crawler closes it (or dies: then the pipe ends and it flushes and exits).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    writer = Writer(conn, config, prefix, target)
    try:
        while True:
            if not conn.poll(BATCH_SECONDS):
                writer.flush()
                continue
            try:
                message = conn.recv()
            except EOFError:
                break
            if not writer.handle(message):
                break
    finally:
        writer.flush()
        writer.store.close()
        writer.sink.close()
