"""Storage of records-portal releases and the documents they link to.

A document is a set of bytes (one row per SHA-256), however many releases
link to it and by however many URLs: each link is a `document_links` row, the
provenance a reporter cites. A link also names the stable page to cite the
file by (`cite_url`): JSON portals hand out download URLs that expire, and a
file already held under the same stable page is linked, not fetched again.
Releases and documents are state, not evidence: the captures they point at are
the evidence and never change.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import sqlite_utils

from archive.index.db import writing
from archive.records.items import Communication, DocumentFile, PageText, RecordItem, Release, ReleaseLinks
from archive.times import iso, utc_now

CAPTURE_BY_RECORD = "(SELECT id FROM captures WHERE warc_record_id = ?)"

# Page texts made by the service that hosts a document: the documents
# post-pass replaces only its own pages, never these.
SERVICE_METHODS = ("documentcloud", "service")


def save_records(db: sqlite_utils.Database, items: Iterable[RecordItem]) -> None:
    """Store releases, links, downloaded files and page texts in arrival order (captures first)."""
    for item in items:
        if isinstance(item, Release):
            save_release(db, item)
        elif isinstance(item, ReleaseLinks):
            release = db.execute(
                "SELECT id FROM releases WHERE source = ? AND key = ?", [item.source, item.key]
            ).fetchone()
            if release is not None:
                save_links(db, release[0], item.file_urls, item.cite_urls, item.human_urls)
                if item.communication is not None:
                    save_delivered(db, release[0], item.communication, item.file_urls, item.cite_urls)
        elif isinstance(item, Communication):
            save_communication(db, item)
        elif isinstance(item, PageText):
            save_page_text(db, item)
        else:
            save_document_file(db, item)


def save_release(db: sqlite_utils.Database, release: Release) -> int:
    """Insert or refresh a release (keyed by source and key) and record the files it links."""
    now = iso(utc_now())
    db.execute(
        f"""
        INSERT INTO releases (source, key, agency, title, reference, released_on, released_text,
                              status, version, page_url, capture_id, first_seen_at, last_seen_at,
                              human_url, submitted_on, due_on, completed_on, jurisdiction, embargo, entry_text)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, {CAPTURE_BY_RECORD}, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (source, key) DO UPDATE SET
            agency = excluded.agency, title = excluded.title, reference = excluded.reference,
            released_on = excluded.released_on, released_text = excluded.released_text,
            status = excluded.status, version = excluded.version,
            page_url = excluded.page_url, capture_id = excluded.capture_id,
            last_seen_at = excluded.last_seen_at, human_url = excluded.human_url,
            submitted_on = excluded.submitted_on, due_on = excluded.due_on,
            completed_on = excluded.completed_on, jurisdiction = excluded.jurisdiction,
            embargo = excluded.embargo, entry_text = excluded.entry_text
        """,
        [
            release.source,
            release.key,
            release.agency,
            release.title,
            release.reference,
            release.released_on,
            release.released_text,
            release.status,
            release.version,
            release.page_url,
            release.record_id,
            now,
            now,
            release.human_url,
            release.submitted_on,
            release.due_on,
            release.completed_on,
            release.jurisdiction,
            release.embargo,
            release.entry_text,
        ],
    )
    release_id = db.execute(
        "SELECT id FROM releases WHERE source = ? AND key = ?", [release.source, release.key]
    ).fetchone()[0]
    save_links(db, release_id, release.file_urls, release.cite_urls, release.human_urls)
    if release.status is not None:
        save_status(db, release_id, release.status, release.record_id, now)
    return release_id


def save_status(db: sqlite_utils.Database, release_id: int, status: str, record_id: str, now: str) -> None:
    """Extend the release's current status row, or open a new one when the status changed."""
    last = db.execute(
        "SELECT id, status FROM release_statuses WHERE release_id = ? ORDER BY id DESC LIMIT 1",
        [release_id],
    ).fetchone()
    if last is not None and last[1] == status:
        db.execute("UPDATE release_statuses SET last_seen_at = ? WHERE id = ?", [now, last[0]])
        return
    db.execute(
        f"INSERT INTO release_statuses (release_id, status, capture_id, first_seen_at, last_seen_at) "
        f"VALUES (?, ?, {CAPTURE_BY_RECORD}, ?, ?)",
        [release_id, status, record_id, now, now],
    )


