"""Replay: what the archive serves for a capture, decided here; the Datasette plugin only routes.

Archived pages are hostile input and never share Datasette's origin: every
archived response carries ARCHIVED_CSP, whose `sandbox` gives the document an
opaque origin with no scripts, forms, popups or plugins, even opened
directly. It may load only from this archive ('self'), so its stylesheets,
images and fonts come from `load` (the capture of each URL nearest in time to
the page, pywb-style) and nothing reaches the live web. Its links lead, on a
click and only then (allow-top-navigation-by-user-activation), to `goto`,
which opens the nearest capture of the target under its own banner, or says
it was not archived. PDFs and other files are shown as text and links, never
in a frame that cannot draw them. Errors never carry exception text or paths.

Payloads are read as archive/publish/archived.py reads them: a piece at a
time, never more than the publishing stance's cap decoded. HTML and CSS up
to the rewrite cap (Stance.max_rewrite_mb) are read whole and rewritten
(rewrite_archived): for the server, in a pool worker (`deferred`), since
lxml and the rewriting hold the GIL (2 s for a link-dense 2 MB page, every
other page waiting). A larger page, or one the pool cannot take in time, is
streamed as archived under a policy that lets nothing in it open another
page, and its replay page says so.
"""

from __future__ import annotations

import functools
import re
import sqlite3
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from warcio.exceptions import ArchiveLoadFailed

from archive.archive import Archive
from archive.evidence.cite import citation_of
from archive.index import queries
from archive.index.asof import MEMENTO_TIME, as_of, as_of_kind, as_of_text, fetch_label, page_url
from archive.index.queries import MAX_ROWID
from archive.index.rows import is_redirect
from archive.publish import orient
from archive.publish.archived import Later, Served, decoded_size, record_pieces, serve_payload
from archive.publish.pages import render
from archive.publish.paths import Paths, UnderPrefix
from archive.publish.rewrite import Targets, rewrite_html, rewrite_stylesheet
from archive.records.store import SERVICE_METHODS
from archive.text.refs import absolute
from archive.times import parse_when
from archive.warc.read import DecodeError, open_record, read_record
from archive.wayback.client import calendar_url, citation_url

DATABASE = "spyglass"
# The archived document: no scripts, nothing but this archive, an opaque origin.
ARCHIVED_CSP = (
    "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self' data:; media-src 'self' data:; frame-src 'self'; "
    "frame-ancestors 'self'; form-action 'none'; base-uri 'none'; "
    "sandbox allow-top-navigation-by-user-activation"
)
# An archived page too large to rewrite, shown as archived: its links still name the
# live web, so a click in it may not open anything in the tab.
AS_ARCHIVED_CSP = ARCHIVED_CSP.replace("sandbox allow-top-navigation-by-user-activation", "sandbox")
# Our own pages: no scripts either; they frame the archived route and show screenshots.
PAGE_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; frame-src 'self'; "
    "frame-ancestors 'self'; form-action 'none'; base-uri 'none'"
)
COMMON_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "X-Robots-Tag": "noindex",
}
# What the archived copy loads comes from an opaque origin, so it must be
# allowed cross-origin (fonts are fetched in CORS mode).
RESOURCE_HEADERS = {"Cross-Origin-Resource-Policy": "cross-origin", "Access-Control-Allow-Origin": "*"}
# HTML and CSS are rewritten whole, in memory, holding the GIL: larger ones (decoded)
# are streamed as archived. A 19 MB page took 36 s and 1 GB to rewrite.
MAX_REWRITE = 2_000_000
UNREADABLE = (OSError, EOFError, ValueError, ArchiveLoadFailed)
_HTML_TYPES = ("text/html", "application/xhtml+xml")


def timestamp(when: datetime) -> str:
    """The 14-digit UTC form replay URLs carry a time in."""
    return when.strftime("%Y%m%d%H%M%S")


def display_kind(row: dict[str, Any]) -> str:
    """How the replay page shows a capture: html, frame (text, images), pdf, redirect or file."""
    if is_redirect(row):
        return "redirect"
    ctype = _main_type(row)
    if ctype == "application/pdf" or row.get("extraction") == "pdf":
        return "pdf"
    if ctype in _HTML_TYPES or (not ctype and row.get("extraction") == "html"):
        return "html"
    if ctype.startswith(("text/", "image/")) or ctype in ("application/json", "application/xml"):
        return "frame"
    return "file"


