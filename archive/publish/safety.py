"""What a stranger may do to a published archive, and the limits that hold whatever they send.

The stance, its reasons and how a newsroom changes it are in the README
("Publishing"). The Datasette plugin datasette/plugins/spyglass_safety.py
applies what is defined here; every limit has its default here and can be
changed under `plugins: spyglass:` in metadata.yml.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from archive.index.untrusted import Limits
from archive.publish.pool import PoolLimits, stop_shared_pools


@dataclass(frozen=True)
class Stance:
    """What anonymous visitors may do, and how much any one request may cost."""

    # Custom SQL is off unless chosen: search, facets, table views and canned
    # queries answer a reader's questions, while arbitrary SQL lets one stranger
    # spend seconds of CPU per request. `spyglass serve --allow-sql` turns it on;
    # the limits below hold either way (canned queries and table filters run SQL too).
    allow_sql: bool = False
    # Requests that run SQL of the visitor's own (`sql=`, `_where=`) at one time;
    # the rest wait up to `expensive_wait_seconds`, then get 429. Ordinary pages
    # never wait for them: Datasette has more query threads than this.
    max_expensive: int = 1
    expensive_wait_seconds: float = 2.0
    # Searches (canned queries, `_search=`, our search, diff and timeline pages)
    # one client may run at once; the next waits `expensive_wait_seconds`, then 429.
    max_costly_per_client: int = 2
    # Largest reply Datasette may send (the archived-copy routes have their own cap).
    max_reply_mb: int = 25
    # Largest archived copy shown decoded; a larger one gets a page saying so and
    # the download of its WARC record (streamed as stored, never decoded).
    max_archived_mb: int = 20
    # A query is stopped when it has grown the server's memory by this much since
    # it started (rows are built in memory before replying, and no reply may pass
    # max_reply_mb anyway), so no request can make the server grow without bound.
    # Measured per query, not against a fixed total: memory a stopped query freed
    # need not go back to the system at once, and a fixed total would then stop
    # every ordinary query that came after it.
    max_query_memory_mb: int = 150
    # The last line: while the server holds more than this, the query that grew it most is stopped.
    max_memory_mb: int = 1000
    # A visitor's heavy work (diffs, phrase matches) runs in this many worker
    # processes (archive/publish/pool.py), each stopped at the deadline and
    # under the memory limit; a request that finds no worker free within
    # `pool_wait_seconds`, or `pool_queue` requests already waiting, is told to
    # retry (503), so none takes longer than the wait and the deadline together.
    pool_workers: int = 2
    pool_deadline_seconds: float = 5.0
    pool_memory_mb: int = 500
    pool_queue: int = 4
    pool_wait_seconds: float = 2.0
    # Archived HTML and CSS up to this size are rewritten to point into the
    # archive, in a pool of their own (`replay_workers`, with the pool's
    # deadline, memory limit and queue), so diffs cannot hold up replay; a
    # larger page, or one the pool cannot take, is streamed as archived, with
    # a notice on its replay page.
    max_rewrite_mb: int = 2
    replay_workers: int = 2
    # No request waits longer than this for its answer to begin: one that has not
    # begun by then (waiting at a gate, for a query thread or a pool, or in a query
    # the time limit cannot interrupt) is answered 503 with Retry-After, and its
    # work stopped. Above the pool's wait and deadline together, so a pool's own
    # answer comes first.
    max_request_seconds: float = 8.0
    # The archive's public address (https://archive.example.org): Memento links and
    # TimeGate redirects name it. Empty: they are relative, never the Host header's.
    public_url: str = ""
    max_value_bytes: int = Limits.max_value_bytes
    max_like_pattern: int = Limits.max_like_pattern

    @classmethod
    def from_plugin_config(cls, config: Mapping[str, Any] | None) -> Stance:
        """The stance metadata.yml's `plugins: spyglass:` block describes (defaults for what it omits)."""
        config = dict(config or {})
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = config.get(f.name)
            if raw is None:
                continue
            if f.type == "bool":
                values[f.name] = str(raw).strip().lower() in ("1", "true", "yes", "on")
            elif f.type == "str":
                values[f.name] = str(raw).strip()
            elif f.type == "float":
                values[f.name] = float(raw)
            else:
                values[f.name] = int(raw)
        return cls(**values)

    @property
    def pool(self) -> PoolLimits:
        return PoolLimits(
            self.pool_workers,
            self.pool_deadline_seconds,
            self.pool_memory_mb,
            self.pool_queue,
            self.pool_wait_seconds,
            preload=("archive.publish.heavy",),
            # Diffs and phrase matches of large texts are what strangers send; readers' pages first.
            nice=10,
        )

    @property
    def replay_pool(self) -> PoolLimits:
        # Not niced: rewriting an archived copy is part of a reader's ordinary page.
        return replace(
            self.pool, workers=self.replay_workers, name="replay", preload=("archive.publish.replay",), nice=0
        )

    @property
    def limits(self) -> Limits:
        return Limits(max_value_bytes=self.max_value_bytes, max_like_pattern=self.max_like_pattern)


