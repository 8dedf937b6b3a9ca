"""What a request to the published archive is, and how much of the server it may take:
hidden and streamed paths, the custom-SQL gate, the per-client gate for searches,
the reply-size cap, the deadline for a reply to begin, the threads where a
visitor's own SQL runs and the pages' default CSP. The stance's numbers are in
archive/publish/safety.py; datasette/plugins/spyglass_safety.py applies these.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import importlib.resources
import re
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
from typing import Any
from urllib.parse import parse_qsl

# Paths that describe the server rather than the archive: /-/databases shows
# the database file's path on disk, /-/threads install paths in its stack
# traces, /-/versions the software versions an attacker would look up; the
# rest are Datasette's debugging pages. (/-/plugins and /-/settings stay: they
# name plugins and limits only.)
HIDDEN_PATHS = (
    "/-/databases",
    "/-/threads",
    "/-/versions",
    "/-/actor",
    "/-/messages",
    "/-/allow-debug",
    "/-/permissions",
    "/-/patterns",
)
READ_METHODS = ("GET", "HEAD")


# Every page's policy unless its route sets a stricter one: nothing may frame it
# from elsewhere, and it loads no plugins or base URLs. (Datasette's own pages keep
# their inline scripts, so script sources are left to their routes.)
DEFAULT_CSP = "frame-ancestors 'self'; object-src 'none'; base-uri 'self'; form-action 'self'"


def inline_script_hashes(template: str) -> str:
    """CSP sources ('sha256-...') for the inline scripts of one of Datasette's own templates."""
    text = (importlib.resources.files("datasette") / "templates" / template).read_text("utf-8")
    return " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(body.encode("utf-8")).digest()).decode() + "'"
        for body in re.findall(r"<script>(.*?)</script>", text, re.S)
    )


def is_expensive(scope: Mapping[str, Any]) -> bool:
    """A request that runs SQL the visitor wrote: `?sql=` or a table's `?_where=`."""
    query = scope.get("query_string", b"").decode("latin-1")
    return any(key in ("sql", "_where") for key, _ in parse_qsl(query, keep_blank_values=True))


def is_hidden(path: str) -> bool:
    return any(path == hidden or path.startswith(hidden + ".") for hidden in HIDDEN_PATHS)


# Whether the request being answered runs SQL the visitor wrote (set past the custom-SQL gate).
VISITOR_SQL: ContextVar[bool] = ContextVar("spyglass_visitor_sql", default=False)


class BackSeat:
    """Threads of their own for the visitor's own SQL: not Datasette's query threads, so readers'
    queries never queue behind it (the custom-SQL gate lets a few run at once).

    Not niced: a thread's niceness ranks it against every process on the machine, not only
    the server's readers, and at nice 5 on a machine busy with other work an ordinary custom
    query ran past its time limit."""

    def __init__(self, threads: int) -> None:
        self.executor = ThreadPoolExecutor(threads, thread_name_prefix="spyglass-visitor-sql")

    async def run(self, fn: Callable[[], Any]) -> Any:
        """fn() in one of these threads."""
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn)


class ExpensiveGate:
    """At most `limit` expensive requests at once; the next waits a little, then is refused."""

    def __init__(self, limit: int, wait: float) -> None:
        self.limit = limit
        self.wait = wait
        self._semaphore: asyncio.Semaphore | None = None

    @contextlib.asynccontextmanager
    async def enter(self) -> Any:
        if self._semaphore is None:  # created inside the server's event loop
            self._semaphore = asyncio.Semaphore(self.limit)
        try:
            await asyncio.wait_for(self._semaphore.acquire(), self.wait)
        except TimeoutError:
            yield False
            return
        try:
            yield True
        finally:
            self._semaphore.release()


# Routes that stream an archived payload or record under their own cap (max_archived_mb).
STREAMED_ROUTES = (
    "/-/spyglass/archived/",
    "/-/spyglass/file/",
    "/-/spyglass/record/",
    "/-/spyglass/screenshot/",
    "/-/spyglass/load",
    "/-/spyglass/goto",
)
# Our routes whose cost grows with the archive's texts: each client runs one at a time.
COSTLY_ROUTES = ("/-/spyglass/search", "/-/spyglass/diff", "/-/spyglass/timeline")


