"""WarcStore: records, revisits, rotation, and records readable while a file is still open."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from archive.warc.digests import sha256_hex
from archive.warc.read import read_record
from archive.warc.write import Exchange, WarcStore

WHEN = datetime(2026, 11, 22, 1, 2, 3, 456789, tzinfo=UTC)


def write(store: WarcStore, url: str, body: bytes):
    return store.write_exchange(
        Exchange(
            url=url,
            method="GET",
            request_headers=[("User-Agent", "test")],
            request_body=b"",
            protocol="HTTP/1.1",
            status=200,
            reason="OK",
            response_headers=[("Content-Type", "text/html")],
            payload=body,
            date=WHEN,
        )
    )


def test_identical_payload_for_same_url_becomes_a_revisit(tmp_path: Path):
    store = WarcStore(tmp_path, "src")
    first = write(store, "http://a.test/", b"<p>one</p>")
    again = write(store, "http://a.test/", b"<p>one</p>")
    other_url = write(store, "http://b.test/", b"<p>one</p>")
    changed = write(store, "http://a.test/", b"<p>two</p>")
    store.close()
    assert (first.warc_type, again.warc_type, other_url.warc_type, changed.warc_type) == (
        "response",
        "revisit",
        "response",
        "response",
    )
    assert again.refers_to == first.record_id and again.sha256 == first.sha256
    assert first.date == "2026-11-22T01:02:03.456789Z"
    path = tmp_path / first.filename
    stored = read_record(path, again.offset)
    assert stored.warc_type == "revisit" and stored.payload == b""
    assert stored.headers["WARC-Refers-To"] == first.record_id
    original = read_record(path, first.offset)
    assert original.payload == b"<p>one</p>" and sha256_hex(original.payload) == first.sha256
    assert original.block_digest_ok and original.payload_digest_ok


def test_records_are_readable_before_the_file_is_closed(tmp_path: Path):
    store = WarcStore(tmp_path, "src")
    loc = write(store, "http://a.test/", b"body")
    # No close(): a crash now must leave every written record intact.
    assert read_record(tmp_path / loc.filename, loc.offset).payload == b"body"
    store.close()


def test_an_offset_that_is_not_the_start_of_a_record_finds_none(tmp_path: Path):
    store = WarcStore(tmp_path, "src")
    loc = write(store, "http://a.test/", b"body")
    store.close()
    path = tmp_path / loc.filename
    for offset in range(loc.offset + 1, loc.offset + 40):
        with pytest.raises(EOFError):
            read_record(path, offset)
    # Noise that warcio, left to itself, reads as an ARC record.
    noise = tmp_path / "noise.warc"
    noise.write_bytes(b"http://example.com/ 1.2.3.4 20200101000000 text/html 5\nhello\n")
    with pytest.raises(EOFError):
        read_record(noise, 0)


def test_rotation_at_max_size_starts_a_new_file_with_warcinfo(tmp_path: Path):
    store = WarcStore(tmp_path, "src", max_size=1500, gzip_level=1)
    locations = [write(store, f"http://a.test/{i}", bytes([i]) * 3000) for i in range(4)]
    store.close()
    files = sorted({loc.filename for loc in locations})
    assert len(files) >= 2 and store.files == sorted(store.files)
    for name in files:
        assert name.startswith("src-") and name.endswith(".warc.gz")
        with open(tmp_path / name, "rb") as fh:
            assert next(iter(ArchiveIterator(fh))).rec_type == "warcinfo"
    for i, loc in enumerate(locations):
        assert read_record(tmp_path / loc.filename, loc.offset).payload == bytes([i]) * 3000


def test_a_response_record_has_warcios_headers_in_warcios_order_and_digests_that_check(tmp_path: Path):
    """The response's payload digest is the one computed for deduplication, not warcio's own
    pass: the record must still be the one warcio would write, and its digests must check."""
    store = WarcStore(tmp_path, "src")
    body = b"<p>one</p>" * 5000
    location = write(store, "http://a.test/", body)
    store.close()
    with open(tmp_path / location.filename, "rb") as fh:
        records = [r for r in ArchiveIterator(fh, check_digests=True) if r.rec_type == "response"]
        for record in records:
            record.content_stream().read()  # the digests are checked as the record is read
    [record] = records
    builder = store._builder.create_warc_record(
        "http://a.test/",
        "response",
        payload=io.BytesIO(body),
        length=len(body),
        http_headers=record.http_headers,
        warc_headers_dict={"WARC-Date": location.date},
    )
    expected = [name for name, _ in builder.rec_headers.headers]
    assert [name for name, _ in record.rec_headers.headers][: len(expected)] == expected
    assert record.digest_checker.passed is not False
    assert record.rec_headers.get_header("WARC-Payload-Digest") == f"sha256:{sha256_hex(body)}"
