"""Datasette plugin: a records request's row page shows its whole lineage.

`/spyglass/releases/ID` keeps its URL and its JSON; the template
row-spyglass-releases.html shows the request (its citation by the human
page, the API record as provenance, its status history), then each
communication with the files it delivered, each file's document, pages and
mentions, each with its capture (archive date, SHA-256) and citation. The data
comes from archive/publish/lineage.py.
"""

from __future__ import annotations

from typing import Any

from datasette import hookimpl
from datasette.utils import tilde_decode

from archive.publish.lineage import capture_line, request_lineage
from archive.publish.paths import DATABASE


@hookimpl
def extra_template_vars(view_name, table, database, request, datasette):
    """The request's lineage, for its row template."""
    if view_name != "row" or database != DATABASE or table != "releases" or request is None:
        return None
    value = tilde_decode((request.url_vars or {}).get("pks", ""))
    if not value.isdigit() or int(value) >= 2**63:
        return None
    db = datasette.get_database(DATABASE)

    async def inner() -> dict[str, Any]:
        found = await db.execute_fn(lambda conn: request_lineage(conn, int(value)))
        return {"lineage": found, "capture_line": capture_line}

    return inner


@hookimpl
def extra_js_urls(view_name, table, database, datasette):
    """The copy button's script (served by spyglass_front)."""
    if view_name == "row" and database == DATABASE and table == "releases":
        return [{"url": datasette.urls.path("/-/spyglass/copy.js"), "module": True}]
    return None
