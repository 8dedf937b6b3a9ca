"""Browse pages: everything the archive holds about one vendor, product or agency, brought together.

A vendor or product brings its archived pages (one line per page, from the
versions table), their latest changes, the agencies whose records mention
it, the documents holding those mentions, and what the Atlas of
Surveillance says. An agency brings its releases, the documents in them,
the mentions of products, its Atlas rows, and the pages of sources about
it. Names are compared as the Atlas views compare agencies (case and curly
apostrophes aside). Every list is capped; the full lists are a link away.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from archive.index.atlas_schema import AGENCY_KEY
from archive.index.queries import rows

SHOWN = 100
KINDS = ("vendor", "product", "agency")

PAGES = """
    SELECT page_key, max(page_url) AS page_url, max(title) AS title, count(*) AS versions,
           min(first_seen_at) AS first_seen_at, max(last_seen_at) AS last_seen_at,
           max(last_capture_id) AS latest_capture_id, sum(sightings) AS captures
    FROM versions WHERE {where} GROUP BY page_key ORDER BY last_seen_at DESC LIMIT {limit}"""
CHANGES = """
    SELECT c.id, c.page_url, c.title, c.before_at, c.changed_at,
           (SELECT group_concat('"' || phrase || '" ' || event, ', ') FROM change_phrases
            WHERE change_id = c.id) AS phrases
    FROM changes AS c WHERE c.substantive = 1 AND {where}
    ORDER BY c.changed_at DESC, c.id DESC LIMIT 15"""
DOCUMENTS = """
    SELECT m.document_id, d.file_name, m.agency, count(*) AS mentions, min(m.page_number) AS page_number,
           min(m.snippet) AS snippet
    FROM mentions AS m JOIN documents AS d ON d.id = m.document_id
    WHERE {where} GROUP BY m.document_id ORDER BY m.agency, d.file_name LIMIT {limit}"""


def _key(name: str) -> str:
    return name.strip().replace("’", "'").lower()


def vendor_or_product(conn: sqlite3.Connection, kind: str, name: str) -> dict[str, Any]:
    """A vendor's or a product's pages, changes, the agencies and documents mentioning it, its Atlas rows."""
    column = "vendor" if kind == "vendor" else "product"
    where = f"{column} = :name"
    params = {"name": name}
    found = {
        "sources": rows(
            conn,
            f"SELECT name, kind, vendor, product, urls FROM sources WHERE {where} "
            f"ORDER BY name LIMIT {SHOWN}",
            params,
        ),
        "pages": rows(conn, PAGES.format(where=where, limit=SHOWN), params),
        "changes": rows(conn, CHANGES.format(where=f"c.{where}"), params),
        "agencies": rows(conn, f"SELECT * FROM agency_products WHERE {where} ORDER BY agency", params),
        "documents": rows(conn, DOCUMENTS.format(where=f"m.{where}", limit=SHOWN), params),
    }
    if kind == "vendor":
        found["products"] = rows(
            conn,
            "SELECT DISTINCT product FROM sources WHERE vendor = :name "
            "AND product IS NOT NULL ORDER BY product",
            params,
        )
        found["atlas"] = rows(
            conn,
            f"SELECT agency, state, technologies, held, atlas_rows, agency_id "
            f"FROM atlas_agency_vendors WHERE vendor = :name ORDER BY agency "
            f"LIMIT {SHOWN}",
            params,
        )
    else:
        found["atlas"] = rows(
            conn,
            f"""
            SELECT r.agency, r.state, group_concat(DISTINCT r.technology) AS technologies,
                   count(*) AS atlas_rows, a.id AS agency_id
            FROM atlas_row_vendors AS v JOIN atlas_rows AS r ON r.id = v.row_id
            LEFT JOIN atlas_agencies AS a ON a.id = r.agency_id
            WHERE v.product = :name AND r.superseded_at IS NULL
            GROUP BY r.agency, r.state ORDER BY r.agency LIMIT {SHOWN}""",
            params,
        )
    return found


def agency(conn: sqlite3.Connection, name: str) -> dict[str, Any]:
    """An agency's releases, the documents in them, the mentions of products, its Atlas rows, its sources."""
    params = {"key": _key(name)}
    releases = rows(
        conn,
        f"""
        SELECT r.*, (SELECT count(*) FROM document_links AS l WHERE l.release_id = r.id) AS files
        FROM releases AS r WHERE {AGENCY_KEY.format("r.agency")} = :key
        ORDER BY r.released_on DESC, r.id DESC LIMIT {SHOWN}""",
        params,
    )
    sources = rows(
        conn,
        f"SELECT name, kind, urls FROM sources WHERE {AGENCY_KEY.format('agency')} = :key "
        f"ORDER BY name LIMIT {SHOWN}",
        params,
    )
    source_names = [s["name"] for s in sources]
    marks = ", ".join(f":s{i}" for i in range(len(source_names)))
    pages = (
        rows(
            conn,
            PAGES.format(where=f"source IN ({marks})", limit=SHOWN),
            {f"s{i}": n for i, n in enumerate(source_names)},
        )
        if source_names
        else []
    )
    return {
        "releases": releases,
        "documents": rows(
            conn,
            f"""
            SELECT d.id AS document_id, d.file_name, d.page_count, d.capture_id, d.cite_url, d.file_url,
                   r.id AS release_id, r.title AS release_title, r.released_on
            FROM releases AS r JOIN document_links AS l ON l.release_id = r.id
            JOIN documents AS d ON d.id = l.document_id
            WHERE {AGENCY_KEY.format("r.agency")} = :key
            GROUP BY d.id ORDER BY r.released_on DESC, d.file_name LIMIT {SHOWN}""",
            params,
        ),
        "mentions": rows(
            conn,
            f"""
            SELECT m.*, d.file_name FROM mentions AS m LEFT JOIN documents AS d ON d.id = m.document_id
            WHERE {AGENCY_KEY.format("m.agency")} = :key
            ORDER BY m.product, m.document_id, m.page_number LIMIT {SHOWN}""",
            params,
        ),
        "products": rows(
            conn,
            f"SELECT * FROM agency_products WHERE {AGENCY_KEY.format('agency')} = :key ORDER BY product",
            params,
        ),
        "atlas": rows(
            conn,
            "SELECT * FROM agency_evidence WHERE agency_key = :key AND kind = 'atlas' "
            f"ORDER BY date DESC LIMIT {SHOWN}",
            params,
        ),
        "atlas_agencies": rows(
            conn, f"SELECT * FROM atlas_agencies WHERE {AGENCY_KEY.format('agency')} = :key", params
        ),
        "sources": sources,
        "pages": pages,
    }


def browse(conn: sqlite3.Connection, kind: str, name: str) -> dict[str, Any]:
    """The browse page's data for a vendor, product or agency (`kind`), by name."""
    found = agency(conn, name) if kind == "agency" else vendor_or_product(conn, kind, name)
    found["empty"] = not any(found.values())
    return found
