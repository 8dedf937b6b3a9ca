"""What the thing a lawyer holds names in the archive: a capture id, a URL of any form, a snapshot link.

A citation arrives in many spellings. The coalition letter prints
`https://web.archive.org/web/20180225100337/https:/aws.amazon.com/rekognition/`;
a reporter pastes the `id_` form or drops the trailing slash; a records
request is cited by its MuckRock or DocumentCloud page, and a file by the
signed download URL someone was handed. `find` reads each as what it names
and picks the capture that shows it: for a snapshot link, the Wayback
capture nearest the snapshot's own time; for a released file's stable page
or download URL, the capture of the file. When nothing matches, the error
says what was looked for and the nearest URL the archive does hold.
"""

from __future__ import annotations

import difflib
import re
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from archive.errors import NotFound
from archive.index.queries import capture as capture_by_id
from archive.index.queries import nearest_capture, rows
from archive.wayback.client import parse_snapshot_url

# A MuckRock request's human page ends in "<slug>-<id>/"; its API address names the same request.
MUCKROCK_FOI_RE = re.compile(r"^/foi/(?:[^/]+/)+[^/]*?-?(\d+)/?$")
# A DocumentCloud document's pages: /documents/<id>-<slug>[.html], /documents/<id>/, ...
DOCUMENTCLOUD_RE = re.compile(r"^/documents/(\d+)(?:[-/.]|$)")

LOOKED_FOR = (
    "a capture id, a captured page, a Wayback snapshot of one, "
    "a released file's stable page or download URL, or a release page"
)


@dataclass(frozen=True)
class Found:
    """The capture a target names, how it was recognised, and the time the target itself names."""

    capture: dict[str, Any]
    how: str  # e.g. "Wayback snapshot", "captured URL", "released file's stable page"
    named_at: datetime | None = None  # a snapshot link's own time
    release: dict[str, Any] | None = None  # a release named by its page: cite it, not the listing


def url_variants(url: str) -> list[str]:
    """The spellings one page goes by: http or https, with or without `www.` and a closing slash."""
    parts = urlsplit(url.strip())
    if not parts.scheme or not parts.netloc:
        return [url.strip()]
    host = parts.netloc.lower()
    bare = host.removeprefix("www.")
    hosts = [host, bare if host != bare else f"www.{bare}"]
    path = parts.path or "/"
    paths = [path] if path == "/" else [path, path[:-1] if path.endswith("/") else path + "/"]
    schemes = [parts.scheme.lower(), "https" if parts.scheme.lower() == "http" else "http"]
    found = [url.strip()]
    for scheme in schemes:
        for netloc in hosts:
            for variant in paths:
                candidate = urlunsplit((scheme, netloc, variant, parts.query, ""))
                if candidate not in found:
                    found.append(candidate)
    return found


def padded_time(timestamp: str) -> datetime:
    """A 4- to 14-digit Wayback timestamp as the first moment it names (2018 -> 2018-01-01 00:00:00)."""
    full = timestamp + "0101000000"[len(timestamp) - 4 :] if len(timestamp) < 14 else timestamp
    return datetime.strptime(full[:14], "%Y%m%d%H%M%S").replace(tzinfo=UTC)


def find(
    conn: sqlite3.Connection, target: str, at: datetime | None = None, wayback_base: str | None = None
) -> Found:
    """The capture `target` names, nearest to `at` when it names several; NotFound in one line if none.

    `wayback_base` is the configured Wayback Machine (a loopback simulator's
    snapshot links are read like web.archive.org's).
    """
    text = target.strip()
    if text.isdigit():
        return Found(capture_by_id(conn, int(text)), "capture id")
    snapshot = parse_snapshot_url(text, wayback_base)
    if snapshot is not None:
        try:
            named = padded_time(snapshot.timestamp)
        except ValueError:
            raise NotFound(f"{text}: its timestamp {snapshot.timestamp} is not a date") from None
        row = nearest_capture(conn, url_variants(snapshot.original), at or named, via="wayback")
        if row is None:
            raise NotFound(_missing(conn, snapshot.original, f"no Wayback memento of {snapshot.original}"))
        return Found(row, "Wayback snapshot", named)
    # A document's page (DocumentCloud's) is its request's human page too: the file is what it cites.
    row = _stable_page(conn, text, at)
    if row is not None:
        return Found(row, "released file's stable page")
    # A request's human page is archived too, but it is the request a lawyer cites by it.
    human = release_by_page(conn, text, "human_url")
    if human is not None:
        return Found(capture_by_id(conn, human["capture_id"]), "request page", release=human)
    for how, finder in _URL_FINDERS:
        row = finder(conn, text, at)
        if row is not None:
            return Found(row, how)
    release = release_by_page(conn, text, "page_url")
    if release is not None:
        return Found(capture_by_id(conn, release["capture_id"]), "release page", release=release)
    raise NotFound(_missing(conn, text, f"no capture of {text}"))


