"""The Atlas of Surveillance's part of the index: its tables, their guards, and the views that cross-link them.

Created by the migration m220_atlas (archive/index/migrations.py); the
import that fills them is archive/atlas/.
"""

from __future__ import annotations

import sqlite_utils

# The Atlas of Surveillance export's columns as stored: its own names in snake case.
ATLAS_ROW_COLUMNS = (
    "aosnumber",
    "newaosnumber",
    "city",
    "county",
    "state",
    "agency",
    "type_of_lea",
    "summary",
    "type_of_juris",
    "technology",
    "tech_abv",
    "vendor",
    *(f"link_{n}{part}" for n in (1, 2, 3) for part in ("", "_snapshot", "_source", "_type", "_date")),
    "other_links",
)

# How an agency's name is compared across the Atlas and the records Spyglass
# holds: case, surrounding space and curly apostrophes aside.
AGENCY_KEY = "lower(trim(replace({}, '’', '''')))"


def create(db: sqlite_utils.Database) -> None:
    """Create the Atlas tables and views (migration m220_atlas)."""
    db.table("atlas_imports").create(
        {
            "id": int,
            "imported_at": str,
            "origin": str,
            "file_path": str,
            "url": str,
            "final_url": str,
            "http_status": int,
            "etag": str,
            "last_modified": str,
            "outcome": str,
            "partial": int,
            "capture_id": int,
            "sha256": str,
            "size": int,
            "rows": int,
            "added": int,
            "changed": int,
            "unchanged": int,
            "removed": int,
            "duplicates": int,
            "skipped": int,
            "skipped_rows": str,
            "extra_columns": str,
            "sources_file": str,
        },
        pk="id",
        foreign_keys=[("capture_id", "captures", "id")],
        not_null={"imported_at", "origin", "outcome"},
    )
    db.table("atlas_imports").create_index(["url"])
    db.table("atlas_agencies").create(
        {
            "id": int,
            "agency": str,
            "state": str,
            "city": str,
            "county": str,
            "type_of_lea": str,
            "type_of_juris": str,
            "first_import_id": int,
            "last_import_id": int,
        },
        pk="id",
        foreign_keys=[("first_import_id", "atlas_imports", "id"), ("last_import_id", "atlas_imports", "id")],
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
    columns.update(
        {
            "extra": str,
            "agency_id": int,
            "technology_id": int,
            "row_sha256": str,
            "line": int,
            "import_id": int,
            "imported_at": str,
            "superseded_at": str,
            "superseded_import_id": int,
            "superseded_by": int,
        }
    )
    db.table("atlas_rows").create(
        columns,
        pk="id",
        foreign_keys=[
            ("agency_id", "atlas_agencies", "id"),
            ("technology_id", "atlas_technologies", "id"),
            ("import_id", "atlas_imports", "id"),
            ("superseded_import_id", "atlas_imports", "id"),
            ("superseded_by", "atlas_rows", "id"),
        ],
        not_null={"aosnumber", "row_sha256", "import_id", "imported_at"},
    )
    rows = db.table("atlas_rows")
    rows.create_index(["aosnumber"])
    rows.create_index(["agency_id"])
    rows.create_index(["technology_id"])
    # One current version per AOSNUMBER.
    db.execute(
        "CREATE UNIQUE INDEX idx_atlas_rows_current ON atlas_rows (aosnumber) WHERE superseded_at IS NULL"
    )
    kept = ", ".join(name for name in columns if not name.startswith("superseded"))
    db.execute(f"""
        CREATE TRIGGER atlas_rows_kept BEFORE UPDATE OF {kept} ON atlas_rows
        BEGIN SELECT RAISE(ABORT, 'Atlas row versions are kept as imported: a change is a new version'); END
    """)
    db.execute("""
        CREATE TRIGGER atlas_rows_not_deleted BEFORE DELETE ON atlas_rows
        BEGIN SELECT RAISE(ABORT, 'Atlas row versions are kept: nothing imported is deleted'); END
    """)
    rows.enable_fts(["agency", "summary", "vendor", "technology"], create_triggers=True, tokenize="porter")


def _create_atlas_links(db: sqlite_utils.Database) -> None:
    """Each row version's links, parsed; and its vendors matched to the sources' (rebuilt each import)."""
    db.table("atlas_links").create(
        {
            "id": int,
            "row_id": int,
            "field": str,
            "url": str,
            "original_url": str,
            "wayback_timestamp": str,
            "link_source": str,
            "link_type": str,
            "date_text": str,
            "date": str,
        },
        pk="id",
        foreign_keys=[("row_id", "atlas_rows", "id")],
        not_null={"row_id", "field", "url"},
    )
    db.table("atlas_links").create_index(["row_id"])
    db.table("atlas_links").create_index(["original_url", "wayback_timestamp"])
    db.table("atlas_row_vendors").create(
        {
            "id": int,
            "row_id": int,
            "position": int,
            "vendor_text": str,
            "vendor": str,
            "product": str,
            "matched_by": str,
        },
        pk="id",
        foreign_keys=[("row_id", "atlas_rows", "id")],
        not_null={"row_id", "vendor"},
    )
    db.table("atlas_row_vendors").create_index(["row_id"])
    db.table("atlas_row_vendors").create_index(["vendor"])


def _create_atlas_views(db: sqlite_utils.Database) -> None:
    """Cross-links: Atlas links to their captures, agency-vendor pairs to what Spyglass holds."""
    _create_pair_views(db)
    _create_agency_views(db)


def _create_pair_views(db: sqlite_utils.Database) -> None:
    """Atlas links with the captures that hold them, and agency-vendor pairs with what Spyglass holds."""
    key = AGENCY_KEY.format
    # A live link is held when its URL was captured; a snapshot link when the
    # memento it names (its timestamp, or one within the year or month it names) was.
    db.create_view(
        "atlas_link_evidence",
        """
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
    """,
    )
    db.create_view(
        "atlas_agency_vendors",
        f"""
        WITH pairs AS (
            SELECT r.agency_id, v.vendor, count(DISTINCT r.id) AS atlas_rows,
                   group_concat(DISTINCT r.technology) AS technologies,
                   group_concat(DISTINCT v.product) AS products
            FROM atlas_rows r JOIN atlas_row_vendors v ON v.row_id = r.id
            WHERE r.superseded_at IS NULL
            GROUP BY r.agency_id, v.vendor
        ), said AS (
            SELECT {key("agency")} AS agency_key, vendor, count(*) AS n FROM mentions
            WHERE agency IS NOT NULL GROUP BY 1, 2
        ), released AS (
            SELECT {key("agency")} AS agency_key, count(*) AS n FROM releases
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
        LEFT JOIN said m ON m.agency_key = {key("a.agency")} AND m.vendor = p.vendor
        LEFT JOIN released rel ON rel.agency_key = {key("a.agency")}
        LEFT JOIN linked l ON l.agency_id = p.agency_id AND l.vendor = p.vendor
        LEFT JOIN watched w ON w.vendor = p.vendor
        ORDER BY a.agency, a.state, p.vendor
    """,
    )


def _create_agency_views(db: sqlite_utils.Database) -> None:
    """An agency's Atlas rows beside its releases and mentions."""
    key = AGENCY_KEY.format
    db.create_view(
        "atlas_agency_records",
        f"""
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
        LEFT JOIN (SELECT {key("agency")} AS agency_key, count(*) AS n,
                          min(released_on) AS first_released_on, max(released_on) AS last_released_on
                   FROM releases WHERE agency IS NOT NULL GROUP BY 1) rel
               ON rel.agency_key = {key("a.agency")}
        LEFT JOIN (SELECT {key("agency")} AS agency_key, count(*) AS n,
                          group_concat(DISTINCT product) AS products
                   FROM mentions WHERE agency IS NOT NULL GROUP BY 1) m
               ON m.agency_key = {key("a.agency")}
        ORDER BY a.agency, a.state
    """,
    )
    # Everything Spyglass holds about an agency, one row per item, newest first:
    # its Atlas rows, its released records and the mentions of products in them.
    db.create_view(
        "agency_evidence",
        f"""
        SELECT {key("r.agency")} AS agency_key, r.agency, 'atlas' AS kind,
               (SELECT min(l.date) FROM atlas_links l WHERE l.row_id = r.id) AS date,
               r.technology AS title,
               (SELECT group_concat(v.vendor, ', ') FROM atlas_row_vendors v WHERE v.row_id = r.id)
                   AS vendor,
               r.summary AS detail,
               nullif(r.link_1, '') AS url, 'atlas_rows/' || r.id AS spyglass_row
        FROM atlas_rows r WHERE r.superseded_at IS NULL
        UNION ALL
        SELECT {key("agency")}, agency, 'release', released_on, title, NULL, reference, page_url,
               'releases/' || id
        FROM releases WHERE agency IS NOT NULL
        UNION ALL
        SELECT {key("agency")}, agency, 'mention',
               (SELECT released_on FROM releases WHERE releases.id = mentions.release_id),
               coalesce(product, vendor), vendor, snippet, proof_url,
               CASE WHEN document_page_id IS NOT NULL THEN 'document_pages/' || document_page_id
                    ELSE 'captures/' || capture_id END
        FROM mentions WHERE agency IS NOT NULL
    """,
    )