class Replay:
    """Replay over one index connection; `path` turns a route into a URL (Datasette's base_url)."""

    def __init__(
        self,
        archive: Archive,
        conn: sqlite3.Connection | None,
        path: Callable[[str], str],
        cap: int,
        rewrite_cap: int = MAX_REWRITE,
        deferred: bool = False,
    ) -> None:
        self.archive = archive
        self.conn = conn
        self.path = path
        self.cap = cap  # decoded bytes of an archived payload shown at most
        self.rewrite_cap = rewrite_cap  # decoded bytes of HTML or CSS rewritten at most
        # Rewriting left to the caller's pool (Served.later) rather than done here.
        self.deferred = deferred

    # -- URLs ----------------------------------------------------------------

    def replay_url(self, capture_id: int, redirected_from: int | None = None, came: int | None = None) -> str:
        """A capture's replay page; `came`, the capture a link to it was followed in (for the time-jump notice)."""
        query = urlencode({k: v for k, v in (("redirected_from", redirected_from), ("from", came)) if v})
        return self.path(f"/-/spyglass/replay/{capture_id}") + (f"?{query}" if query else "")

    def archived_url(self, capture_id: int) -> str:
        return self.path(f"/-/spyglass/archived/{capture_id}")

    def load_url(self, url: str, at: datetime) -> str:
        return self.path(f"/-/spyglass/load?at={timestamp(at)}&url={quote(url, safe='')}")

    def goto_url(self, url: str, at: datetime, came: int | None = None) -> str:
        via = f"&from={came}" if came else ""
        return self.path(f"/-/spyglass/goto?at={timestamp(at)}&url={quote(url, safe='')}{via}")

    def file_url(self, capture_id: int, download: bool = False) -> str:
        return self.path(f"/-/spyglass/file/{capture_id}") + ("?download=1" if download else "")

    def screenshot_url(self, screenshot_id: int) -> str:
        return self.path(f"/-/spyglass/screenshot/{screenshot_id}")

    def record_url(self, capture_id: int) -> str:
        return self.path(f"/{DATABASE}/captures/{capture_id}")

    def warc_url(self, capture_id: int) -> str:
        return self.path(f"/-/spyglass/record/{capture_id}.warc.gz")

    def targets(self, at: datetime, came: int | None = None) -> Targets:
        """References of a page (capture `came`) shown as of `at`: resources and links resolved to that time."""
        return Targets(
            resource=lambda url, _kind: self.load_url(url, at),
            navigate=lambda url: self.goto_url(url, at, came),
        )

    # -- routes ----------------------------------------------------------------

    def archived(self, capture_id: int) -> Served:
        """The capture's payload as the archived copy: HTML and CSS pointed into the archive."""
        row = self._capture(capture_id)
        if row is None:
            return not_found(f"No archived copy of capture {capture_id}.")
        return self._payload(row, as_of(row), {})

    def load(self, url: str, at_text: str) -> Served:
        """What an archived page loads: the nearest capture of `url`, through archived redirects."""
        at = _when(at_text)
        if at is None:
            return not_found("at must be a 14-digit UTC timestamp")
        row, _ = queries.resolve_capture(self.conn, url, at)
        if row is None or is_redirect(row):
            return not_found("not archived")
        return self._payload(row, at, RESOURCE_HEADERS)

    def goto(self, url: str, at_text: str, came: int | None = None) -> Served:
        """A link followed in an archived page (capture `came`): the nearest capture's replay page,
        or "not archived" with the way back, the nearest page the site's captures hold, the Wayback."""
        at = _when(at_text)
        if at is None:
            return not_found("at must be a 14-digit UTC timestamp")
        row, chain = queries.resolve_capture(self.conn, url, at)
        if row is None:
            nearest = orient.nearest_on_site(self.conn, url, at)
            body = render(
                "not_archived.html",
                url=url,
                at=at.strftime("%Y-%m-%d %H:%M:%S UTC"),
                wayback_url=citation_url(timestamp(at), url),
                calendar_url=calendar_url(url),
                came=orient.came_from(self.conn, came),
                back_url=self.replay_url(came) if came else None,
                nearest=nearest,
                nearest_url=self.replay_url(nearest["capture_id"], came=came) if nearest else None,
            )
            return Served(
                404,
                "text/html; charset=utf-8",
                body,
                headers={**COMMON_HEADERS, "Content-Security-Policy": PAGE_CSP},
            )
        location = self.replay_url(row["id"], chain[0]["id"] if chain else None, came)
        return Served(302, "text/plain", headers={**COMMON_HEADERS, "Location": location})

    def file(self, capture_id: int, download: bool) -> Served:
        """The original payload (Content-Encoding undone): a PDF opens inline, anything else downloads."""
        row = self._capture(capture_id)
        holder = queries.payload_row(self.conn, row) if row is not None else None
        if holder is None:
            return not_found(f"No archived file for capture {capture_id}.")
        try:
            served = serve_payload(self.archive, holder, self.cap, self.warc_url(capture_id))
        except UNREADABLE:
            return unreadable(capture_id)
        pdf = display_kind(holder) == "pdf" and served.pieces is not None
        disposition = "inline" if pdf and not download else "attachment"
        served.headers = {
            **COMMON_HEADERS,
            "Content-Disposition": f'{disposition}; filename="{_filename(row)}"',
        }
        if pdf:
            served.content_type = "application/pdf"
        else:
            # Browsers' PDF viewers refuse to run in a sandbox; everything else gets one.
            served.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
        return served

    def record(self, capture_id: int) -> Served:
        """The WARC record holding a capture's payload, byte for byte, to download."""
        row = self._capture(capture_id)
        holder = queries.payload_row(self.conn, row) if row is not None else None
        if holder is None or not self.archive.warc_path(holder["warc_filename"]).is_file():
            return not_found(f"No WARC record for capture {capture_id}.")
        return Served(
            200,
            "application/warc",
            pieces=record_pieces(self.archive, holder),
            headers={
                **COMMON_HEADERS,
                "Content-Security-Policy": ARCHIVED_CSP,
                "Content-Disposition": f'attachment; filename="spyglass-capture-{capture_id}.warc.gz"',
                "Content-Encoding": "identity",
            },
        )

    def screenshot(self, screenshot_id: int) -> Served:
        """A screenshot's PNG, read from its WARC resource record."""
        found = (
            queries.rows(
                self.conn, "SELECT * FROM screenshots WHERE id = ? AND status = 'ok'", [screenshot_id]
            )
            if 0 < screenshot_id <= MAX_ROWID
            else []
        )
        if not found:
            return not_found(f"no screenshot {screenshot_id}")
        shot = found[0]
        try:
            record = read_record(self.archive.warc_path(shot["warc_filename"]), shot["warc_offset"])
        except UNREADABLE:
            return not_found(
                f"The WARC record of screenshot {screenshot_id} cannot be read; `spyglass verify` says why."
            )
        return Served(
            200,
            "image/png",
            record.payload,
            headers={
                **COMMON_HEADERS,
                "Content-Security-Policy": "default-src 'none'; sandbox",
                "Cache-Control": "max-age=86400",
            },
        )

    def page(self, capture_id: int, redirected_from: int | None = None, came: int | None = None) -> Served:
        """Our page for a capture: the banner naming it, over its archived copy or its text; `came`,
        the capture whose link led here, for a notice when the two are far apart in time."""
        row = self._capture(capture_id)
        if row is None:
            return not_found(f"No capture {capture_id}.")
        display = display_kind(row)
        holder = queries.payload_row(self.conn, row) or row
        try:
            as_archived = display == "html" and self._too_large_to_rewrite(holder)
        except UNREADABLE:
            as_archived = False
        previous = self._capture(redirected_from) if redirected_from else None
        at = as_of(row)
        citation = citation_of(self.conn, row)
        source = orient.came_from(self.conn, came)
        paths = Paths(self.path)
        body = render(
            "replay.html",
            capture=row,
            around=orient.versions_around(self.conn, capture_id),
            replay_url=self.replay_url,
            timeline_url=paths.timeline(page_url(row)),
            came=source,
            jump=orient.time_jump(source["at"], at) if source else None,
            display=display,
            as_archived=as_archived,
            rewrite_mb=max(1, self.rewrite_cap // 1_000_000),
            title=row.get("title") or page_url(row),
            as_of=as_of_text(row),
            is_memento=as_of_kind(row) == MEMENTO_TIME,
            fetched_from=fetch_label(row),
            warc_url=self.warc_url(capture_id),
            url=citation.original_url or page_url(row),
            citation=citation.text(),
            redirected_from=previous if previous is not None and is_redirect(previous) else None,
            redirected_from_url=page_url(previous) if previous is not None else None,
            screenshots=[
                {**s, "href": self.screenshot_url(s["id"])}
                for s in queries.screenshots_of(self.conn, capture_id)
            ],
            archived_url=self.archived_url(capture_id),
            record_url=self.record_url(capture_id),
            file_url=self.file_url(capture_id),
            download_url=self.file_url(capture_id, download=True),
            pages=pdf_pages(self.conn, holder) if display == "pdf" else [],
            location=row.get("location"),
            follow_url=self.goto_url(absolute(page_url(row), row["location"]) or "", at)
            if display == "redirect"
            else "",
        )
        return Served(
            200,
            "text/html; charset=utf-8",
            body,
            headers={**COMMON_HEADERS, "Content-Security-Policy": PAGE_CSP},
        )

    # -- helpers -------------------------------------------------------------------

    def _capture(self, capture_id: int | None) -> dict[str, Any] | None:
        if capture_id is None or not 0 < capture_id <= MAX_ROWID:
            return None
        found = queries.rows(self.conn, "SELECT * FROM captures WHERE id = ?", [capture_id])
        return found[0] if found else None

    def _payload(self, row: dict[str, Any], at: datetime, extra: dict[str, str]) -> Served:
        """The payload of `row` as the archived copy shows it: HTML and CSS pointed into the archive."""
        holder = queries.payload_row(self.conn, row)
        if holder is None:
            return not_found(f"No archived copy of capture {row['id']}.")
        headers = {
            **COMMON_HEADERS,
            **extra,
            "Content-Security-Policy": ARCHIVED_CSP,
            "Content-Disposition": "inline",
            "Cache-Control": "max-age=300",
        }
        try:
            rewritable = _main_type(holder) in (*_HTML_TYPES, "text/css") and not self._too_large_to_rewrite(
                holder
            )
        except UNREADABLE:
            return unreadable(row["id"])
        if not rewritable:
            return self._as_archived(holder, row["id"], headers)
        work = (self.archive, holder, page_url(row), timestamp(at), row["id"], self.path("/"))
        if self.deferred:
            instead = functools.partial(self._as_archived, holder, row["id"], headers)
            return Served(200, "", headers=headers, later=Later(rewrite_archived, work, instead))
        try:
            rewritten = rewrite_archived(*work)
        except UNREADABLE:
            return unreadable(row["id"])
        if rewritten is None:
            return self._as_archived(holder, row["id"], headers)
        rewritten.headers = headers
        return rewritten

    def _as_archived(self, holder: dict[str, Any], capture_id: int, headers: dict[str, str]) -> Served:
        """The payload streamed as archived: HTML and CSS under a policy that opens nothing."""
        headers = dict(headers)
        if _main_type(holder) in (*_HTML_TYPES, "text/css"):
            headers["Content-Security-Policy"] = AS_ARCHIVED_CSP
        try:
            served = serve_payload(self.archive, holder, self.cap, self.warc_url(capture_id))
        except UNREADABLE:
            return unreadable(capture_id)
        served.headers = headers
        return served

    def _too_large_to_rewrite(self, holder: dict[str, Any]) -> bool:
        limit = min(self.cap, self.rewrite_cap)
        return decoded_size(self.archive, holder, limit) > limit


def rewrite_archived(
    archive: Archive, holder: dict[str, Any], url: str, at_text: str, came: int, prefix: str
) -> Served | None:
    """HTML or CSS (capture `holder`, under the rewrite cap) read whole and pointed into the
    archive as of `at_text`, links under the server's `prefix`; None if it does not decode.
    Run in a pool worker by the server (Replay.deferred), so it takes only what can be sent."""
    at = parse_when(at_text)
    targets = Replay(archive, None, UnderPrefix(prefix), 0).targets(at, came)
    try:
        record = open_record(archive, holder)
    except DecodeError:
        return None
    if _main_type(holder) == "text/css":
        return Served(200, record.content_type or "text/css", rewrite_stylesheet(record.body, url, targets))
    return Served(
        200, "text/html; charset=utf-8", rewrite_html(record.body, record.content_type, url, targets)
    )


def pdf_pages(conn: sqlite3.Connection, holder: dict[str, Any]) -> list[dict[str, Any]]:
    """A PDF capture's text page by page: a released document's pages (OCR'd where needed), else
    the capture's own text, whose pages extraction separates with form feeds."""
    readings = queries.document_pages_of(conn, holder)
    if readings:
        # One reading a page: Spyglass's own (text layer, OCR) before a hosting service's.
        chosen: dict[int, dict[str, Any]] = {}
        for page in sorted(readings, key=lambda p: p["method"] in SERVICE_METHODS):
            chosen.setdefault(page["page_number"], page)
        return [{"number": n, "text": p["text"], "method": p["method"]} for n, p in sorted(chosen.items())]
    text = holder.get("text") or ""
    return [
        {"number": n, "text": t.strip(), "method": None} for n, t in enumerate(text.split("\f"), 1) if text
    ]


def not_found(message: str) -> Served:
    """A 404 in one plain line of ours (never an exception's text or a path), under a sandbox."""
    return Served(
        404,
        "text/plain; charset=utf-8",
        message.encode("utf-8"),
        headers={**COMMON_HEADERS, "Content-Security-Policy": ARCHIVED_CSP},
    )


def unreadable(capture_id: int) -> Served:
    return not_found(f"The WARC record of capture {capture_id} cannot be read; `spyglass verify` says why.")


def _main_type(row: dict[str, Any]) -> str:
    return (row.get("content_type") or "").split(";")[0].strip().lower()


def _when(text: str) -> datetime | None:
    if not re.fullmatch(r"\d{14}", text or ""):
        return None
    try:
        return parse_when(text)
    except ValueError:
        return None


def _filename(row: dict[str, Any]) -> str:
    """A safe file name for a download: the URL's last path segment."""
    name = urlsplit(page_url(row)).path.rstrip("/").rsplit("/", 1)[-1] or "capture"
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)[:100] or f"capture-{row['id']}"
