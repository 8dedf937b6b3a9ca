"""What each archived page links to, kept at capture, so a 304 re-crawl follows its links without
reading the page back from its WARC file.

A row holds the links as the page wrote them (hrefs and its <base>), not the
URLs a crawl followed: scope, the seen-set and the limits are applied again at
follow time, so a source whose scope changed follows what its new scope allows.
It is keyed by the WARC record holding the payload (a revisit's by the record it
refers to), the record a page's validators name. Derived: a missing row only
means the page is read from the archive, as for captures made before this table.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

import sqlite_utils

TABLE = "page_links"


@dataclass(frozen=True)
class PageLinks:
    """A page's links as written (`hrefs`, resolved against `base` or the page's URL) and its
    requisites as (absolute URL, kind), None when they were not looked for."""

    base: str | None
    hrefs: tuple[str, ...]
    requisites: tuple[tuple[str, str], ...] | None = None

    def row(self, record_id: str) -> dict[str, Any]:
        """The page_links row for the payload in record `record_id`."""
        return {
            "warc_record_id": record_id,
            "base": self.base,
            "hrefs": json.dumps(self.hrefs, ensure_ascii=False, separators=(",", ":")),
            "requisites": None
            if self.requisites is None
            else json.dumps(self.requisites, ensure_ascii=False, separators=(",", ":")),
        }


def save_links(db: sqlite_utils.Database, rows: list[dict[str, Any]]) -> None:
    """Keep each payload's links once (a revisit of a payload adds nothing)."""
    # In the caller's transaction: the links are committed with the captures they describe.
    db.conn.executemany(
        f"INSERT OR IGNORE INTO {TABLE} (warc_record_id, base, hrefs, requisites) "
        "VALUES (:warc_record_id, :base, :hrefs, :requisites)",
        rows,
    )


def links_of(conn: sqlite3.Connection, record_id: str) -> PageLinks | None:
    """The links kept for the payload in record `record_id`, or None (captured before they were kept)."""
    # fetchall: the statement runs to its end, holding no read snapshot while the writer writes.
    found = conn.execute(
        f"SELECT base, hrefs, requisites FROM {TABLE} WHERE warc_record_id = ?", [record_id]
    ).fetchall()
    if not found:
        return None
    [(base, hrefs, requisites)] = found
    return PageLinks(
        base,
        tuple(json.loads(hrefs)),
        None if requisites is None else tuple((url, kind) for url, kind in json.loads(requisites)),
    )
