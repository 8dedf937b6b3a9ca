"""Datasette plugin: Memento (RFC 7089) for Memento clients and aggregators.

- `/-/spyglass/timemap/link/<url>`: the TimeMap (application/link-format) of
  the page `url` names, listing every capture of it with its as-of datetime;
- `/-/spyglass/timegate/<url>`: Accept-Datetime -> 302 to the archived copy of
  the capture closest in time (the newest without the header), with
  `Vary: accept-datetime` and the original and timemap in `Link`;
- every archived copy (`/-/spyglass/archived/ID`) answers with
  `Memento-Datetime` (its as-of time) and `Link` rel original/timegate/timemap.
  Those headers are added here, around whichever route serves the copy, so
  replay can change without Memento changing.

The logic is in archive/publish/memento.py.
"""

from __future__ import annotations

import re
from typing import Any

from datasette import hookimpl
from datasette.utils.asgi import Response

from archive.publish import memento
from archive.publish.paths import DATABASE, Paths
from archive.publish.safety import Stance

ARCHIVED = re.compile(r"^/-/spyglass/archived/(\d+)$")


def _target(request) -> str:
    """The page URL after the route's prefix, its own query string included."""
    url = request.url_vars["url"]
    # Clients and proxies collapse '//' in paths: http:/example.com is the same URL.
    for scheme in ("http:/", "https:/"):
        if url.startswith(scheme) and not url.startswith(scheme + "/"):
            url = scheme + "/" + url[len(scheme) :]
    query = request.query_string
    return url + (f"?{query}" if query else "")


def _uris(datasette, original: str) -> dict[str, Any]:
    """The TimeMap, TimeGate and memento addresses of a page: under the configured public
    URL (Stance.public_url), else relative. Never from the request's Host header, which
    anyone sending the request chooses."""
    paths = Paths(datasette.urls.path)
    base = Stance.from_plugin_config(datasette.plugin_config("spyglass")).public_url.rstrip("/")
    return {
        "timemap": base + paths.timemap(original),
        "timegate": base + paths.timegate(original),
        "memento": lambda capture_id: base + paths.archived(capture_id),
    }


async def _mementos(datasette, url: str) -> list[dict[str, Any]]:
    db = datasette.get_database(DATABASE)
    return await db.execute_fn(lambda conn: memento.mementos(conn, url))


def _none(url: str, headers: dict[str, str] | None = None) -> Response:
    return Response.text(f"Spyglass holds no capture of {url}\n", status=404, headers=headers or {})


async def timemap(request, datasette) -> Response:
    """Every capture of a page as an RFC 7089 TimeMap in link format."""
    url = _target(request)
    found = await _mementos(datasette, url)
    if not found:
        return _none(url)
    uris = _uris(datasette, memento.original_of(found))
    body = memento.timemap(found, uris["timemap"], uris["timegate"], uris["memento"])
    return Response(body, content_type=memento.LINK_FORMAT)


async def timegate(request, datasette) -> Response:
    """Accept-Datetime -> 302 to the closest capture's archived copy (RFC 7089 pattern 2.3)."""
    url = _target(request)
    vary = {"Vary": "accept-datetime"}
    asked = request.headers.get("accept-datetime")
    try:
        at = memento.parse_accept_datetime(asked) if asked else None
    except ValueError:
        return Response.text(
            "Accept-Datetime must be an HTTP date, e.g. Thu, 01 Mar 2018 00:00:00 GMT\n",
            status=400,
            headers=vary,
        )
    found = await _mementos(datasette, url)
    if not found:
        return _none(url, vary)
    chosen = memento.closest(found, at)
    original = memento.original_of(found)
    uris = _uris(datasette, original)
    link = memento.links(original, uris["timegate"], uris["timemap"])
    return Response.text(
        "", status=302, headers={**vary, "Location": uris["memento"](chosen["capture_id"]), "Link": link}
    )


async def _memento_headers(datasette, scope, receive, capture_id: int) -> list[tuple[bytes, bytes]]:
    """Memento-Datetime and Link for the archived copy of a capture (none if it shows no page)."""
    db = datasette.get_database(DATABASE)
    found = await db.execute(
        "SELECT seen_at, page_url FROM page_sightings WHERE capture_id = ?", [capture_id]
    )
    row = found.first()
    if row is None:
        return []
    uris = _uris(datasette, row["page_url"])
    link = memento.links(row["page_url"], uris["timegate"], uris["timemap"])
    return [
        (b"memento-datetime", memento.http_date(row["seen_at"]).encode()),
        (b"link", link.encode("latin-1")),
    ]


@hookimpl
def asgi_wrapper(datasette):
    def wrap(app):
        async def with_memento(scope, receive, send):
            found = ARCHIVED.match(scope.get("path", "")) if scope["type"] == "http" else None
            if found is None or int(found[1]) >= 2**63 or DATABASE not in datasette.databases:
                return await app(scope, receive, send)
            extra = await _memento_headers(datasette, scope, receive, int(found[1]))

            async def send_with_memento(event):
                if event["type"] == "http.response.start" and event.get("status", 500) < 400 and extra:
                    event = {**event, "headers": [*event.get("headers", []), *extra]}
                await send(event)

            return await app(scope, receive, send_with_memento)

        return with_memento

    return wrap


@hookimpl
def register_routes():
    return [
        (r"^/-/spyglass/timemap/link/(?P<url>.+)$", timemap),
        (r"^/-/spyglass/timegate/(?P<url>.+)$", timegate),
    ]
