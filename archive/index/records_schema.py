"""Schema of a records request as its users know it: fields, communications, statuses, what a run found.

Kept apart from archive/index/migrations.py (which calls `create`) so the
request's tables are read in one place.
"""

from __future__ import annotations

import sqlite_utils

# Fields of a request beside its title, reference, release date and status.
RELEASE_COLUMNS = {
    "human_url": str,  # the page a reader opens (archived beside the API record): what citations name
    "submitted_on": str,
    "due_on": str,
    "completed_on": str,
    "jurisdiction": str,
    "embargo": str,
}


def create(db: sqlite_utils.Database) -> None:
    """Communications (searchable), the files each delivered, status history, and runs' findings."""
    db.table("crawl_runs").add_column("found", str)
    for column, kind in RELEASE_COLUMNS.items():
        db.table("releases").add_column(column, kind)
    db.table("communications").create(
        {
            "id": int,
            "release_id": int,
            "key": str,
            "sent_at": str,
            "direction": str,
            "sender": str,
            "recipient": str,
            "subject": str,
            "body": str,
            "status": str,
            "api_url": str,
            "capture_id": int,
            "first_seen_at": str,
            "last_seen_at": str,
        },
        pk="id",
        foreign_keys=[("release_id", "releases", "id"), ("capture_id", "captures", "id")],
    )
    db.table("communications").create_index(["release_id", "key"], unique=True)
    db.table("communications").enable_fts(
        ["subject", "body", "sender", "recipient"], create_triggers=True, tokenize="porter"
    )
    db.table("communication_files").create(
        {"communication_id": int, "link_id": int},
        pk=("communication_id", "link_id"),
        foreign_keys=[
            ("communication_id", "communications", "id"),
            ("link_id", "document_links", "id"),
        ],
    )
    db.table("communication_files").create_index(["link_id"])
    # One row per stretch of crawls that saw the same status: a new status is a new row.
    db.table("release_statuses").create(
        {
            "id": int,
            "release_id": int,
            "status": str,
            "capture_id": int,
            "first_seen_at": str,
            "last_seen_at": str,
        },
        pk="id",
        foreign_keys=[("release_id", "releases", "id"), ("capture_id", "captures", "id")],
    )
    db.table("release_statuses").create_index(["release_id", "first_seen_at"])
    # A change of status happened after the old one was last seen and by the time the new one was.
    db.execute(
        """
        CREATE VIEW release_status_changes AS
        SELECT r.id AS release_id, r.source, r.title, r.agency,
               prev.status AS status_before, s.status AS status_after,
               prev.last_seen_at AS changed_after, s.first_seen_at AS changed_by,
               s.capture_id
        FROM release_statuses s
        JOIN release_statuses prev ON prev.id = (
            SELECT p.id FROM release_statuses p
            WHERE p.release_id = s.release_id AND p.id < s.id ORDER BY p.id DESC LIMIT 1)
        JOIN releases r ON r.id = s.release_id
        """
    )
