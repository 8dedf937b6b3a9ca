"""The alerts tables: each event told to each target once (archive/notify/)."""

from __future__ import annotations

import sqlite_utils

from archive.times import iso, utc_now


def create_alert_tables(db: sqlite_utils.Database) -> None:
    """`alerts` (one row per event and target) and `alert_marks` (how far events were looked for).

    The mark starts at the last capture already held: an archive's past is not news.
    """
    db.table("alerts").create(
        {
            "id": int,
            "event_key": str,
            "kind": str,
            "source": str,
            "subject": str,
            "message": str,
            "event_at": str,
            "target": str,
            "target_key": str,
            "digest": int,
            "state": str,
            "created_at": str,
            "attempts": int,
            "tried_at": str,
            "sent_at": str,
            "answer": str,
        },
        pk="id",
        not_null={"event_key", "kind", "subject", "message", "target", "target_key", "state", "created_at"},
        defaults={"attempts": 0, "digest": 0},
    )
    db.table("alerts").create_index(["event_key", "target_key"], unique=True)
    db.table("alerts").create_index(["state", "created_at"])
    db.table("alert_marks").create({"name": str, "through_id": int, "updated_at": str}, pk="name")
    for table in ("captures", "crawl_runs"):
        (last,) = db.execute(f"SELECT coalesce(max(id), 0) FROM {table}").fetchone()
        db.table("alert_marks").insert({"name": table, "through_id": last, "updated_at": iso(utc_now())})
