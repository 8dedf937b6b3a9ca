"""The index schema as numbered migrations, applied in order by open_db."""

from __future__ import annotations

import sqlite_utils
from sqlite_utils.migrations import Migrations

from archive.index import chain

migrations = Migrations("spyglass")

# Captures are evidence: the database itself refuses to change or delete one,
# whatever program holds the connection.
APPEND_ONLY_TRIGGERS = {
    op: f"""
        CREATE TRIGGER captures_append_only_{op.lower()} BEFORE {op} ON captures
        BEGIN SELECT RAISE(ABORT, 'captures are append-only evidence'); END
    """
    for op in ("UPDATE", "DELETE")
}

# The contract columns of Wayback captures; NULL on live captures.
WAYBACK_COLUMNS = {
    "memento_at": str, "wayback_timestamp": str, "original_url": str,
    "snapshot_url": str, "wayback_digest": str, "wayback_digest_match": int,
}


@migrations()
def m001_initial(db: sqlite_utils.Database) -> None:
    db.table("sources").create(
        {
            "name": str, "kind": str, "vendor": str, "product": str, "aliases": str,
            "agency": str, "urls": str, "notes": str, "config": str, "updated_at": str,
        },
        pk="name",
    )
    db.table("crawl_runs").create(
        {
            "id": int, "source": str, "spider": str, "started_at": str, "ended_at": str,
            "status": str, "finish_reason": str, "pages": int, "captures": int,
            "revisits": int, "errors": int, "bytes": int, "warc_files": str,
        },
        pk="id",
        foreign_keys=[("source", "sources", "name")],
    )
    db.table("captures").create(
        {
            "id": int, "url": str, "source": str, "via": str, "crawl_run": int,
            "captured_at": str, "status": int, "content_type": str, "length": int,
            "sha256": str, "warc_filename": str, "warc_offset": int, "warc_length": int,
            "warc_record_id": str, "warc_type": str, "refers_to": str,
            "title": str, "text": str, "extraction": str, "extraction_error": str,
            "vendor": str, "product": str, "agency": str,
            "depth": int, "referrer": str, "location": str, "fetch_ms": int,
        },
        pk="id",
        foreign_keys=[("source", "sources", "name"), ("crawl_run", "crawl_runs", "id")],
        not_null={"url", "source", "via", "captured_at", "sha256", "warc_filename"},
    )
    db.table("captures").create_index(["url", "captured_at"])
    db.table("captures").create_index(["source"])
    db.table("captures").create_index(["sha256"])
    db.table("captures").create_index(["warc_record_id"], unique=True)
    db.table("captures").enable_fts(["title", "text"], create_triggers=True, tokenize="porter")
    db.table("fetch_errors").create(
        {
            "id": int, "crawl_run": int, "source": str, "url": str, "occurred_at": str,
            "error_type": str, "reason": str, "referrer": str, "depth": int,
        },
        pk="id",
        foreign_keys=[("source", "sources", "name"), ("crawl_run", "crawl_runs", "id")],
    )
    for trigger in APPEND_ONLY_TRIGGERS.values():
        db.execute(trigger)


@migrations()
def m010_wayback(db: sqlite_utils.Database) -> None:
    """Wayback captures' contract columns, and Save Page Now requests."""
    captures = db.table("captures")
    for column, kind in WAYBACK_COLUMNS.items():
        captures.add_column(column, kind)
    captures.create_index(["original_url", "wayback_timestamp"])
    # Save Page Now jobs change state over time, so they live here, never in captures.
    db.table("save_requests").create(
        {
            "id": int, "capture_id": int, "source": str, "url": str, "requested_at": str,
            "method": str, "job_id": str, "state": str, "status_ext": str, "message": str,
            "wayback_timestamp": str, "snapshot_url": str, "confirmed_via_cdx": int,
            "updated_at": str,
        },
        pk="id",
        foreign_keys=[("capture_id", "captures", "id")],
    )
    db.table("save_requests").create_index(["url"])

