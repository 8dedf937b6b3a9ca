"""WARC reading: the one place that reads records back, for verify, export, replay and documents.

Spyglass writes each record as its own gzip member (archive/warc/write.py),
so a record is found by its file and offset, and a file can be walked member
by member without trusting anything but the gzip framing.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from warcio.archiveiterator import ArchiveIterator
from warcio.recordloader import ArcWarcRecord

if TYPE_CHECKING:
    from archive.archive import Archive

READ_CHUNK = 1 << 20


@dataclass
class StoredRecord:
    """One record read back from a WARC file, with its payload as stored."""

    warc_type: str
    record_id: str
    url: str
    date: str
    headers: dict[str, str]
    http_status: int | None
    http_headers: list[tuple[str, str]]
    payload: bytes
    block_digest_ok: bool | None
    payload_digest_ok: bool | None
    digest_failures: list[str]  # warcio's words for each digest that did not match
    payload_sha256: str | None = None  # when the reader already hashed the payload (archive/warc/checked.py)


def first_record(fh: Any, offset: int, check_digests: bool = False) -> ArcWarcRecord | None:
    """The WARC record starting exactly at `offset`, or None if none starts there.

    warcio, handed bytes that are not a record (an offset that points inside
    one), falls back to reading them as uncompressed ARC and can "find" a
    record in noise; a record must start with a gzip member or `WARC/`.
    """
    fh.seek(offset)
    if fh.read(5)[:2] not in (b"\x1f\x8b", b"WA"):
        return None
    fh.seek(offset)
    for record in ArchiveIterator(fh, check_digests=check_digests):
        return record if record.format.startswith("warc") else None
    return None


def record_at(fh: Any, offset: int) -> StoredRecord | None:
    """The record starting at `offset` of an open file, digests checked, or None if there is none."""
    record = first_record(fh, offset, check_digests=True)
    return None if record is None else _stored(record)


def read_record(path: Path, offset: int) -> StoredRecord:
    """Read the record at `offset`, hashing its block and payload as it goes."""
    with open(path, "rb") as fh:
        found = record_at(fh, offset)
    if found is None:
        raise EOFError(f"no WARC record at {path}:{offset}")
    return found


def _stored(record: ArcWarcRecord) -> StoredRecord:
    payload = record.raw_stream.read()
    # warcio compares digests only once the stream is fully read.
    headers = dict(record.rec_headers.headers)
    status = None
    http_headers: list[tuple[str, str]] = []
    if record.http_headers is not None and record.rec_type in ("response", "revisit"):
        try:
            status = int(record.http_headers.get_statuscode())
        except (TypeError, ValueError):
            status = None
        http_headers = list(record.http_headers.headers)
    return StoredRecord(
        warc_type=record.rec_type,
        record_id=headers.get("WARC-Record-ID", ""),
        url=headers.get("WARC-Target-URI", ""),
        date=headers.get("WARC-Date", ""),
        headers=headers,
        http_status=status,
        http_headers=http_headers,
        payload=payload,
        block_digest_ok=_digest_state(record, "block"),
        payload_digest_ok=_digest_state(record, "payload"),
        digest_failures=[
            p for p in getattr(getattr(record, "digest_checker", None), "problems", []) if "failed" in p
        ],
    )


def _digest_state(record: Any, which: str) -> bool | None:
    checker = getattr(record, "digest_checker", None)
    if checker is None:
        return None
    problems = [p for p in getattr(checker, "problems", []) if which in p]
    present = record.rec_headers.get_header(f"WARC-{which.capitalize()}-Digest")
    if not present:
        return None
    return not problems


class DecodeError(ValueError):
    """An archived body that cannot be decoded as its Content-Encoding says."""


PIECE = 1 << 20  # largest piece a decoder hands out at once, so a bomb is met a megabyte at a time


class _Inflate:
    """gzip or zlib-wrapped deflate; raw DEFLATE too, which some servers send as `deflate`."""

    def __init__(self, coding: str) -> None:
        self.coding = coding
        self.wbits = 47 if coding in ("gzip", "x-gzip") else 15
        self.engine = zlib.decompressobj(self.wbits)
        self.started = False

    def feed(self, data: bytes) -> Iterator[bytes]:
        if not self.started and self.coding == "deflate":
            self.started = True
            try:
                zlib.decompressobj(15).decompress(data[:64])
            except zlib.error:
                self.engine = zlib.decompressobj(-zlib.MAX_WBITS)
        self.started = True
        out = self.engine.decompress(data, PIECE)
        while out:
            yield out
            out = (
                self.engine.decompress(self.engine.unconsumed_tail, PIECE)
                if self.engine.unconsumed_tail
                else b""
            )

    def finish(self) -> Iterator[bytes]:
        tail = self.engine.flush()
        if tail:
            yield tail


class _Brotli:
    def __init__(self) -> None:
        import brotli

        self.engine = brotli.Decompressor()

    def feed(self, data: bytes) -> Iterator[bytes]:
        out = self.engine.process(data, output_buffer_limit=PIECE)
        while out:
            yield out
            out = (
                b""
                if self.engine.can_accept_more_data()
                else self.engine.process(b"", output_buffer_limit=PIECE)
            )

    def finish(self) -> Iterator[bytes]:
        return iter(())


def _decoder(coding: str) -> _Inflate | _Brotli:
    if coding in ("gzip", "x-gzip", "deflate"):
        return _Inflate(coding)
    if coding == "br":
        return _Brotli()
    raise DecodeError(f"Content-Encoding {coding!r} is not supported")


def iter_decoded(chunks: Iterable[bytes], content_encoding: str | None) -> Iterator[bytes]:
    """Undo Content-Encoding piece by piece (the WARC keeps the bytes as sent), codings applied last
    undone first; a body that does not decode raises DecodeError."""
    codings = [c.strip().lower() for c in (content_encoding or "").split(",") if c.strip()]
    stream: Iterable[bytes] = chunks
    for coding in reversed([c for c in codings if c != "identity"]):
        stream = _through(stream, coding)
    yield from stream


def _through(chunks: Iterable[bytes], coding: str) -> Iterator[bytes]:
    decoder = _decoder(coding)
    try:
        for chunk in chunks:
            yield from decoder.feed(chunk)
        yield from decoder.finish()
    except DecodeError:
        raise
    except Exception as exc:  # noqa: BLE001 - every decoder's failure becomes one error
        raise DecodeError(f"archived body does not decode as {coding}: {exc}") from exc


def decode_body(payload: bytes, content_encoding: str | None) -> bytes:
    """Undo Content-Encoding on a whole body (see iter_decoded)."""
    return b"".join(iter_decoded([payload], content_encoding))


@dataclass
class Record:
    """A capture's payload as a browser would see it: the stored record, its HTTP headers, the decoded body."""

    stored: StoredRecord
    headers: dict[str, str]  # HTTP response headers, names in lower case
    body: bytes

    @property
    def content_type(self) -> str | None:
        return self.headers.get("content-type")


