"""Datasette plugin: the front page for people, and one search over everything.

- `/` (Datasette's index.html, overridden in datasette/templates/): one search
  box, the questions reporters ask as ways in (archive/publish/front.py), and
  every table;
- `/-/spyglass/search?q=...`: pages and their Wayback versions, released
  documents page by page, releases, changes and Atlas rows, grouped by kind,
  each kind one FTS5 match read newest first up to a LIMIT
  (archive/publish/search.py); a kind that passes the time limit says so
  and the others are still shown;
- `/-/spyglass/copy.js`: the copy button's script, served from here so pages
  need no inline script (without JavaScript the citation stays a selectable
  read-only text box).
"""

from __future__ import annotations

import hashlib
import sqlite3
from typing import Any

from datasette import hookimpl
from datasette.database import QueryInterrupted
from datasette.utils.asgi import Response

from archive.publish import front, search
from archive.publish.paths import DATABASE, Paths

TRUNCATE_AT = 5  # table names shown in the "every table" line, as Datasette shows
# What a search says of a kind it could not read in time.
SLOW = 'This part of the search took too long; use fewer common words or a "phrase".'
# What the front page says, instead of failing, when the server is too busy for a part of it.
BUSY = "The archive is busy: part of this page could not be read just now. Reload in a moment."

# The copy button: hidden until this runs, so a page without JavaScript shows
# no dead button; the text box beside it can always be selected and copied.
COPY_JS = """
document.querySelectorAll("button[data-copy]").forEach(function (button) {
  var box = document.getElementById(button.getAttribute("data-copy"));
  if (!box) { return; }
  button.hidden = false;
  button.addEventListener("click", function () {
    var done = function () { button.textContent = "Copied"; };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(box.value).then(done, function () { box.select(); });
    } else {
      box.select();
      if (document.execCommand("copy")) { done(); }
    }
  });
});
"""


def paths(datasette) -> Paths:
    return Paths(datasette.urls.path)


@hookimpl
def extra_template_vars(template, database, datasette):
    """Every page gets `paths`; the front page its ways in."""
    if DATABASE not in datasette.databases:
        return None

    async def inner() -> dict[str, Any]:
        extra: dict[str, Any] = {"paths": paths(datasette)}
        if template.startswith("query") and database == DATABASE:
            # The canned query's parameters that have a known set of values become choice lists.
            extra["spyglass_choices"] = await datasette.get_database(DATABASE).execute_fn(front.choice_lists)
        if template == "index.html":
            db = datasette.get_database(DATABASE)
            try:
                extra["front"] = await db.execute_fn(front.entry_points)
            except (QueryInterrupted, sqlite3.OperationalError):
                extra["front"], extra["front_notice"] = {}, BUSY
            extra["table_descriptions"] = {
                name: table.get("description", "")
                for name, table in (datasette.metadata("tables", database=DATABASE) or {}).items()
            }
        return extra

    return inner


async def _kind(db, kind: search.Kind, match: str) -> tuple[list[Any], str | None]:
    """One kind's matches, or why there are none to show (too slow, or not in this archive)."""
    try:
        result = await db.execute(kind.sql, {"q": match, "limit": kind.limit})
    except QueryInterrupted:
        return [], SLOW
    except sqlite3.OperationalError:
        return [], "This archive cannot search these yet (run any spyglass command to upgrade its index)."
    return list(result.rows), None


async def _page_snippets(db, groups: list[dict[str, Any]], match: str) -> str | None:
    """Read the snippets of the captures the page groups are shown by; why not, when they could not be."""
    if not groups:
        return None
    ids = [group["shown_by"] for group in groups]
    params = {"q": match, "lo": min(ids), "hi": max(ids), **{f"id{i}": id for i, id in enumerate(ids)}}
    try:
        found = await db.execute(search.page_snippets_sql(len(groups)), params)
    except QueryInterrupted:
        return SLOW
    search.with_snippets(groups, found.rows)
    return None


