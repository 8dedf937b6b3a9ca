"""The items spiders yield: plain data, no logic."""

from __future__ import annotations

from dataclasses import dataclass, field

from archive.warc.write import RecordLocation


@dataclass
class Capture:
    """One HTTP response as archived: the exchange's facts and where its WARC record is."""

    url: str
    source: str
    via: str
    status: int
    captured_at: str
    content_type: str | None
    request_method: str
    request_headers: list[tuple[str, str]]
    response_headers: list[tuple[str, str]]
    body: bytes  # decoded (Content-Encoding removed), for text extraction
    warc: RecordLocation  # the raw bytes as sent, their SHA-256, and where they are
    fetch_ms: int | None = None
    depth: int = 0
    referrer: str | None = None
    location: str | None = None
    tags: dict[str, str | None] = field(default_factory=dict)
    # Wayback captures only (via = "wayback"): the memento and where to cite it.
    memento_at: str | None = None
    wayback_timestamp: str | None = None
    original_url: str | None = None
    snapshot_url: str | None = None
    wayback_digest: str | None = None
    wayback_digest_match: int | None = None


@dataclass
class FetchError:
    """A request that produced no archivable response, and why."""

    url: str
    source: str
    error_type: str
    reason: str
    occurred_at: str
    referrer: str | None = None
    depth: int = 0
    # The WARC record of a response that was archived but refused (not a capture).
    warc_record_id: str | None = None


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
