"""Datasette plugin: time. SQL functions, the timeline and diff pages, and citations beside history rows.

- `page_key(url)`, `page_key_variant(url, n)` and `has_phrase(text, phrase)` in
  SQL, so canned queries find a page by any form of its URL (closing slash or
  not, or its Wayback snapshot URL) and match phrases as the CLI does (in the
  first SEARCH_TEXT_CHARS of a text, as search reads it);
- /-/spyglass/timeline?url=URL: a page's versions on a time axis (SVG drawn
  here), sightings as ticks, changes marked and linked to their diff;
- /-/spyglass/diff?from=V&to=V (or ?change=ID): two versions side by side,
  or inline with &view=inline, removed and added sentences marked; where both
  versions were screenshotted, the two pictures side by side beside the
  changed sentences (archive/publish/visual.py);
- capture ids in history tables and canned queries link to the capture and
  carry its citation; versions link to their timeline, changes to their diff.
Pages are Datasette templates (datasette/templates/spyglass_*.html); every
archived value is escaped. The diff and the timeline's phrase matches run in
the pool of worker processes (archive/publish/pool.py): a full pool or work
past its deadline answers 503, never a stalled server.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from datasette import hookimpl
from datasette.utils.asgi import Response
from markupsafe import Markup

from archive.errors import NotFound
from archive.evidence.cite import citation_of
from archive.history.passages import has_phrase
from archive.history.pictures import timeline_svg
from archive.history.report import changes_of, versions_of
from archive.history.sightings import known_page_key, page_key, page_key_variants, page_sightings
from archive.index import queries
from archive.index.migrations import SEARCH_TEXT_CHARS
from archive.publish import heavy
from archive.publish.pool import Busy, TooCostly, WorkPool, shared_pool
from archive.publish.requests import inline_script_hashes
from archive.publish.safety import Stance
from archive.publish.visual import screenshot_pair

DATABASE = "spyglass"
# No resources from anywhere but Datasette itself, and no inline script but the one
# Datasette's base template carries (closing open menus), allowed by its hash.
PAGE_CSP = (
    f"default-src 'self'; script-src 'self' {inline_script_hashes('_close_open_menus.html')}; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'self'"
)
CAPTURE_COLUMNS = {
    "first_capture_id",
    "last_capture_id",
    "from_capture_id",
    "to_capture_id",
    "gone_capture_id",
    "capture_id",
}
HISTORY_TABLES = {"versions", "changes", "page_sightings"}


def _page_key(url: Any) -> str | None:
    return page_key(str(url)) if url else None


def _has_phrase(text: Any, phrase: Any) -> int:
    """has_phrase for SQL, over the part of a text search reads (SEARCH_TEXT_CHARS): it runs in a
    query thread holding the GIL, and over a 2M-character text one call took half a second."""
    return int(has_phrase(str(text)[:SEARCH_TEXT_CHARS] if text is not None else None, str(phrase or "")))


def _page_key_variant(url: Any, n: Any) -> str | None:
    variants = page_key_variants(str(url)) if url else []
    return variants[int(n)] if isinstance(n, int) and 0 <= n < len(variants) else None


@hookimpl
def prepare_connection(conn):
    conn.create_function("page_key", 1, _page_key, deterministic=True)
    # page_key_variant(url, n): the n-th key a typed URL may name a page by (0: its own,
    # 1: with or without its closing slash), so canned queries find a page however it is typed.
    conn.create_function("page_key_variant", 2, _page_key_variant, deterministic=True)
    conn.create_function("has_phrase", 2, _has_phrase, deterministic=True)


def timeline_path(datasette, url: str) -> str:
    return datasette.urls.path("/-/spyglass/timeline?" + urlencode({"url": url}))


def diff_path(datasette, **params: Any) -> str:
    return datasette.urls.path("/-/spyglass/diff?" + urlencode(params))


@hookimpl
def render_cell(row, value, column, table, database, datasette):
    """Capture ids carry their citation; a version's page links to its timeline; a change id to its diff."""
    if database != DATABASE or value in (None, ""):
        return None
    if column in CAPTURE_COLUMNS and (table is None or table in HISTORY_TABLES) and str(value).isdigit():
        return _capture_cell(datasette, int(value))
    if table in ("versions", "changes") and column == "page_url":
        return Markup('<a href="{}">{}</a> <a href="{}" class="timeline-link">(timeline)</a>').format(
            datasette.urls.table(database, table) + "?" + urlencode({"page_url": value}),
            value,
            timeline_path(datasette, str(value)),
        )
    if table == "changes" and column == "id":
        return Markup('{} <a href="{}">(diff)</a>').format(value, diff_path(datasette, change=int(value)))
    return None


