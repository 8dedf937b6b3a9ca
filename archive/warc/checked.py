"""A decompressed record whose digests all hold, read without warcio: verify's fast path.

warcio parses a record through layers of Python readers, which costs more than
decompressing and hashing it. Most records of an archive are whole and
unaltered, so verify first reads each gzip member's bytes here: the WARC
headers, the block by Content-Length, the HTTP headers where warcio would parse
them, and both digests hashed over memory views. Anything unusual (a digest
that fails, an unknown algorithm, a segmented or short record) returns None,
and the caller reads the record with warcio instead, whose words every problem
is reported in.
"""

from __future__ import annotations

import base64
import binascii
import hashlib

from archive.warc.read import StoredRecord

HTTP_RECORDS = ("response", "request", "revisit")  # those warcio reads HTTP headers from


def checked_record(data: bytes) -> StoredRecord | None:
    """The record in one member's decompressed bytes, if its block and payload digests hold; else None."""
    if not data.startswith(b"WARC/1."):
        return None
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return None
    headers = _fields(data[:end])
    if headers is None or "WARC-Segment-Number" in headers:
        return None
    try:
        length = int(headers.get("Content-Length", ""))
    except ValueError:
        return None
    start = end + 4
    if length < 0 or len(data) < start + length:
        return None
    view = memoryview(data)[start : start + length]
    warc_type = headers.get("WARC-Type", "")
    url = headers.get("WARC-Target-URI", "").strip("<>")
    payload_at, status = 0, None
    if length and warc_type in HTTP_RECORDS and url.startswith(("http:", "https:")):
        split = data.find(b"\r\n\r\n", start, start + length)
        if split < 0:
            return None
        payload_at = split + 4 - start
        if warc_type != "request":
            status = _status(data[start:split])
    payload = view[payload_at:]
    payload_hex = hashlib.sha256(payload).hexdigest()
    # warcio checks no digest of a revisit (its payload is another record's).
    if warc_type != "revisit" and not (
        _holds(headers.get("WARC-Block-Digest"), view, None)
        and _holds(headers.get("WARC-Payload-Digest"), payload, payload_hex)
    ):
        return None
    return StoredRecord(
        warc_type=warc_type,
        record_id=headers.get("WARC-Record-ID", ""),
        url=headers.get("WARC-Target-URI", ""),
        date=headers.get("WARC-Date", ""),
        headers=headers,
        http_status=status,
        http_headers=[],
        payload=bytes(payload),
        block_digest_ok="WARC-Block-Digest" in headers or None,
        payload_digest_ok="WARC-Payload-Digest" in headers or None,
        digest_failures=[],
        payload_sha256=payload_hex,
    )


def _fields(raw: bytes) -> dict[str, str] | None:
    lines = raw.decode("utf-8", "replace").split("\r\n")
    fields: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep or line[:1] in (" ", "\t"):
            return None  # a folded or malformed header: warcio's reading decides
        fields[name.strip()] = value.strip()
    return fields


def _status(head: bytes) -> int | None:
    parts = head.split(b"\r\n", 1)[0].split(None, 2)
    try:
        return int(parts[1])
    except (IndexError, ValueError):
        return None


def _holds(labelled: str | None, data: memoryview, sha256_hex: str | None) -> bool:
    """True if there is no digest to check or it matches; False if it fails or cannot be read here."""
    if not labelled:
        return True
    algo, _, value = labelled.partition(":")
    algo = algo.strip().lower()
    if algo == "sha256" and sha256_hex is not None and len(value) == 64:
        return value.lower() == sha256_hex
    try:
        digest = hashlib.new(algo, data).digest()
    except ValueError:
        return False
    return _decoded(value, len(digest)) == digest


def _decoded(value: str, size: int) -> bytes | None:
    """A digest value in hex, base32 or base64 (RFC 3548 allows each; warcio reads each)."""
    for decode in (bytes.fromhex, _base32, base64.b64decode):
        try:
            raw = decode(value)
        except (ValueError, binascii.Error):
            continue
        if len(raw) == size:
            return raw
    return None


def _base32(value: str) -> bytes:
    return base64.b32decode(value.upper() + "=" * (-len(value) % 8))
