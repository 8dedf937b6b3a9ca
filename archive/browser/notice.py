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


def script_shells(archive: Archive, index: Any, run_id: int) -> list[str]:
    """URLs of the HTML pages crawl run `run_id` captured whose HTML carries scripts but almost no text.

    Only the pages with almost no text are read back from their WARC records,
    so the check costs little on a run of ordinary pages.
    """
    short = rows(
        index.conn,
        "SELECT url, warc_filename, warc_offset FROM captures WHERE crawl_run = ? AND via = 'live' "
        "AND status = 200 AND warc_type = 'response' AND requisite IS NULL "
        "AND lower(content_type) LIKE '%html%' AND length(coalesce(text, '')) < ? ORDER BY id",
        [run_id, SHELL_TEXT_CHARS],
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