def save_communication(db: sqlite_utils.Database, item: Communication) -> None:
    """Insert or refresh one communication of a release (keyed by release and key)."""
    release = db.execute(
        "SELECT id FROM releases WHERE source = ? AND key = ?", [item.source, item.release_key]
    ).fetchone()
    if release is None:
        return  # its release was malformed: nothing to hang the letter on
    now = iso(utc_now())
    db.execute(
        f"""
        INSERT INTO communications (release_id, key, sent_at, direction, sender, recipient, subject,
                                    body, status, api_url, capture_id, first_seen_at, last_seen_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, {CAPTURE_BY_RECORD}, ?, ?)
        ON CONFLICT (release_id, key) DO UPDATE SET
            sent_at = excluded.sent_at, direction = excluded.direction, sender = excluded.sender,
            recipient = excluded.recipient, subject = excluded.subject, body = excluded.body,
            status = excluded.status, api_url = excluded.api_url, capture_id = excluded.capture_id,
            last_seen_at = excluded.last_seen_at
        """,
        [
            release[0],
            item.key,
            item.sent_at,
            item.direction,
            item.sender,
            item.recipient,
            item.subject,
            item.body,
            item.status,
            item.api_url,
            item.record_id,
            now,
            now,
        ],
    )


def save_delivered(
    db: sqlite_utils.Database, release_id: int, key: str, file_urls: Iterable[str], cite_urls: dict[str, str]
) -> None:
    """Record which communication of the release delivered these files (its cover letter)."""
    db.execute(
        """
        INSERT OR IGNORE INTO communication_files (communication_id, link_id)
        SELECT c.id, l.id FROM communications c JOIN document_links l ON l.release_id = c.release_id
        WHERE c.release_id = ? AND c.key = ? AND coalesce(l.cite_url, l.file_url) IN
            (SELECT value FROM json_each(?))
        """,
        [release_id, key, json.dumps([cite_urls.get(url, url) for url in file_urls])],
    )


def save_links(
    db: sqlite_utils.Database,
    release_id: int,
    file_urls: Iterable[str],
    cite_urls: dict[str, str] | None = None,
    human_urls: dict[str, str] | None = None,
) -> None:
    """Record that a release links these files; one link per release and stable page.

    A file already held (another release, or an earlier crawl, linked the
    same URL or the same stable page) is linked to its document at once.
    `human_urls` names the files' own pages a reader opens, where they have one.
    """
    now = iso(utc_now())
    for url in file_urls:
        cite = (cite_urls or {}).get(url, url)
        existing = db.execute(
            "SELECT id FROM document_links WHERE release_id = ? AND coalesce(cite_url, file_url) = ?",
            [release_id, cite],
        ).fetchone()
        known = db.execute(
            "SELECT document_id FROM document_links WHERE document_id IS NOT NULL "
            "AND (file_url = ? OR cite_url = ?) ORDER BY id DESC LIMIT 1",
            [url, cite],
        ).fetchone()
        document_id = known[0] if known else None
        human = (human_urls or {}).get(url)
        if existing is not None:
            if human is not None:
                db.execute("UPDATE document_links SET human_url = ? WHERE id = ?", [human, existing[0]])
            if document_id is not None:
                db.execute(
                    "UPDATE document_links SET document_id = coalesce(document_id, ?) WHERE id = ?",
                    [document_id, existing[0]],
                )
            continue
        db.execute(
            """
            INSERT INTO document_links (release_id, document_id, file_url, cite_url, linked_at, human_url)
            VALUES (?, ?, ?, ?, ?, ?)
            ON CONFLICT (release_id, file_url) DO UPDATE SET
                document_id = coalesce(excluded.document_id, document_id),
                human_url = coalesce(excluded.human_url, human_url)
            """,
            [release_id, document_id, url, cite, now, human],
        )


