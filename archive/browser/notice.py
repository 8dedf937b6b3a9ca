"""Noticing pages that need a browser: HTML that carries scripts but almost no text, a script's shell."""

from __future__ import annotations

import re
from typing import Any

from archive.archive import Archive
from archive.index.queries import rows
from archive.warc.read import open_record

# Fewer characters of text than this is "almost none": a real product page says more,
# an application shell says "Loading…" or nothing.
SHELL_TEXT_CHARS = 200
SCRIPT_TAG = re.compile(rb"<script\b", re.IGNORECASE)
# Live HTML pages (their original response, not a revisit) with almost no text.
SHORT_PAGES = (
    "SELECT c.id, c.url, c.warc_filename, c.warc_offset FROM captures AS c WHERE c.via = 'live' "
    "AND c.status = 200 AND c.warc_type = 'response' AND c.requisite IS NULL "
    "AND lower(c.content_type) LIKE '%html%' AND length(coalesce(c.text, '')) < ?"
)


def script_shells(archive: Archive, index: Any, run_id: int) -> list[str]:
    """URLs of the HTML pages crawl run `run_id` saw whose HTML carries scripts but almost no text.

    A page seen unchanged (a 304, a revisit) counts by the capture it matched,
    so a re-crawl of an unchanged shell still names it. Only the pages with
    almost no text are read back from their WARC records, so the check costs
    little on a run of ordinary pages.
    """
    short = rows(
        index.conn,
        f"SELECT url, warc_filename, warc_offset FROM ({SHORT_PAGES} AND c.crawl_run = ? "
        f"UNION {SHORT_PAGES} AND c.id IN (SELECT capture_id FROM observations WHERE crawl_run = ?)) "
        "GROUP BY url ORDER BY min(id)",
        [SHELL_TEXT_CHARS, run_id, SHELL_TEXT_CHARS, run_id],
    )
    found = []
    for row in short:
        try:
            body = open_record(archive, row).body
        except Exception:  # noqa: BLE001 - an unreadable record is verify's to report, not this note's
            continue
        if SCRIPT_TAG.search(body):
            found.append(row["url"])
    return found
