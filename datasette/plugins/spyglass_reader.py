"""Datasette plugin: a capture's and a document's row pages read like documents.

Datasette's own row pages (`/spyglass/captures/ID`, `/spyglass/documents/ID`)
keep their URLs and their JSON; the templates row-spyglass-captures.html and
row-spyglass-documents.html put what a reader needs first (what, when, the
citation with a copy button, the archived copy, versions, changes, mentions)
and the stock table of every field after it. The data comes from
archive/publish/reader.py through `extra_template_vars`.

It also serves the browse pages `/-/spyglass/vendor?name=`,
`/-/spyglass/product?name=` and `/-/spyglass/agency?name=`: everything the
archive holds about one of them (archive/publish/browse.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from datasette import hookimpl
from datasette.utils import tilde_decode
from datasette.utils.asgi import Response

from archive.archive import Archive
from archive.errors import NotFound
from archive.evidence import lookup
from archive.index import queries
from archive.publish import browse, heavy, pageimage, reader
from archive.publish.paths import DATABASE, Paths
from archive.publish.pool import Busy, TooCostly, shared_pool
from archive.publish.safety import Stance


def _pk(request) -> int | None:
    value = tilde_decode((request.url_vars or {}).get("pks", ""))
    return int(value) if value.isdigit() and int(value) < 2**63 else None


@hookimpl
def extra_template_vars(view_name, table, database, request, datasette):
    """The reader's view of a capture or a document, for their row templates."""
    if view_name != "row" or database != DATABASE or table not in ("captures", "documents", "document_pages"):
        return None
    row_id = _pk(request) if request is not None else None
    if row_id is None:
        return None
    db = datasette.get_database(DATABASE)

    async def inner() -> dict[str, Any]:
        if table == "captures":
            archive = Archive(Path(db.path).parent)
            # The footnote names this page under the configured public URL only: never the
            # request's Host header, which anyone sending the request chooses.
            public = Stance.from_plugin_config(datasette.plugin_config("spyglass")).public_url.rstrip("/")
            here = public + Paths(datasette.urls.path).capture(row_id) if public else None
            found = await db.execute_fn(lambda conn: reader.capture_page(conn, archive, row_id, here))
        else:
            drawn = await _drawn_mentions(datasette, db, table, row_id)
            page = reader.document_page if table == "documents" else reader.document_page_row
            found = await db.execute_fn(lambda conn: page(conn, row_id, drawn))
        if found is not None and table == "captures":
            found["phrase"] = (request.args.get("phrase") or "").strip()[:200]
        return {"reader": found}

    return inner


async def _drawn_mentions(datasette, db, table: str, row_id: int) -> dict[int, dict]:
    """Where the mentions lie on the page images shown, read by poppler in the pool (under its
    deadline, never in a server thread); none when busy or too costly: the text is marked anyway."""
    wanted = await db.execute_fn(lambda conn: reader.mentioned_terms(conn, table, row_id))
    if wanted is None:
        return {}
    pool = shared_pool(Stance.from_plugin_config(datasette.plugin_config("spyglass")).pool)
    try:
        return await pool.run(heavy.mention_boxes, db.path, *wanted)
    except (Busy, TooCostly):
        return {}


@hookimpl
def extra_js_urls(view_name, table, database, datasette):
    """The copy button's script, on the pages that have one (served by spyglass_front)."""
    if view_name == "row" and database == DATABASE and table in ("captures", "documents", "document_pages"):
        return [
            {"url": datasette.urls.path("/-/spyglass/copy.js"), "module": True}
        ]  # modules run after the page is parsed
    return None


async def browse_page(request, datasette) -> Response:
    """Everything about one vendor, product or agency; 404 when the archive holds nothing about it."""
    kind = request.url_vars["kind"]
    name = (request.args.get("name") or "").strip()
    db = datasette.get_database(DATABASE)
    found = await db.execute_fn(lambda conn: browse.browse(conn, kind, name)) if name else None
    page = await datasette.render_template(
        "spyglass_browse.html",
        {
            "kind": kind,
            "name": name,
            "found": found,
            "paths": Paths(datasette.urls.path),
        },
        request=request,
    )
    status = 200 if found and not found["empty"] else (400 if not name else 404)
    return Response.html(page, status=status)


async def page_image(request, datasette) -> Response:
    """A document page's image, rendered from the archived PDF (archive/publish/pageimage.py)."""
    document_id, number = (
        queries.row_id(request.url_vars["document_id"]),
        queries.row_id(request.url_vars["page"]),
    )
    db = datasette.get_database(DATABASE)
    archive = Archive(Path(db.path).parent)
    found = (
        await db.execute_fn(lambda conn: pageimage.page_image(archive, conn, document_id, number))
        if document_id is not None and number is not None
        else None
    )
    if found is None:
        return Response.text("No image of this page.\n", status=404)
    return Response(
        found.read_bytes(),
        content_type="image/png",
        headers={"Cache-Control": "max-age=86400", "X-Content-Type-Options": "nosniff"},
    )


async def cite_lookup(request, datasette) -> Response:
    """`/-/spyglass/cite?url=`: the capture page of whatever a citation holds (an id, a page's URL,
    a Wayback snapshot link in any spelling, a released file's stable page or signed URL); else 404
    in one line naming what was looked for and the nearest captured URL."""
    target = (request.args.get("url") or "").strip()
    if not target:
        return Response.text("Give ?url= a capture id or a URL to cite\n", status=400)
    db = datasette.get_database(DATABASE)

    paths = Paths(datasette.urls.path)

    def resolve(conn):
        try:
            found = lookup.find(conn, target)
        except NotFound as exc:
            return None, str(exc)
        if found.release is not None:
            return paths.row("releases", found.release["id"]), None
        return paths.capture(found.capture["id"]), None

    page, missing = await db.execute_fn(resolve)
    if page is None:
        return Response.text(f"{missing}\n", status=404)
    return Response.redirect(page)


@hookimpl
def register_routes():
    return [
        (r"^/-/spyglass/(?P<kind>vendor|product|agency)$", browse_page),
        (r"^/-/spyglass/page-image/(?P<document_id>\d+)/(?P<page>\d+)\.png$", page_image),
        (r"^/-/spyglass/cite$", cite_lookup),
    ]
