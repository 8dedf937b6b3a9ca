"""What the front page offers besides its search box: the questions reporters ask, as ways in.

Every query here reads small tables (sources, releases, mentions, watched
phrases) or an index range (changes since the first of the month), so the
front page costs the same at any archive size.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from typing import Any

from archive.index.queries import rows
from archive.times import utc_now

SHOWN = 60  # names listed per question; the rest are a click away in their table


def month_start(now: datetime | None = None) -> str:
    """The first day of the current month, UTC, as an ISO date (what "this month" means)."""
    now = now or utc_now()
    return f"{now.year:04d}-{now.month:02d}-01"


def watched_pages(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """The start pages of vendor sources (no sitemaps): the pages whose claims are watched."""
    pages = []
    for source in rows(
        conn,
        "SELECT name, vendor, product, urls FROM sources WHERE kind = 'vendor' ORDER BY vendor, name LIMIT ?",
        [SHOWN],
    ):
        for url in json.loads(source["urls"] or "[]"):
            if not url.rstrip("/").endswith(".xml"):
                pages.append({"url": url, "vendor": source["vendor"], "product": source["product"]})
    return pages[:SHOWN]


def entry_points(conn: sqlite3.Connection, now: datetime | None = None) -> dict[str, Any]:
    """Vendors, products, agencies, watched phrases and this month's changes, for the front page."""
    since = month_start(now)
    return {
        "vendors": rows(
            conn,
            "SELECT vendor, group_concat(DISTINCT product) AS products FROM sources "
            "WHERE vendor IS NOT NULL AND vendor != '' GROUP BY vendor "
            "ORDER BY vendor LIMIT ?",
            [SHOWN],
        ),
        "products": rows(
            conn,
            """
            SELECT s.product, s.vendor,
                   (SELECT count(DISTINCT agency) FROM mentions AS m WHERE m.product = s.product) AS agencies
            FROM (SELECT DISTINCT product, vendor FROM sources
                  WHERE product IS NOT NULL AND product != '') AS s
            ORDER BY s.product LIMIT ?""",
            [SHOWN],
        ),
        "agencies": rows(
            conn,
            "SELECT agency, count(*) AS releases, max(released_on) AS latest "
            "FROM releases WHERE agency IS NOT NULL AND agency != '' "
            "GROUP BY agency ORDER BY agency LIMIT ?",
            [SHOWN],
        ),
        "phrases": rows(
            conn,
            "SELECT phrase, group_concat(source, ', ') AS sources FROM watched_phrases "
            "WHERE term_kind = 'watch' GROUP BY lower(phrase) ORDER BY phrase LIMIT ?",
            [SHOWN],
        ),
        "pages": watched_pages(conn),
        # Pages where a watched phrase came or went: the claims that changed.
        "claims": rows(
            conn,
            """
            SELECT page_url, phrase, count(*) AS events,
                   group_concat(event || ' between ' || substr(before_at, 1, 10) || ' and '
                                || substr(changed_at, 1, 10), ', ') AS what
            FROM (SELECT c.page_key, c.page_url, p.phrase, p.event, c.before_at, c.changed_at
                  FROM change_phrases AS p JOIN changes AS c ON c.id = p.change_id
                  WHERE p.term_kind = 'watch' ORDER BY c.changed_at, c.id)  -- events in time order
            GROUP BY page_key, lower(phrase) ORDER BY max(changed_at) DESC LIMIT ?""",
            [SHOWN],
        ),
        "month": since,
        "changes": rows(
            conn,
            """
            SELECT c.id, c.before_at, c.changed_at, c.found_at, c.page_url, c.title, c.vendor,
                   (SELECT group_concat('"' || phrase || '" ' || event, ', ') FROM change_phrases
                    WHERE change_id = c.id) AS phrases
            FROM changes AS c WHERE c.changed_at >= ? AND c.substantive = 1
            ORDER BY c.changed_at DESC, c.id DESC LIMIT 8""",
            [since],
        ),
    }


# Canned-query parameters offered as choice lists, and where their choices come from
# (small tables only: the page costs the same at any archive size). A closed list is
# every value the filter can match (a select); an open one suggests values while any
# other can still be typed (an agency named only in the Atlas, a phrase nobody watches).
CHOICES = {
    "vendor": "SELECT DISTINCT vendor FROM sources WHERE vendor IS NOT NULL AND vendor != '' ORDER BY vendor",
    "product": "SELECT DISTINCT product FROM sources WHERE product IS NOT NULL AND product != '' "
    "ORDER BY product",
    "source": "SELECT name FROM sources ORDER BY name",
    "agency": "SELECT DISTINCT agency FROM releases WHERE agency IS NOT NULL AND agency != '' "
    "ORDER BY agency",
    "phrase": "SELECT DISTINCT phrase FROM watched_phrases WHERE term_kind = 'watch' ORDER BY phrase",
}
FIXED_CHOICES = {"via": ["live", "wayback"], "side": ["added", "removed"]}
OPEN_CHOICES = {"agency", "phrase"}


def choice_lists(conn: sqlite3.Connection) -> dict[str, dict[str, Any]]:
    """Each canned-query parameter with known values: {"values": [...], "closed": bool}."""
    found: dict[str, dict[str, Any]] = {
        name: {"values": values, "closed": True} for name, values in FIXED_CHOICES.items()
    }
    for name, sql in CHOICES.items():
        try:
            values = [row[0] for row in conn.execute(sql + " LIMIT 500")]
        except sqlite3.OperationalError:  # an index from before the table existed
            continue
        found[name] = {"values": values, "closed": name not in OPEN_CHOICES}
    return found
