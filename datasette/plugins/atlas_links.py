"""Links between the Atlas of Surveillance tables and the rest of the archive, where SQL views cannot carry them.

Views have no foreign keys, so Datasette shows their ids as bare numbers and
names as plain text. This makes an agency's name open everything Spyglass
holds about it (the `about_agency` query), a vendor's name open the agencies
the Atlas lists for it, and ids and `table/ID` references open their rows.
Every value is escaped.
"""

from __future__ import annotations

import re
from urllib.parse import urlencode

from datasette import hookimpl
from markupsafe import Markup, escape

DATABASE = "spyglass"
AGENCY_TABLES = {"atlas_agencies", "atlas_agency_records", "atlas_agency_vendors", "agency_evidence"}
VENDOR_TABLES = {"atlas_agency_vendors", "atlas_row_vendors"}
# Canned queries have no table: theirs are known by a column of their own
# (atlas_pairs' `held`, about_agency's `spyglass_row`).
QUERY_COLUMNS = {"held", "spyglass_row"}
ID_COLUMNS = {
    ("atlas_link_evidence", "capture_id"): "captures",
    ("atlas_link_evidence", "row_id"): "atlas_rows",
    ("atlas_link_evidence", "link_id"): "atlas_links",
    ("atlas_agency_vendors", "agency_id"): "atlas_agencies",
    ("atlas_agency_records", "agency_id"): "atlas_agencies",
}
ROW_REFERENCE = re.compile(r"^(atlas_rows|releases|document_pages|captures)/(\d+)$")


def _link(href: str, text: str) -> Markup:
    return Markup(f'<a href="{escape(href)}">{escape(text)}</a>')


def _from_query(row) -> bool:
    try:
        return bool(QUERY_COLUMNS & set(row.keys()))
    except (AttributeError, TypeError):
        return False


@hookimpl
def render_cell(row, value, column, table, database, datasette):
    if database != DATABASE or value in (None, ""):
        return None
    in_query = table is None and _from_query(row)
    if column == "spyglass_row" and isinstance(value, str):
        found = ROW_REFERENCE.match(value)
        if found:
            return _link(f"{datasette.urls.table(database, found[1])}/{found[2]}", value)
    target = ID_COLUMNS.get((table, column))
    if target is not None or (in_query and column == "agency_id"):
        return _link(f"{datasette.urls.table(database, target or 'atlas_agencies')}/{int(value)}", str(value))
    if column == "agency" and (table in AGENCY_TABLES or in_query):
        return _link(
            f"{datasette.urls.database(database)}/about_agency?{urlencode({'agency': value})}", str(value)
        )
    if column == "vendor" and (table in VENDOR_TABLES or in_query):
        return _link(
            f"{datasette.urls.table(database, 'atlas_agency_vendors')}?{urlencode({'vendor': value})}",
            str(value),
        )
    return None
