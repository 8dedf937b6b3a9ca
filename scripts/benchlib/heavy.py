"""Heavy pages, as one vendor page can make them: for the publishing load test and tests/test_stall.py.

A change between two texts of hundreds of thousands of repeated sentences and
words (difflib's and a regex's worst case), and an HTML page of many
megabytes, gzip'd on the wire as a server would send it.
"""

from __future__ import annotations

import gzip
import hashlib
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from archive.archive import Archive
from archive.history.sightings import page_key
from archive.index.capture_row import CaptureRow
from archive.index.captures import save_captures
from archive.index.db import open_index
from archive.warc.write import Exchange, WarcStore

BIG_URL = "http://big.test/page"
HEAVY_URL = "http://heavy.test/page"


def heavy_texts(sentences: int) -> tuple[str, str]:
    """Two versions of a page: `sentences` repeated sentences in another order, then
    five words a sentence of one repeated word."""
    repeats = " ".join(["a"] * (5 * sentences))
    old = "\n".join(f"Sentence {n % 50} here." for n in range(sentences))
    new = "\n".join(f"Sentence {(n * 7) % 51} here." for n in range(sentences))
    return old + "\n" + repeats, new + "\n" + repeats


def add_heavy_change(data: Path, sentences: int, capture_id: int) -> dict[str, Any]:
    """Give the archive at `data` a page of two versions with heavy texts (heavy_texts) and the
    change between them, both seen in capture `capture_id`; the ids and the page's URL."""
    old, new = heavy_texts(sentences)
    key = page_key(HEAVY_URL)
    with sqlite3.connect(data / "spyglass.db") as conn:
        ids = []
        for number, (text, seen) in enumerate(
            ((old, "2020-01-01T00:00:00Z"), (new, "2021-01-01T00:00:00Z")), 1
        ):
            digest = hashlib.sha256(text.encode()).hexdigest()
            conn.execute(
                "INSERT OR IGNORE INTO page_texts (sha256, text, chars) VALUES (?, ?, ?)",
                [digest, text, len(text)],
            )
            ids.append(
                conn.execute(
                    "INSERT INTO versions (page_key, page_url, host, source, number, kind, title, "
                    "first_capture_id, first_seen_at, last_capture_id, last_seen_at, sightings, text_sha256) "
                    "VALUES (?, ?, 'heavy.test', 'heavy', ?, 'page', 'Heavy page', ?, ?, ?, ?, 1, ?)",
                    [
                        key,
                        HEAVY_URL,
                        number,
                        capture_id + number - 1,
                        seen,
                        capture_id + number - 1,
                        seen,
                        digest,
                    ],
                ).lastrowid
            )
        change = conn.execute(
            "INSERT INTO changes (page_key, page_url, host, source, title, from_version_id, to_version_id, "
            "from_capture_id, to_capture_id, before_at, changed_at, found_at, added, removed, "
            "added_passages, removed_passages, size, boilerplate_passages, substantive) "
            "VALUES (?, ?, 'heavy.test', 'heavy', 'Heavy page', ?, ?, ?, ?, "
            "'2020-01-01T00:00:00Z', '2021-01-01T00:00:00Z', '2021-01-01T00:00:00Z', 'heavy', 'heavy', 1, 1, 1, 0, 1)",
            [key, HEAVY_URL, ids[0], ids[1], capture_id, capture_id + 1],
        ).lastrowid
    return {"change": change, "from": ids[0], "to": ids[1], "url": HEAVY_URL}


def add_big_page(data: Path, size: int) -> int:
    """Archive one HTML page of about `size` bytes decoded, links throughout, twice; the first
    capture's id (the second is the next id)."""
    store = WarcStore(Archive(data).warc_dir, "heavy")
    piece = b'<p><a href="/x">link</a> word</p>'
    html = b"<html><body>" + piece * (size // len(piece)) + b"</body></html>"
    exchange = Exchange(
        url=BIG_URL,
        method="GET",
        request_headers=[],
        request_body=b"",
        protocol="HTTP/1.1",
        status=200,
        reason="OK",
        payload=gzip.compress(html),
        date=datetime.now(UTC),
        response_headers=[("Content-Type", "text/html"), ("Content-Encoding", "gzip")],
    )
    locations = [store.write_exchange(exchange) for _ in range(2)]
    store.close()
    index = open_index(Archive(data))
    try:
        rows = [
            CaptureRow.from_location(
                at, url=BIG_URL, source="heavy", via="live", status=200, captured_at=at.date
            )
            for at in locations
        ]
        save_captures(
            index, [{**row.columns(), "content_type": "text/html", "title": "Big page"} for row in rows]
        )
        return index.execute("SELECT max(id) - 1 FROM captures WHERE url = ?", [BIG_URL]).fetchone()[0]
    finally:
        index.close()
