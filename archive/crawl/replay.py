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