def save_document_file(db: sqlite_utils.Database, item: DocumentFile) -> int:
    """One document per SHA-256; every release link to this URL now points at it."""
    now = iso(utc_now())
    db.execute(
        f"""
        INSERT INTO documents (sha256, file_name, file_url, cite_url, content_type, size,
                               capture_id, first_seen_at)
        VALUES (?, ?, ?, ?, ?, ?, {CAPTURE_BY_RECORD}, ?)
        ON CONFLICT (sha256) DO NOTHING
        """,
        [
            item.sha256,
            item.file_name,
            item.file_url,
            item.cite_url or item.file_url,
            item.content_type,
            item.size,
            item.record_id,
            now,
        ],
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


def save_pages(
    db: sqlite_utils.Database,
    document_id: int,
    pages: list[tuple[str | None, str]],
    extraction: str,
    error: str | None,
) -> None:
    """Replace a document's pages with freshly extracted (text, method) pairs, numbered from 1.

    A page read again to the same text and method keeps its row: its id (which citations and
    mentions name) survives a re-read, and the full-text index is not torn down and rebuilt
    for it (the bulk of `documents --redo`'s own time on an unchanged release).
    """
    marks = ", ".join("?" for _ in SERVICE_METHODS)
    fresh = dict(enumerate(pages, 1))
    # It reads before it writes: a deferred transaction would fail at once ("database is locked")
    # if another process wrote in between; this one waits for the write lock first.
    with writing(db):
        held = db.execute(
            f"SELECT id, page_number, text, method FROM document_pages "
            f"WHERE document_id = ? AND method NOT IN ({marks})",
            [document_id, *SERVICE_METHODS],
        ).fetchall()
        same = {row_id: number for row_id, number, *read in held if fresh.get(number) == tuple(read)}
        kept = set(same.values())
        db.conn.executemany(
            "DELETE FROM document_pages WHERE id = ?", [(row[0],) for row in held if row[0] not in same]
        )
        db.conn.executemany(
            "INSERT INTO document_pages (document_id, page_number, text, method) VALUES (?, ?, ?, ?)",
            [(document_id, n, text, method) for n, (text, method) in fresh.items() if n not in kept],
        )
        db.execute(
            "UPDATE documents SET page_count = ?, extraction = ?, error = ?, extracted_at = ? WHERE id = ?",
            [len(pages) if pages else None, extraction, error, iso(utc_now()), document_id],
        )


def save_page_text(db: sqlite_utils.Database, item: PageText) -> None:
    """Keep a hosting service's text of one page beside Spyglass's own, under its own method."""
    found = db.execute(
        "SELECT l.document_id FROM document_links l JOIN releases r ON r.id = l.release_id "
        "WHERE l.file_url = ? AND r.source = ? AND l.document_id IS NOT NULL LIMIT 1",
        [item.linked_url, item.source],
    ).fetchone()
    if found is None:
        return  # the file itself could not be archived: there is no document to attach it to
    db.execute(
        "INSERT INTO document_pages (document_id, page_number, text, method) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (document_id, page_number, method) DO UPDATE SET text = excluded.text",
        [found[0], item.page_number, item.text, item.method],
    )


def known_releases(db: sqlite_utils.Database, source: str) -> dict[str, str | None]:
    """Key -> version of the releases of a source whose every link already has its document."""
    return dict(
        db.execute(
            "SELECT r.key, r.version FROM releases r WHERE r.source = ? AND NOT EXISTS ("
            "SELECT 1 FROM document_links l WHERE l.release_id = r.id AND l.document_id IS NULL)",
            [source],
        ).fetchall()
    )


def known_files(db: sqlite_utils.Database, source: str) -> set[str]:
    """Stable pages (or URLs) of the files this source's releases already hold: not fetched again."""
    return {
        row[0]
        for row in db.execute(
            "SELECT DISTINCT coalesce(l.cite_url, l.file_url) FROM document_links l "
            "JOIN releases r ON r.id = l.release_id WHERE r.source = ? AND l.document_id IS NOT NULL",
            [source],
        ).fetchall()
    }
