"""Where a replayed capture stands: its page's previous and next versions, how far in time a followed
link jumped, and, when a link leads nowhere in the archive, the nearest thing it holds.

The replay banner and the "not archived" page (archive/publish/replay.py)
show these so a reader always knows when they are and how to move on.
"""

from __future__ import annotations

import os
import sqlite3
from datetime import datetime
from typing import Any

from archive.history.sightings import page_key
from archive.index.asof import as_of, page_url
from archive.index.queries import rows

# A followed link landing further than this from the page it was followed in is announced.
FAR_DAYS = 30
SITE_PAGES = 2000  # a site's pages compared with a missing URL, at most


def versions_around(conn: sqlite3.Connection, capture_id: int) -> dict[str, Any]:
    """This capture's version number of its page, and the previous and next versions' captures."""
    seen = rows(
        conn, "SELECT page_key, content_key, seen_at FROM page_sightings WHERE capture_id = ?", [capture_id]
    )
    if not seen:
        return {"number": None, "total": 0, "previous": None, "next": None}
    key, content, at = seen[0]["page_key"], seen[0]["content_key"], seen[0]["seen_at"]
    versions = rows(
        conn,
        "SELECT number, first_capture_id, last_capture_id, first_seen_at, last_seen_at, content_key "
        "FROM versions WHERE page_key = ? ORDER BY first_seen_at, number",
        [key],
    )
    here = next(
        (
            n
            for n, v in enumerate(versions)
            if v["content_key"] == content and v["first_seen_at"] <= at <= v["last_seen_at"]
        ),
        None,
    )
    if here is None:
        return {"number": None, "total": len(versions), "previous": None, "next": None}
    before = versions[here - 1] if here > 0 else None
    after = versions[here + 1] if here + 1 < len(versions) else None
    return {
        "number": versions[here]["number"],
        "total": len(versions),
        # The previous version as last seen, the next as first seen: the sightings nearest this one.
        "previous": {
            "number": before["number"],
            "capture_id": before["last_capture_id"],
            "at": before["last_seen_at"],
        }
        if before
        else None,
        "next": {
            "number": after["number"],
            "capture_id": after["first_capture_id"],
            "at": after["first_seen_at"],
        }
        if after
        else None,
    }


def _span(days: float) -> str:
    if days >= 365 * 1.5:
        return f"{round(days / 365.25)} years"
    if days >= 365:
        return "a year"
    if days >= 60:
        return f"{round(days / 30.44)} months"
    return f"{round(days)} days"


def time_jump(came_at: datetime, landed_at: datetime) -> str | None:
    """'8 years later' or '3 months earlier' when a followed link moved the reader more than FAR_DAYS; else None."""
    days = (landed_at - came_at).total_seconds() / 86400
    if abs(days) <= FAR_DAYS:
        return None
    return f"{_span(abs(days))} {'later' if days > 0 else 'earlier'}"


def came_from(conn: sqlite3.Connection, capture_id: int | None) -> dict[str, Any] | None:
    """The capture a link was followed in: its id, page URL and as-of time; None if unknown."""
    if capture_id is None:
        return None
    found = rows(conn, "SELECT * FROM captures WHERE id = ?", [capture_id])
    if not found:
        return None
    return {"id": capture_id, "url": page_url(found[0]), "at": as_of(found[0])}


def nearest_on_site(conn: sqlite3.Connection, url: str, at: datetime) -> dict[str, Any] | None:
    """The archived page of the same site whose URL shares the longest start with `url`, its sighting
    nearest in time to `at`: the closest thing the archive holds to a page it never captured."""
    wanted = page_key(url)
    if ")" not in wanted:
        return None
    pages = rows(
        conn,
        "SELECT page_key, max(page_url) AS page_url FROM page_sightings WHERE host = ? GROUP BY page_key LIMIT ?",
        [wanted.split(")", 1)[0] + ")", SITE_PAGES],  # the host as sightings key it (a SURT)
    )
    if not pages:
        return None
    best = max(pages, key=lambda p: (len(os.path.commonprefix([p["page_key"], wanted])), -len(p["page_key"])))
    moment = at.strftime("%Y-%m-%dT%H:%M:%S")
    nearest = rows(
        conn,
        "SELECT capture_id, seen_at FROM page_sightings WHERE page_key = ? "
        "ORDER BY abs(julianday(substr(seen_at, 1, 19)) - julianday(?)), capture_id LIMIT 1",
        [best["page_key"], moment],
    )
    return {"page_url": best["page_url"], **nearest[0]} if nearest else None
