"""What a capture's and a document's row pages show a reader, gathered from the index in one call.

A capture reads like a document: what it is and when it shows the page
first, its citation, the page's other versions and latest changes (from
archive/history), the mentions it proves, then the evidence. What is known
of its proof is read cheaply (time-stamp tokens and chain heads on disk,
never a re-hash on a page view); `spyglass verify` does the checking.
"""

from __future__ import annotations

import json
import re
import sqlite3
from typing import Any

from markupsafe import Markup, escape

from archive.archive import Archive
from archive.evidence.cite import citation_of, citation_of_page
from archive.history.report import with_details
from archive.history.sightings import page_key
from archive.index import queries
from archive.index.asof import MEMENTO_TIME, as_of_kind, fetch_label
from archive.index.queries import rows

VERSIONS_SHOWN = 40
CHANGES_SHOWN = 5
PAGES_SHOWN = 60


def proof_state(archive: Archive, capture: dict[str, Any]) -> dict[str, Any]:
    """What is on disk to prove the capture unaltered: a token for its WARC file, a stamped chain head."""
    warc = archive.warc_path(capture["warc_filename"])
    heads = sorted(archive.chain_dir.glob("head-*.json")) if archive.chain_dir.is_dir() else []
    covering = None
    for head in heads:
        try:
            head_id = int(json.loads(head.read_text())["capture_id"])
        except (ValueError, KeyError, OSError):
            continue
        if head_id >= int(capture["id"]) and head.with_name(head.name + ".tsr").is_file():
            covering = head_id
            break
    return {
        "warc_present": warc.is_file(),
        "warc_token": warc.with_name(warc.name + ".tsr").is_file(),
        "chain_head": covering,
    }


def page_history(conn: sqlite3.Connection, capture: dict[str, Any]) -> dict[str, Any]:
    """The page's versions (newest first, the one this capture shows marked) and its latest changes."""
    key = page_key(capture["page_url"] or capture["url"])
    versions = rows(
        conn, "SELECT * FROM versions WHERE page_key = ? ORDER BY number DESC LIMIT ?", [key, VERSIONS_SHOWN]
    )
    total = conn.execute("SELECT count(*) FROM versions WHERE page_key = ?", [key]).fetchone()[0]
    sighting = rows(conn, "SELECT * FROM page_sightings WHERE capture_id = ?", [capture["id"]])
    shown = None
    if sighting:
        seen = sighting[0]
        shown = next(
            (
                v["id"]
                for v in versions
                if v["content_key"] == seen["content_key"]
                and v["first_seen_at"] <= seen["seen_at"] <= v["last_seen_at"]
            ),
            None,
        )
    changes = rows(
        conn,
        "SELECT * FROM changes WHERE page_key = ? AND substantive = 1 "
        "ORDER BY changed_at DESC, id DESC LIMIT ?",
        [key, CHANGES_SHOWN],
    )
    return {
        "versions": versions,
        "versions_total": total,
        "this_version": shown,
        "changes": [with_details(conn, c) for c in changes],
    }


def capture_page(
    conn: sqlite3.Connection, archive: Archive, capture_id: int, published_url: str | None = None
) -> dict[str, Any] | None:
    """Everything a capture's page shows, or None when there is no such capture. `published_url`
    is the page's own public address, which a live capture's footnote names."""
    found = rows(conn, "SELECT * FROM captures WHERE id = ?", [capture_id])
    if not found:
        return None
    capture = found[0]
    holder = queries.payload_row(conn, capture)
    agencies = (
        rows(conn, "SELECT * FROM agency_products WHERE product = ? ORDER BY agency", [capture["product"]])
        if capture.get("product")
        else []
    )
    return {
        "capture": capture,
        "is_memento": as_of_kind(capture) == MEMENTO_TIME,
        "fetched_from": fetch_label(capture),
        "citation": citation_of(conn, capture, published_url),
        "holder": holder,
        **page_history(conn, capture),
        "mentions": rows(
            conn, "SELECT * FROM mentions WHERE capture_id = ? ORDER BY id LIMIT 100", [capture_id]
        ),
        "product_agencies": agencies,
        "releases": rows(
            conn,
            "SELECT id, agency, title, released_on FROM releases WHERE capture_id = ? ORDER BY id LIMIT 100",
            [capture_id],
        ),
        "documents": rows(
            conn, "SELECT id, file_name, page_count FROM documents WHERE capture_id = ?", [capture_id]
        ),
        "proof": proof_state(archive, capture),
        "screenshots": queries.screenshots_of(conn, capture_id),
    }


