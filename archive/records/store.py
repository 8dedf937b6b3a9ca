"""Storage of records-portal releases and the documents they link to.

A document is a set of bytes (one row per SHA-256), however many releases
link to it and by however many URLs: each link is a `document_links` row, the
provenance a reporter cites. Releases and documents are state, not evidence:
the captures they point at are the evidence and never change.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlite_utils

from archive.records.items import DocumentFile, Release
from archive.times import iso, utc_now

CAPTURE_BY_RECORD = "(SELECT id FROM captures WHERE warc_record_id = ?)"


def save_records(db: sqlite_utils.Database, items: Iterable[Release | DocumentFile]) -> None:
    """Store releases and downloaded files in arrival order; their captures must be saved first."""
    for item in items:
        if isinstance(item, Release):
            save_release(db, item)
        else:
            save_document_file(db, item)


def save_release(db: sqlite_utils.Database, release: Release) -> int:
    """Insert or refresh a release (keyed by source and key) and record the files it links."""
    now = iso(utc_now())
    db.execute(
        f"""
        INSERT INTO releases (source, key, agency, title, reference, released_on, released_text,
                              page_url, capture_id, first_seen_at, last_seen_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, {CAPTURE_BY_RECORD}, ?, ?)
        ON CONFLICT (source, key) DO UPDATE SET
            agency = excluded.agency, title = excluded.title, reference = excluded.reference,
            released_on = excluded.released_on, released_text = excluded.released_text,
            page_url = excluded.page_url, capture_id = excluded.capture_id,
            last_seen_at = excluded.last_seen_at
        """,
        [release.source, release.key, release.agency, release.title, release.reference,
         release.released_on, release.released_text, release.page_url, release.record_id,
         now, now],
    )
    release_id = db.execute(
        "SELECT id FROM releases WHERE source = ? AND key = ?", [release.source, release.key]
    ).fetchone()[0]
    for url in release.file_urls:
        # The file may already be here (another release linked it first): link it now.
        db.execute(
            """
            INSERT INTO document_links (release_id, document_id, file_url, linked_at)
            VALUES (?, (SELECT document_id FROM document_links
                        WHERE file_url = ? AND document_id IS NOT NULL
                        ORDER BY id DESC LIMIT 1), ?, ?)
            ON CONFLICT (release_id, file_url) DO UPDATE SET
                document_id = coalesce(excluded.document_id, document_id)
            """,
            [release_id, url, url, now],
        )
    return release_id


def save_document_file(db: sqlite_utils.Database, item: DocumentFile) -> int:
    """One document per SHA-256; every release link to this URL now points at it."""
    now = iso(utc_now())
    db.execute(
        f"""
        INSERT INTO documents (sha256, file_name, file_url, content_type, size, capture_id,
                               first_seen_at)
        VALUES (?, ?, ?, ?, ?, {CAPTURE_BY_RECORD}, ?)
        ON CONFLICT (sha256) DO NOTHING
        """,
        [item.sha256, item.file_name, item.file_url, item.content_type, item.size,
         item.record_id, now],
    )
    document_id = db.execute("SELECT id FROM documents WHERE sha256 = ?", [item.sha256]).fetchone()[0]
    db.execute(
        """
        UPDATE document_links SET document_id = ?
        WHERE file_url = ? AND release_id IN (SELECT id FROM releases WHERE source = ?)
        """,
        [document_id, item.linked_url, item.source],
    )
    return document_id


def pending_documents(db: sqlite_utils.Database, redo: bool = False) -> list[dict[str, Any]]:
    """Documents whose text has not been extracted yet (all of them with `redo`), with their WARC record."""
    sql = """
        SELECT d.id, d.sha256, d.file_name, d.content_type, c.warc_filename, c.warc_offset,
               c.warc_type, c.refers_to
        FROM documents d JOIN captures c ON c.id = d.capture_id
    """
    if not redo:
        sql += " WHERE d.extracted_at IS NULL"
    cursor = db.execute(sql + " ORDER BY d.id")
    names = [col[0] for col in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def save_pages(db: sqlite_utils.Database, document_id: int, pages: list[tuple[str | None, str]],
               extraction: str, error: str | None) -> None:
    """Replace a document's pages with freshly extracted (text, method) pairs, numbered from 1."""
    with db.atomic():
        db.execute("DELETE FROM document_pages WHERE document_id = ?", [document_id])
        db.table("document_pages").insert_all(
            {"document_id": document_id, "page_number": number, "text": text, "method": method}
            for number, (text, method) in enumerate(pages, 1)
        )
        db.table("documents").update(document_id, {
            "page_count": len(pages) if pages else None,
            "extraction": extraction,
            "error": error,
            "extracted_at": iso(utc_now()),
        })
