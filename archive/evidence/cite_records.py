"""Citations of what agencies released: documents, their pages, requests and communications.

Pure functions over row dicts, like archive/evidence/cite.py's capture citations: a file is
cited to the agencies that released it and by the page a reader opens.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from archive.evidence.citation import Citation, author_of, bluebook_date, local_copy
from archive.times import parse_when


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
    agency = document.get("agency") or release.get("agency") or author_of(capture, url)
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
        **local_copy(capture),
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
        author=release.get("agency") or author_of(capture, url),
        title=" ".join(str(release.get("title") or "Untitled request").split()),
        when=", ".join(p for p in (when, status) if p) or "date unknown",
        url=url,
        original_url=release.get("page_url"),
        # DocumentCloud's and NextRequest's releases are known by their human page itself.
        detail=f"API record {release.get('page_url')}"
        if release.get("human_url") and release.get("page_url") != release.get("human_url")
        else None,
        **local_copy(capture),
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
        **local_copy(capture),
    )
