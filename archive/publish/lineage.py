"""A records request's whole lineage on one page: request -> communications -> files -> documents ->
pages -> mentions, each with the capture that holds it and its citation.

Like the request page on MuckRock, but with hashes and archive dates: what a
reporter reads and a lawyer cites. Gathered from the index in one call, for
the release row template (datasette/templates/row-spyglass-releases.html).
"""

from __future__ import annotations

import sqlite3
from typing import Any

from archive.evidence.cite_records import cite_communication, cite_document, cite_document_page, cite_request
from archive.index.queries import rows

PAGES_SHOWN = 40  # per document: the rest are a link away
MENTIONS_SHOWN = 20  # per document


def _capture(conn: sqlite3.Connection, capture_id: int | None) -> dict[str, Any] | None:
    if capture_id is None:
        return None
    found = rows(conn, "SELECT * FROM captures WHERE id = ?", [capture_id])
    return found[0] if found else None


def _latest_capture(conn: sqlite3.Connection, url: str | None) -> dict[str, Any] | None:
    """The newest capture of a URL (the human page), or None."""
    if not url:
        return None
    found = rows(conn, "SELECT * FROM captures WHERE url = ? ORDER BY id DESC LIMIT 1", [url])
    return found[0] if found else None


def request_lineage(conn: sqlite3.Connection, release_id: int) -> dict[str, Any] | None:
    """Everything a request's page shows, or None when there is no such release."""
    found = rows(conn, "SELECT * FROM releases WHERE id = ?", [release_id])
    if not found:
        return None
    release = found[0]
    api_capture = _capture(conn, release["capture_id"])
    human = _latest_capture(conn, release.get("human_url"))
    letters = rows(
        conn, "SELECT * FROM communications WHERE release_id = ? ORDER BY sent_at, id", [release_id]
    )
    files = _files(conn, release)
    by_letter: dict[int | None, list[dict[str, Any]]] = {}
    for file in files:
        by_letter.setdefault(file["communication_id"], []).append(file)
    for letter in letters:
        letter["capture"] = _capture(conn, letter["capture_id"])
        letter["citation"] = cite_communication(letter, release, letter["capture"])
        letter["files"] = by_letter.pop(letter["id"], [])
    return {
        "release": release,
        "citation": cite_request(release, human or api_capture),
        "api_capture": api_capture,
        "human_capture": human,
        "statuses": rows(
            conn, "SELECT * FROM release_statuses WHERE release_id = ? ORDER BY id", [release_id]
        ),
        "communications": letters,
        # Files the portal linked to the request itself, not through a communication.
        "files": [f for group in by_letter.values() for f in group],
    }


def _files(conn: sqlite3.Connection, release: dict[str, Any]) -> list[dict[str, Any]]:
    """The request's files, each with the communication that delivered it, its document and pages."""
    links = rows(
        conn,
        """
        SELECT l.*, f.communication_id, c.subject AS delivered_subject, c.sent_at AS delivered_at
        FROM document_links l
        LEFT JOIN communication_files f ON f.link_id = l.id
        LEFT JOIN communications c ON c.id = f.communication_id
        WHERE l.release_id = ? ORDER BY l.id""",
        [release["id"]],
    )
    for link in links:
        link["document"] = None
        if link["document_id"] is None:
            continue
        document = rows(conn, "SELECT * FROM documents WHERE id = ?", [link["document_id"]])[0]
        capture = _capture(conn, document["capture_id"])
        delivered = {
            **release,
            "file_human_url": link["human_url"],
            **{k: link[k] for k in ("delivered_subject", "delivered_at")},
        }
        document["capture"] = capture
        document["citation"] = cite_document(document, delivered, capture)
        document["pages"] = rows(
            conn,
            "SELECT * FROM document_pages WHERE document_id = ? ORDER BY page_number, id LIMIT ?",
            [document["id"], PAGES_SHOWN],
        )
        for page in document["pages"]:
            page["citation"] = cite_document_page(page, document, delivered, capture)
        document["mentions"] = rows(
            conn,
            "SELECT * FROM mentions WHERE document_id = ? ORDER BY page_number, id LIMIT ?",
            [document["id"], MENTIONS_SHOWN],
        )
        link["document"] = document
    return links


def capture_line(capture: dict[str, Any] | None) -> str:
    """'archived 2026-12-07T04:10:00Z, SHA-256 ab12…': the facts a reader checks, in one line."""
    if capture is None:
        return "not archived"
    return f"archived {capture['captured_at']}, HTTP {capture['status']}, SHA-256 {capture['sha256']}"
