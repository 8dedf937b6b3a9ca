"""Serving an archived payload to a browser: streamed from the WARC file, decoded, capped.

Everything here blocks (file reads, decompression), so the Datasette routes
run it in a thread and pull the body a piece at a time: one large archived
page never holds the event loop or the whole body in memory. A payload whose
decoded size passes the cap is not decoded at all: the visitor gets a page
saying so and a link to download the WARC record itself.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from archive.archive import Archive
from archive.warc.read import DecodeError, PayloadStream


@dataclass(frozen=True)
class Later:
    """A reply made by heavy work in a pool worker (archive/publish/pool.py): `fn(*args)` gives
    the Served to send, or None; when it gives None or the pool cannot run it, `instead()`
    (blocking: run it in a thread) gives a bounded reply in its place."""

    fn: Callable[..., Served | None]
    args: tuple
    instead: Callable[[], Served]


@dataclass
class Served:
    """What a route sends: a status, a type, and the body whole or as pieces to pull, or made later."""

    status: int
    content_type: str
    body: bytes = b""
    pieces: Iterator[bytes] | None = None
    _close: Any = field(default=None, repr=False)
    headers: dict[str, str] = field(default_factory=dict)  # more headers than Content-Type
    later: Later | None = None

    def close(self) -> None:
        if self._close is not None:
            self._close()


def decoded_size(archive: Archive, row: Mapping[str, Any], stop_after: int) -> int:
    """The payload's size with Content-Encoding undone, counted up to `stop_after` bytes."""
    with PayloadStream(archive, row) as stream:
        if not stream.content_encoding or stream.content_encoding.strip().lower() == "identity":
            return int(row.get("length") or 0)
        total = 0
        for piece in stream.decoded():
            total += len(piece)
            if total > stop_after:
                break
        return total


def serve_payload(archive: Archive, row: Mapping[str, Any], cap: int, download_url: str) -> Served:
    """The archived payload of `row` (the capture holding it), or a page saying why not.

    Raises OSError/EOFError when the record cannot be read at all (the route answers 404).
    """
    try:
        size = decoded_size(archive, row, cap)
    except DecodeError as exc:
        return Served(200, "text/plain; charset=utf-8", str(exc).encode())
    if size > cap:
        return Served(200, "text/html; charset=utf-8", _too_large(size, cap, download_url))
    stream = PayloadStream(archive, row)
    return Served(
        200,
        stream.content_type or "application/octet-stream",
        pieces=_guarded(stream.decoded()),
        _close=stream.close,
    )


def _guarded(pieces: Iterator[bytes]) -> Iterator[bytes]:
    """The pieces until the first that cannot be decoded: the reply has begun, so it just ends."""
    try:
        yield from pieces
    except DecodeError:
        return


def record_pieces(archive: Archive, row: Mapping[str, Any], piece: int = 1 << 16) -> Iterator[bytes]:
    """The capture's WARC record exactly as stored (its gzip member), for download."""
    remaining = int(row["warc_length"])
    with open(archive.warc_path(row["warc_filename"]), "rb") as fh:
        fh.seek(int(row["warc_offset"]))
        while remaining > 0:
            chunk = fh.read(min(piece, remaining))
            if not chunk:
                return
            remaining -= len(chunk)
            yield chunk


def _too_large(size: int, cap: int, download_url: str) -> bytes:
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Too large to show'
        "</title></head><body><h1>This archived copy is too large to show here</h1>"
        f"<p>Decoded, it is more than {size / 1e6:.1f} MB; this server shows copies of up to "
        f"{cap / 1e6:.0f} MB. The WARC record holding it can be downloaded and opened with any "
        f'WARC tool: <a href="{html.escape(download_url)}" download>{html.escape(download_url)}</a>'
        "</p></body></html>"
    ).encode()
