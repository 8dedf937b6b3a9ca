"""WARC writing: each HTTP exchange as request and response (or revisit) records, one gzip member each."""

from __future__ import annotations

import hashlib
import io
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Protocol
from urllib.parse import urlsplit

from warcio.recordloader import ArcWarcRecord
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter
from zlib_ng import zlib_ng

from archive.times import iso, utc_now
from archive.warc.digests import labelled, sha256_hex

# Headers about the connection rather than the payload: HTTP clients (Twisted's,
# urllib's) remove the chunked coding before the body reaches us, so keeping the
# header would describe bytes we do not have. It moves into a WARC header that
# says what happened.
HOP_BY_HOP = ("transfer-encoding",)
# A page requisite's record says how its page referred to it (captures.requisite): image, stylesheet...
REQUISITE_HEADER = "WARC-Spyglass-Requisite"


def archivable_headers(pairs: list[tuple[str, str]]) -> tuple[list[tuple[str, str]], dict[str, str]]:
    """(response headers to archive, extra WARC headers) for headers as a client returned them."""
    kept: list[tuple[str, str]] = []
    removed: dict[str, list[str]] = {}
    for name, value in pairs:
        if name.lower() in HOP_BY_HOP:
            removed.setdefault(name, []).append(value)
        else:
            kept.append((name, value))
    extra: dict[str, str] = {}
    for name, values in removed.items():
        extra["WARC-Spyglass-Removed-Header"] = (
            f"{name}: {', '.join(values)} (decoded by the HTTP client before archiving)"
        )
    return kept, extra


@dataclass(frozen=True)
class RecordLocation:
    """Where one capture's record lives and what it holds."""

    filename: str
    offset: int
    length: int
    record_id: str
    warc_type: str  # "response", "revisit" or "resource"
    sha256: str
    payload_length: int
    date: str
    refers_to: str | None = None


@dataclass(frozen=True)
class Exchange:
    """One HTTP exchange as it came off the wire: what WarcStore.write_exchange archives."""

    url: str
    method: str
    request_headers: list[tuple[str, str]]
    request_body: bytes
    protocol: str
    status: int
    reason: str
    response_headers: list[tuple[str, str]]
    payload: bytes  # the body as sent (Content-Encoding kept)
    date: datetime  # when the request was sent
    extra_headers: dict[str, str] = field(default_factory=dict)  # more WARC headers
    dedupe: bool = True  # an unchanged payload becomes a revisit record
    # A payload already archived under another URL becomes a revisit too (page
    # requisites: one image under two names, one stylesheet behind two URLs).
    any_url: bool = False


@dataclass(frozen=True)
class Original:
    """The first full record of a payload, which later revisits point at."""

    record_id: str
    url: str
    date: str


class Originals(Protocol):
    """Where a WarcStore finds the first full record of a payload (archive/index/captures.py
    IndexedOriginals looks them up in the index; MemoryOriginals holds them)."""

    def get(self, key: tuple[str, str]) -> Original | None:
        """The first full record of payload `key[1]` at URL `key[0]`."""
        ...

    def payload(self, digest: str) -> Original | None:
        """The first full record of payload `digest` under any URL."""
        ...

    def add(self, key: tuple[str, str], original: Original, any_url: bool) -> None:
        """A full record just written; `any_url`: it may stand for the payload under other URLs."""
        ...


class MemoryOriginals:
    """Originals held in memory: (url, sha256) -> first full record, and sha256 -> the first under any URL."""

    def __init__(self, known: dict[tuple[str, str], Original] | None = None) -> None:
        self.known: dict[tuple[str, str], Original] = known if known is not None else {}
        self.by_payload: dict[str, Original] = {}
        for (_, digest), original in self.known.items():
            self.by_payload.setdefault(digest, original)

    def get(self, key: tuple[str, str]) -> Original | None:
        return self.known.get(key)

    def payload(self, digest: str) -> Original | None:
        return self.by_payload.get(digest)

    def add(self, key: tuple[str, str], original: Original, any_url: bool) -> None:
        self.known.setdefault(key, original)
        if any_url:
            self.by_payload.setdefault(key[1], original)