def is_costly(scope: Mapping[str, Any], canned: frozenset[str]) -> bool:
    """A search, diff or timeline: a canned query (`/db/query`, any format), a table `?_search=`,
    or one of COSTLY_ROUTES. Each is bounded, but a client sending many at once is not."""
    path = scope.get("path", "")
    if path in COSTLY_ROUTES:
        return True
    if path.rsplit(".", 1)[0] in canned:
        return True
    query = scope.get("query_string", b"").decode("latin-1")
    return any(key.startswith("_search") for key, _ in parse_qsl(query, keep_blank_values=True))


def canned_paths(metadata: Mapping[str, Any]) -> frozenset[str]:
    """The path of every canned query metadata defines (`/database/query`)."""
    return frozenset(
        f"/{database}/{query}"
        for database, described in (metadata.get("databases") or {}).items()
        for query in (described or {}).get("queries") or {}
    )


class ClientGate:
    """At most `limit` costly requests of one client (by address) at once; the next waits a
    little, then is refused, so a few looping clients cannot take every query thread."""

    def __init__(self, limit: int, wait: float) -> None:
        self.limit = limit
        self.wait = wait
        self._gates: dict[str, ExpensiveGate] = {}
        self._users: dict[str, int] = {}

    @contextlib.asynccontextmanager
    async def enter(self, client: str) -> Any:
        gate = self._gates.setdefault(client, ExpensiveGate(self.limit, self.wait))
        self._users[client] = self._users.get(client, 0) + 1
        try:
            async with gate.enter() as admitted:
                yield admitted
        finally:
            self._users[client] -= 1
            if not self._users[client]:  # forget idle clients: the map stays as small as the load
                del self._users[client], self._gates[client]


class ReplyCap:
    """Wraps an ASGI `send`: a reply over `limit` bytes becomes a short refusal instead.

    A reply sent in one piece is held until its body is seen, so its status can
    still change; a streamed one is cut off at the limit (its status is gone).
    """

    def __init__(self, send: Any, limit: int, refusal: Any) -> None:
        self.send = send
        self.limit = limit
        self.refusal = refusal
        self.start: dict | None = None
        self.sent = 0
        self.done = False

    async def __call__(self, event: dict) -> None:
        if self.done:
            return
        if event["type"] == "http.response.start":
            self.start = event
            return
        if event["type"] != "http.response.body":
            await self.send(event)
            return
        body = event.get("body", b"")
        more = event.get("more_body", False)
        self.sent += len(body)
        if self.start is not None:
            if self.sent > self.limit and not more:
                self.done = True
                await self.refusal(self.send)
                return
            await self.send(self.start)
            self.start = None
        if self.sent > self.limit:
            self.done = True
            await self.send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        await self.send(event)


Send = Callable[[dict], Awaitable[None]]


async def answer_within(
    seconds: float, answer: Callable[[Send], Awaitable[None]], send: Send, late: Send
) -> None:
    """`answer(send)`, unless its reply has not begun within `seconds`: then it is cancelled and
    `late(send)` answers instead (a 503).

    Every wait a request can meet (a gate, a busy query thread, a pool, a query
    the time limit cannot interrupt) ends here, whatever caused it. A reply that
    has begun in time is left to finish: its status is gone, and a streamed one
    goes at the reader's pace. Cancelling stops the request's own coroutines (a
    pool's work is killed); a query still running in a thread is stopped at the
    time limit and its rows dropped.
    """
    began = asyncio.Event()
    cut = False

    async def sending(event: dict) -> None:
        if cut:  # the late answer went instead
            return
        if event["type"] == "http.response.start":
            began.set()
        await send(event)

    task = asyncio.ensure_future(answer(sending))
    beginning = asyncio.ensure_future(began.wait())
    try:
        await asyncio.wait({task, beginning}, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        task.cancel()
        raise
    finally:
        beginning.cancel()
    if task.done() or began.is_set():
        return await task
    cut = True
    task.cancel()
    # The late answer first: the cancelled work's own unwinding (a worker killed, a thread
    # let go) may take its time on a busy machine, and the visitor need not wait for it.
    try:
        await late(send)
    finally:
        await asyncio.wait({task})
        if not task.cancelled():
            task.exception()  # retrieved, so asyncio does not log it: the late answer stands for it
