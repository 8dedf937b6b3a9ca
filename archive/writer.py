"""The archive writer: WARC records, text extraction and SQLite rows in a separate process.

Gzip, extraction and index inserts cost more CPU per page than crawling it
(MEASURED.md: a writer process was the largest single gain, 0.57 -> 0.73 of
bare Scrapy). Scrapy runs on one core; this process uses the other. Order is
kept because one pipe carries everything: an exchange's WARC record is always
written before the row that points at it.

The crawler side (`WriterClient`) is used from Twisted's reactor thread:
`write_exchange` returns a Deferred that fires with the RecordLocation, so the
download path waits for its own record without blocking other downloads.
"""

from __future__ import annotations

import logging
import multiprocessing
import queue
import threading
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from twisted.internet import defer

from .errors import ArchiveError

# Messages queued for the writer before the crawler waits: the pipe holds about
# one page, so without a queue the reactor stalled on every write while the
# writer was busy with the previous page (seen in profiles of 800-page crawls).
SEND_QUEUE = 256
# Rows are committed in batches: a commit per row costs ~2.5 ms (MEASURED.md).
BATCH_ROWS = 500
BATCH_SECONDS = 0.5


@dataclass(frozen=True)
class WriterConfig:
    """What the writer process needs to know; plain data so it pickles."""

    data_dir: str
    prefix: str
    max_size: int
    gzip_level: int


# -- the writer process ---------------------------------------------------------


def _serve(conn: Any, config: WriterConfig) -> None:
    """Main loop of the writer process: answer messages until 'close' or EOF."""
    from . import db as dbmod
    from . import documents
    from .extract import extract
    from .warc import WarcStore

    # pypdf logs each oddity of a broken file to stderr; the reason is recorded
    # in the capture's extraction_error instead.
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    data_dir = Path(config.data_dir)
    index = dbmod.open_db(data_dir / dbmod.DB_NAME)
    store = WarcStore(
        data_dir / dbmod.WARC_DIR, config.prefix, max_size=config.max_size,
        gzip_level=config.gzip_level, originals=dbmod.load_originals(index, config.prefix),
    )
    captures: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    # Records items (releases, documents) name captures by WARC-Record-ID, so
    # they are saved after the captures of the same batch.
    records: list[Any] = []
    last_flush = time.monotonic()

    def flush() -> None:
        nonlocal captures, errors, records, last_flush
        if captures or errors or records:
            with dbmod.writing(index):
                if captures:
                    dbmod.save_captures(index, captures)
                if errors:
                    dbmod.save_fetch_errors(index, errors)
                if records:
                    documents.save_records(index, records)
            captures, errors, records = [], [], []
        last_flush = time.monotonic()

    try:
        while True:
            if not conn.poll(BATCH_SECONDS):
                flush()
                continue
            try:
                message = conn.recv()
            except EOFError:
                break
            kind = message[0]
            if kind == "exchange":
                _, request_id, exchange = message
                try:
                    location = store.write_exchange(**exchange)
                except Exception as exc:  # disk full, permissions: tell the crawler
                    conn.send(("error", request_id, f"cannot write WARC record: {exc}"))
                    continue
                conn.send(("ok", request_id, location))
            elif kind == "capture":
                _, row, content_type, body = message
                if row["warc_type"] != "revisit":
                    found = extract(content_type, body)
                    row.update(title=found.title, text=found.text, extraction=found.method,
                               extraction_error=found.error)
                captures.append(row)
            elif kind == "error":
                errors.append(message[1])
            elif kind == "record":
                records.append(message[1])
            elif kind == "call":
                # Synchronous index work (start/finish a run): flush first so the
                # caller sees every row sent before it.
                _, request_id, name, args = message
                flush()
                try:
                    with dbmod.writing(index):
                        result = getattr(dbmod, name)(index, *args)
                    conn.send(("ok", request_id, result))
                except Exception as exc:
                    conn.send(("error", request_id, f"{name} failed: {exc}"))
            elif kind == "close":
                _, request_id, finish = message
                flush()
                store.close()
                if finish is not None:
                    run_id, status, reason, counts = finish
                    with dbmod.writing(index):
                        dbmod.finish_run(index, run_id, status=status, reason=reason,
                                         counts=counts, warc_files=list(store.files))
                conn.send(("ok", request_id, list(store.files)))
                break
            if len(captures) + len(errors) + len(records) >= BATCH_ROWS or time.monotonic() - last_flush >= BATCH_SECONDS:
                flush()
    finally:
        flush()
        store.close()
        index.close()


# -- the crawler side -------------------------------------------------------------


