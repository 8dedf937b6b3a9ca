"""A browser load's rendered page as a capture: its DOM record's headers and the one row it makes.

The browser pass (archive/browser/record.py) writes the DOM after scripts as a
`resource` record and indexes it at once; recovery after a crash
(archive/ingest/reconcile.py) finds such a record without a row and indexes
it. Both build the row here, from what the record itself holds, so a page
recovered after a SIGKILL has the same capture (its text the rendered text)
as one indexed in the normal way.
"""

from __future__ import annotations

from typing import Any

from archive.index.capture_row import CaptureRow
from archive.text.extract import text_columns
from archive.warc.read import StoredRecord
from archive.warc.write import RecordLocation

VIA = "browser"
RENDERED_TYPE = "text/html; charset=utf-8"
CAPTURED_BY = "WARC-Spyglass-Captured-By"
CAPTURED_BY_DOM = "browser DOM after scripts ran (document.documentElement.outerHTML)"
# The HTTP status the page's navigation ended with: the row's status, kept in the record so
# recovery need not guess it from a redirect chain.
PAGE_STATUS = "WARC-Spyglass-Page-Status"
# On each response a browser received for a page other than the page itself: that page,
# its row's referrer, so recovery can name it as the pass does.
LOADED_FOR = "WARC-Spyglass-Loaded-For"


def rendered_headers(
    browser: str, url: str, page_record_id: str | None, status: int | None
) -> dict[str, str]:
    """The WARC headers of a DOM record: who made it, the page response it refers to, the page's status."""
    headers = {CAPTURED_BY: f"{CAPTURED_BY_DOM}; {browser}"}
    if page_record_id is not None:
        headers["WARC-Refers-To"] = page_record_id
        headers["WARC-Refers-To-Target-URI"] = url
    if status is not None:
        headers[PAGE_STATUS] = str(status)
    return headers


def is_rendered(record: StoredRecord) -> bool:
    """Whether `record` is a browser's rendered DOM (not a screenshot or an imported file)."""
    return record.warc_type == "resource" and record.headers.get(CAPTURED_BY, "").startswith(CAPTURED_BY_DOM)


def rendered_row(location: RecordLocation, dom: bytes, **columns: Any) -> dict[str, Any]:
    """The capture row of the DOM record at `location`: its title and text are the rendered page's
    (url, captured_at, status, refers_to, source, run and tags given in `columns`)."""
    row = CaptureRow.from_location(location, via=VIA, content_type=RENDERED_TYPE, **columns).columns()
    row.update(text_columns(RENDERED_TYPE, dom))
    return row


def recorded_status(record: StoredRecord) -> int | None:
    """The page's status as its DOM record names it (None in records written before it did)."""
    value = record.headers.get(PAGE_STATUS)
    return int(value) if value and value.isdigit() else None
