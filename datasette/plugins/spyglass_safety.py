"""Publication safety for the Spyglass archive: read-only, bounded, unprobed, kept out of search engines.

Datasette already escapes every value it renders; what this plugin adds (the
stance and its limits are defined in archive/publish/safety.py):

- every connection to an archive database is `PRAGMA query_only` and hardened
  for SQL a stranger wrote (archive/index/untrusted.py: value and LIKE-pattern
  size limits, capped randomblob/zeroblob, an authorizer refusing ATTACH,
  fts3_tokenizer, load_extension and anything that writes);
- custom SQL is allowed only when the stance says so (`allow_sql`);
- every query runs under the time limit and a server-memory limit;
- a failed query's cursors are closed in its own query thread, so the event
  loop never waits for a connection that is busy with someone's slow query;
- requests running the visitor's own SQL pass one at a time (`max_expensive`),
  in a niced thread of their own;
- a request whose reply has not begun within `max_request_seconds` of its
  arrival is answered 503 with Retry-After and its work stopped, whatever it
  waited for (a gate, a query thread, a pool, an uninterruptible query);
- no reply is larger than `max_reply_mb`; only GET and HEAD are answered;
  `/-/databases` (it shows the file's path) is not served; an unexpected error
  answers "Internal error" without its text;
- write actions are denied and a canned query marked `write: true` stops
  Datasette from starting;
- `/robots.txt` disallows everything and pages carry `X-Robots-Tag`, unless
  metadata sets `plugins: {spyglass: {allow_robots: true}}`;
- `Referrer-Policy: no-referrer`, so following a link to an archived page does
  not tell its publisher what a reporter was searching for, and
  `X-Content-Type-Options: nosniff`.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import traceback

import datasette.handle_exception
import datasette.handle_exception as datasette_errors
from datasette import database as datasette_database
from datasette import hookimpl
from datasette.utils.asgi import Base400, Response
from datasette.views.base import DatasetteError

from archive.index.untrusted import harden
from archive.publish.pool import shared_pool
from archive.publish.requests import (
    DEFAULT_CSP,
    READ_METHODS,
    STREAMED_ROUTES,
    VISITOR_SQL,
    BackSeat,
    ClientGate,
    ExpensiveGate,
    ReplyCap,
    answer_within,
    canned_paths,
    is_costly,
    is_expensive,
    is_hidden,
)
from archive.publish.safety import (
    Stance,
    cache_table_permissions,
    closing_cursors,
    query_limits,
    stop_work_on_signals,
)
from archive.publish.schema_facts import remember_schema

# Datasette prints every error's traceback with its local variables when the
# `rich` package is installed (the WACZ tooling brings it in): over a second
# per rejected query on a real archive, and archived rows copied into the
# server log. Errors are still answered, and still logged as one line.
datasette.handle_exception.rich = None

# Datasette 1.0's write actions; 0.65 has none built in, but plugins may ask.
WRITE_ACTIONS = {
    "insert-row",
    "delete-row",
    "update-row",
    "create-table",
    "alter-table",
    "drop-table",
    "upsert-row",
    "execute-write",
}
log = logging.getLogger("spyglass.publish")
# Exceptions Datasette lets escape from a visitor's parameters.
# How long the server's start waits for its pools' workers (importing their modules on a
# busy machine); past it, it serves, and pages degrade as when a pool is busy.
POOL_START_SECONDS = 60.0

ODD_INPUT = (OverflowError, json.JSONDecodeError)


def _stance(datasette) -> Stance:
    return Stance.from_plugin_config(datasette.plugin_config("spyglass"))


def _allow_robots(datasette) -> bool:
    return bool((datasette.plugin_config("spyglass") or {}).get("allow_robots"))


@hookimpl
def prepare_connection(conn, database, datasette):
    if not database.startswith("_"):  # Datasette's own _internal and _memory stay writable
        conn.execute("PRAGMA query_only = 1")
        harden(conn, _stance(datasette).limits)


@hookimpl
def permission_allowed(datasette, action):
    if action in WRITE_ACTIONS:
        return False
    if action == "execute-sql" and not _stance(datasette).allow_sql:
        return False
    return None


@hookimpl
def startup(datasette):
    # Datasette's time limit is a progress handler with no hook to extend; the
    # one it installs for every query is replaced by a watcher thread that
    # also watches the server's memory (archive/publish/safety.py, query_limits).
    stance = _stance(datasette)
    pools = [shared_pool(limits) for limits in (stance.pool, stance.replay_pool)]
    for pool in pools:
        pool.start()
    datasette_database.sqlite_timelimit = functools.partial(
        query_limits,
        max_memory_bytes=stance.max_memory_mb * 1_000_000,
        max_growth_bytes=stance.max_query_memory_mb * 1_000_000,
    )
    cache_table_permissions(datasette)
    remember_schema(datasette)
    # Every function Datasette runs in a query thread (its queries and the
    # plugins') closes a failure's cursors there, not on the event loop.
    # The visitor's own SQL runs in threads of its own (BackSeat).
    execute_fn = datasette_database.Database.execute_fn
    if not getattr(execute_fn, "spyglass_closing", False):
        back_seat = BackSeat(stance.max_expensive)

        async def execute_fn_closing(self, fn):
            if VISITOR_SQL.get():
                return await back_seat.run(
                    functools.partial(_on_thread_connection, self, closing_cursors(fn))
                )
            return await execute_fn(self, closing_cursors(fn))

        execute_fn_closing.spyglass_closing = True
        datasette_database.Database.execute_fn = execute_fn_closing

    async def ready_to_serve():
        # The pools' workers are ready before the first visitor needs them: a call waits only
        # `pool_wait_seconds` for one, and a worker starting on a busy machine takes longer.
        await asyncio.to_thread(lambda: [pool.wait_started(POOL_START_SECONDS) for pool in pools])
        for name in datasette.databases:
            queries = await datasette.get_canned_queries(name, None)
            for query_name, query in queries.items():
                if query.get("write"):
                    raise RuntimeError(
                        f"canned query {name}/{query_name} is marked write: true; "
                        "Spyglass publishes its archive read-only"
                    )

    return ready_to_serve


def _on_thread_connection(db, fn):
    """fn(conn) on this thread's connection to `db`, made as Datasette makes its query threads'."""
    conn = getattr(datasette_database.connections, db.name, None)
    if conn is None:
        conn = db.connect()
        db.ds._prepare_connection(conn, db.name)
        setattr(datasette_database.connections, db.name, conn)
    return fn(conn)


@hookimpl
def register_routes():
    return [(r"^/robots\.txt$", robots_txt)]


async def robots_txt(datasette):
    if _allow_robots(datasette):
        return Response.text("User-agent: *\nDisallow: /-/\n")
    return Response.text("User-agent: *\nDisallow: /\n")


@hookimpl
def handle_exception(datasette, request, exception):
    """An unexpected error answers without its text: exception messages can name files and memory."""
    if isinstance(exception, DatasetteError) and exception.status == 500:
        # Datasette raises these for a visitor's parameters (`_sort=` a column
        # that does not exist) without a status: the request is at fault, not the server.
        exception.status = 400
    if isinstance(exception, (Base400, DatasetteError)):
        return None  # Datasette's own answer: a message meant for the reader
    if isinstance(exception, ODD_INPUT):
        # A number SQLite cannot hold (`id__gt=999…`), `_through=` that is not JSON.
        return datasette_errors.handle_exception(
            datasette, request, DatasetteError("A parameter of this request is not valid.", status=400)
        )
    log.error("unexpected error serving %s\n%s", request.path, "".join(traceback.format_exception(exception)))
    if request.path.split("?")[0].endswith(".json"):
        return Response.json({"ok": False, "error": "Internal error", "status": 500}, status=500)
    return Response.text("Internal error", status=500)


async def _answer(send, status: int, message: str, headers: dict[str, str] | None = None) -> None:
    body = json.dumps({"ok": False, "status": status, "error": message}).encode()
    extra = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json; charset=utf-8"), *extra],
        }
    )
    await send({"type": "http.response.body", "body": body})


@hookimpl
def asgi_wrapper(datasette):
    extra = [
        (b"referrer-policy", b"no-referrer"),
        (b"x-content-type-options", b"nosniff"),
        (b"content-security-policy", DEFAULT_CSP.encode()),
        (b"x-frame-options", b"SAMEORIGIN"),
    ]
    stance = _stance(datasette)
    gate = ExpensiveGate(stance.max_expensive, stance.expensive_wait_seconds)
    per_client = ClientGate(stance.max_costly_per_client, stance.expensive_wait_seconds)
    canned = canned_paths(datasette.metadata() or {})
    cap = stance.max_reply_mb * 1_000_000
    installed: list[bool] = []

    async def too_late(send):
        await _answer(
            send,
            503,
            f"This request was not answered within {stance.max_request_seconds:g} s; try again in a moment.",
            {"Retry-After": str(max(1, round(stance.max_request_seconds)))},
        )

    async def too_large(send):
        await _answer(
            send,
            400,
            f"The reply would be larger than {stance.max_reply_mb} MB: "
            "ask for fewer rows (_size) or columns (_col).",
        )

    def wrap(app):
        async def guarded(scope, receive, send):
            if scope["type"] != "http":
                return await app(scope, receive, send)
            if not installed:  # the server has set its signal handlers by the first request
                installed.append(True)
                stop_work_on_signals()
            headers = list(extra)
            if not _allow_robots(datasette):
                headers.append((b"x-robots-tag", b"noindex, nofollow"))

            async def send_with_headers(event):
                if event["type"] == "http.response.start":
                    present = {name.lower() for name, _ in event.get("headers", [])}
                    # A route that set its own (stricter) value keeps it, once.
                    missing = [(k, v) for k, v in headers if k not in present]
                    event = {**event, "headers": [*event.get("headers", []), *missing]}
                await send(event)

            if scope["method"] not in READ_METHODS:
                return await _answer(
                    send_with_headers,
                    405,
                    "This archive is read-only: GET and HEAD only.",
                    {"Allow": "GET, HEAD"},
                )
            if is_hidden(scope["path"]):
                return await _answer(send_with_headers, 404, "Not found")

            if not getattr(datasette, "_startup_invoked", True):
                # An in-process server starts on its first request (`spyglass serve` starts
                # before it listens): its start-up, once, is not cut short by the deadline.
                return await past_gates(scope, receive, send_with_headers)
            return await answer_within(
                stance.max_request_seconds,
                functools.partial(past_gates, scope, receive),
                send_with_headers,
                too_late,
            )

        async def past_gates(scope, receive, send):
            """The request, past the per-client gate if it is costly."""
            # The archived-copy routes cap and stream their own replies; every other is capped here.
            out = send if scope["path"].startswith(STREAMED_ROUTES) else ReplyCap(send, cap, too_large)
            if not is_costly(scope, canned):
                return await gated(scope, receive, out, send)
            client = (scope.get("client") or ("unknown",))[0]
            async with per_client.enter(client) as admitted:
                if not admitted:
                    return await _answer(
                        send,
                        429,
                        "You have other searches running; try again when they finish.",
                        {"Retry-After": "2"},
                    )
                return await gated(scope, receive, out, send)

        async def gated(scope, receive, out, send_with_headers):
            """The request, after the custom-SQL gate if it runs the visitor's own SQL."""
            if not is_expensive(scope):
                return await app(scope, receive, out)
            async with gate.enter() as admitted:
                if not admitted:
                    return await _answer(
                        send_with_headers,
                        429,
                        "Another custom query is running; try again in a moment.",
                        {"Retry-After": "2"},
                    )
                VISITOR_SQL.set(True)  # this request's own task: no other request sees it
                return await app(scope, receive, out)

        return guarded

    return wrap
