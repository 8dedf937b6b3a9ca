"""Digests as Spyglass stores and cites them: SHA-256 in lowercase hex, as sha256sum prints it."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path


def sha256_hex(data: bytes) -> str:
    """The payload hash we store and cite: lowercase hex, as `sha256sum` prints it."""
    return hashlib.sha256(data).hexdigest()


def labelled(hex_digest: str) -> str:
    """A WARC labelled digest; hex rather than base32 so it matches `sha256sum`."""
    return f"sha256:{hex_digest}"


def sha1_base32(payload: bytes) -> str:
    """The CDX digest form: base32 SHA-1 (metadata, not a fixity check)."""
    return base64.b32encode(hashlib.sha1(payload).digest()).decode("ascii")


def file_sha256(path: Path) -> str:
    """SHA-256 of a whole file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
