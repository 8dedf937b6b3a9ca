"""Citations of captures, and the look-ups that pick the right citation for any row.

A released document's capture is cited as that document (archive/evidence/cite_records.py);
any other capture as the page it shows, with its Save Page Now snapshot and the later checks
that found it unchanged. The form of a citation is archive/evidence/citation.py's.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any
from urllib.parse import urljoin

from archive.evidence.citation import Citation, author_of, bluebook_date, local_copy
from archive.evidence.cite_records import cite_document, cite_document_page, cite_request
from archive.evidence.lookup import Found
from archive.index import asof, queries
from archive.index.rows import is_wayback
from archive.times import iso, parse_when
from archive.wayback.client import citation_url


def snapshot_url(capture: Mapping[str, Any]) -> str | None:
    """The public snapshot URL: as stored, or built from the stored timestamp and original URL."""
    if capture.get("snapshot_url"):
        return capture["snapshot_url"]
    if capture.get("wayback_timestamp") and capture.get("original_url"):
        return citation_url(capture["wayback_timestamp"], capture["original_url"])
    return None


def _title(row: Mapping[str, Any]) -> str:
    title = " ".join(str(row.get("title") or "").split())
    if title:
        return title
    redirect = _redirect(row)
    if redirect:
        return f"Redirect (HTTP {row['status']}) to {redirect}"
    return "Untitled page"


def _redirect(row: Mapping[str, Any]) -> str | None:
    """Where an archived 3xx sent the reader (its Location, made absolute), else None."""
    status = row.get("status")
    if not (isinstance(status, int) and 300 <= status < 400):
        return None
    location = (row.get("location") or "").strip()
    if not location:
        return "(no Location given)"
    return urljoin(asof.page_url(row), location)


def _redirect_note(row: Mapping[str, Any]) -> str:
    redirect = _redirect(row)
    return (
        f"; the archived answer is an HTTP {row['status']} redirect to {redirect}, not a page"
        if redirect
        else ""
    )


def cite(capture: Mapping[str, Any], save_request: Mapping[str, Any] | None = None) -> Citation:
    """The citation of one capture row; `save_request` is its Save Page Now row, if any."""
    if is_wayback(capture):
        original = asof.page_url(capture)
        archived = asof.memento_time(capture)
        when = parse_when(capture["captured_at"])
        return Citation(
            kind="wayback",
            author=author_of(capture, original),
            title=_title(capture),
            when=f"archived {bluebook_date(archived)}" if archived else "archived, date unknown",
            url=snapshot_url(capture) or capture["url"],
            original_url=original,
            detail=(
                f"Original URL {original}; archived by the Wayback Machine "
                f"{archived.strftime('%Y-%m-%d %H:%M:%S UTC') if archived else '(time unknown)'}; "
                f"retrieved by Spyglass {when.strftime('%Y-%m-%d %H:%M UTC')}" + _redirect_note(capture)
            ),
            redirect_to=_redirect(capture),
            as_of_at=iso(asof.as_of(capture)),
            as_of_kind=asof.as_of_kind(capture),
            fetched_at=iso(when),
            **local_copy(capture),
        )
    when = parse_when(capture["captured_at"])
    spn = (save_request or {}).get("snapshot_url") or None
    return Citation(
        kind="live",
        author=author_of(capture, capture["url"]),
        title=_title(capture),
        when=f"captured {bluebook_date(when)}, {when.strftime('%H:%M')} UTC",
        url=capture["url"],
        original_url=capture["url"],
        archived_url=spn,
        detail=f"Captured by Spyglass {when.strftime('%Y-%m-%d %H:%M:%S UTC')}"
        + (f"; Save Page Now snapshot {spn}" if spn else "")
        + _redirect_note(capture),
        redirect_to=_redirect(capture),
        as_of_at=iso(asof.as_of(capture)),
        as_of_kind=asof.as_of_kind(capture),
        fetched_at=iso(when),
        **local_copy(capture),
    )


def distance(a: datetime, b: datetime) -> str:
    """How far `a` is from `b`, in words: '3 days 4 hours earlier', 'the same second'."""
    seconds = int((a - b).total_seconds())
    if seconds == 0:
        return "at exactly that time"
    side = "earlier" if seconds < 0 else "later"
    seconds = abs(seconds)
    parts = []
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count} {unit}{'s' if count != 1 else ''}")
        if len(parts) == 2:
            break
    return f"{' '.join(parts)} {side}"


def citation_of(
    conn: sqlite3.Connection, capture: Mapping[str, Any], published_url: str | None = None
) -> Citation:
    """The citation of a capture row: a released document's as that document (agency, name,
    release date), any other with its Save Page Now snapshot if it has one. `published_url` is
    the capture's page in the published archive, when its public address is known."""
    found = queries.document_of_capture(conn, capture)
    if found is not None:
        document, release = found
        agencies = queries.agencies_of_document(conn, document["id"])
        return replace(
            cite_document(document, release, capture, agencies=agencies), published_url=published_url
        )
    citation = replace(cite(capture, queries.save_request(conn, capture["id"])), published_url=published_url)
    if citation.kind != "live":
        return citation
    seen = queries.latest_observation(conn, dict(capture))
    if seen is None:
        return citation
    count, latest = seen
    return replace(
        citation,
        seen_unchanged=count,
        seen_unchanged_at=latest["observed_at"],
        seen_unchanged_proof=f"{latest['warc_filename']}, offset {latest['warc_offset']}",
    )


def citation_of_found(conn: sqlite3.Connection, found: Found, published_url: str | None = None) -> Citation:
    """The citation of what a lookup found (archive/evidence/lookup.py): a release named by its
    page as that release, anything else as its capture."""
    if found.release is not None:
        return replace(cite_request(found.release, found.capture), published_url=published_url)
    return citation_of(conn, found.capture, published_url)


def citation_of_page(conn: sqlite3.Connection, page: Mapping[str, Any]) -> Citation | None:
    """The citation of a document_pages row: its document, and the release that first linked it."""
    found = queries.document_of_page(conn, page)
    if found is None:
        return None
    document, release, capture = found
    return cite_document_page(
        page, document, release, capture, queries.agencies_of_document(conn, document["id"])
    )
