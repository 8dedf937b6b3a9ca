"""The look-ups other rooms make of the index: a capture, its Save Page Now row, a document page.

They work on a plain sqlite3 connection so the CLI, the evidence room and the
Datasette plugins share them.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from typing import Any

from archive.errors import NotFound
from archive.index.asof import AS_OF_COLUMN, as_of, page_url
from archive.index.rows import is_redirect

MAX_ROWID = 2**63 - 1  # SQLite cannot even be asked about a larger id


def row_id(text: str | None) -> int | None:
    """The row id a visitor typed, or None when it is no id SQLite could hold (so a 4xx, never a 500)."""
    if not text or not text.isascii() or not text.isdigit() or len(text) > 19:
        return None
    value = int(text)
    return value if value <= MAX_ROWID else None


def rows(conn: sqlite3.Connection, sql: str, params: list[Any] | tuple = ()) -> list[dict[str, Any]]:
    """Every row of a query as a dict."""
    cursor = conn.execute(sql, params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, values)) for values in cursor.fetchall()]


def capture(conn: sqlite3.Connection, capture_id: int) -> dict[str, Any]:
    """One capture row, or NotFound."""
    found = rows(conn, "SELECT * FROM captures WHERE id = ?", [capture_id])
    if not found:
        raise NotFound(f"no capture {capture_id}")
    return found[0]


def payload_row(conn: sqlite3.Connection, row: dict[str, Any]) -> dict[str, Any] | None:
    """The capture whose WARC record holds `row`'s payload: the row itself, or the original a revisit
    refers to (None when that original is not in the index)."""
    if row.get("warc_type") != "revisit" or not row.get("refers_to"):
        return row
    found = rows(conn, "SELECT * FROM captures WHERE warc_record_id = ?", [row["refers_to"]])
    return found[0] if found else None


def save_request(conn: sqlite3.Connection, capture_id: int) -> dict[str, Any] | None:
    """The latest Save Page Now request for a capture that produced a snapshot, if any."""
    found = rows(
        conn,
        "SELECT * FROM save_requests WHERE capture_id = ? AND snapshot_url IS NOT NULL "
        "AND snapshot_url != '' ORDER BY rowid DESC LIMIT 1",
        [capture_id],
    )
    return found[0] if found else None


def nearest_capture(
    conn: sqlite3.Connection, url: str | list[str], at: datetime | None, via: str | None = None
) -> dict[str, Any] | None:
    """The capture of `url` (or of the page a Wayback memento shows; any of several spellings when a
    list) nearest in time to `at`, the newest if `at` is None; ties go to the earlier capture. `via`
    keeps only captures made that way ("wayback"). None if there is none."""
    urls = [url] if isinstance(url, str) else url
    if not urls:
        return None
    marks = ", ".join("?" for _ in urls)
    where = f"(url IN ({marks}) OR original_url IN ({marks})) AND warc_type IN ('response', 'revisit', 'resource')"
    params: list[Any] = [*urls, *urls]
    if via is not None:
        where += " AND via = ?"
        params.append(via)
    if at is None:
        order = f"julianday({AS_OF_COLUMN}) DESC, id DESC"
    else:
        order = f"abs(julianday({AS_OF_COLUMN}) - julianday(?)), id"
        params.append(at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f"))
    found = rows(conn, f"SELECT * FROM captures WHERE {where} ORDER BY {order} LIMIT 1", params)
    return found[0] if found else None


MAX_REDIRECT_HOPS = 5


def resolve_capture(
    conn: sqlite3.Connection, url: str, at: datetime
) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """The capture of `url` nearest to `at`, following archived redirects to captured targets
    (each nearest to `at`), as replay does; and the redirect captures passed on the way."""
    # Here, not at the top: lxml and w3lib cost `spyglass verify` a tenth of a second it never needs.
    from archive.text.refs import absolute

    row = nearest_capture(conn, url, at)
    chain: list[dict[str, Any]] = []
    while row is not None and is_redirect(row) and len(chain) < MAX_REDIRECT_HOPS:
        target = absolute(page_url(row), row["location"])
        following = nearest_capture(conn, target, at) if target else None
        if following is None or any(r["id"] == following["id"] for r in [*chain, row]):
            break
        chain.append(row)
        row = following
    return row, chain


def closest_capture(
    conn: sqlite3.Connection, url: str, at: datetime | None
) -> tuple[dict[str, Any], datetime]:
    """The capture of `url` nearest in time to `at` (the newest if `at` is None), with its time."""
    row = nearest_capture(conn, url, at)
    if row is None:
        raise NotFound(f"no capture of {url}")
    return row, as_of(row)


def screenshots_of(conn: sqlite3.Connection, capture_id: int) -> list[dict[str, Any]]:
    """The screenshots taken of a capture's page (or attempted), oldest first."""
    return rows(conn, "SELECT * FROM screenshots WHERE capture_id = ? ORDER BY id", [capture_id])