@migrations()
def m020_records(db: sqlite_utils.Database) -> None:
    """Records portals: releases, the documents they linked, their pages' text, and mentions."""
    db.table("releases").create(
        {
            "id": int, "source": str, "key": str, "agency": str, "title": str,
            "reference": str, "released_on": str, "released_text": str, "page_url": str,
            "capture_id": int, "first_seen_at": str, "last_seen_at": str,
        },
        pk="id",
        foreign_keys=[("source", "sources", "name"), ("capture_id", "captures", "id")],
        not_null={"source", "key", "page_url"},
    )
    db.table("releases").create_index(["source", "key"], unique=True)
    db.table("releases").create_index(["agency"])
    db.table("documents").create(
        {
            "id": int, "sha256": str, "file_name": str, "file_url": str, "content_type": str,
            "size": int, "page_count": int, "extraction": str, "error": str,
            "capture_id": int, "first_seen_at": str, "extracted_at": str,
        },
        pk="id",
        foreign_keys=[("capture_id", "captures", "id")],
        not_null={"sha256", "file_url"},
    )
    db.table("documents").create_index(["sha256"], unique=True)
    db.table("document_links").create(
        {"id": int, "release_id": int, "document_id": int, "file_url": str, "linked_at": str},
        pk="id",
        foreign_keys=[("release_id", "releases", "id"), ("document_id", "documents", "id")],
        not_null={"release_id", "file_url"},
    )
    db.table("document_links").create_index(["release_id", "file_url"], unique=True)
    db.table("document_links").create_index(["file_url"])
    db.table("document_pages").create(
        {"id": int, "document_id": int, "page_number": int, "text": str, "method": str},
        pk="id",
        foreign_keys=[("document_id", "documents", "id")],
        not_null={"document_id", "page_number"},
    )
    db.table("document_pages").create_index(["document_id", "page_number"], unique=True)
    db.table("document_pages").enable_fts(["text"], create_triggers=True, tokenize="porter")
    _create_mentions(db)


def _create_mentions(db: sqlite_utils.Database) -> None:
    """Which agencies' records mention which products, and the view of one row per pair."""
    db.table("mentions").create(
        {
            "id": int, "agency": str, "vendor": str, "product": str, "term": str,
            "term_kind": str, "snippet": str, "document_page_id": int, "document_id": int,
            "page_number": int, "capture_id": int, "release_id": int, "proof_url": str,
            "found_at": str,
        },
        pk="id",
        foreign_keys=[
            ("document_page_id", "document_pages", "id"), ("document_id", "documents", "id"),
            ("capture_id", "captures", "id"), ("release_id", "releases", "id"),
        ],
    )
    db.table("mentions").create_index(["agency", "product"])
    # One row per agency and product, with the first mention as its proof.
    db.create_view("agency_products", """
        SELECT m.agency, m.vendor, m.product, g.mentions, g.documents,
               m.proof_url, m.document_page_id, m.capture_id, m.snippet
        FROM (
            SELECT agency, vendor, product, count(*) AS mentions,
                   count(DISTINCT coalesce('d' || document_id, 'c' || capture_id)) AS documents,
                   min(id) AS first_id
            FROM mentions
            WHERE agency IS NOT NULL AND product IS NOT NULL
            GROUP BY agency, vendor, product
        ) AS g JOIN mentions AS m ON m.id = g.first_id
        ORDER BY m.agency, m.product
    """)


@migrations()
def m025_recrawl(db: sqlite_utils.Database) -> None:
    """Runs count the pages they skipped as unchanged (recrawl: changed)."""
    db.table("crawl_runs").add_column("skipped", int)

@migrations()
def m040_hash_chain(db: sqlite_utils.Database) -> None:
    """Chain every capture row to the one before it (see archive/chain.py).

    Rows written before this migration are chained here, in id order: their
    hashes prove they are unchanged from now on, not before. The append-only
    trigger is dropped and recreated around the back-fill, inside the
    migration's transaction, so no other writer can slip in between.
    """
    table = db.table("captures")
    for column in chain.HASH_COLUMNS:
        if column not in table.columns_dict:
            table.add_column(column, str)
    db.execute("DROP TRIGGER IF EXISTS captures_append_only_update")
    prev = chain.GENESIS
    names = list(table.columns_dict)
    for values in db.execute("SELECT * FROM captures ORDER BY id").fetchall():
        row = dict(zip(names, values))
        row["prev_hash"] = prev
        prev = chain.row_hash(row)
        db.execute("UPDATE captures SET prev_hash = ?, row_hash = ? WHERE id = ?",
                   [row["prev_hash"], prev, row["id"]])
    db.execute(APPEND_ONLY_TRIGGERS["UPDATE"])


