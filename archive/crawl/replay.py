"""Responses rebuilt from the archive instead of the network, for resumed crawls and 304 answers.

A replayed response carries the bytes and headers exactly as archived
(Content-Encoding kept, so Scrapy's decompression middleware undoes it as it
would for a fetched one), and in `meta["spyglass_warc"]` the location of the
record holding them, so the spider's callbacks see what they saw before.
"""

from __future__ import annotations

from typing import Any

from scrapy import Request
from scrapy.http import Headers, Response
from scrapy.responsetypes import responsetypes

from archive.archive import Archive
from archive.warc.read import read_record
from archive.warc.write import RecordLocation

# The capture columns a replay needs: where the payload's record is, and what it is.
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


def location_of(row: dict[str, Any]) -> RecordLocation:
    """The RecordLocation of a capture row."""
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


def replayed_response(archive: Archive, request: Request, payload: dict[str, Any]) -> Response:
    """`request`'s response as archived in the record of capture row `payload` (a full record)."""
    stored = read_record(archive.warc_path(payload["warc_filename"]), payload["warc_offset"])
    headers = Headers()
    for name, value in stored.http_headers:
        headers.appendlist(name, value)
    cls = responsetypes.from_args(headers=headers, url=request.url, body=stored.payload)
    return cls(
        url=request.url,
        status=stored.http_status or 200,
        headers=headers,
        body=stored.payload,
        request=request,
    )
