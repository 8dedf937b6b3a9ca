"""The items the records spider yields besides captures: releases, communications, files, page texts."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Release:
    """One release of a records portal: what an agency handed over, and the files it linked."""

    source: str
    key: str  # unique within the source: the release page URL, or listing URL#reference for a row
    page_url: str
    record_id: str  # WARC-Record-ID of the capture that shows the release
    title: str | None
    agency: str | None
    reference: str | None
    released_text: str | None
    released_on: str | None
    file_urls: list[str] = field(default_factory=list)
    status: str | None = None  # as the portal states it (JSON portals)
    version: str | None = None  # the portal's "last updated" value: unchanged releases are not walked again
    # Stable page to cite for each file URL that may expire (default: the URL itself).
    cite_urls: dict[str, str] = field(default_factory=dict)
    human_url: str | None = None  # the page a reader opens (archived too): what citations name
    # A file's own page a reader opens, per file URL, when the walk names one (else its request's).
    human_urls: dict[str, str] = field(default_factory=dict)
    submitted_on: str | None = None
    due_on: str | None = None
    completed_on: str | None = None
    jurisdiction: str | None = None
    embargo: str | None = None
    # The text of its own entry when a page lists it with others (a table row, a JSON item):
    # what the listing says about this release alone. None on the release's own page.
    entry_text: str | None = None


@dataclass
class Communication:
    """One letter of a request's thread (request, acknowledgement, fee notice, cover letter)."""

    source: str
    release_key: str  # the Release's key
    key: str  # unique within the release: the portal's id, or its API URL#position
    api_url: str  # the response that listed it
    record_id: str  # WARC-Record-ID of that response's capture
    sent_at: str | None
    direction: str | None  # 'incoming': the agency wrote it; 'outgoing': the requester did
    sender: str | None
    recipient: str | None
    subject: str | None
    body: str | None
    status: str | None


@dataclass
class ReleaseLinks:
    """Files a JSON portal names for a release in a later response (a communication, a document list)."""

    source: str
    key: str  # the Release's key
    file_urls: list[str]
    cite_urls: dict[str, str] = field(default_factory=dict)
    communication: str | None = None  # the key of the communication that delivered them
    human_urls: dict[str, str] = field(default_factory=dict)  # as Release.human_urls


@dataclass
class DocumentFile:
    """A released file as downloaded: its capture, and the URL a release linked it by."""

    source: str
    linked_url: str
    file_url: str
    file_name: str
    record_id: str
    sha256: str
    size: int
    content_type: str | None
    cite_url: str | None = None  # the stable page to cite it by, when file_url may expire


@dataclass
class PageText:
    """A hosting service's own text of one page of a document (DocumentCloud's), as archived."""

    source: str
    linked_url: str  # the file URL the document was downloaded by
    page_number: int
    text: str | None
    method: str  # "documentcloud": kept beside Spyglass's own extraction, never replaced by it


RECORD_ITEMS = (Release, DocumentFile, ReleaseLinks, PageText, Communication)
RecordItem = Release | DocumentFile | ReleaseLinks | PageText | Communication