@migrations()
def m045_refused_records(db: sqlite_utils.Database) -> None:
    """A fetch error can name the WARC record of the response it refused."""
    db.table("fetch_errors").add_column("warc_record_id", str)


# The Atlas of Surveillance export's columns as stored: its own names in snake case.
ATLAS_ROW_COLUMNS = (
    "aosnumber", "newaosnumber", "city", "county", "state", "agency", "type_of_lea", "summary",
    "type_of_juris", "technology", "tech_abv", "vendor",
    *(f"link_{n}{part}" for n in (1, 2, 3)
      for part in ("", "_snapshot", "_source", "_type", "_date")),
    "other_links",
)

# How an agency's name is compared across the Atlas and the records Spyglass
# holds: case, surrounding space and curly apostrophes aside.
AGENCY_KEY = "lower(trim(replace({}, '’', '''')))"


@migrations()
def m220_atlas(db: sqlite_utils.Database) -> None:
    """The Atlas of Surveillance: imports, agencies, technologies, row versions, links, vendors."""
    db.table("atlas_imports").create(
        {
            "id": int, "imported_at": str, "origin": str, "file_path": str, "url": str,
            "final_url": str, "http_status": int, "etag": str, "last_modified": str,
            "outcome": str, "partial": int, "capture_id": int, "sha256": str, "size": int,
            "rows": int, "added": int, "changed": int, "unchanged": int, "removed": int,
            "duplicates": int, "skipped": int, "skipped_rows": str, "extra_columns": str,
            "sources_file": str,
        },
        pk="id",
        foreign_keys=[("capture_id", "captures", "id")],
        not_null={"imported_at", "origin", "outcome"},
    )
    db.table("atlas_imports").create_index(["url"])
    db.table("atlas_agencies").create(
        {
            "id": int, "agency": str, "state": str, "city": str, "county": str,
            "type_of_lea": str, "type_of_juris": str, "first_import_id": int, "last_import_id": int,
        },
        pk="id",
        foreign_keys=[("first_import_id", "atlas_imports", "id"),
                      ("last_import_id", "atlas_imports", "id")],
        not_null={"agency", "state"},
    )
    db.table("atlas_agencies").create_index(["agency", "state"], unique=True)
    db.table("atlas_technologies").create(
        {"id": int, "technology": str, "first_import_id": int},
        pk="id",
        foreign_keys=[("first_import_id", "atlas_imports", "id")],
        not_null={"technology"},
    )
    db.table("atlas_technologies").create_index(["technology"], unique=True)
    _create_atlas_rows(db)
    _create_atlas_links(db)
    _create_atlas_views(db)


def _create_atlas_rows(db: sqlite_utils.Database) -> None:
    """Row versions: each as imported, never changed but for the marks of its end."""
    columns: dict[str, type] = {"id": int}
    columns.update({name: str for name in ATLAS_ROW_COLUMNS})
    columns.update({
        "extra": str, "agency_id": int, "technology_id": int, "row_sha256": str, "line": int,
        "import_id": int, "imported_at": str,
        "superseded_at": str, "superseded_import_id": int, "superseded_by": int,
    })
    db.table("atlas_rows").create(
        columns,
        pk="id",
        foreign_keys=[
            ("agency_id", "atlas_agencies", "id"), ("technology_id", "atlas_technologies", "id"),
            ("import_id", "atlas_imports", "id"), ("superseded_import_id", "atlas_imports", "id"),
            ("superseded_by", "atlas_rows", "id"),
        ],
        not_null={"aosnumber", "row_sha256", "import_id", "imported_at"},
    )
    rows = db.table("atlas_rows")
    rows.create_index(["aosnumber"])
    rows.create_index(["agency_id"])
    rows.create_index(["technology_id"])
    # One current version per AOSNUMBER.
    db.execute("CREATE UNIQUE INDEX idx_atlas_rows_current ON atlas_rows (aosnumber) "
               "WHERE superseded_at IS NULL")
    kept = ", ".join(name for name in columns if not name.startswith("superseded"))
    db.execute(f"""
        CREATE TRIGGER atlas_rows_kept BEFORE UPDATE OF {kept} ON atlas_rows
        BEGIN SELECT RAISE(ABORT, 'Atlas row versions are kept as imported: a change is a new version'); END
    """)
    db.execute("""
        CREATE TRIGGER atlas_rows_not_deleted BEFORE DELETE ON atlas_rows
        BEGIN SELECT RAISE(ABORT, 'Atlas row versions are kept: nothing imported is deleted'); END
    """)
    rows.enable_fts(["agency", "summary", "vendor", "technology"], create_triggers=True,
                    tokenize="porter")


