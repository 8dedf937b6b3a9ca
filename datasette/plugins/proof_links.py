"""Links from the agency_products view to the rows that prove each mention.

A SQL view has no foreign keys, so Datasette shows its document_page_id and
capture_id as bare numbers; this turns them into links to the document page
or the capture, the evidence a reporter or lawyer opens next.
"""

from __future__ import annotations

from datasette import hookimpl
from markupsafe import Markup, escape

TARGETS = {"document_page_id": "document_pages", "capture_id": "captures"}


@hookimpl
def render_cell(value, column, table, database, datasette):
    if table != "agency_products" or column not in TARGETS or value in (None, ""):
        return None
    path = datasette.urls.table(database, TARGETS[column]) + f"/{int(value)}"
    return Markup(f'<a href="{escape(path)}">{escape(TARGETS[column])}/{int(value)}</a>')