class MemoryWatch:
    """The server's resident memory, read cheaply from /proc (Linux) as often as queries need it."""

    def __init__(self) -> None:
        self._page = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
        self._local = threading.local()

    def resident_bytes(self) -> int:
        fd = getattr(self._local, "fd", None)
        if fd is None:
            try:
                fd = os.open("/proc/self/statm", os.O_RDONLY)
            except OSError:
                return 0
            self._local.fd = fd
        return int(os.pread(fd, 64, 0).split()[1]) * self._page


MEMORY = MemoryWatch()


def cache_table_permissions(datasette: Any) -> None:
    """Work out each table's `allow` rules once per server, not once per table per request.

    Datasette 0.65 answers "may this visitor see table T" by deep-copying the
    whole metadata (descriptions, canned queries) for every table on every
    page: two thirds of the front page's time, and the front page's time under
    load. The rules come only from metadata, which does not change while the
    server runs (no plugin here implements get_metadata), so they are kept.
    """
    compute = getattr(datasette, "_table_permission_allows", None)
    if compute is None:  # a Datasette without this method has its own way
        return
    known: dict[tuple[str, str], Any] = {}

    def allows(database: str, table: str) -> Any:
        key = (database, table)
        if key not in known:
            known[key] = compute(database, table)
        return known[key]

    datasette._table_permission_allows = allows


def release_memory() -> None:
    """Hand memory freed by a stopped query back to the system (glibc keeps it otherwise)."""
    global _TRIM
    if _TRIM is None:
        try:
            _TRIM = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
        except (OSError, AttributeError):
            _TRIM = False
    if _TRIM:
        _TRIM(0)


_TRIM: Any = None


@dataclass
class _Watched:
    conn: Any
    deadline: float
    start: int
    max_memory: int
    max_growth: int
    stopped_for_memory: bool = False


class QueryWatch:
    """Stops queries that pass their time limit or grow the server's memory too far, from one thread.

    Datasette enforces its time limit with a SQLite progress handler, Python
    called every N instructions of every query. Each call needs the GIL, and
    while the event loop renders a page a query thread gets it only every
    switch interval (5 ms): checking memory every 100 instructions, an ordinary
    facet query took seconds under load. Instead one watcher thread looks at the
    running queries every `tick` seconds and calls `Connection.interrupt()`
    (sqlite3_interrupt, safe from any thread) on those over their limits, so
    queries run with no Python in their loop. SQLite clears the interrupt when
    the connection has no statement running, so it cannot reach a later query.
    """

    # Each look takes the GIL from the event loop: every 5 ms it was a tenth of a busy
    # server's samples; 20 ms is still far inside the shortest limit (100 ms).
    def __init__(self, tick: float = 0.02) -> None:
        self.tick = tick
        self._lock = threading.Lock()
        self._running: dict[int, _Watched] = {}
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.stopping = False

    @contextlib.contextmanager
    def limit(self, conn: Any, ms: int, max_memory_bytes: int, max_growth_bytes: int) -> Iterator[None]:
        """Run the body's query on `conn` under a time limit of `ms` and the memory limits."""
        deadline = time.monotonic() + (0 if self.stopping else ms / 1000)
        watched = _Watched(conn, deadline, MEMORY.resident_bytes(), max_memory_bytes, max_growth_bytes)
        with self._lock:
            self._running[id(watched)] = watched
            if self._thread is None:
                self._thread = threading.Thread(target=self._watch, name="spyglass-query-watch", daemon=True)
                self._thread.start()
        self._wake.set()
        try:
            yield
        finally:
            with self._lock:  # after this, the watcher can no longer interrupt this connection for it
                self._running.pop(id(watched), None)
            if watched.stopped_for_memory:
                release_memory()

    def stop_all(self) -> None:
        """Interrupt every running query, and each later one as it starts: the server is stopping.

        Safe from a signal handler in any thread: it takes no lock (copying the running
        queries is one step under the GIL) and sqlite3_interrupt may be called from anywhere.
        """
        self.stopping = True
        for watched in list(self._running.values()):
            watched.conn.interrupt()
        self._wake.set()

    def _watch(self) -> None:
        while True:
            with self._lock:
                idle = not self._running
            if idle:
                self._wake.wait()
                self._wake.clear()
                continue
            time.sleep(self.tick)
            now, resident = time.monotonic(), MEMORY.resident_bytes()
            with self._lock:
                for key, over_memory in stops(self._running, now, resident).items():
                    watched = self._running.pop(key)
                    watched.stopped_for_memory = over_memory
                    watched.conn.interrupt()