async def _releases_of(db, documents: list[dict[str, Any]]) -> None:
    """Give each document found its first release (agency, title, date)."""
    ids = sorted({d["release_id"] for d in documents if d["release_id"] is not None})
    if not ids:
        return
    marks = ", ".join("?" for _ in ids)
    found = await db.execute(
        f"SELECT id, agency, title, released_on, released_text FROM releases WHERE id IN ({marks})", ids
    )
    by_id = {row["id"]: dict(row) for row in found.rows}
    for document in documents:
        document["release"] = by_id.get(document["release_id"])


async def search_page(request, datasette) -> Response:
    """Everything matching `q`, grouped by kind, with as-of dates and links to the evidence."""
    q = (request.args.get("q") or "").strip()
    db = datasette.get_database(DATABASE)
    sections = []
    match = search.match_query(q)
    if match:
        for kind in search.KINDS:
            found, problem = await _kind(db, kind, match)
            if kind is search.PAGES:
                items = search.group_pages(found)
                problem = problem or await _page_snippets(db, items, match)
            elif kind is search.DOCUMENTS:
                items = search.group_documents(found)
                await _releases_of(db, items)
            elif kind is search.CHANGES:
                items = search.marked(found, "removed", "added")
            else:
                items = search.marked(found, "snippet")
            sections.append(
                {
                    "kind": kind,
                    "results": items,
                    "matches": len(found),
                    "full": len(found) >= kind.limit,
                    "problem": problem,
                }
            )
    page = await datasette.render_template(
        "spyglass_search.html",
        {
            "q": q,
            "sections": sections,
            "paths": paths(datasette),
        },
        request=request,
    )
    return Response.html(page)


async def front_page(request, datasette) -> Response:
    """The front page (index.html) without Datasette's per-table work.

    Datasette's own index view asks SQLite for every table's columns, keys, FTS
    table and row count (the count under a time limit) on each visit, some 360
    queries for this schema: the slowest page under load, to show five table
    names. Here the page lists tables in metadata's order from two queries; the
    ways in come from extra_template_vars as before. `/.json` stays Datasette's.
    """
    await datasette.ensure_permissions(request.actor, ["view-instance"])
    databases, notice = [], None
    for name, db in datasette.databases.items():
        if name == "_internal":
            continue
        visible, _ = await datasette.check_visibility(request.actor, "view-database", name)
        if not visible:
            continue
        try:
            hidden = set(await db.hidden_table_names())
            shown = [t for t in await db.table_names() if t not in hidden] + await db.view_names()
        except (QueryInterrupted, sqlite3.OperationalError):
            shown, notice = [], BUSY
        described = list(datasette.metadata("tables", database=name) or {})
        ordered = [t for t in described if t in shown] + sorted(t for t in shown if t not in described)
        databases.append(
            {
                "name": name,
                "color": db.hash[:6] if db.hash else hashlib.md5(name.encode()).hexdigest()[:6],
                "path": datasette.urls.database(name),
                "tables_and_views_truncated": [{"name": t} for t in ordered[:TRUNCATE_AT]],
                "tables_and_views_more": len(ordered) > TRUNCATE_AT,
            }
        )
    page = await datasette.render_template(
        "index.html",
        {
            "databases": databases,
            "metadata": datasette.metadata(),
            "tables_notice": notice,
        },
        request=request,
        view_name="index",
    )
    return Response.html(page)


async def copy_js(request) -> Response:
    return Response(
        COPY_JS, content_type="text/javascript; charset=utf-8", headers={"Cache-Control": "max-age=3600"}
    )


@hookimpl
def register_routes():
    return [
        (r"^/$", front_page),  # before Datasette's own index view
        (r"^/-/spyglass/search$", search_page),
        (r"^/-/spyglass/copy\.js$", copy_js),
    ]
