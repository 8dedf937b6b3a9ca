"""Datasette plugin: a citation beside every capture and document page, and the replay routes.

What replay serves, and why it is safe, is decided in archive/publish/replay.py;
these handlers only read the request, run it in Datasette's thread pool (off
the event loop: WARC reads block), rewrite an archived page in the replay
pool's worker processes (rewriting holds the GIL) and send the answer,
pulling a streamed body a piece at a time in a thread. Only GET and HEAD reach
them (spyglass_safety). Every value shown in HTML goes through markupsafe's
escape.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from datasette import hookimpl
from markupsafe import Markup, escape

from archive.archive import Archive
from archive.evidence.cite import citation_of, citation_of_page
from archive.index import queries
from archive.publish.archived import Served
from archive.publish.cells import hash_cell
from archive.publish.drawing import DRAWING
from archive.publish.paths import Paths
from archive.publish.pool import Busy, TooCostly, WorkPool, shared_pool
from archive.publish.replay import DATABASE, UNREADABLE, Replay
from archive.publish.safety import Stance
from archive.times import utc_now


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


def _evidence(conn, captures: list[dict[str, Any]]) -> dict[int, tuple[Any, list[dict[str, Any]]]]:
    """Each capture's citation and screenshots, by capture id."""
    return {
        int(c["id"]): (citation_of(conn, c), queries.screenshots_of(conn, int(c["id"]))) for c in captures
    }


def _capture_cell(datasette, data: dict[str, Any], value: Any):
    drawing = DRAWING.get()
    page = (
        drawing
        if drawing is not None and (drawing.database, drawing.table) == (DATABASE, "captures")
        else None
    )

    async def inner():
        db = datasette.get_database(DATABASE)
        found = {}
        if page is not None:  # a table page: one trip to a query thread for all its rows

            def all_rows(conn):
                rows = [r for r in map(_row_dict, page.rows) if r and {"id", "url", "captured_at"} <= set(r)]
                return _evidence(conn, rows)

            found = await page.once("capture evidence", lambda: db.execute_fn(all_rows))
        if int(data["id"]) not in found:
            found = await db.execute_fn(lambda conn: _evidence(conn, [data]))
        citation, shots = found[int(data["id"])]
        replay = datasette.urls.path(f"/-/spyglass/replay/{int(data['id'])}")
        shown = Markup("").join(_screenshot(datasette, shot) for shot in shots)
        # escape() as Markup.format would, without its formatter (slow, and once a row).
        return Markup(
            f'<span class="spyglass-sha256">{escape(hash_cell(value) or value)}</span>'
            f'<div class="spyglass-citation"><a href="{escape(replay)}">view archived copy</a>'
            '<details><summary>cite</summary><pre style="white-space: pre-wrap; max-width: 40em">'
            f"{escape(citation.text())}</pre></details>{shown}</div>"
        )

    return inner


def _screenshot(datasette, shot: dict[str, Any]) -> Markup:
    """A screenshot of the capture's page (a thumbnail, loaded only when scrolled to), or why none."""
    if shot["status"] != "ok":
        return Markup('<div class="spyglass-screenshot">screenshot {status} at {at}: {error}</div>').format(
            status=shot["status"], at=shot["taken_at"], error=shot["error"]
        )
    src = datasette.urls.path(f"/-/spyglass/screenshot/{int(shot['id'])}")
    return Markup(
        '<div class="spyglass-screenshot"><a href="{src}">screenshot</a> taken by {browser} at '
        '{at}, SHA-256 {sha}<br><a href="{src}"><img src="{src}" loading="lazy" width="320" '
        'alt="Screenshot of the page" style="border: 1px solid #ccc"></a></div>'
    ).format(src=src, browser=shot["browser"], at=shot["taken_at"], sha=shot["sha256"])


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


