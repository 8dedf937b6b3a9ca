"""The items the records spider yields besides captures: releases, and the files they link."""

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
