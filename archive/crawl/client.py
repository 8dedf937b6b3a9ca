"""The crawler's side of the writer process: typed messages out, replies back, from the reactor thread.

`write_exchange` returns a Deferred that fires with the RecordLocation, so the
download path waits for its own record without blocking other downloads.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import queue
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

from twisted.internet import defer

from archive.config import Config
from archive.crawl import spawn
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
from archive.errors import ArchiveError
from archive.records.items import RecordItem
from archive.sources.model import Source
from archive.warc.write import Exchange

# Messages queued for the writer before the crawler waits: the pipe holds about
# one page, so without a queue the reactor stalled on every write while the
# writer was busy with the previous page (seen in profiles of 800-page crawls).
SEND_QUEUE = 256
Waiter = Callable[[bool, Any], None]
# A second SIGINT/SIGTERM (archive/crawl/runner.py) means stop now: every wait on
# a writer then ends within STOP_GRACE seconds, so a crawl never hangs on it.
# How long a writer told to stop now may take to write what it holds before it
# is killed (what it wrote is reconciled by the next crawl of the source).
STOP_GRACE = 10.0
# When (time.monotonic) a second signal asked to stop now; None until then. A plain
# value, not a threading.Event: it is set from a signal handler, where taking a lock
# the interrupted code may hold would deadlock.
STOP_NOW_AT: list[float] = []


class WriterClient:
    """Talks to one writer process from the reactor thread."""

    def __init__(
        self, config: Config, prefix: str, on_failure: Callable[[str], None] | None = None, target: Any = None
    ) -> None:
        # Called once, from the reader thread, if the writer dies while in use.
        self.on_failure = on_failure
        self.process, self.conn = spawn.start(config, prefix, target)
        self._next = 0
        self._closing = False
        self._pending: dict[int, Waiter] = {}
        self._lock = threading.Lock()
        self.failure: str | None = None
        self.files: list[str] = []
        self.closed = False  # the writer answered Close: its rows are committed, its run ended
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
                reply: Reply = self.conn.recv()
            except (EOFError, OSError):
                self._fail_all("the archive writer process stopped")
                return
            with self._lock:
                waiter = self._pending.pop(reply.request_id, None)
            if waiter is not None:
                waiter(reply.ok, reply.value)

    def _fail_all(self, reason: str) -> None:
        with self._lock:
            first = self.failure is None
            self.failure = self.failure or reason
            waiters, self._pending = list(self._pending.values()), {}
        for waiter in waiters:
            waiter(False, reason)
        if first and not self._closing and self.on_failure is not None:
            self.on_failure(reason)

    def _register(self, waiter: Waiter) -> int:
        with self._lock:
            if self.failure:
                raise ArchiveError(self.failure)
            self._next += 1
            self._pending[self._next] = waiter
            return self._next

    def _send(self, message: Message) -> None:
        """Queue a message; blocks only when the writer is SEND_QUEUE messages behind (or until stop now)."""
        while True:
            if self.failure:
                raise ArchiveError(self.failure)
            try:
                self._outbox.put(message, timeout=0.2)
                return
            except queue.Full:
                if STOP_NOW_AT:
                    raise ArchiveError("stopped at once by a second signal") from None

    def _ask(self, make: Callable[[int], Message], what: str, timeout: float) -> Any:
        """Send a message with a request id and wait for its reply's value."""
        event = threading.Event()
        box: list[tuple[bool, Any]] = []

        def done(ok: bool, value: Any) -> None:
            box.append((ok, value))
            event.set()

        self._send(make(self._register(done)))
        if not _wait(event, timeout):
            raise ArchiveError(f"the archive writer did not answer {what} in time")
        ok, value = box[0]
        if not ok:
            raise ArchiveError(value)
        return value

    def write_exchange(self, exchange: Exchange, links: bool | None = None) -> defer.Deferred:
        """Write one exchange; the Deferred fires with its RecordLocation, or with `links` not None
        with (RecordLocation, the page's PageLinks or None) (see WriteExchange)."""
        from twisted.internet import reactor  # imported late: Scrapy installs the reactor

        d: defer.Deferred = defer.Deferred()

        def done(ok: bool, value: Any) -> None:
            if ok:
                reactor.callFromThread(d.callback, value)
            else:
                reactor.callFromThread(d.errback, ArchiveError(value))

        self._send(WriteExchange(self._register(done), exchange, links))
        return d

    def add_capture(
        self,
        row: dict[str, Any],
        content_type: str | None,
        body: bytes | None = None,
        validators: dict[str, Any] | None = None,
        links: dict[str, Any] | None = None,
    ) -> None:
        """Queue a capture row (and its page's validators and links); the writer extracts title and
        text from the decoded body (`body`, or by default the one it archived for the row's record)."""
        self._send(AddCapture(row, content_type, body, validators, links))

    def add_observation(self, row: dict[str, Any], links: dict[str, Any] | None = None) -> None:
        """Queue an observations row (and the links of the page it confirms)."""
        self._send(AddObservation(row, links))

    def add_fetch_error(self, row: dict[str, Any]) -> None:
        """Queue a fetch_errors row."""
        self._send(AddFetchError(row))

    def add_record(self, item: RecordItem) -> None:
        """Queue a records item, stored after the captures it names."""
        self._send(AddRecord(item))

    def release(self, lease: str) -> None:
        """Redis mode: end a request's lease once the rows queued before it are committed."""
        self._send(Release(lease))

    def start_run(
        self,
        name: str,
        spider: str,
        source: Source | None = None,
        *,
        pid: int | None = None,
        timeout: float = 600,
    ) -> tuple[int, int | None]:
        """Record the source and open its crawl_runs row (continuing an unfinished recent one);
        returns (run id, id of the run it resumes or None)."""
        return self._ask(lambda rid: StartRun(rid, name, spider, source, pid), "start_run", timeout)

    def close(self, finish: RunEnd | None = None, timeout: float = 300) -> list[str]:
        """Flush, close the WARC file, record the run's end (`finish`), stop; returns the files written."""
        self._closing = True
        if self.process.is_alive() and not self.failure:
            try:
                self.files = self._ask(lambda rid: Close(rid, finish), "close", timeout)
                self.closed = True
            except ArchiveError:
                pass
        try:
            self._outbox.put(None, timeout=STOP_GRACE)
        except queue.Full:
            pass  # the writer is stuck: it is killed below
        if not _wait(self.process.sentinel, 30):
            # It ignores SIGTERM (see writer.serve): only SIGKILL ends it.
            self.process.kill()
            self.process.join(STOP_GRACE)
        self.conn.close()
        return self.files


