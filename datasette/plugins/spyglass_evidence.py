"""Datasette plugin: a citation beside every capture and document page, and safe replay.

Archived pages are hostile input. They are never rendered in Datasette's own
origin: /-/spyglass/replay/ID is a page of ours (no scripts at all) holding a
banner and an <iframe sandbox> whose source, /-/spyglass/archived/ID, serves
the archived bytes with `Content-Security-Policy: ...; sandbox`. The sandbox
gives the archived document an opaque origin with no scripts, forms, popups
or plugins, even when it is opened directly; `default-src 'none'` stops it
from loading anything, from the live web or from us. Every value shown in
HTML goes through markupsafe's escape.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from datasette import hookimpl
from datasette.utils.asgi import Response
from markupsafe import Markup
from warcio.exceptions import ArchiveLoadFailed

from archive.config import Archive
from archive.evidence.cite import citation_of, citation_of_page
from archive.index import queries
from archive.publish.archived import Served, record_pieces, serve_payload
from archive.publish.safety import Stance

DATABASE = "spyglass"
MAX_ROWID = 2**63 - 1

# The archived document: no scripts, no fetches, inline styles only, opaque origin.
ARCHIVED_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
                "font-src data:; frame-ancestors 'self'; form-action 'none'; base-uri 'none'; sandbox")
# Our banner page: no scripts either; it may only frame our archived route.
REPLAY_CSP = ("default-src 'none'; style-src 'unsafe-inline'; frame-src 'self'; "
              "frame-ancestors 'self'; form-action 'none'; base-uri 'none'")
COMMON_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "X-Robots-Tag": "noindex",
}


def _row_dict(row: Any) -> dict[str, Any] | None:
    try:
        data = {key: row[key] for key in row.keys()}
    except (AttributeError, TypeError, IndexError):
        return None
    # The table view expands foreign keys to {"value": ..., "label": ...}.
    return {k: v["value"] if isinstance(v, dict) and "value" in v else v for k, v in data.items()}


@hookimpl
def render_cell(row, value, column, table, database, datasette):
    """The sha256 cell of a capture, and the page_number cell of a document page, carry a citation."""
    if database != DATABASE or row is None:
        return None
    if table == "captures" and column == "sha256":
        data = _row_dict(row)
        if not data or not {"id", "url", "captured_at"} <= set(data):
            return None
        return _capture_cell(datasette, data, value)
    if table == "document_pages" and column == "page_number":
        data = _row_dict(row)
        if not data or "document_id" not in data:
            return None
        return _page_cell(datasette, data, value)
    return None


def _capture_cell(datasette, data: dict[str, Any], value: Any):
    async def inner():
        db = datasette.get_database(DATABASE)
        citation = await db.execute_fn(lambda conn: citation_of(conn, data))
        replay = datasette.urls.path(f"/-/spyglass/replay/{int(data['id'])}")
        return Markup(
            '<span class="spyglass-sha256">{sha}</span>'
            '<div class="spyglass-citation"><a href="{replay}">view archived copy</a>'
            '<details><summary>cite</summary><pre style="white-space: pre-wrap; max-width: 40em">{text}</pre></details></div>'
        ).format(sha=value, replay=replay, text=citation.text())

    return inner


def _page_cell(datasette, data: dict[str, Any], value: Any):
    async def inner():
        db = datasette.get_database(DATABASE)
        citation = await db.execute_fn(lambda conn: citation_of_page(conn, data))
        if citation is None:
            return None
        return Markup(
            '{value}<details class="spyglass-citation"><summary>cite</summary><pre style="white-space: pre-wrap; max-width: 40em">{text}</pre></details>'
        ).format(value=value, text=citation.text())

    return inner


async def _capture(datasette, capture_id: int) -> dict[str, Any] | None:
    if capture_id > MAX_ROWID:  # SQLite cannot even be asked
        return None
    db = datasette.get_database(DATABASE)
    result = await db.execute("SELECT * FROM captures WHERE id = ?", [capture_id])
    found = result.first()
    return _row_dict(found) if found else None


async def _payload_holder(datasette, capture_id: int) -> dict[str, Any] | None:
    """The capture whose record holds this capture's payload (itself, or a revisit's original)."""
    row = await _capture(datasette, capture_id)
    if row is None:
        return None
    db = datasette.get_database(DATABASE)
    return await db.execute_fn(lambda conn: queries.payload_row(conn, row))


def _archive(datasette) -> Archive:
    return Archive(Path(datasette.get_database(DATABASE).path).parent)


def _not_found(message: str) -> Response:
    """A 404 that says what is missing in words of ours, never an exception's text or a path."""
    return Response.text(message, status=404, headers={**COMMON_HEADERS,
                                                       "Content-Security-Policy": ARCHIVED_CSP})


