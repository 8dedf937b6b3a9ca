"""The visual comparison of a change: the screenshots already held of its two versions, side by side.

A screenshot belongs to a capture (archive/crawl/screenshots.py); a version
is every sighting of one text between its first and last sighting. The
"before" picture is the last one taken while the old version was up, the
"after" picture the first one taken of the new version: the two looks
closest to the moment of the change. Nothing is drawn for a visitor: a
change shows pictures only where both sides were screenshotted at capture
time (changedetection.io's visual view, from evidence the archive holds).
"""

from __future__ import annotations

import sqlite3
from typing import Any

from archive.index.queries import rows

_SHOT = """
SELECT s.id, s.capture_id, s.taken_at, s.width, s.height, s.cut_at_height, s.sha256, s.browser
FROM screenshots s JOIN page_sightings p ON p.capture_id = s.capture_id
WHERE s.status = 'ok' AND p.page_key = ? AND p.content_key = ? AND p.seen_at BETWEEN ? AND ?
ORDER BY p.seen_at {order}, s.id {order} LIMIT 1
"""


def version_screenshot(conn: sqlite3.Connection, version: dict[str, Any], latest: bool) -> dict | None:
    """The latest (or earliest) screenshot taken of any capture of `version`; None if none is held."""
    found = rows(
        conn,
        _SHOT.format(order="DESC" if latest else "ASC"),
        [version["page_key"], version["content_key"], version["first_seen_at"], version["last_seen_at"]],
    )
    return found[0] if found else None


def screenshot_pair(conn: sqlite3.Connection, old: dict[str, Any], new: dict[str, Any]) -> dict | None:
    """{"before": shot, "after": shot} for a change from `old` to `new`, or None unless both are held."""
    before, after = version_screenshot(conn, old, latest=True), version_screenshot(conn, new, latest=False)
    return {"before": before, "after": after} if before and after else None
