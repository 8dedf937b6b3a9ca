"""Look up what a citation needs in the index: a capture, its Save Page Now row, a document page.

Works on a plain sqlite3 connection so the CLI and the Datasette plugin share it.
Tables other issues add (save_requests from the Wayback issue; documents,
document_links and releases from the records issue) are optional: without
them a citation simply has less to say.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Any

from .cite import Citation, cite, cite_document_page, effective_time
from .errors import SpyglassError


class NotFound(SpyglassError):
    """No capture or page matches what was asked for."""


def _rows(conn: sqlite3.Connection, sql: str, params: list[Any] | tuple = ()) -> list[dict[str, Any]]:
    cursor = conn.execute(sql, params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, values)) for values in cursor.fetchall()]


def has_table(conn: sqlite3.Connection, name: str) -> bool:
    """True if the index has this table (other branches add some)."""
    return conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type IN ('table', 'view') AND name = ?", [name]
    ).fetchone() is not None


def columns(conn: sqlite3.Connection, table: str) -> set[str]:
    """The table's column names."""
    return {row[1] for row in conn.execute(f"PRAGMA table_info([{table}])").fetchall()}


def capture(conn: sqlite3.Connection, capture_id: int) -> dict[str, Any]:
    """One capture row, or NotFound."""
    found = _rows(conn, "SELECT * FROM captures WHERE id = ?", [capture_id])
    if not found:
        raise NotFound(f"no capture {capture_id}")
    return found[0]


def save_request(conn: sqlite3.Connection, capture_id: int) -> dict[str, Any] | None:
    """The latest Save Page Now request for a capture that produced a snapshot, if any."""
    if not has_table(conn, "save_requests"):
        return None
    if not {"capture_id", "snapshot_url"} <= columns(conn, "save_requests"):
        return None
    found = _rows(conn, "SELECT * FROM save_requests WHERE capture_id = ? AND snapshot_url IS NOT NULL "
                        "AND snapshot_url != '' ORDER BY rowid DESC LIMIT 1", [capture_id])
    return found[0] if found else None


def capture_citation(conn: sqlite3.Connection, capture_id: int) -> Citation:
    """The citation of capture `capture_id`."""
    row = capture(conn, capture_id)
    return cite(row, save_request(conn, capture_id))


def closest_capture(conn: sqlite3.Connection, url: str, at: datetime | None) -> tuple[dict[str, Any], datetime]:
    """The capture of `url` nearest in time to `at` (the newest if `at` is None), with its time."""
    where = "url = ?"
    params = [url]
    if "original_url" in columns(conn, "captures"):
        where += " OR original_url = ?"
        params.append(url)
    rows = _rows(conn, f"SELECT * FROM captures WHERE ({where}) AND warc_type IN "
                       "('response', 'revisit', 'resource') ORDER BY id", params)
    if not rows:
        raise NotFound(f"no capture of {url}")
    timed = [(effective_time(r), r) for r in rows]
    if at is None:
        when, row = max(timed, key=lambda t: (t[0], t[1]["id"]))
    else:
        when, row = min(timed, key=lambda t: (abs((t[0] - at).total_seconds()), t[1]["id"]))
    return row, when


def document_page_citation(conn: sqlite3.Connection, page: dict[str, Any]) -> Citation | None:
    """The citation of a document_pages row: its document, and the release that first linked it."""
    if not has_table(conn, "documents") or page.get("document_id") is None:
        return None
    docs = _rows(conn, "SELECT * FROM documents WHERE id = ?", [page["document_id"]])
    if not docs:
        return None
    document = docs[0]
    release = None
    if has_table(conn, "document_links") and has_table(conn, "releases"):
        # The first release that linked the file: the same file may be released
        # again, but the first release is when it became public.
        found = _rows(conn, "SELECT r.* FROM document_links AS l JOIN releases AS r "
                            "ON r.id = l.release_id WHERE l.document_id = ? ORDER BY l.id LIMIT 1",
                      [document["id"]])
        release = found[0] if found else None
    capture_row = None
    if document.get("capture_id") is not None:
        found = _rows(conn, "SELECT * FROM captures WHERE id = ?", [document["capture_id"]])
        capture_row = found[0] if found else None
    return cite_document_page(page, document, release, capture_row)