class WriterClient:
    """Talks to one writer process from the reactor thread."""

    def __init__(self, config: WriterConfig, on_failure: Any = None) -> None:
        # Called once, from the reader thread, if the writer dies while in use.
        self.on_failure = on_failure
        context = multiprocessing.get_context("spawn")  # never fork a running reactor
        self.conn, child = context.Pipe(duplex=True)
        self.process = context.Process(target=_serve, args=(child, config), daemon=True,
                                       name=f"spyglass-writer-{config.prefix}")
        self.process.start()
        child.close()
        self._next = 0
        self._closing = False
        self._pending: dict[int, Any] = {}
        self._lock = threading.Lock()
        self.failure: str | None = None
        self.files: list[str] = []
        self._outbox: queue.Queue = queue.Queue(maxsize=SEND_QUEUE)
        self._reader = threading.Thread(target=self._read_replies, daemon=True)
        self._reader.start()
        self._sender = threading.Thread(target=self._send_messages, daemon=True)
        self._sender.start()

    def _send_messages(self) -> None:
        while True:
            message = self._outbox.get()
            if message is None:
                return
            try:
                self.conn.send(message)
            except (OSError, ValueError) as exc:
                self._fail_all(f"the archive writer process is gone ({exc})")
                return

    def _read_replies(self) -> None:
        while True:
            try:
                status, request_id, value = self.conn.recv()
            except (EOFError, OSError):
                self._fail_all("the archive writer process stopped")
                return
            with self._lock:
                waiter = self._pending.pop(request_id, None)
            if waiter is not None:
                waiter(status, value)

    def _fail_all(self, reason: str) -> None:
        with self._lock:
            first = self.failure is None
            self.failure = self.failure or reason
            waiters, self._pending = list(self._pending.values()), {}
        for waiter in waiters:
            waiter("error", reason)
        if first and not self._closing and self.on_failure is not None:
            self.on_failure(reason)

    def _register(self, waiter: Any) -> int:
        with self._lock:
            if self.failure:
                raise ArchiveError(self.failure)
            self._next += 1
            self._pending[self._next] = waiter
            return self._next

    def _send(self, message: tuple) -> None:
        """Queue a message; blocks only when the writer is SEND_QUEUE messages behind."""
        if self.failure:
            raise ArchiveError(self.failure)
        self._outbox.put(message)

    def write_exchange(self, **exchange: Any) -> defer.Deferred:
        """Write one exchange; the Deferred fires with its RecordLocation."""
        from twisted.internet import reactor  # imported late: Scrapy installs the reactor

        d: defer.Deferred = defer.Deferred()

        def done(status: str, value: Any) -> None:
            if status == "ok":
                reactor.callFromThread(d.callback, value)
            else:
                reactor.callFromThread(d.errback, ArchiveError(value))

        self._send(("exchange", self._register(done), exchange))
        return d

    def add_capture(self, row: dict[str, Any], content_type: str | None, body: bytes) -> None:
        """Queue a capture row; the writer extracts title and text from the decoded `body`."""
        self._send(("capture", row, content_type, body))

    def add_fetch_error(self, row: dict[str, Any]) -> None:
        """Queue a fetch_errors row."""
        self._send(("error", row))

    def add_record(self, item: Any) -> None:
        """Queue a records item (Release or DocumentFile) for archive.documents.save_records."""
        self._send(("record", item))

    def call(self, name: str, *args: Any, timeout: float = 120) -> Any:
        """Run archive.db.<name>(index, *args) in the writer and wait for its result."""
        event = threading.Event()
        box: list[Any] = []

        def done(status: str, value: Any) -> None:
            box.append((status, value))
            event.set()

        self._send(("call", self._register(done), name, args))
        if not event.wait(timeout):
            raise ArchiveError(f"the archive writer did not answer {name} within {timeout} s")
        status, value = box[0]
        if status != "ok":
            raise ArchiveError(value)
        return value

    def close(self, finish: tuple | None = None, timeout: float = 300) -> list[str]:
        """Flush, close the WARC file, record the run's end (`finish`), stop; returns the files written."""
        self._closing = True
        if self.process.is_alive() and not self.failure:
            event = threading.Event()
            box: list[Any] = []

            def done(status: str, value: Any) -> None:
                box.append((status, value))
                event.set()

            try:
                self._send(("close", self._register(done), finish))
                event.wait(timeout)
            except ArchiveError:
                pass
            if box and box[0][0] == "ok":
                self.files = box[0][1]
        self._outbox.put(None)
        self.process.join(timeout=30)
        if self.process.is_alive():
            self.process.terminate()
        return self.files


_clients: "weakref.WeakKeyDictionary[Any, WriterClient]" = weakref.WeakKeyDictionary()


def writer_for(crawler: Any, prefix: str) -> WriterClient:
    """The one writer process of a crawler, started on first use."""
    client = _clients.get(crawler)
    if client is None:
        settings = crawler.settings
        client = WriterClient(WriterConfig(
            data_dir=str(settings.get("SPYGLASS_DATA_DIR", "data")),
            prefix=prefix,
            max_size=settings.getint("SPYGLASS_WARC_MAX_SIZE", 1_000_000_000),
            gzip_level=settings.getint("SPYGLASS_WARC_GZIP_LEVEL", 6),
        ), on_failure=lambda reason: _stop_crawl(crawler, reason))
        _clients[crawler] = client
    return client


def _stop_crawl(crawler: Any, reason: str) -> None:
    """Nothing more can be archived: close the spider rather than fetch in vain."""
    from scrapy.utils.defer import deferred_from_coro
    from twisted.internet import reactor

    def close() -> None:
        if crawler.engine is not None and crawler.engine.running:
            crawler.stats.set_value("spyglass/writer_failure", reason)
            deferred_from_coro(crawler.engine.close_spider_async(reason="archive_writer_failed"))

    reactor.callFromThread(close)


def close_writer(crawler: Any, finish: tuple | None = None) -> list[str]:
    """Close the crawler's writer if it has one; returns the WARC files it wrote."""
    client = _clients.pop(crawler, None)
    return client.close(finish) if client is not None else []
