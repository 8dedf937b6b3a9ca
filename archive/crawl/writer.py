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
from typing import Any

from archive.config import Config
from archive.crawl.messages import (
    AddCapture,
    AddFetchError,
    AddObservation,
    AddRecord,
    Close,
    Message,
    Reply,
    RunEnd,
    StartRun,
    WriteExchange,
)
from archive.crawl.reconcile import reconcile_run
from archive.history.context import Rules
from archive.history.ingest import HistoryWriter
from archive.index.captures import load_originals, save_captures
from archive.index.db import writing
from archive.index.observations import revisit_observations, save_observations, save_validators
from archive.index.runs import finish_run, resumable_run, save_fetch_errors, start_run, upsert_source
from archive.records.store import save_records
from archive.sources.model import source_to_dict
from archive.text.extract import extract
from archive.times import iso, parse_when, utc_now
from archive.warc.write import WarcStore

# Rows are committed in batches: a commit per row costs ~2.5 ms (MEASURED.md).
BATCH_ROWS = 500
BATCH_SECONDS = 0.5


class Writer:
    """The writer process's state: one WARC store, one index connection, the rows not yet committed."""

    def __init__(self, conn: Any, config: Config, prefix: str) -> None:
        self.conn = conn
        self.resume_within = config.resume_within
        self.archive = archive = config.archive
        self.index = archive.open_index()
        self.store = WarcStore(
            archive.warc_dir, prefix, max_size=config.warc_max_size,
            gzip_level=config.warc_gzip_level, originals=load_originals(self.index, prefix),
            on_open=self.file_opened,
        )
        self.run_id: int | None = None
        # Versions and changes follow the captures in the same transaction.
        self.history = HistoryWriter(self.index, Rules.from_config(config))
        self.captures: list[dict[str, Any]] = []
        self.observations: list[dict[str, Any]] = []
        self.validators: list[dict[str, Any]] = []
        self.errors: list[dict[str, Any]] = []
        # Records items (releases, documents) name captures by WARC-Record-ID, so
        # they are saved after the captures of the same batch.
        self.records: list[Any] = []
        self.last_flush = time.monotonic()

    def file_opened(self, filename: str) -> None:
        """Name a new WARC file's run in the index before any record goes in it, so a restart
        after a crash knows which files to reconcile."""
        with writing(self.index):
            self.index.table("warc_files").insert(
                {"filename": filename, "crawl_run": self.run_id, "opened_at": iso(utc_now())},
                replace=True)

    def flush(self) -> None:
        """Commit every queued row in one transaction."""
        if self.captures or self.errors or self.records or self.observations or self.validators:
            with writing(self.index):
                if self.captures:
                    self.history.add(save_captures(self.index, self.captures))
                seen = save_observations(self.index, revisit_observations(self.captures) + self.observations)
                # A revisit is a capture, in history already; a 304 extends the version it confirms.
                self.history.observe([(o["capture_id"], o["observed_at"]) for o in seen
                                      if o["kind"] == "not-modified" and o["capture_id"] is not None])
                if self.validators:
                    save_validators(self.index, self.validators)
                if self.errors:
                    save_fetch_errors(self.index, self.errors)
                if self.records:
                    save_records(self.index, self.records)
            self.captures, self.errors, self.records = [], [], []
            self.observations, self.validators = [], []
        self.last_flush = time.monotonic()

    def handle(self, message: Message) -> bool:
        """Act on one message; False once the writer should stop."""
        if isinstance(message, WriteExchange):
            try:
                location = self.store.write_exchange(message.exchange)
            except Exception as exc:  # noqa: BLE001 - disk full, permissions: tell the crawler
                self.reply(message.request_id, False, f"cannot write WARC record: {exc}")
            else:
                self.reply(message.request_id, True, location)
        elif isinstance(message, AddCapture):
            row = message.row
            # A requisite's text (CSS, scripts) is not what the page says: not searchable.
            if row["warc_type"] != "revisit" and not row.get("requisite"):
                found = extract(message.content_type, message.body)
                row.update(title=found.title, text=found.text, extraction=found.method,
                           extraction_error=found.error)
            self.captures.append(row)
            if message.validators is not None:
                self.validators.append(message.validators)
        elif isinstance(message, AddObservation):
            self.observations.append(message.row)
        elif isinstance(message, AddFetchError):
            self.errors.append(message.row)
        elif isinstance(message, AddRecord):
            self.records.append(message.item)
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
        if (len(self.captures) + len(self.errors) + len(self.records) >= BATCH_ROWS
                or time.monotonic() - self.last_flush >= BATCH_SECONDS):
            self.flush()
        return True

    def start(self, message: StartRun) -> tuple[int, int | None]:
        """Open the run (reconciling and continuing an unfinished one if asked); (run id, resumed id)."""
        with writing(self.index):
            if message.source is not None:
                upsert_source(self.index, message.source)
                self.history.watch(message.source.name, source_to_dict(message.source))
        previous = resumable_run(self.index, message.name, message.spider)
        resumed = None
        if previous is not None:
            reconcile_run(self.archive, self.index, previous, message.source, self.history)
            age = (utc_now() - parse_when(previous["started_at"])).total_seconds()
            if age < self.resume_within:
                resumed = previous["id"]
        with writing(self.index):
            self.run_id = start_run(self.index, message.name, message.spider, pid=message.pid,
                                    resumed_from=resumed)
        return self.run_id, resumed

    def close(self, finish: RunEnd | None) -> None:
        """Flush, settle history, close the WARC file and record how the run ended."""
        self.flush()
        with writing(self.index):
            self.history.settle()
        self.store.close()
        if finish is not None:
            with writing(self.index):
                finish_run(self.index, finish.run_id, status=finish.status, reason=finish.reason,
                           counts=finish.counts, warc_files=list(self.store.files))

    def reply(self, request_id: int, ok: bool, value: Any) -> None:
        self.conn.send(Reply(request_id, ok, value))


def serve(conn: Any, config: Config, prefix: str) -> None:
    """Main loop of the writer process: answer messages until Close or EOF."""
    # Ctrl-C and systemd's stop signal reach every process of the group; the
    # crawler alone decides when to stop, so the writer keeps writing until
    # the crawler closes it (or dies: then the pipe ends and it flushes and exits).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    writer = Writer(conn, config, prefix)
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
        writer.index.close()
