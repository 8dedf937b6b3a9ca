"""Citations for captures and document pages: pure functions over row dicts.

The Wayback form follows the civil-liberties letters in shared/seeds: who,
what, "(archived Feb. 25, 2018)", then the public snapshot URL. Dates use the
Bluebook's month abbreviations (T12). Every citation also says where the
local copy is and the SHA-256 of its payload, so it can be checked.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

from archive.evidence.lookup import Found
from archive.index import asof, queries
from archive.index.rows import is_wayback
from archive.times import iso, parse_when
from archive.wayback.client import citation_url

EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

MONTHS = ("Jan.", "Feb.", "Mar.", "Apr.", "May", "June", "July", "Aug.", "Sept.", "Oct.", "Nov.", "Dec.")


@dataclass(frozen=True)
class Citation:
    """What a citation says; `text()`, `bluebook()` and `as_dict()` render it."""

    kind: str  # "wayback", "live", "document", "document-page", "request" or "communication"
    author: str
    title: str
    when: str  # e.g. "archived Feb. 25, 2018"
    url: str  # the URL a reader should follow
    sha256: str | None = None
    warc_filename: str | None = None
    warc_offset: int | None = None
    capture_id: int | None = None
    original_url: str | None = None
    archived_url: str | None = None  # a Save Page Now snapshot of a live page
    pinpoint: str | None = None  # "at 3" for a document page
    detail: str | None = None  # e.g. the memento's exact time
    redirect_to: str | None = None  # an archived 3xx: where it sent the reader
    # The two times, structured: when the capture shows the page (the memento
    # time for a Wayback capture, the capture time for a live one), and when
    # Spyglass fetched it. ISO 8601 UTC.
    as_of_at: str | None = None
    as_of_kind: str | None = None  # asof.MEMENTO_TIME or asof.CAPTURE_TIME
    fetched_at: str | None = None
    # Later checks that found the page unchanged (observations: a 304, or the same payload again).
    seen_unchanged: int | None = None
    seen_unchanged_at: str | None = None  # the latest, ISO 8601 UTC
    seen_unchanged_proof: str | None = None  # its WARC record: "file, offset"
    published_url: str | None = None  # the capture's page in the published archive, when configured

    def line(self) -> str:
        """Who, what, when, where: the form of the seeds' footnotes."""
        title = f"{self.title}, {self.pinpoint}" if self.pinpoint else self.title
        line = f"{self.author}, {title} ({self.when}), {self.url}"
        if self.archived_url:
            line += f" [{self.archived_url}]"
        return line

    def footnote(self) -> str:
        """One line in the coalition letter's form: `<title> (archived on Feb. 25, 2018), <snapshot URL>`.

        A live capture gives the date Spyglass captured it and the original
        URL, then where the capture is in the published archive (and its Save
        Page Now snapshot), when there is one; a document keeps its agency.
        """
        if self.kind not in ("wayback", "live"):
            return self.line()  # a document, a request, a communication: who released or wrote it
        shown = parse_when(self.as_of_at) if self.as_of_at else None
        date = bluebook_date(shown) if shown else "date unknown"
        if self.kind == "wayback":
            return f"{self.title} (archived on {date}), {self.url}"
        copies = [c for c in (self.published_url, self.archived_url) if c]
        return f"{self.title} (captured on {date}), {self.url}" + (
            f", archived at {' and '.join(copies)}" if copies else ""
        )

    def bluebook(self) -> str:
        """One footnote-ready line, ending with the payload hash and the local copy."""
        local = []
        if self.sha256:
            local.append(f"SHA-256 {self.sha256}")
        if self.warc_filename:
            local.append(f"local copy {self.warc_filename} at offset {self.warc_offset}")
        return self.line() + (f" ({'; '.join(local)})" if local else "") + "."

    def text(self) -> str:
        """The citation line, then the facts that let anyone check the local copy."""
        lines = [self.line()]
        if self.detail:
            lines.append(f"  {self.detail}")
        if self.seen_unchanged and self.seen_unchanged_at:
            last = parse_when(self.seen_unchanged_at).strftime("%Y-%m-%d %H:%M:%S UTC")
            lines.append(
                f"  Seen unchanged {self.seen_unchanged} time(s) since, last at {last} "
                f"(proof: {self.seen_unchanged_proof})"
            )
        if self.sha256:
            empty = (
                " (an empty body: the answer was the redirect)"
                if (self.redirect_to and self.sha256 == EMPTY_SHA256)
                else ""
            )
            lines.append(f"  SHA-256 of the archived payload: {self.sha256}{empty}")
        if self.warc_filename:
            where = f"  Local copy: {self.warc_filename}, offset {self.warc_offset}"
            if self.capture_id is not None:
                where += f" (Spyglass capture {self.capture_id})"
            lines.append(where)
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        """Every field, plus the two rendered forms."""
        return {
            **asdict(self),
            "text": self.text(),
            "bluebook": self.bluebook(),
            "footnote": self.footnote(),
        }

    def render(self, fmt: str) -> str:
        """Render as `text`, `bluebook`, `footnote` or `json`."""
        import json

        if fmt == "footnote":
            return self.footnote()
        if fmt == "bluebook":
            return self.bluebook()
        if fmt == "json":
            return json.dumps(self.as_dict(), indent=2, ensure_ascii=False)
        return self.text()