def _wait(event: Any, timeout: float) -> bool:
    """Wait for a threading.Event or a process sentinel, at most `timeout` s, or STOP_GRACE once stopping now."""
    deadline = time.monotonic() + timeout
    while True:
        if STOP_NOW_AT:
            deadline = min(deadline, STOP_NOW_AT[0] + STOP_GRACE)
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        if isinstance(event, int):
            if multiprocessing.connection.wait([event], min(left, 0.2)):
                return True
        elif event.wait(min(left, 0.2)):
            return True


def stop_now() -> None:
    """A second signal (a signal handler calls it): every wait on a writer ends within STOP_GRACE s."""
    if not STOP_NOW_AT:
        STOP_NOW_AT.append(time.monotonic())


def stopping_now() -> bool:
    """Whether a second signal asked to stop now."""
    return bool(STOP_NOW_AT)


_clients: weakref.WeakKeyDictionary[Any, WriterClient] = weakref.WeakKeyDictionary()


def writer_for(crawler: Any, prefix: str) -> WriterClient:
    """The one writer process of a crawler, started on first use.

    A Redis worker's spider carries `writer_target` (archive/cluster/sink.py): its
    writer sends rows to the ingest stream instead of this machine's index.
    """
    client = _clients.get(crawler)
    if client is None:
        target = getattr(crawler.spider, "writer_target", None)
        client = WriterClient(
            Config.from_settings(crawler.settings),
            prefix,
            on_failure=lambda reason: _stop_crawl(crawler, reason),
            target=target,
        )
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


def close_writer(crawler: Any, finish: RunEnd | None = None) -> tuple[list[str], bool]:
    """Close the crawler's writer if it has one: (the WARC files it wrote, whether it closed cleanly)."""
    client = _clients.pop(crawler, None)
    if client is None:
        return [], True
    return client.close(finish), client.closed
