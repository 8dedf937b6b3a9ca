"""One `captures` row, typed, and the one mapping between a WARC record's location and columns.

Every path that appends captures builds a CaptureRow: the crawl's pipeline from
its items (`from_item`), reconcile from records a crash left unindexed
(`from_record`), the Atlas importer from the records it has just written
(`from_location`); save_captures takes `columns()`. The hash chain
(archive/index/chain.py) leaves NULL columns out, so a field left None hashes
exactly as a column left out of a hand-written row did.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, Protocol

from archive.warc.read import StoredRecord
from archive.warc.write import REQUISITE_HEADER, RecordLocation

# The capture columns that say where a payload's record is and what it is: what
# a resumed or conditional crawl keeps of a capture to replay it (location_of).
PAYLOAD_COLUMNS = (
    "url",
    "warc_filename",
    "warc_offset",
    "warc_length",
    "warc_record_id",
    "warc_type",
    "sha256",
    "length",
    "captured_at",
    "refers_to",
)


def record_columns(location: RecordLocation) -> dict[str, Any]:
    """Where a WARC record is, as the columns of every table that points at one.

    captures, observations and screenshots name their record the same way.
    """
    return {
        "warc_filename": location.filename,
        "warc_offset": location.offset,
        "warc_length": location.length,
        "warc_record_id": location.record_id,
    }


def location_of(row: Mapping[str, Any]) -> RecordLocation:
    """The RecordLocation of a capture row (its PAYLOAD_COLUMNS), to replay it from the archive."""
    return RecordLocation(
        filename=row["warc_filename"],
        offset=row["warc_offset"],
        length=row["warc_length"],
        record_id=row["warc_record_id"],
        warc_type=row["warc_type"],
        sha256=row["sha256"],
        payload_length=row["length"] or 0,
        date=row["captured_at"],
        refers_to=row.get("refers_to"),
    )


def stored_location(record: StoredRecord, filename: str, offset: int, length: int) -> RecordLocation:
    """The RecordLocation of a record read back from `filename`, where it spans `length` bytes at `offset`."""
    return RecordLocation(
        filename=filename,
        offset=offset,
        length=length,
        record_id=record.record_id,
        warc_type=record.warc_type,
        sha256=record.headers.get("WARC-Payload-Digest", "").removeprefix("sha256:"),
        payload_length=len(record.payload),
        date=record.date,
        refers_to=record.headers.get("WARC-Refers-To"),
    )


class CrawledCapture(Protocol):
    """What `CaptureRow.from_item` reads of a crawl item (archive.crawl.items.Capture).

    Named here, not imported: the index sits below the crawl.
    """

    url: str
    source: str
    via: str
    status: int
    captured_at: str
    content_type: str | None
    warc: RecordLocation
    fetch_ms: int | None
    depth: int
    referrer: str | None
    location: str | None
    tags: dict[str, str | None]
    requisite: str | None
    memento_at: str | None
    wayback_timestamp: str | None
    original_url: str | None
    snapshot_url: str | None
    wayback_digest: str | None
    wayback_digest_match: int | None


@dataclass(frozen=True, kw_only=True)
class CaptureRow:
    """The columns of one `captures` row, in the table's order, less id and the hash chain's.

    None is NULL. The table is a public interface: a field here is a column there.
    """

    url: str
    source: str
    via: str
    crawl_run: int | None = None
    captured_at: str
    status: int | None = None
    content_type: str | None = None
    length: int | None = None
    sha256: str
    warc_filename: str
    warc_offset: int | None = None
    warc_length: int | None = None
    warc_record_id: str | None = None
    warc_type: str | None = None
    refers_to: str | None = None
    title: str | None = None
    text: str | None = None
    extraction: str | None = None
    extraction_error: str | None = None
    vendor: str | None = None
    product: str | None = None
    agency: str | None = None
    depth: int | None = None
    referrer: str | None = None
    location: str | None = None
    fetch_ms: int | None = None
    memento_at: str | None = None
    wayback_timestamp: str | None = None
    original_url: str | None = None
    snapshot_url: str | None = None
    wayback_digest: str | None = None
    wayback_digest_match: int | None = None
    requisite: str | None = None

    @classmethod
    def from_location(cls, location: RecordLocation, /, **columns: Any) -> CaptureRow:
        """The row of the record at `location`: its place, type and payload from there, the rest as given.

        A column given in `columns` wins over the location's (a revisit read back
        from a file holds no payload, so its length is its original's).
        """
        return cls(
            **{
                "length": location.payload_length,
                "sha256": location.sha256,
                **record_columns(location),
                "warc_type": location.warc_type,
                "refers_to": location.refers_to,
                **columns,
            }
        )

    @classmethod
    def from_item(cls, item: CrawledCapture, crawl_run: int | None) -> CaptureRow:
        """The row of a crawl item, less title and text, which the writer extracts from the body."""
        return cls.from_location(
            item.warc,
            url=item.url,
            source=item.source,
            via=item.via,
            crawl_run=crawl_run,
            captured_at=item.captured_at,
            status=item.status,
            content_type=item.content_type,
            vendor=item.tags.get("vendor"),
            product=item.tags.get("product"),
            agency=item.tags.get("agency"),
            depth=item.depth,
            referrer=item.referrer,
            location=item.location,
            fetch_ms=item.fetch_ms,
            memento_at=item.memento_at,
            wayback_timestamp=item.wayback_timestamp,
            original_url=item.original_url,
            snapshot_url=item.snapshot_url,
            wayback_digest=item.wayback_digest,
            wayback_digest_match=item.wayback_digest_match,
            requisite=item.requisite,
        )

    @classmethod
    def from_record(cls, record: StoredRecord, location: RecordLocation, /, **columns: Any) -> CaptureRow:
        """The row of a response or revisit record read back from a WARC file (see stored_location).

        The exchange's facts come from the record; what it cannot say (source,
        via, run, tags, text) is given in `columns`.
        """
        headers = {name.lower(): value for name, value in record.http_headers}
        return cls.from_location(
            location,
            **{
                "url": record.url,
                "captured_at": record.date,
                "status": record.http_status,
                "content_type": headers.get("content-type"),
                "location": headers.get("location"),
                "requisite": record.headers.get(REQUISITE_HEADER),
                **columns,
            },
        )

    def columns(self) -> dict[str, Any]:
        """The row as save_captures takes it: every column, None for NULL."""
        return {name: getattr(self, name) for name in COLUMNS}


COLUMNS = tuple(field.name for field in fields(CaptureRow))