def _create_atlas_links(db: sqlite_utils.Database) -> None:
    """Each row version's links, parsed; and its vendors matched to the sources' (rebuilt each import)."""
    db.table("atlas_links").create(
        {
            "id": int, "row_id": int, "field": str, "url": str, "original_url": str,
            "wayback_timestamp": str, "link_source": str, "link_type": str, "date_text": str,
            "date": str,
        },
        pk="id",
        foreign_keys=[("row_id", "atlas_rows", "id")],
        not_null={"row_id", "field", "url"},
    )
    db.table("atlas_links").create_index(["row_id"])
    db.table("atlas_links").create_index(["original_url", "wayback_timestamp"])
    db.table("atlas_row_vendors").create(
        {"id": int, "row_id": int, "position": int, "vendor_text": str, "vendor": str,
         "product": str, "matched_by": str},
        pk="id",
        foreign_keys=[("row_id", "atlas_rows", "id")],
        not_null={"row_id", "vendor"},
    )
    db.table("atlas_row_vendors").create_index(["row_id"])
    db.table("atlas_row_vendors").create_index(["vendor"])


def _create_atlas_views(db: sqlite_utils.Database) -> None:
    """Cross-links: Atlas links to their captures, agency-vendor pairs to what Spyglass holds."""
    key = AGENCY_KEY.format
    # A live link is held when its URL was captured; a snapshot link when the
    # memento it names (its timestamp, or one within the year or month it names) was.
    db.create_view("atlas_link_evidence", """
        SELECT l.id AS link_id, r.aosnumber, r.agency, r.state, r.technology, r.vendor, l.field,
               l.url, l.original_url, l.wayback_timestamp, l.date, l.link_source,
               CASE WHEN l.wayback_timestamp IS NULL
                    THEN (SELECT max(c.id) FROM captures c
                          WHERE c.url = l.original_url AND c.wayback_timestamp IS NULL)
                    ELSE (SELECT max(c.id) FROM captures c WHERE c.original_url = l.original_url
                          AND c.wayback_timestamp GLOB l.wayback_timestamp || '*')
               END AS capture_id,
               l.row_id
        FROM atlas_links l JOIN atlas_rows r ON r.id = l.row_id
        WHERE r.superseded_at IS NULL
    """)
    db.create_view("atlas_agency_vendors", f"""
        WITH pairs AS (
            SELECT r.agency_id, v.vendor, count(DISTINCT r.id) AS atlas_rows,
                   group_concat(DISTINCT r.technology) AS technologies,
                   group_concat(DISTINCT v.product) AS products
            FROM atlas_rows r JOIN atlas_row_vendors v ON v.row_id = r.id
            WHERE r.superseded_at IS NULL
            GROUP BY r.agency_id, v.vendor
        ), said AS (
            SELECT {key('agency')} AS agency_key, vendor, count(*) AS n FROM mentions
            WHERE agency IS NOT NULL GROUP BY 1, 2
        ), released AS (
            SELECT {key('agency')} AS agency_key, count(*) AS n FROM releases
            WHERE agency IS NOT NULL GROUP BY 1
        ), linked AS (
            SELECT r.agency_id, v.vendor, count(DISTINCT e.capture_id) AS n
            FROM atlas_link_evidence e JOIN atlas_rows r ON r.id = e.row_id
            JOIN atlas_row_vendors v ON v.row_id = r.id
            WHERE e.capture_id IS NOT NULL GROUP BY 1, 2
        ), watched AS (
            SELECT s.vendor, count(*) AS n FROM sources s
            WHERE s.vendor IS NOT NULL AND EXISTS (SELECT 1 FROM captures c WHERE c.source = s.name)
            GROUP BY 1
        )
        SELECT a.agency, a.state, p.vendor, p.products, p.technologies, p.atlas_rows,
               CASE WHEN coalesce(m.n, 0) > 0 AND coalesce(l.n, 0) > 0 THEN 'records and captures'
                    WHEN coalesce(m.n, 0) > 0 THEN 'records'
                    WHEN coalesce(l.n, 0) > 0 THEN 'captures'
                    ELSE 'not yet' END AS held,
               coalesce(m.n, 0) AS mentions, coalesce(l.n, 0) AS link_captures,
               coalesce(rel.n, 0) AS agency_releases, coalesce(w.n, 0) AS vendor_sources_archived,
               p.agency_id
        FROM pairs p JOIN atlas_agencies a ON a.id = p.agency_id
        LEFT JOIN said m ON m.agency_key = {key('a.agency')} AND m.vendor = p.vendor
        LEFT JOIN released rel ON rel.agency_key = {key('a.agency')}
        LEFT JOIN linked l ON l.agency_id = p.agency_id AND l.vendor = p.vendor
        LEFT JOIN watched w ON w.vendor = p.vendor
        ORDER BY a.agency, a.state, p.vendor
    """)
    db.create_view("atlas_agency_records", f"""
        SELECT a.id AS agency_id, a.agency, a.state, a.city, a.county, a.type_of_lea,
               (SELECT count(*) FROM atlas_rows r
                WHERE r.agency_id = a.id AND r.superseded_at IS NULL) AS atlas_rows,
               (SELECT group_concat(DISTINCT r.technology) FROM atlas_rows r
                WHERE r.agency_id = a.id AND r.superseded_at IS NULL) AS technologies,
               (SELECT group_concat(DISTINCT v.vendor) FROM atlas_rows r
                JOIN atlas_row_vendors v ON v.row_id = r.id
                WHERE r.agency_id = a.id AND r.superseded_at IS NULL) AS vendors,
               coalesce(rel.n, 0) AS releases, rel.first_released_on, rel.last_released_on,
               coalesce(m.n, 0) AS mentions, m.products AS products_mentioned
        FROM atlas_agencies a
        LEFT JOIN (SELECT {key('agency')} AS agency_key, count(*) AS n,
                          min(released_on) AS first_released_on, max(released_on) AS last_released_on
                   FROM releases WHERE agency IS NOT NULL GROUP BY 1) rel
               ON rel.agency_key = {key('a.agency')}
        LEFT JOIN (SELECT {key('agency')} AS agency_key, count(*) AS n,
                          group_concat(DISTINCT product) AS products
                   FROM mentions WHERE agency IS NOT NULL GROUP BY 1) m
               ON m.agency_key = {key('a.agency')}
        ORDER BY a.agency, a.state
    """)
    # Everything Spyglass holds about an agency, one row per item, newest first:
    # its Atlas rows, its released records and the mentions of products in them.
    db.create_view("agency_evidence", f"""
        SELECT {key('r.agency')} AS agency_key, r.agency, 'atlas' AS kind,
               (SELECT min(l.date) FROM atlas_links l WHERE l.row_id = r.id) AS date,
               r.technology AS title,
               (SELECT group_concat(v.vendor, ', ') FROM atlas_row_vendors v WHERE v.row_id = r.id)
                   AS vendor,
               r.summary AS detail,
               nullif(r.link_1, '') AS url, 'atlas_rows/' || r.id AS spyglass_row
        FROM atlas_rows r WHERE r.superseded_at IS NULL
        UNION ALL
        SELECT {key('agency')}, agency, 'release', released_on, title, NULL, reference, page_url,
               'releases/' || id
        FROM releases WHERE agency IS NOT NULL
        UNION ALL
        SELECT {key('agency')}, agency, 'mention',
               (SELECT released_on FROM releases WHERE releases.id = mentions.release_id),
               coalesce(product, vendor), vendor, snippet, proof_url,
               CASE WHEN document_page_id IS NOT NULL THEN 'document_pages/' || document_page_id
                    ELSE 'captures/' || capture_id END
        FROM mentions WHERE agency IS NOT NULL
    """)