def bluebook_date(when: datetime) -> str:
    """Feb. 25, 2018."""
    return f"{MONTHS[when.month - 1]} {when.day}, {when.year}"


def snapshot_url(capture: Mapping[str, Any]) -> str | None:
    """The public snapshot URL: as stored, or built from the stored timestamp and original URL."""
    if capture.get("snapshot_url"):
        return capture["snapshot_url"]
    if capture.get("wayback_timestamp") and capture.get("original_url"):
        return citation_url(capture["wayback_timestamp"], capture["original_url"])
    return None


def _author(row: Mapping[str, Any], url: str) -> str:
    return row.get("vendor") or row.get("agency") or urlsplit(url).hostname or row.get("source") or "Unknown"


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


def _local(capture: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "sha256": capture.get("sha256"),
        "warc_filename": capture.get("warc_filename"),
        "warc_offset": capture.get("warc_offset"),
        "capture_id": capture.get("id"),
    }


def cite(capture: Mapping[str, Any], save_request: Mapping[str, Any] | None = None) -> Citation:
    """The citation of one capture row; `save_request` is its Save Page Now row, if any."""
    if is_wayback(capture):
        original = asof.page_url(capture)
        archived = asof.memento_time(capture)
        when = parse_when(capture["captured_at"])
        return Citation(
            kind="wayback",
            author=_author(capture, original),
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
            **_local(capture),
        )
    when = parse_when(capture["captured_at"])
    spn = (save_request or {}).get("snapshot_url") or None
    return Citation(
        kind="live",
        author=_author(capture, capture["url"]),
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
        **_local(capture),
    )


def cite_document_page(
    page: Mapping[str, Any],
    document: Mapping[str, Any],
    release: Mapping[str, Any] | None = None,
    capture: Mapping[str, Any] | None = None,
    agencies: list[str] | None = None,
) -> Citation:
    """The citation of one page of a released document: document_pages, documents and releases rows."""
    return cite_document(document, release, capture, page, agencies)


