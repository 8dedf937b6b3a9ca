"""The archive writer: WARC records, text extraction and SQLite rows in a separate process.

Gzip, extraction and index inserts cost more CPU per page than crawling it
(MEASURED.md: a writer process was the largest single gain, 0.57 -> 0.73 of
bare Scrapy). Scrapy runs on one core; this process uses the other. Order is
kept because one pipe carries everything (archive/crawl/messages.py): an
exchange's WARC record is always written before the row that points at it.
The crawler's side of the pipe is archive/crawl/client.py.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from typing import Any

from archive.archive import Archive
from archive.config import Config
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
from archive.crawl.parsed import ParsedPages
from archive.crawl.payloads import RecentPayloads
from archive.errors import ArchiveError
from archive.index.db import writing
from archive.index.runs import finish_run
from archive.ingest.batch import Batch
from archive.ingest.runs import open_run
from archive.ingest.sink import IndexSink, Sink
from archive.text.extract import text_columns
from archive.warc.write import WarcStore

# Rows are committed in batches: a commit per row costs ~2.5 ms (MEASURED.md).
BATCH_ROWS = 500
BATCH_SECONDS = 0.5


class Writer:
    """The writer process's state: one WARC store, where rows go (`sink`), the rows not yet committed.

    `target` None: rows go to this machine's index (IndexSink), and the writer opens
    and closes runs. Otherwise `target.open(config)` gives the sink (Redis mode: a
    worker's rows go to the ingest stream; archive/cluster/sink.py).
    """

    def __init__(self, conn: Any, config: Config, prefix: str, target: Any = None) -> None:
        self.conn = conn
        self.resume_within = config.resume_within
        self.settle_later = config.settle_later
        self.archive = archive = Archive.from_config(config)
        self.sink: Sink = IndexSink(config) if target is None else target.open(config)
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
        self.parsed = ParsedPages()
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
                if message.links is None:
                    self.payloads.keep(location, message.exchange)
                    self.reply(message.request_id, True, location)
                else:
                    links = self.parsed.read(location, message.exchange, message.links)
                    self.reply(message.request_id, True, (location, links))
        elif isinstance(message, AddCapture):
            row = message.row
            # A requisite's text (CSS, scripts) is not what the page says: not searchable.
            if row["warc_type"] != "revisit" and not row.get("requisite"):
                columns = self.parsed.columns(row, message.content_type) if message.body is None else None
                if columns is None:
                    body = message.body if message.body is not None else self.payloads.decoded(row)
                    columns = text_columns(message.content_type, body)
                row.update(columns)
            self.batch.captures.append(row)
            if message.validators is not None:
                self.batch.validators.append(message.validators)
            if message.links is not None:
                self.batch.links.append(message.links)
        elif isinstance(message, AddObservation):
            self.batch.observations.append(message.row)
            if message.links is not None:
                self.batch.links.append(message.links)
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
        """Flush, settle history (or leave it pending), close the WARC file and record how the run ended."""
        self.flush()
        if self.index is None:  # Redis mode: the ingest settles history and closes the run
            self.store.close()
            return
        with writing(self.index):
            if self.settle_later:  # after the run is reported (archive/history/later.py)
                self.history.defer(self.run_id)
            else:
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
    # Everything is written, committed and closed, and the crawler waits for this process
    # to end before it reports: skip the interpreter's teardown of every module it loaded.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