def open_record(archive: Archive, row: Mapping[str, Any]) -> Record:
    """Read and decode the record a capture row points at (for a revisit, pass its original's row).

    Raises OSError or EOFError when the record cannot be read, DecodeError
    when its body does not decode.
    """
    stored = read_record(archive.warc_path(row["warc_filename"]), row["warc_offset"])
    headers = {k.lower(): v for k, v in stored.http_headers}
    return Record(stored, headers, decode_body(stored.payload, headers.get("content-encoding")))


class PayloadStream:
    """A capture's payload read piece by piece from its WARC record, never whole in memory.

    Iterating gives the payload as stored (Content-Encoding kept); `decoded()`
    gives it as a browser would see it. Use as a context manager: it holds the file open.
    """

    def __init__(self, archive: Archive, row: Mapping[str, Any], piece: int = 1 << 16) -> None:
        self.piece = piece
        self._file = open(archive.warc_path(row["warc_filename"]), "rb")
        try:
            record = first_record(self._file, int(row["warc_offset"]))
            if record is None:
                raise EOFError(f"no WARC record at {row['warc_filename']}:{row['warc_offset']}")
        except BaseException:
            self._file.close()
            raise
        self._record = record
        pairs = record.http_headers.headers if record.http_headers is not None else []
        self.headers = {k.lower(): v for k, v in pairs}

    @property
    def content_type(self) -> str | None:
        return self.headers.get("content-type")

    @property
    def content_encoding(self) -> str | None:
        return self.headers.get("content-encoding")

    def __iter__(self) -> Iterator[bytes]:
        while True:
            chunk = self._record.raw_stream.read(self.piece)
            if not chunk:
                return
            yield chunk

    def decoded(self) -> Iterator[bytes]:
        """The payload with Content-Encoding undone, piece by piece."""
        return iter_decoded(iter(self), self.content_encoding)

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> PayloadStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class Member:
    """One gzip member of a WARC file: where it starts, and its bytes or what is wrong."""

    offset: int
    length: int
    data: bytes | None
    error: str | None = None
    truncated: bool = False


def gzip_members(path: Path, offset: int = 0, until: int | None = None) -> Iterator[Member]:
    """Walk a .warc.gz member by member from `offset` (to the first member at or past `until`);
    stops at the first damaged or cut-off member."""
    with open(path, "rb") as fh:
        fh.seek(offset)
        pending = _Pending(fh)
        while until is None or offset < until:
            decomp = zlib.decompressobj(31)
            parts: list[bytes] = []
            consumed = 0
            while not decomp.eof:
                piece = pending.next()
                if not piece:
                    break
                try:
                    parts.append(decomp.decompress(piece))
                except zlib.error as exc:
                    yield Member(offset, consumed, None, f"gzip member cannot be decompressed: {exc}")
                    return
                used = len(piece) - len(decomp.unused_data)
                pending.advance(used)
                consumed += used
            if not decomp.eof:
                if consumed:
                    yield Member(offset, consumed, None, "file ends mid-record", truncated=True)
                return
            yield Member(offset, consumed, b"".join(parts))
            offset += consumed


FEED = 1 << 16  # bytes handed to zlib at once: what it leaves over is copied, so not the whole buffer


class _Pending:
    """A file read a megabyte at a time and handed to zlib a piece at a time."""

    def __init__(self, fh: Any) -> None:
        self.fh = fh
        self.buffer = memoryview(b"")
        self.pos = 0

    def next(self) -> memoryview:
        if self.pos >= len(self.buffer):
            self.buffer, self.pos = memoryview(self.fh.read(READ_CHUNK)), 0
        return self.buffer[self.pos : self.pos + FEED]

    def advance(self, used: int) -> None:
        self.pos += used
