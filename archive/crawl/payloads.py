"""The bodies the writer just archived, kept until their capture rows arrive for text extraction.

Each body crosses from the crawler to the writer once, in its WriteExchange:
sending it again with the capture row doubled the bytes pickled through the
pipe (~110 MB more for the 2,050-page benchmark site). The row follows its
exchange within a few messages (Scrapy hands the response to the spider as
soon as its record is written), so a small window suffices; a row whose body
has left the window reads it back from the WARC record it points at.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import Any

from archive.warc.read import DecodeError, decode_body, read_record
from archive.warc.write import Exchange, RecordLocation

# Twice the crawler's send queue of messages (archive/crawl/client.py): far more
# than the responses in flight at once, and at most a few tens of MB.
WINDOW = 64


class RecentPayloads:
    """Payloads as sent (Content-Encoding kept) by WARC-Record-ID, the newest WINDOW of them."""

    def __init__(self, warc_dir: Path) -> None:
        self.warc_dir = warc_dir
        self.kept: OrderedDict[str, tuple[bytes, str | None]] = OrderedDict()

    def keep(self, location: RecordLocation, exchange: Exchange) -> None:
        """Remember the body of an exchange just written as a response record."""
        if location.warc_type != "response":
            return  # revisits are not extracted: their text is their original's
        self.kept[location.record_id] = (exchange.payload, content_encoding(exchange))
        while len(self.kept) > WINDOW:
            self.kept.popitem(last=False)

    def decoded(self, row: dict[str, Any]) -> bytes:
        """The body the spider saw for a capture row: Content-Encoding undone, as Scrapy does."""
        found = self.kept.pop(row["warc_record_id"], None)
        if found is None:
            record = read_record(self.warc_dir / row["warc_filename"], row["warc_offset"])
            coding = next((v for k, v in record.http_headers if k.lower() == "content-encoding"), None)
            found = (record.payload, coding)
        return as_scrapy_decodes(*found)


def content_encoding(exchange: Exchange) -> str | None:
    """The exchange's Content-Encoding header, if any."""
    return next((v for k, v in exchange.response_headers if k.lower() == "content-encoding"), None)


def as_scrapy_decodes(payload: bytes, coding: str | None) -> bytes:
    """The body the spider saw: Content-Encoding undone, as Scrapy does."""
    if not coding:
        return payload
    try:
        return decode_body(payload, coding)
    except DecodeError:
        return payload  # Scrapy leaves a body it cannot decode as it came
