"""Observations (a page seen unchanged, no new payload) and the validators conditional requests send.

An observation names the WARC record that proves it (a 304 exchange, or a
revisit record) and the capture holding the payload it confirms, so "this
page still said X at time T" can be cited and checked like a capture.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlite_utils

from archive.index.kinds import ObservationKind

CAPTURE_BY_RECORD = "SELECT id FROM captures WHERE warc_record_id = ?"


def _capture_id(db: sqlite_utils.Database, record_id: str | None) -> int | None:
    if not record_id:
        return None
    found = db.execute(CAPTURE_BY_RECORD, [record_id]).fetchone()
    return found[0] if found else None


def save_observations(db: sqlite_utils.Database, rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Append observations; `confirms_record_id` and `revisit_record_id` become capture ids.

    Returns the rows as saved (with `capture_id`), for history to fold in.
    """
    saved = []
    for row in rows:
        row = dict(row)
        row["capture_id"] = _capture_id(db, row.pop("confirms_record_id", None))
        row["revisit_capture_id"] = _capture_id(db, row.pop("revisit_record_id", None))
        saved.append(row)
    if saved:
        db.table("observations").insert_all(saved, batch_size=500, ignore=True)
    return saved


def revisit_observations(captures: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """An 'unchanged' observation for each live revisit capture with status 200."""
    return [
        {
            "url": row["url"],
            "source": row["source"],
            "crawl_run": row["crawl_run"],
            "observed_at": row["captured_at"],
            "kind": ObservationKind.UNCHANGED,
            "status": row["status"],
            "sha256": row["sha256"],
            "confirms_record_id": row["refers_to"],
            "revisit_record_id": row["warc_record_id"],
            "warc_record_id": row["warc_record_id"],
            "warc_filename": row["warc_filename"],
            "warc_offset": row["warc_offset"],
            "warc_length": row["warc_length"],
        }
        for row in captures
        if row.get("warc_type") == "revisit" and row.get("via") == "live" and row.get("status") == 200
    ]


def save_validators(db: sqlite_utils.Database, rows: Iterable[dict[str, Any]]) -> None:
    """Remember each page's latest ETag / Last-Modified (None when the server sent neither)."""
    db.table("page_validators").upsert_all(list(rows), pk=("source", "url"))


def save_newer_validators(db: sqlite_utils.Database, rows: list[dict[str, Any]]) -> None:
    """save_validators for captures found late (reconciled after a crash): each only where
    no later capture of its page left validators already."""
    newer = []
    for row in rows:
        known = db.execute(
            "SELECT captured_at FROM page_validators WHERE source = ? AND url = ?",
            [row["source"], row["url"]],
        ).fetchone()
        if known is None or (known[0] or "") < row["captured_at"]:
            newer.append(row)
    save_validators(db, newer)


def validators_of(
    db: sqlite_utils.Database, source: str, columns: Iterable[str]
) -> dict[str, dict[str, Any]]:
    """URL -> its validators and the capture row (`columns`) holding the payload they describe."""
    wanted = ", ".join(f"c.{name}" for name in columns)
    cursor = db.execute(
        f"SELECT v.url AS page_url, v.etag, v.last_modified, {wanted} FROM page_validators v "
        "JOIN captures c ON c.warc_record_id = v.warc_record_id "
        "WHERE v.source = ? AND (v.etag IS NOT NULL OR v.last_modified IS NOT NULL)",
        [source],
    )
    names = [d[0] for d in cursor.description]
    found = {}
    for values in cursor.fetchall():
        row = dict(zip(names, values))
        found[row.pop("page_url")] = row
    return found
