"""The typed capture row: one field per `captures` column, and rows that hash as they always have."""

from __future__ import annotations

from dataclasses import fields, replace
from pathlib import Path

from archive.crawl.items import Capture
from archive.index import chain
from archive.index.capture_row import CaptureRow, location_of, record_columns, stored_location
from archive.index.captures import save_captures
from archive.index.db import open_db
from archive.warc.read import StoredRecord
from archive.warc.write import RecordLocation

# row_hash of each row below, chained in this order, as computed by the
# hand-written dicts of captures columns this row type replaced (pipelines,
# the Atlas importer, reconcile). The captures table is public and its rows are
# hash-chained: the same inputs must give the same rows, byte for byte.
HASHES = [
    "04c847ca5ed00d3b7d3e1b177bcc9c6e9e5938fb0f842b1fc8f14b72dfaade9b",
    "924161f3815d22976421f88578db3619d1ce003fee9277b143cb991b492989bb",
    "1f013ddf829ad6c469e76c11bb17c7ca29f193d759970a126420501cf57d358c",
    "b7fbc35421081c153c9a75d30e9a169ed45b9169ebb5d48f6a1f25588442e16a",
    "49b6296c587147cdab1ca898b3279188ab98d6539aeabc8116d509048b6a410a",
    "5cc801f2a50dbfea92f58eae79c9a64c56133c3c5b4dddb2b8fcb72755595f0f",
    "369dc9d3f9d8e9c58aba7b8e6f2bfd6a50a94e7000750902e88e0af80180de62",
    "c00c0bfd3166f43a1d66d19ade9e69af628932989fea96b7335bf12de4b58cae",
]


def _response(n: int) -> RecordLocation:
    return RecordLocation(
        "spyglass-acme-1.warc.gz",
        1234 + n,
        567,
        f"<urn:uuid:{n}>",
        "response",
        "ab" * 32,
        890,
        "2026-01-02T03:04:05Z",
    )


def _revisit(n: int) -> RecordLocation:
    return RecordLocation(
        "spyglass-acme-1.warc.gz",
        2234 + n,
        367,
        f"<urn:uuid:{n}>",
        "revisit",
        "ab" * 32,
        890,
        "2026-01-02T03:04:06Z",
        "<urn:uuid:1>",
    )


def _item(location: RecordLocation, **wayback: object) -> Capture:
    return Capture(
        url="https://acme.test/p",
        source="acme",
        via="live",
        status=200,
        captured_at="2026-01-02T03:04:05Z",
        content_type="text/html",
        body=b"",
        warc=location,
        fetch_ms=12,
        depth=1,
        referrer="https://acme.test/",
        tags={"vendor": "Acme", "product": None, "agency": "PD"},
        **wayback,  # type: ignore[arg-type]
    )


def _stored(kind: str, payload: bytes, refers_to: str | None = None) -> StoredRecord:
    headers = {"WARC-Payload-Digest": "sha256:" + "cd" * 32, "WARC-Spyglass-Requisite": "image"}
    if refers_to:
        headers["WARC-Refers-To"] = refers_to
    return StoredRecord(
        kind,
        f"<urn:uuid:9{kind}>",
        "https://acme.test/q",
        "2026-01-03T00:00:00Z",
        headers,
        200,
        [("Content-Type", "application/octet-stream"), ("Location", "/z")],
        payload,
        True,
        True,
        [],
    )


def test_the_row_has_a_field_for_every_captures_column(tmp_path: Path) -> None:
    db = open_db(tmp_path / "spyglass.db")
    columns = [
        name
        for _, name, *_ in db.execute("PRAGMA table_info(captures)").fetchall()
        if name not in ("id", *chain.HASH_COLUMNS)
    ]
    assert sorted(f.name for f in fields(CaptureRow)) == sorted(columns)


def test_rows_hash_as_the_hand_written_rows_did(tmp_path: Path) -> None:
    db = open_db(tmp_path / "spyglass.db")
    wayback = {
        "memento_at": "2018-02-25T10:03:37Z",
        "wayback_timestamp": "20180225100337",
        "original_url": "https://aws.test/r",
        "snapshot_url": "https://web.archive.org/web/20180225100337/https://aws.test/r",
        "wayback_digest": "XYZ",
        "wayback_digest_match": 1,
    }
    atlas = {"source": "atlas.import", "via": "atlas-import", "extraction": "none"}
    live = {"source": "acme", "via": "live", "crawl_run": 9, "vendor": "Acme", "product": "Rek"}
    title = "Atlas of Surveillance export (3 rows)"
    response, revisit = _stored("response", b"\x00\x01binary"), _stored("revisit", b"", "<urn:uuid:1>")
    rows = [
        CaptureRow.from_item(_item(_response(1)), 7),
        CaptureRow.from_item(_item(_revisit(2), requisite="stylesheet"), 7),
        CaptureRow.from_item(_item(_response(3), **wayback), 7),
        CaptureRow.from_location(
            _response(4),
            url="https://atlas.test/x",
            captured_at=_response(4).date,
            status=302,
            content_type="text/html",
            location="https://atlas.test/y",
            **atlas,
        ),
        CaptureRow.from_location(
            _revisit(5),
            url="https://atlas.test/y",
            captured_at=_revisit(5).date,
            content_type="text/csv",
            title=title,
            **atlas,
        ),
        CaptureRow.from_location(
            _response(6),
            url="https://atlas.test/y",
            captured_at=_response(6).date,
            status=200,
            content_type="text/csv; charset=utf-8",
            title=title,
            **atlas,
        ),
        CaptureRow.from_record(
            response, stored_location(response, "spyglass-acme-2.warc.gz", 10, 20), extraction="none", **live
        ),
        # A revisit read back holds no payload: its length is its original's.
        CaptureRow.from_record(
            revisit, stored_location(revisit, "spyglass-acme-2.warc.gz", 10, 20), length=890, **live
        ),
    ]
    saved = save_captures(db, [row.columns() for row in rows])
    assert [row["row_hash"] for row in saved] == HASHES


def test_a_capture_row_gives_back_its_record_location() -> None:
    row = CaptureRow.from_item(_item(_revisit(2)), 7).columns()
    # A capture's time is its record's date: replayed, the location carries it.
    assert location_of(row) == replace(_revisit(2), date=row["captured_at"])
    assert record_columns(_revisit(2)) == {
        "warc_filename": "spyglass-acme-1.warc.gz",
        "warc_offset": 2236,
        "warc_length": 367,
        "warc_record_id": "<urn:uuid:2>",
    }