def _capture_cell(datasette, capture_id: int):
    async def inner():
        db = datasette.get_database(DATABASE)

        def cite(conn):
            try:
                return citation_of(conn, queries.capture(conn, capture_id)).text()
            except NotFound:
                return None

        text = await db.execute_fn(cite)
        link = datasette.urls.table(DATABASE, "captures") + f"/{capture_id}"
        if text is None:
            return Markup('<a href="{}">{}</a>').format(link, capture_id)
        return Markup(
            '<a href="{}">{}</a><details class="spyglass-citation"><summary>cite</summary>'
            '<pre style="white-space: pre-wrap; max-width: 40em">{}</pre></details>'
        ).format(link, capture_id, text)

    return inner


def _html(page: str) -> Response:
    return Response.html(page, headers={"Content-Security-Policy": PAGE_CSP})


async def _not_found(datasette, request, message: str, status: int = 404) -> Response:
    page = await datasette.render_template(
        "spyglass_history_error.html", {"message": message}, request=request
    )
    response = _html(page)
    response.status = status
    return response


def _pool(datasette) -> WorkPool:
    return shared_pool(Stance.from_plugin_config(datasette.plugin_config("spyglass")).pool)


async def _busy(datasette, request, exc: Exception) -> Response:
    """503: the pool is full (try again shortly) or the work passed its deadline or memory limit."""
    if isinstance(exc, Busy):
        message, retry = "The archive is busy with other comparisons; try again in a moment.", exc.retry_after
    else:
        message, retry = "This comparison is too large to compute here; see the archived copies.", 60
    response = await _not_found(datasette, request, message, 503)
    response.headers["Retry-After"] = str(retry)
    return response


async def timeline(request, datasette) -> Response:
    """A page's versions on a time axis, its changes marked, each linked to its evidence."""
    url = request.args.get("url", "").strip()
    if not url:
        return await _not_found(datasette, request, "Give the page's URL: /-/spyglass/timeline?url=...", 400)
    phrase = request.args.get("phrase", "").strip()
    db = datasette.get_database(DATABASE)

    def load(conn):
        versions = versions_of(conn, url)
        return versions, changes_of(conn, url), page_sightings(conn, known_page_key(conn, url))

    try:
        versions, changes, sightings = await db.execute_fn(load)
        present = [False] * len(versions)
        if phrase and request.method != "HEAD":  # HEAD costs nothing
            digests = [v["text_sha256"] for v in versions]
            present = await _pool(datasette).run(heavy.phrase_presence, db.path, digests, phrase)
    except NotFound as exc:
        return await _not_found(datasette, request, str(exc))
    except (Busy, TooCostly) as exc:
        return await _busy(datasette, request, exc)
    for version, found in zip(versions, present):
        version["has_phrase"] = found
    shown = [c for c in changes if c["substantive"]]
    svg = timeline_svg(
        versions,
        shown,
        sightings,
        capture_href=lambda cid: datasette.urls.path(f"/-/spyglass/replay/{cid}"),
        diff_href=lambda c: diff_path(datasette, change=c["id"]),
    )
    by_to = {c["to_version_id"]: c for c in shown}
    page = await datasette.render_template(
        "spyglass_timeline.html",
        {
            "page_url": versions[-1]["page_url"],
            "versions": versions,
            "changes": shown,
            "svg": svg,
            "by_to": by_to,
            "phrase": phrase,
            "diff_path": lambda **p: diff_path(datasette, **p),
            "capture_path": lambda cid: datasette.urls.table(DATABASE, "captures") + f"/{cid}",
            "replay_path": lambda cid: datasette.urls.path(f"/-/spyglass/replay/{cid}"),
            "timeline_url": timeline_path(datasette, url),
        },
        request=request,
    )
    return _html(page)