def document_page(
    conn: sqlite3.Connection, document_id: int, drawn: dict[int, dict] | None = None
) -> dict[str, Any] | None:
    """Everything a released document's page shows: releases, agencies, pages and their text, mentions
    (and `drawn`, where the mentions lie on each page's image: archive/publish/pagewords.py)."""
    found = rows(conn, "SELECT * FROM documents WHERE id = ?", [document_id])
    if not found:
        return None
    document = found[0]
    releases = rows(
        conn,
        """
        SELECT r.*, l.file_url AS linked_url, l.linked_at, c.id AS delivered_id,
               c.subject AS delivered_subject, c.sent_at AS delivered_at
        FROM document_links AS l JOIN releases AS r ON r.id = l.release_id
        LEFT JOIN communication_files AS f ON f.link_id = l.id
        LEFT JOIN communications AS c ON c.id = f.communication_id
        WHERE l.document_id = ? ORDER BY l.id, c.sent_at""",
        [document_id],
    )
    pages = rows(
        conn,
        "SELECT * FROM document_pages WHERE document_id = ? ORDER BY page_number, id LIMIT ?",
        [document_id, PAGES_SHOWN],
    )
    mentions = rows(
        conn, "SELECT * FROM mentions WHERE document_id = ? ORDER BY page_number, id LIMIT 200", [document_id]
    )
    for page in pages:
        terms = [m["term"] for m in mentions if m["page_number"] == page["page_number"]]
        page["marked"] = marked_text(page.get("text"), terms)
        page["mentions"] = len(terms)
        page["drawn"] = (drawn or {}).get(page["page_number"])
    capture = None
    if document.get("capture_id") is not None:
        capture = rows(conn, "SELECT * FROM captures WHERE id = ?", [document["capture_id"]])
        capture = capture[0] if capture else None
    return {
        "document": document,
        "releases": releases,
        "agencies": sorted({r["agency"] for r in releases if r["agency"]}),
        "pages": pages,
        "pages_total": conn.execute(
            "SELECT count(*) FROM document_pages WHERE document_id = ?", [document_id]
        ).fetchone()[0],
        "citation": citation_of_page(conn, pages[0]) if pages else None,
        "capture": capture,
        "mentions": mentions,
        "images": _has_images(document),
    }


def _has_images(document: dict[str, Any]) -> bool:
    """Page images are drawn from archived PDFs only (archive/publish/pageimage.py)."""
    return document.get("capture_id") is not None and "pdf" in (document.get("content_type") or "").lower()


def mentioned_terms(
    conn: sqlite3.Connection, table: str, row_id: int
) -> tuple[int, dict[int, list[str]]] | None:
    """(document id, {page number: terms mentioned on it}) for the pages a document's page (table
    `documents`) or one page's page (`document_pages`) shows; None when it shows none."""
    if table == "documents":
        where, params = "document_id = ? AND page_number <= ?", [row_id, PAGES_SHOWN]
    else:
        where = (
            "(document_id, page_number) = (SELECT document_id, page_number FROM document_pages WHERE id = ?)"
        )
        params = [row_id]
    found = rows(conn, f"SELECT document_id, page_number, term FROM mentions WHERE {where} LIMIT 200", params)
    terms: dict[int, list[str]] = {}
    for mention in found:
        terms.setdefault(mention["page_number"], []).append(mention["term"])
    return (found[0]["document_id"], terms) if found else None


def marked_text(text: str | None, terms: list[str]) -> Markup:
    """A page's text, escaped, with every occurrence of the mentioned terms in <mark>."""
    if not text:
        return Markup("")
    words = sorted({t for t in terms if t}, key=len, reverse=True)
    if not words:
        return escape(text)
    out, last = [], 0
    for found in re.finditer("|".join(re.escape(w) for w in words), text, re.IGNORECASE):
        out += [
            escape(text[last : found.start()]),
            Markup('<mark class="mention">{}</mark>').format(found[0]),
        ]
        last = found.end()
    return Markup("").join([*out, escape(text[last:])])


def document_page_row(
    conn: sqlite3.Connection, page_id: int, drawn: dict[int, dict] | None = None
) -> dict[str, Any] | None:
    """One page of a released document: its document, its text with the mentions on it marked, the
    neighbouring pages, and its citation (which names the page); None when there is no such page."""
    found = rows(conn, "SELECT * FROM document_pages WHERE id = ?", [page_id])
    if not found:
        return None
    page = found[0]
    document = rows(conn, "SELECT * FROM documents WHERE id = ?", [page["document_id"]])[0]
    mentions = rows(
        conn,
        "SELECT * FROM mentions WHERE document_id = ? AND page_number = ? ORDER BY id LIMIT 200",
        [page["document_id"], page["page_number"]],
    )
    around = {
        side: rows(
            conn,
            f"SELECT id, page_number FROM document_pages WHERE document_id = ? AND page_number {op} ? "
            f"ORDER BY page_number {order} LIMIT 1",
            [page["document_id"], page["page_number"]],
        )
        for side, op, order in (("previous", "<", "DESC"), ("next", ">", "ASC"))
    }
    terms = [m["term"] for m in mentions]
    return {
        "page": {
            **page,
            "marked": marked_text(page.get("text"), terms),
            "drawn": (drawn or {}).get(page["page_number"]),
        },
        "document": document,
        "mentions": mentions,
        "previous": around["previous"][0] if around["previous"] else None,
        "next": around["next"][0] if around["next"] else None,
        "citation": citation_of_page(conn, page),
        "images": _has_images(document),
    }