class _Sha256WARCWriter(WARCWriter):
    """warcio's writer with SHA-256 digests (it hard-codes SHA-1)."""

    @staticmethod
    def _create_digester():  # type: ignore[override]
        return _HexDigester()


class _HexDigester:
    def __init__(self) -> None:
        self._h = hashlib.sha256()

    def update(self, buf: bytes) -> None:
        self._h.update(buf)

    def __str__(self) -> str:
        return labelled(self._h.hexdigest())


class WarcStore:
    """Appends exchanges to `<prefix>-<timestamp>-<serial>.warc.gz` files, rotating at `max_size`.

    warcio always gzips at level 9, its largest single cost per page (see
    MEASURED.md), so records are serialised uncompressed by warcio and each is
    compressed here as its own gzip member at `gzip_level`, with zlib-ng: the
    same levels and a standard gzip stream for half of zlib's CPU (synthetic
    bench pages at level 6: 0.24 ms against 0.49 ms a page, 1% larger).
    """

    def __init__(
        self,
        directory: Path,
        prefix: str,
        *,
        max_size: int = 1_000_000_000,
        gzip_level: int = 6,
        originals: Originals | dict[tuple[str, str], Original] | None = None,
        on_open: Callable[[str], None] | None = None,
        host: str | None = None,
    ) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.prefix = prefix
        self.max_size = max_size
        self.gzip_level = gzip_level
        # The first full record of each (url, sha256): a hit makes the next copy a revisit.
        self.originals: Originals = (
            MemoryOriginals(originals) if originals is None or isinstance(originals, dict) else originals
        )
        # Told each new file's name before anything is written to it.
        self.on_open = on_open
        # Names the writer in each file name: this machine's name, or a Redis worker's id
        # (host, pid and a random part), so files never collide across machines.
        self.host = host or socket.gethostname().split(".")[0] or "host"
        self._builder = _Sha256WARCWriter(io.BytesIO(), gzip=False, warc_version="1.1")
        self._lock = threading.Lock()
        self._file: IO[bytes] | None = None
        self._path: Path | None = None
        self._serial = 0
        self.files: list[str] = []

    # -- files -------------------------------------------------------------

    def _open_next(self) -> None:
        self.close()
        stamp = utc_now().strftime("%Y%m%d%H%M%S%f")
        while True:
            self._serial += 1
            name = f"{self.prefix}-{stamp}-{self._serial:05d}-{self.host}.warc.gz"
            path = self.directory / name
            try:
                self._file = open(path, "xb")  # never append to someone else's file
                break
            except FileExistsError:
                continue
        self._path = path
        self.files.append(name)
        if self.on_open is not None:
            self.on_open(name)
        self._write_warcinfo()

    def _write_warcinfo(self) -> None:
        from archive import __version__

        info = {
            "software": f"Spyglass/{__version__} (warcio)",
            "format": "WARC File Format 1.1",
            "conformsTo": "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/",
            "isPartOf": self.prefix,
        }
        assert self._path is not None
        record = self._builder.create_warcinfo_record(self._path.name, info)
        self._append(record)

    def close(self) -> None:
        """Flush, fsync and close the current file; the next write opens a new one."""
        if self._file is not None:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            self._file = None

    # -- records -----------------------------------------------------------

    def _serialise(self, record: ArcWarcRecord) -> bytes:
        buf = io.BytesIO()
        self._builder._write_warc_record(buf, record)
        return buf.getvalue()

    def _append(self, record: ArcWarcRecord) -> tuple[int, int]:
        data = self._serialise(record)
        compressor = zlib_ng.compressobj(self.gzip_level, zlib_ng.DEFLATED, 31)
        member = compressor.compress(data) + compressor.flush()
        assert self._file is not None
        offset = self._file.tell()
        self._file.write(member)
        self._file.flush()
        return offset, len(member)

    def write_exchange(self, exchange: Exchange) -> RecordLocation:
        """Write a request record and a response record, or a revisit if this URL's payload is known."""
        url, payload = exchange.url, exchange.payload
        digest = sha256_hex(payload)
        warc_date = iso(exchange.date)
        http_headers = StatusAndHeaders(
            f"{exchange.status} {exchange.reason}".strip(),
            list(exchange.response_headers),
            protocol=exchange.protocol or "HTTP/1.1",
        )
        with self._lock:
            if self._file is None or self._file.tell() >= self.max_size:
                self._open_next()
            # A 304 has no payload to share: it is always its own response record.
            not_modified = exchange.status == 304
            original = self.originals.get((url, digest)) if exchange.dedupe and not not_modified else None
            if (
                original is None
                and exchange.dedupe
                and exchange.any_url
                and payload
                and exchange.status == 200
            ):
                original = self.originals.payload(digest)
            if original is not None:
                record = self._builder.create_revisit_record(
                    url,
                    labelled(digest),
                    original.url,
                    original.date,
                    http_headers=http_headers,
                    warc_headers_dict={"WARC-Date": warc_date},
                )
                record.rec_headers.add_header("WARC-Refers-To", original.record_id)
            else:
                record = self._builder.create_warc_record(
                    url,
                    "response",
                    payload=io.BytesIO(payload),
                    length=len(payload),
                    http_headers=http_headers,
                    warc_headers=self._response_headers(url, warc_date, digest),
                )
            for key, value in exchange.extra_headers.items():
                record.rec_headers.add_header(key, value)
            record_id = record.rec_headers.get_header("WARC-Record-ID")
            offset, length = self._append(record)
            self._append(self._request_record(exchange, warc_date, record_id))
            assert self._path is not None
            if original is None and not not_modified:
                self.originals.add((url, digest), Original(record_id, url, warc_date), exchange.status == 200)
            return RecordLocation(
                filename=self._path.name,
                offset=offset,
                length=length,
                record_id=record_id,
                warc_type="revisit" if original else "response",
                sha256=digest,
                payload_length=len(payload),
                date=warc_date,
                refers_to=original.record_id if original else None,
            )

    def _response_headers(self, url: str, warc_date: str, digest: str) -> StatusAndHeaders:
        """The WARC headers warcio's create_warc_record gives a response, in its order, with the
        payload digest already computed: warcio would hash the payload again (30-60 us of CPU
        for a 55 KB page, a tenth of writing its records)."""
        headers = StatusAndHeaders("", [("WARC-Date", warc_date)], protocol=self._builder.warc_version)
        headers.add_header("WARC-Type", "response")
        headers.add_header("WARC-Record-ID", self._builder._make_warc_id())
        headers.add_header("WARC-Target-URI", url)
        headers.add_header("WARC-Payload-Digest", labelled(digest))
        return headers

    def write_resource(
        self,
        uri: str,
        payload: bytes,
        content_type: str,
        date: datetime,
        extra_headers: dict[str, str] | None = None,
    ) -> RecordLocation:
        """Write a file that came from no HTTP exchange (an import from disk) as a resource record."""
        digest = sha256_hex(payload)
        warc_date = iso(date)
        with self._lock:
            if self._file is None or self._file.tell() >= self.max_size:
                self._open_next()
            record = self._builder.create_warc_record(
                uri,
                "resource",
                payload=io.BytesIO(payload),
                length=len(payload),
                warc_content_type=content_type,
                warc_headers_dict={"WARC-Date": warc_date},
            )
            for key, value in (extra_headers or {}).items():
                record.rec_headers.add_header(key, value)
            record_id = record.rec_headers.get_header("WARC-Record-ID")
            offset, length = self._append(record)
            assert self._path is not None
            return RecordLocation(
                filename=self._path.name,
                offset=offset,
                length=length,
                record_id=record_id,
                warc_type="resource",
                sha256=digest,
                payload_length=len(payload),
                date=warc_date,
            )

    def _request_record(self, exchange: Exchange, warc_date: str, concurrent_to: str) -> ArcWarcRecord:
        url = exchange.url
        parts = urlsplit(url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        http_headers = StatusAndHeaders(
            f"{exchange.method} {target} HTTP/1.1", list(exchange.request_headers), is_http_request=True
        )
        record = self._builder.create_warc_record(
            url,
            "request",
            payload=io.BytesIO(exchange.request_body),
            length=len(exchange.request_body),
            http_headers=http_headers,
            warc_headers_dict={"WARC-Date": warc_date, "WARC-Concurrent-To": concurrent_to},
        )
        return record
