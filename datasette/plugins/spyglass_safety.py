"""Publication safety for the Spyglass archive: read-only, kept out of search engines, no referrer leaks.

Datasette already escapes every value it renders; what this plugin adds:

- every connection to an archive database is `PRAGMA query_only`, so no query,
  canned query or plugin can write through Datasette, even by mistake (the
  database is not opened immutable: crawls append to it while it is served);
- write actions are denied and a canned query marked `write: true` stops
  Datasette from starting;
- `/robots.txt` disallows everything and pages carry `X-Robots-Tag`, unless
  metadata sets `plugins: {spyglass: {allow_robots: true}}`;
- `Referrer-Policy: no-referrer`, so following a link to an archived page does
  not tell its publisher what a reporter was searching for, and
  `X-Content-Type-Options: nosniff`.
"""

from __future__ import annotations

import datasette.handle_exception
from datasette import hookimpl
from datasette.utils.asgi import Response

# Datasette prints every error's traceback with its local variables when the
# `rich` package is installed (the WACZ tooling brings it in): over a second
# per rejected query on a real archive, and archived rows copied into the
# server log. Errors are still answered, and still logged as one line.
datasette.handle_exception.rich = None

# Datasette 1.0's write actions; 0.65 has none built in, but plugins may ask.
WRITE_ACTIONS = {
    "insert-row", "delete-row", "update-row", "create-table", "alter-table",
    "drop-table", "upsert-row", "execute-write",
}


def _allow_robots(datasette) -> bool:
    return bool((datasette.plugin_config("spyglass") or {}).get("allow_robots"))


@hookimpl
def prepare_connection(conn, database):
    if not database.startswith("_"):  # Datasette's own _internal and _memory stay writable
        conn.execute("PRAGMA query_only = 1")


@hookimpl
def permission_allowed(action):
    if action in WRITE_ACTIONS:
        return False
    return None


@hookimpl
def startup(datasette):
    async def refuse_write_queries():
        for name in datasette.databases:
            queries = await datasette.get_canned_queries(name, None)
            for query_name, query in queries.items():
                if query.get("write"):
                    raise RuntimeError(
                        f"canned query {name}/{query_name} is marked write: true; "
                        "Spyglass publishes its archive read-only"
                    )

    return refuse_write_queries


@hookimpl
def register_routes():
    return [(r"^/robots\.txt$", robots_txt)]


async def robots_txt(datasette):
    if _allow_robots(datasette):
        return Response.text("User-agent: *\nDisallow: /-/\n")
    return Response.text("User-agent: *\nDisallow: /\n")


@hookimpl
def asgi_wrapper(datasette):
    extra = [(b"referrer-policy", b"no-referrer"), (b"x-content-type-options", b"nosniff")]

    def wrap(app):
        async def add_headers(scope, receive, send):
            if scope["type"] != "http":
                return await app(scope, receive, send)
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

            return await app(scope, receive, send_with_headers)

        return add_headers

    return wrap