async def diff(request, datasette) -> Response:
    """Two versions of one page, side by side (or inline), removed and added sentences marked."""
    db = datasette.get_database(DATABASE)
    args = request.args
    view = "inline" if args.get("view") == "inline" else "side"

    def load(conn):
        change_id = queries.row_id(args.get("change"))
        first, second = queries.row_id(args.get("from")), queries.row_id(args.get("to"))
        if change_id is not None:
            found = queries.rows(
                conn, "SELECT from_version_id, to_version_id FROM changes WHERE id = ?", [change_id]
            )
            if not found:
                raise NotFound(f"no change {change_id}")
            ids = (found[0]["from_version_id"], found[0]["to_version_id"])
        elif first is not None and second is not None:
            ids = (first, second)
        elif "change" in args or "from" in args:
            raise NotFound("no such change or version")
        else:
            raise NotFound("Give two versions (?from=ID&to=ID) or a change (?change=ID)")
        pair = []
        for vid in ids:
            found = queries.rows(conn, "SELECT * FROM versions WHERE id = ?", [vid])
            if not found:
                raise NotFound(f"no version {vid}")
            pair.append(found[0])
        old, new = pair
        if old["page_key"] != new["page_key"]:
            raise NotFound("the two versions are of different pages")
        siblings = queries.rows(
            conn,
            "SELECT id, number, first_seen_at, last_seen_at FROM versions WHERE page_key = ? ORDER BY number",
            [new["page_key"]],
        )
        cites = {
            v["id"]: {
                which: citation_of(conn, queries.capture(conn, v[f"{which}_capture_id"])).line()
                for which in ("first", "last")
            }
            for v in pair
        }
        return old, new, siblings, cites, screenshot_pair(conn, old, new)

    try:
        old, new, siblings, cites, shots = await db.execute_fn(load)
        rows, cut = [], False
        # HEAD costs nothing, and the same text twice is an empty diff: no worker for either.
        if request.method != "HEAD" and old["text_sha256"] != new["text_sha256"]:
            rows, cut = await _pool(datasette).run(
                heavy.version_diff, db.path, old["text_sha256"], new["text_sha256"], new["host"]
            )
    except NotFound as exc:
        return await _not_found(datasette, request, str(exc))
    except (Busy, TooCostly) as exc:
        return await _busy(datasette, request, exc)
    page = await datasette.render_template(
        "spyglass_diff.html",
        {
            "old": old,
            "new": new,
            "rows": rows,
            "cut": cut,
            "view": view,
            "siblings": siblings,
            "cites": cites,
            "changed": sum(r.tag != "equal" for r in rows),
            "shots": shots,
            "screenshot_path": lambda sid: datasette.urls.path(f"/-/spyglass/screenshot/{sid}"),
            "capture_path": lambda cid: datasette.urls.table(DATABASE, "captures") + f"/{cid}",
            "replay_path": lambda cid: datasette.urls.path(f"/-/spyglass/replay/{cid}"),
            "timeline_url": timeline_path(datasette, new["page_url"]),
            "other_view": diff_path(
                datasette,
                **{"from": old["id"], "to": new["id"], "view": "side" if view == "inline" else "inline"},
            ),
            "form_action": datasette.urls.path("/-/spyglass/diff"),
        },
        request=request,
    )
    return _html(page)


@hookimpl
def register_routes():
    return [
        (r"^/-/spyglass/timeline$", timeline),
        (r"^/-/spyglass/diff$", diff),
    ]