class _Streamed:
    """An ASGI reply whose body is pulled from a blocking iterator in a thread, a piece at a time."""

    def __init__(self, served: Served, headers: dict[str, str]) -> None:
        self.served = served
        self.headers = headers

    async def asgi_send(self, send) -> None:
        headers = [(b"content-type", self.served.content_type.encode("latin-1"))]
        headers += [(k.lower().encode(), v.encode("latin-1")) for k, v in self.headers.items()]
        await send({"type": "http.response.start", "status": self.served.status, "headers": headers})
        try:
            if self.served.pieces is None:
                await send({"type": "http.response.body", "body": self.served.body})
                return
            while (piece := await asyncio.to_thread(next, self.served.pieces, None)) is not None:
                await send({"type": "http.response.body", "body": piece, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        finally:
            await asyncio.to_thread(self.served.close)


async def replay(request, datasette) -> Response:
    """Our page: a banner with the facts and the citation, over a sandboxed frame of the archived copy."""
    capture_id = int(request.url_vars["capture_id"])
    row = await _capture(datasette, capture_id)
    if row is None:
        return _not_found(f"no capture {capture_id}")
    db = datasette.get_database(DATABASE)
    citation = await db.execute_fn(lambda conn: citation_of(conn, row))
    archived = datasette.urls.path(f"/-/spyglass/archived/{capture_id}")
    record = datasette.urls.path(f"/{DATABASE}/captures/{capture_id}")
    page = Markup(REPLAY_PAGE).format(
        title=row.get("title") or row["url"], url=row.get("page_url") or citation.original_url or row["url"],
        times=_times(row), sha=row["sha256"],
        warc=f"{row['warc_filename']}:{row['warc_offset']}", citation=citation.text(),
        archived=archived, record=record, capture_id=capture_id,
        download=datasette.urls.path(f"/-/spyglass/record/{capture_id}.warc.gz"),
    )
    return Response.html(str(page), headers={**COMMON_HEADERS, "Content-Security-Policy": REPLAY_CSP})


def _times(row: dict[str, Any]) -> Markup:
    """The as-of time first (a memento's own time), then when Spyglass fetched it, each named for what it is."""
    as_of = row.get("as_of_at") or row.get("memento_at") or row["captured_at"]
    if as_of == row["captured_at"]:
        return Markup('<dt>Captured (as of)</dt><dd class="as-of captured-at">{}</dd>\n').format(as_of)
    return Markup('<dt>Memento time (as of)</dt><dd class="as-of">{}</dd>\n'
                  '<dt>Fetched by Spyglass</dt><dd class="captured-at">{}</dd>\n'
                  ).format(as_of, row["captured_at"])


async def archived(request, datasette):
    """The archived bytes, decoded as a browser would, streamed under a sandboxing CSP."""
    capture_id = int(request.url_vars["capture_id"])
    holder = await _payload_holder(datasette, capture_id)
    if holder is None:
        return _not_found(f"No archived copy of capture {capture_id}.")
    stance = Stance.from_plugin_config(datasette.plugin_config("spyglass"))
    download = datasette.urls.path(f"/-/spyglass/record/{capture_id}.warc.gz")
    try:
        served = await asyncio.to_thread(serve_payload, _archive(datasette), holder,
                                         stance.max_archived_mb * 1_000_000, download)
    except (OSError, EOFError, ValueError, ArchiveLoadFailed):
        return _not_found(f"The WARC record of capture {capture_id} cannot be read; "
                          "`spyglass verify` says why.")
    return _Streamed(served, {**COMMON_HEADERS, "Content-Security-Policy": ARCHIVED_CSP,
                              "Content-Disposition": "inline", "Cache-Control": "no-store"})


async def record(request, datasette):
    """The WARC record holding a capture's payload, byte for byte, to download."""
    capture_id = int(request.url_vars["capture_id"])
    holder = await _payload_holder(datasette, capture_id)
    if holder is None or not _archive(datasette).warc_path(holder["warc_filename"]).is_file():
        return _not_found(f"No WARC record for capture {capture_id}.")
    pieces = record_pieces(_archive(datasette), holder)
    return _Streamed(Served(200, "application/warc", pieces=pieces), {
        **COMMON_HEADERS, "Content-Security-Policy": ARCHIVED_CSP,
        "Content-Disposition": f'attachment; filename="spyglass-capture-{capture_id}.warc.gz"',
        "Content-Encoding": "identity",
    })


REPLAY_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Archived copy: {title}</title>
<style>
body {{ margin: 0; font-family: system-ui, sans-serif; display: flex; flex-direction: column; height: 100vh; }}
.spyglass-banner {{ background: #1d2733; color: #f3f3f3; padding: 0.6em 1em; font-size: 0.9em; }}
.spyglass-banner a {{ color: #9fd0ff; }}
.spyglass-banner dl {{ display: grid; grid-template-columns: max-content auto; gap: 0.1em 1em; margin: 0.4em 0; }}
.spyglass-banner dt {{ font-weight: bold; }} .spyglass-banner dd {{ margin: 0; overflow-wrap: anywhere; }}
.spyglass-banner pre {{ white-space: pre-wrap; margin: 0.4em 0 0; }}
iframe {{ flex: 1; border: 0; width: 100%; background: white; }}
</style></head>
<body>
<div class="spyglass-banner" role="banner">
<strong>Archived copy, shown from the WARC record; not the live page.</strong>
Scripts in it do not run and it loads nothing from the web.
<dl>
<dt>Original URL</dt><dd class="original-url">{url}</dd>
{times}<dt>SHA-256</dt><dd class="sha256">{sha}</dd>
<dt>WARC</dt><dd>{warc}</dd>
</dl>
<pre class="citation">{citation}</pre>
<a href="{record}">capture {capture_id} in the index</a> ·
<a href="{download}" download>download the WARC record</a>
</div>
<iframe sandbox="" src="{archived}" referrerpolicy="no-referrer" title="Archived page: {title}"></iframe>
</body></html>
"""


@hookimpl
def register_routes():
    """Replay routes; each answers only GET and HEAD (spyglass_safety) and carries its own CSP."""
    return [
        (r"^/-/spyglass/replay/(?P<capture_id>\d+)$", replay),
        (r"^/-/spyglass/archived/(?P<capture_id>\d+)$", archived),
        (r"^/-/spyglass/record/(?P<capture_id>\d+)\.warc\.gz$", record),
    ]
