"""The heavy work a visitor's page asks for, as run in a pool worker (archive/publish/pool.py).

Each function reads the index itself, read-only, so no large text crosses
between processes, and returns only what the page shows, capped in size.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from archive.archive import Archive
from archive.history.passages import has_phrase
from archive.history.pictures import DiffRow, diff_rows
from archive.history.sightings import text_of
from archive.publish.pagewords import drawn_mentions

# Characters of a diff a page shows; the rest is left out and the page says so.
MAX_DIFF_CHARS = 1_000_000
_CONNECTIONS: dict[str, sqlite3.Connection] = {}


def _index(db_path: str) -> sqlite3.Connection:
    """This worker's read-only connection to the index at `db_path`."""
    if db_path not in _CONNECTIONS:
        conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, check_same_thread=False)
        conn.execute("PRAGMA query_only = 1")
        _CONNECTIONS[db_path] = conn
    return _CONNECTIONS[db_path]


def phrase_presence(db_path: str, digests: list[str | None], phrase: str) -> list[bool]:
    """Whether each stored text (by SHA-256) holds `phrase` as whole words."""
    conn = _index(db_path)
    return [has_phrase(text_of(conn, digest), phrase) for digest in digests]


def version_diff(
    db_path: str, old_digest: str | None, new_digest: str | None, host: str | None
) -> tuple[list[DiffRow], bool]:
    """The rows of a diff of two stored texts, and whether rows were left out past MAX_DIFF_CHARS."""
    conn = _index(db_path)
    boilerplate = {
        r[0]
        for r in conn.execute("SELECT sentence_sha256 FROM boilerplate WHERE host = ?", [host]).fetchall()
    }
    rows = diff_rows(text_of(conn, old_digest), text_of(conn, new_digest), boilerplate, MAX_DIFF_CHARS)
    if rows and rows[-1].tag == "cut":
        return rows[:-1], True
    return rows, False


def mention_boxes(db_path: str, document_id: int, terms: dict[int, list[str]]) -> dict[int, dict]:
    """Where each page's mentioned terms lie on its image (archive/publish/pagewords.py)."""
    return drawn_mentions(Archive(Path(db_path).parent), _index(db_path), document_id, terms)