class _Streamed:
    """An ASGI reply whose body is pulled from a blocking iterator in a thread, a piece at a time."""

    def __init__(self, served: Served, head_only: bool) -> None:
        self.served = served
        self.head_only = head_only

    async def asgi_send(self, send) -> None:
        headers = [(b"content-type", self.served.content_type.encode("latin-1"))]
        headers += [(k.lower().encode(), v.encode("latin-1")) for k, v in self.served.headers.items()]
        await send({"type": "http.response.start", "status": self.served.status, "headers": headers})
        try:
            if self.served.pieces is None or self.head_only:
                await send(
                    {"type": "http.response.body", "body": b"" if self.head_only else self.served.body}
                )
                return
            while (piece := await asyncio.to_thread(next, self.served.pieces, None)) is not None:
                await send({"type": "http.response.body", "body": piece, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        finally:
            await asyncio.to_thread(self.served.close)


async def _serve(request, datasette, action: Callable[[Replay], Served]) -> _Streamed:
    """Run a replay action on a read connection in Datasette's thread pool, and send what it served."""
    db = datasette.get_database(DATABASE)
    archive = Archive(Path(db.path).parent)
    stance = Stance.from_plugin_config(datasette.plugin_config("spyglass"))
    head = request.method == "HEAD"
    # HEAD reads no payload: a cap of nothing answers from the index alone.
    cap = 0 if head else stance.max_archived_mb * 1_000_000
    rewrite = 0 if head else stance.max_rewrite_mb * 1_000_000
    served = await db.execute_fn(
        lambda conn: action(Replay(archive, conn, datasette.urls.path, cap, rewrite, deferred=True))
    )
    if served.later is not None:
        served = await _made_later(served, shared_pool(stance.replay_pool))
    return _Streamed(served, head)


async def _made_later(served: Served, pool: WorkPool) -> Served:
    """A reply whose body is heavy work (rewriting an archived page), made in the pool; when the
    pool is full or the work passes its deadline, the bounded reply in its place."""
    later = served.later
    assert later is not None
    try:
        made = await pool.run(later.fn, *later.args)
    except (Busy, TooCostly, *UNREADABLE):  # the reply in its place says when it cannot be read
        made = None
    if made is None:
        return await asyncio.to_thread(later.instead)
    made.headers = served.headers
    return made


def _number(value: str | None) -> int | None:
    return queries.row_id(value)


async def replay(request, datasette) -> _Streamed:
    """Our page: a banner naming the capture, over its sandboxed archived copy (or its text)."""
    capture_id = int(request.url_vars["capture_id"])
    via = _number(request.args.get("redirected_from"))
    came = _number(request.args.get("from"))
    return await _serve(request, datasette, lambda r: r.page(capture_id, via, came))


async def archived(request, datasette) -> _Streamed:
    """The archived copy, under a sandboxing CSP, its references pointed into the archive."""
    capture_id = int(request.url_vars["capture_id"])
    return await _serve(request, datasette, lambda r: r.archived(capture_id))


async def load(request, datasette) -> _Streamed:
    """What an archived copy loads: the capture of ?url= nearest to ?at=."""
    url, at = request.args.get("url") or "", request.args.get("at") or ""
    return await _serve(request, datasette, lambda r: r.load(url, at))


async def goto(request, datasette) -> _Streamed:
    """A link followed in an archived copy: its nearest capture, or a page saying it is not archived."""
    url, at = request.args.get("url") or "", request.args.get("at") or ""
    came = _number(request.args.get("from"))
    return await _serve(request, datasette, lambda r: r.goto(url, at, came))


async def original_file(request, datasette) -> _Streamed:
    """A capture's original payload, to open (PDF) or download."""
    capture_id = int(request.url_vars["capture_id"])
    download = request.args.get("download") == "1"
    return await _serve(request, datasette, lambda r: r.file(capture_id, download))


async def record(request, datasette) -> _Streamed:
    """The WARC record holding a capture's payload, byte for byte, to download."""
    capture_id = int(request.url_vars["capture_id"])
    return await _serve(request, datasette, lambda r: r.record(capture_id))


async def screenshot(request, datasette) -> _Streamed:
    """A screenshot PNG taken at capture time."""
    screenshot_id = int(request.url_vars["screenshot_id"])
    return await _serve(request, datasette, lambda r: r.screenshot(screenshot_id))


async def verify_one(request, datasette):
    """Capture ID's record, payload, chain link and time-stamp, checked now (archive/evidence/one.py)."""
    from datasette.utils.asgi import NotFound, Response

    from archive.evidence.one import check_capture

    capture_id = queries.row_id(request.url_vars["capture_id"])
    if capture_id is None:
        raise NotFound(f"no capture {request.url_vars['capture_id'][:30]}")
    db = datasette.get_database(DATABASE)
    archive = Archive(Path(db.path).parent)
    checks = await db.execute_fn(lambda conn: check_capture(archive, conn, capture_id))
    if checks is None:
        raise NotFound(f"no capture {capture_id}")
    page = await datasette.render_template(
        "spyglass_verify.html",
        {
            "capture_id": capture_id,
            "checks": checks,
            "ok": all(c.ok is not False for c in checks),
            "checked_at": utc_now().strftime("%Y-%m-%d %H:%M:%S UTC"),
            "paths": Paths(datasette.urls.path),
        },
        request=request,
    )
    return Response.html(page, headers={"Cache-Control": "no-store"})


@hookimpl
def register_routes():
    """Replay routes: each answers GET and HEAD only (spyglass_safety) and carries its own CSP."""
    return [
        (r"^/-/spyglass/replay/(?P<capture_id>\d+)$", replay),
        (r"^/-/spyglass/archived/(?P<capture_id>\d+)$", archived),
        (r"^/-/spyglass/load$", load),
        (r"^/-/spyglass/goto$", goto),
        (r"^/-/spyglass/file/(?P<capture_id>\d+)$", original_file),
        (r"^/-/spyglass/screenshot/(?P<screenshot_id>\d+)$", screenshot),
        (r"^/-/spyglass/record/(?P<capture_id>\d+)\.warc\.gz$", record),
        (r"^/-/spyglass/verify/(?P<capture_id>\d+)$", verify_one),
    ]