def _captured(conn: sqlite3.Connection, url: str, at: datetime | None) -> dict[str, Any] | None:
    return nearest_capture(conn, url_variants(url), at)


def _document_capture(
    conn: sqlite3.Connection, column: str, values: list[str], like: bool = False
) -> dict[str, Any] | None:
    """The capture of a released file whose `column` (cite_url or file_url) is one of `values` (or
    matches one, with `like`): the capture of the matching link's own URL first (the same bytes
    under a second URL are a capture of that URL, a revisit), else the document's capture."""
    test = " OR ".join(f"x.{column} {'LIKE' if like else '='} ?" for _ in values)
    for sql in (
        "SELECT x.file_url, d.capture_id, d.sha256 FROM document_links AS x "
        "JOIN documents AS d ON d.id = x.document_id "
        f"WHERE ({test}) AND d.capture_id IS NOT NULL ORDER BY x.id LIMIT 1",
        "SELECT NULL AS file_url, x.capture_id, x.sha256 FROM documents AS x "
        f"WHERE ({test}) AND x.capture_id IS NOT NULL ORDER BY x.id LIMIT 1",
    ):
        found = rows(conn, sql, values)
        if found:
            own = nearest_capture(conn, found[0]["file_url"], None) if found[0]["file_url"] else None
            # Only a capture holding the file's bytes (not a redirect to a signed URL) is its copy.
            if own is not None and own["sha256"] == found[0]["sha256"]:
                return own
            return capture_by_id(conn, found[0]["capture_id"])
    return None


def _stable_page(conn: sqlite3.Connection, url: str, at: datetime | None) -> dict[str, Any] | None:
    """A released file by the stable page Spyglass cites it by (documents.cite_url)."""
    found = _document_capture(conn, "cite_url", url_variants(url))
    if found is not None:
        return found
    docs = DOCUMENTCLOUD_RE.match(urlsplit(url).path)
    if docs and "documentcloud" in (urlsplit(url).hostname or ""):
        # Any spelling of a DocumentCloud document's page names the document by its number.
        number = docs[1]
        return _document_capture(
            conn, "cite_url", [f"%/documents/{number}-%", f"%/documents/{number}/%"], like=True
        )
    return None


def _download_url(conn: sqlite3.Connection, url: str, at: datetime | None) -> dict[str, Any] | None:
    """A released file by a download URL, signed or not: the same address, whatever its signature."""
    parts = urlsplit(url)
    if not parts.query:
        return None
    bare = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
    found = _document_capture(conn, "file_url", [bare + "?%"], like=True)
    return found or nearest_capture(conn, bare, at)


def release_by_page(conn: sqlite3.Connection, url: str, column: str) -> dict[str, Any] | None:
    """A release by its page (`column` page_url) or its human page (human_url), any spelling; a
    MuckRock request's /foi/ page also names its API address (for releases kept without it)."""
    urls = url_variants(url)
    parts = urlsplit(url)
    foi = MUCKROCK_FOI_RE.match(parts.path)
    if column == "page_url" and foi and "muckrock" in (parts.hostname or ""):
        urls += url_variants(urlunsplit((parts.scheme, parts.netloc, f"/api_v2/requests/{foi[1]}/", "", "")))
    marks = ", ".join("?" for _ in urls)
    found = rows(
        conn,
        f"SELECT * FROM releases WHERE {column} IN ({marks}) AND capture_id IS NOT NULL ORDER BY id LIMIT 1",
        urls,
    )
    return found[0] if found else None


# A released file's stable page (tried first, in `find`) may itself be captured (an API's file
# record): the file is what it cites.
_URL_FINDERS = (
    ("captured URL", _captured),
    ("released file's download URL", _download_url),
)


def nearest_url(conn: sqlite3.Connection, url: str) -> str | None:
    """The captured URL most like `url` (same host first), to say what the archive holds instead."""
    host = (urlsplit(url).hostname or "").removeprefix("www.")
    pool = [
        r["page_url"]
        for r in rows(
            conn,
            "SELECT DISTINCT page_url FROM captures WHERE page_url LIKE ? LIMIT 20000",
            [f"%{host}%" if host else "%"],
        )
        if r["page_url"]
    ]
    if not pool:
        pool = [
            r["page_url"]
            for r in rows(conn, "SELECT DISTINCT page_url FROM captures LIMIT 20000")
            if r["page_url"]
        ]
    close = difflib.get_close_matches(url, pool, n=1, cutoff=0.0)
    return close[0] if close else None


def _missing(conn: sqlite3.Connection, target: str, what: str) -> str:
    near = nearest_url(conn, target)
    return f"{what} (looked for {LOOKED_FOR}); nearest captured URL: {near or 'none, the archive is empty'}"
