"""The history tables: derived data about time, rebuilt from captures and WARC files (archive/history/)."""

from __future__ import annotations

import sqlite_utils

HISTORY_TABLES = (
    "change_phrases",
    "change_passages",
    "changes",
    "versions",
    "page_sightings",
    "page_texts",
    "boilerplate",
    "boilerplate_settled",
    "watched_phrases",
)


def create_history_tables(db: sqlite_utils.Database) -> None:
    """Create every history table and its indexes (empty)."""
    _create_pages(db)
    _create_changes(db)


def create_boilerplate_settled(db: sqlite_utils.Database) -> None:
    """When each host's boilerplate was last found: through which capture id, by which rules."""
    db.table("boilerplate_settled").create(
        {"host": str, "through_capture_id": int, "rules": str, "settled_at": str},
        pk="host",
        if_not_exists=True,
    )


def _create_pages(db: sqlite_utils.Database) -> None:
    """Sightings of pages, their texts and their versions."""
    db.table("page_texts").create({"sha256": str, "text": str, "chars": int}, pk="sha256")
    db.table("page_sightings").create(
        {
            "capture_id": int,
            "page_key": str,
            "page_url": str,
            "host": str,
            "source": str,
            "seen_at": str,
            "fetched_at": str,
            "kind": str,
            "content_key": str,
            "text_sha256": str,
            "title": str,
            "vendor": str,
            "product": str,
        },
        pk="capture_id",
        foreign_keys=[("capture_id", "captures", "id"), ("text_sha256", "page_texts", "sha256")],
        not_null={"page_key", "seen_at", "kind", "content_key"},
    )
    db.table("page_sightings").create_index(["page_key", "seen_at", "capture_id"])
    db.table("page_sightings").create_index(["host"])
    db.table("versions").create(
        {
            "id": int,
            "page_key": str,
            "page_url": str,
            "host": str,
            "source": str,
            "vendor": str,
            "product": str,
            "number": int,
            "kind": str,
            "title": str,
            "first_capture_id": int,
            "first_seen_at": str,
            "last_capture_id": int,
            "last_seen_at": str,
            "sightings": int,
            "content_key": str,
            "text_sha256": str,
        },
        pk="id",
        foreign_keys=[
            ("first_capture_id", "captures", "id"),
            ("last_capture_id", "captures", "id"),
            ("text_sha256", "page_texts", "sha256"),
        ],
        not_null={"page_key", "first_capture_id", "last_capture_id"},
    )
    db.table("versions").create_index(["page_key", "first_seen_at"])
    db.table("versions").create_index(["page_key", "first_capture_id"], unique=True)


def _create_changes(db: sqlite_utils.Database) -> None:
    """Changes between versions, their passages and phrases, and what is watched or boilerplate."""
    db.table("changes").create(
        {
            "id": int,
            "page_key": str,
            "page_url": str,
            "host": str,
            "source": str,
            "vendor": str,
            "product": str,
            "title": str,
            "from_version_id": int,
            "to_version_id": int,
            "from_capture_id": int,
            "to_capture_id": int,
            "before_at": str,
            "changed_at": str,
            "found_at": str,
            "added": str,
            "removed": str,
            "added_passages": int,
            "removed_passages": int,
            "size": int,
            "boilerplate_passages": int,
            "substantive": int,
            "from_citation": str,
            "to_citation": str,
            "computed_at": str,
        },
        pk="id",
        foreign_keys=[
            ("from_version_id", "versions", "id"),
            ("to_version_id", "versions", "id"),
            ("from_capture_id", "captures", "id"),
            ("to_capture_id", "captures", "id"),
        ],
        not_null={"page_key", "from_version_id", "to_version_id"},
    )
    db.table("changes").create_index(["page_key", "changed_at"])
    db.table("changes").create_index(["changed_at"])
    db.table("changes").create_index(["found_at"])
    db.table("changes").create_index(["from_version_id", "to_version_id"], unique=True)
    db.table("changes").enable_fts(["added", "removed"], create_triggers=True, tokenize="porter")
    db.table("change_passages").create(
        {"id": int, "change_id": int, "side": str, "position": int, "text": str, "boilerplate": int},
        pk="id",
        foreign_keys=[("change_id", "changes", "id")],
        not_null={"change_id", "side", "text"},
    )
    db.table("change_passages").create_index(["change_id", "side", "position"])
    db.table("change_phrases").create(
        {"id": int, "change_id": int, "source": str, "phrase": str, "term_kind": str, "event": str},
        pk="id",
        foreign_keys=[("change_id", "changes", "id")],
        not_null={"change_id", "phrase", "event"},
    )
    db.table("change_phrases").create_index(["change_id"])
    db.table("change_phrases").create_index(["phrase"])
    db.table("watched_phrases").create(
        {"source": str, "phrase": str, "term_kind": str},
        pk=("source", "phrase"),
    )
    db.table("boilerplate").create(
        {
            "host": str,
            "sentence_sha256": str,
            "sentence": str,
            "pages": int,
            "host_pages": int,
            "computed_at": str,
        },
        pk=("host", "sentence_sha256"),
    )
