"""The writer extracts text from the body it archived: kept in a window, else read back from the WARC."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime
from pathlib import Path

from archive.crawl.payloads import WINDOW, RecentPayloads
from archive.warc.write import Exchange, WarcStore

PAGE = b"<html><head><title>Recognize</title></head><body><p>Person tracking.</p></body></html>"


def exchange(url: str, payload: bytes, encoding: str | None = None) -> Exchange:
    headers = [("Content-Type", "text/html")] + ([("Content-Encoding", encoding)] if encoding else [])
    return Exchange(
        url=url,
        method="GET",
        request_headers=[("Host", "vendor.example")],
        request_body=b"",
        protocol="HTTP/1.1",
        status=200,
        reason="OK",
        response_headers=headers,
        payload=payload,
        date=datetime(2026, 11, 30, tzinfo=UTC),
    )


def row_of(location) -> dict:
    return {
        "warc_record_id": location.record_id,
        "warc_filename": location.filename,
        "warc_offset": location.offset,
    }


def test_a_kept_body_is_given_decoded_once_and_a_late_row_reads_its_record(tmp_path: Path):
    store = WarcStore(tmp_path, "src")
    payloads = RecentPayloads(tmp_path)
    first = store.write_exchange(exchange("http://vendor.example/a", gzip.compress(PAGE), "gzip"))
    payloads.keep(first, exchange("http://vendor.example/a", gzip.compress(PAGE), "gzip"))
    assert payloads.decoded(row_of(first)) == PAGE
    assert row_of(first)["warc_record_id"] not in payloads.kept
    # More exchanges than the window holds push the first out: its row reads the WARC record.
    for n in range(WINDOW + 1):
        ex = exchange(f"http://vendor.example/{n}", PAGE + str(n).encode())
        payloads.keep(store.write_exchange(ex), ex)
    store.close()
    assert len(payloads.kept) == WINDOW
    assert payloads.decoded(row_of(first)) == PAGE


def test_a_body_scrapy_could_not_decode_is_given_as_it_came(tmp_path: Path):
    store = WarcStore(tmp_path, "src")
    payloads = RecentPayloads(tmp_path)
    ex = exchange("http://vendor.example/b", b"not gzip at all", "gzip")
    location = store.write_exchange(ex)
    payloads.keep(location, ex)
    store.close()
    assert payloads.decoded(row_of(location)) == b"not gzip at all"