def document_pages_of(conn: sqlite3.Connection, capture_row: dict[str, Any]) -> list[dict[str, Any]]:
    """Every reading (page_number, text, method) of the pages of the released document whose bytes
    a capture holds, by page; none if it holds no document."""
    found = document_of_capture(conn, capture_row)
    if found is None:
        return []
    return rows(
        conn,
        "SELECT page_number, text, method FROM document_pages WHERE document_id = ? ORDER BY page_number, id",
        [found[0]["id"]],
    )


def document_of_capture(
    conn: sqlite3.Connection, capture: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any] | None] | None:
    """(document, the release it came from) whose bytes a capture holds, or None.

    A document is one per SHA-256, so a later capture of the same file at the same URL (a
    revisit) is it too. The same bytes under another URL (a re-upload, a file two requests
    share) are the document as that URL's release linked it: its own address and stable
    page, and its own release. Otherwise the release is the first that linked the file.
    """
    docs = rows(
        conn,
        "SELECT * FROM documents WHERE capture_id = ? OR (sha256 = ? AND file_url = ?) ORDER BY id LIMIT 1",
        [capture.get("id"), capture.get("sha256"), capture.get("url")],
    )
    if docs:
        return docs[0], _first_release(conn, docs[0]["id"], capture.get("url"))
    linked = rows(
        conn,
        "SELECT d.*, l.file_url AS linked_url, l.cite_url AS linked_cite_url FROM documents AS d "
        "JOIN document_links AS l ON l.document_id = d.id WHERE d.sha256 = ? AND l.file_url = ? "
        "ORDER BY l.id LIMIT 1",
        [capture.get("sha256"), capture.get("url")],
    )
    if not linked:
        return None
    document = linked[0]
    document.update(file_url=document.pop("linked_url"), cite_url=document.pop("linked_cite_url"))
    return document, _first_release(conn, document["id"], capture.get("url"))


def _first_release(
    conn: sqlite3.Connection, document_id: int, url: str | None = None
) -> dict[str, Any] | None:
    # The release that linked the file by `url`, else the first that linked it: the same
    # file may be released again, but the first release is when it became public.
    # With the communication that delivered it, when the portal has communications.
    found = rows(
        conn,
        "SELECT r.*, l.human_url AS file_human_url, c.subject AS delivered_subject, c.sent_at AS delivered_at "
        "FROM document_links AS l JOIN releases AS r ON r.id = l.release_id "
        "LEFT JOIN communication_files AS f ON f.link_id = l.id "
        "LEFT JOIN communications AS c ON c.id = f.communication_id "
        "WHERE l.document_id = ? ORDER BY l.file_url IS ? DESC, l.id, c.sent_at LIMIT 1",
        [document_id, url],
    )
    return found[0] if found else None


def agencies_of_document(conn: sqlite3.Connection, document_id: int) -> list[str]:
    """Every agency that released a document, in the order their releases linked it."""
    found = rows(
        conn,
        "SELECT r.agency FROM document_links AS l JOIN releases AS r ON r.id = l.release_id "
        "WHERE l.document_id = ? AND r.agency IS NOT NULL ORDER BY l.id",
        [document_id],
    )
    return list(dict.fromkeys(r["agency"] for r in found))


def document_of_page(
    conn: sqlite3.Connection, page: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any] | None, dict[str, Any] | None] | None:
    """(document, first release that linked it, its capture) of a document_pages row, or None."""
    if page.get("document_id") is None:
        return None
    docs = rows(conn, "SELECT * FROM documents WHERE id = ?", [page["document_id"]])
    if not docs:
        return None
    document = docs[0]
    release = _first_release(conn, document["id"])
    capture_row = None
    if document.get("capture_id") is not None:
        found = rows(conn, "SELECT * FROM captures WHERE id = ?", [document["capture_id"]])
        capture_row = found[0] if found else None
    return document, release, capture_row


def latest_observation(
    conn: sqlite3.Connection, capture: dict[str, Any]
) -> tuple[int, dict[str, Any]] | None:
    """(how many, the latest) observations that saw `capture`'s payload unchanged after it was captured,
    or None: the proof the page still said the same thing later."""
    payload = payload_row(conn, capture)
    if payload is None:
        return None
    found = rows(
        conn,
        "SELECT * FROM observations WHERE capture_id = ? AND url = ? AND observed_at > ? "
        "ORDER BY observed_at DESC, id DESC",
        [payload["id"], capture["url"], capture["captured_at"]],
    )
    return (len(found), found[0]) if found else None
