"""The items spiders yield: plain data, no logic."""

from __future__ import annotations

from dataclasses import dataclass, field

from archive.index.kinds import ObservationKind
from archive.index.links import PageLinks
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
    body: bytes  # decoded (Content-Encoding removed), for text extraction
    warc: RecordLocation  # the raw bytes as sent, their SHA-256, and where they are
    fetch_ms: int | None = None
    depth: int = 0
    referrer: str | None = None
    location: str | None = None
    tags: dict[str, str | None] = field(default_factory=dict)
    # A page requisite (what a page needs to render): how the page referred to it.
    requisite: str | None = None
    # Wayback captures only (via = "wayback"): the memento and where to cite it.
    memento_at: str | None = None
    wayback_timestamp: str | None = None
    original_url: str | None = None
    snapshot_url: str | None = None
    wayback_digest: str | None = None
    wayback_digest_match: int | None = None
    # Validators for the next crawl's conditional request (live pages).
    etag: str | None = None
    last_modified: str | None = None
    # What the page links to, kept for the next crawl's 304 (archive/index/links.py).
    links: PageLinks | None = None


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
class Observation:
    """A page seen unchanged without a new payload: a 304 answer to a conditional request.

    `warc` is the 304 exchange's own record; `confirms_record_id` the record
    holding the payload the server said is still current.
    """

    url: str
    source: str
    status: int
    observed_at: str
    sha256: str
    confirms_record_id: str
    warc: RecordLocation
    kind: str = ObservationKind.NOT_MODIFIED
    # The confirmed page's links, found in its archived copy when none were kept at its capture.
    links: PageLinks | None = None