def cite_document(
    document: Mapping[str, Any],
    release: Mapping[str, Any] | None = None,
    capture: Mapping[str, Any] | None = None,
    page: Mapping[str, Any] | None = None,
    agencies: list[str] | None = None,
) -> Citation:
    """The citation of a released document (one page of it with `page`): agency, name, release date.

    `agencies` is every agency that released the same file: all are named, `release`'s first.
    """
    release = release or {}
    capture = capture or {}
    # A file fetched by an expiring URL is known by its stable page (documents.cite_url).
    stable = (
        document.get("cite_url")
        or document.get("file_url")
        or document.get("url")
        or capture.get("url")
        or release.get("page_url")
        or ""
    )
    # It is cited by the page a reader opens: its own, else its request's (a MuckRock file's
    # stable page is its API record, which stays as provenance).
    url = release.get("file_human_url") or release.get("human_url") or stable
    fetched = document.get("file_url") or stable
    agency = document.get("agency") or release.get("agency") or _author(capture, url)
    agency = _and([agency, *(a for a in agencies or [] if a != agency)])
    when = _released(release)
    title = " ".join(
        str(document.get("title") or document.get("file_name") or release.get("title") or "").split()
    )
    if page is not None:
        detail = f"Page {page.get('page_number')}; text by {page.get('method') or 'extraction'}" + (
            f"; released{_request_note(release)}" if release.get("title") or release.get("reference") else ""
        )
    else:
        pages = f", {document['page_count']} page(s)" if document.get("page_count") else ""
        detail = f"Released file ({document.get('content_type') or 'unknown type'}{pages})" + _request_note(
            release
        )
    if url != stable:
        detail += f"; API record {stable}"
    return Citation(
        kind="document-page" if page is not None else "document",
        author=agency,
        title=title or "Untitled document",
        pinpoint=f"at {page.get('page_number')}" if page is not None else None,
        when=when,
        url=url,
        original_url=fetched,
        detail=detail,
        **_local(capture),
    )


def _and(names: list[str]) -> str:
    """'A', 'A and B', 'A, B and C'."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _released(release: Mapping[str, Any]) -> str:
    """ "released Feb. 25, 2018", or as the portal wrote it, or "release date unknown"."""
    released = release.get("released_on") or release.get("released_at")
    try:
        when = f"released {bluebook_date(parse_when(str(released)))}" if released else None
    except ValueError:
        when = f"released {release.get('released_text') or released}"
    return when or (
        f"released {release['released_text']}" if release.get("released_text") else "release date unknown"
    )


def _request_note(release: Mapping[str, Any]) -> str:
    """' in 'Title', request REF (its page), delivered by 'Subject' of DATE': where a file came from."""
    note = (f" in {release['title']!r}" if release.get("title") else "") + (
        f", request {release['reference']}" if release.get("reference") else ""
    )
    if release.get("human_url"):
        note += f" ({release['human_url']})"
    if release.get("delivered_subject") or release.get("delivered_at"):
        subject = release.get("delivered_subject") or "a communication"
        sent = f" of {release['delivered_at']}" if release.get("delivered_at") else ""
        note += f", delivered by {subject!r}{sent}"
    return note


def cite_request(release: Mapping[str, Any], capture: Mapping[str, Any] | None = None) -> Citation:
    """The citation of a records request: by its human page, the API record kept as provenance."""
    capture = capture or {}
    url = release.get("human_url") or release.get("page_url") or ""
    submitted = release.get("submitted_on")
    when = f"submitted {bluebook_date(parse_when(str(submitted)))}" if submitted else None
    status = f"status {release['status']}" if release.get("status") else None
    return Citation(
        kind="request",
        author=release.get("agency") or _author(capture, url),
        title=" ".join(str(release.get("title") or "Untitled request").split()),
        when=", ".join(p for p in (when, status) if p) or "date unknown",
        url=url,
        original_url=release.get("page_url"),
        # DocumentCloud's and NextRequest's releases are known by their human page itself.
        detail=f"API record {release.get('page_url')}"
        if release.get("human_url") and release.get("page_url") != release.get("human_url")
        else None,
        **_local(capture),
    )


def cite_communication(
    letter: Mapping[str, Any], release: Mapping[str, Any], capture: Mapping[str, Any] | None = None
) -> Citation:
    """The citation of one communication of a request: who wrote it, its subject and date, the request."""
    capture = capture or {}
    incoming = letter.get("direction") == "incoming"
    author = letter.get("sender") or (release.get("agency") if incoming else None) or "Requester"
    sent = letter.get("sent_at")
    try:
        when = f"sent {bluebook_date(parse_when(str(sent)))}" if sent else "date unknown"
    except ValueError:
        when = f"sent {sent}"
    return Citation(
        kind="communication",
        author=str(author),
        title=" ".join(str(letter.get("subject") or "Communication").split()),
        when=when,
        url=release.get("human_url") or letter.get("api_url") or "",
        original_url=letter.get("api_url"),
        detail=f"Communication in {release.get('title')!r}; API record {letter.get('api_url')}",
        **_local(capture),
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