def stops(running: Mapping[int, _Watched], now: float, resident: int) -> dict[int, bool]:
    """The queries to stop now, each with whether it is for memory (else for time).

    A query is stopped for memory when it has grown the server by its
    `max_growth`; past `max_memory`, only the one that grew the server most
    since it started is stopped, never the others (they started later, and
    stopping them all answered every reader with an error), and none when no
    running query grew it.
    """
    found = {key: False for key, w in running.items() if now >= w.deadline}
    found.update({key: True for key, w in running.items() if resident - w.start > w.max_growth})
    over = [(resident - w.start, key) for key, w in running.items() if resident > w.max_memory]
    if over and max(over)[0] > 0:
        found[max(over)[1]] = True
    return found


QUERY_WATCH = QueryWatch()


def stop_work_on_signals() -> None:
    """Before the server's own SIGTERM and SIGINT handlers, end the heavy work in flight at once.

    uvicorn's graceful shutdown waits for every request in flight: a pool call
    could hold it for the pool's deadline and a query for the time limit, and
    a stop took 27 s with four diffs running. Now their workers are killed and
    their queries interrupted (the requests answer 503 or "interrupted"), and
    the server's handler then stops it. Installed only in the main thread, in
    front of a handler a server set (a test process's defaults are left alone).
    """
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in (signal.SIGTERM, signal.SIGINT):
        previous = signal.getsignal(sig)
        if not callable(previous) or previous is signal.default_int_handler:
            continue
        if getattr(previous, "spyglass_stop", False):
            continue

        def stop_then(signum: int, frame: Any, previous: Callable[..., Any] = previous) -> None:
            QUERY_WATCH.stop_all()
            stop_shared_pools()
            previous(signum, frame)

        stop_then.spyglass_stop = True  # type: ignore[attr-defined]
        signal.signal(sig, stop_then)


def closing_cursors(fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """`fn(conn)`, with the cursors of `conn` that its failure's traceback keeps closed as it fails.

    An exception's traceback keeps its frames, and with them a query's cursor,
    in a reference cycle; the garbage collector frees it later in whatever
    thread it happens to run, usually the event loop's. Freeing a cursor
    resets its statement, which waits for its connection's mutex: if the
    connection is by then running a visitor's slow query in its own thread,
    the event loop stops for up to the time limit (3 s stalls of every page
    under load). Closed in the query's own thread, a cursor has nothing left
    to reset.
    """

    def run(conn: Any) -> Any:
        try:
            return fn(conn)
        except BaseException as exc:
            tb = exc.__traceback__
            while tb is not None:
                for value in list(tb.tb_frame.f_locals.values()):
                    if isinstance(value, sqlite3.Cursor) and value.connection is conn:
                        with contextlib.suppress(sqlite3.Error):
                            value.close()
                tb = tb.tb_next
            raise

    return run


def query_limits(
    conn: Any, ms: int, max_memory_bytes: int, max_growth_bytes: int
) -> contextlib.AbstractContextManager[None]:
    """Datasette's time limit, plus a stop when this query has grown the server's memory by
    `max_growth_bytes`, or when the server holds more than `max_memory_bytes`.

    Rows are built in memory before a reply is sent, so a query returning many
    large values could grow the server until it is killed; this stops it at
    the limit instead (the visitor sees Datasette's "query interrupted"). Other
    queries running beside it started later, so they see less of its growth
    than it does and are not stopped for it.
    """
    return QUERY_WATCH.limit(conn, ms, max_memory_bytes, max_growth_bytes)
