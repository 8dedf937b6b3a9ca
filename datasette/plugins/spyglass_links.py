"""Datasette plugin: tables a reporter can follow. Every id a link, archived URLs open the archived copy, JSON as lists.

- a URL of something archived (a capture's URL and page, a document's file,
  a release's page, a mention's proof, a sighting's page...) opens the
  archived copy, with the live URL offered beside it;
- ids link to their rows: foreign keys on row pages too (Datasette 0.65
  links them only on table pages), and the ids of canned queries, which have
  no foreign keys (document, page, release and change ids; a search row's id);
- vendor, product and agency names open their browse pages;
- JSON columns (crawl_runs.warc_files, sources.urls, ...) are shown as lists.

Other plugins own some cells (spyglass_evidence: captures.sha256;
spyglass_history: capture ids in history tables and queries, versions' and
changes' pages; atlas_links: the Atlas views' names and ids;
proof_links: agency_products' ids); this one leaves those alone.
Every value is escaped.
"""

from __future__ import annotations

import json
from typing import Any

from datasette import hookimpl
from markupsafe import Markup, escape

from archive.index.asof import fetch_label
from archive.publish.paths import DATABASE, Paths

JSON_COLUMNS = {
    ("crawl_runs", "warc_files"),
    ("sources", "urls"),
    ("sources", "aliases"),
    ("sources", "config"),
    ("atlas_imports", "skipped_rows"),
    ("atlas_imports", "extra_columns"),
    ("atlas_rows", "extra"),
}
# (table, column) -> the row's column naming the capture that holds what the URL names.
ARCHIVED_URLS = {
    ("captures", "url"): "id",
    ("captures", "page_url"): "id",
    ("captures", "original_url"): "id",
    ("documents", "file_url"): "capture_id",
    ("documents", "cite_url"): "capture_id",
    ("releases", "page_url"): "capture_id",
    ("page_sightings", "page_url"): "capture_id",
    ("save_requests", "url"): "capture_id",
    ("mentions", "proof_url"): "capture_id",
    ("atlas_link_evidence", "url"): "capture_id",
    ("atlas_link_evidence", "original_url"): "capture_id",
}
# Ids in canned queries (no foreign keys there), by column name.
QUERY_IDS = {"document_id": "documents", "document_page_id": "document_pages", "release_id": "releases"}
NAME_COLUMNS = {"vendor", "product", "agency"}
# Tables whose names other plugins link (atlas_links) or that hold no names of ours.
NAMES_ELSEWHERE = {
    "atlas_agencies",
    "atlas_agency_records",
    "atlas_agency_vendors",
    "agency_evidence",
    "atlas_row_vendors",
    "atlas_rows",
    "atlas_link_evidence",
}
OWNED_ELSEWHERE = {
    ("captures", "sha256"),
    ("document_pages", "page_number"),
    ("agency_products", "document_page_id"),
    ("agency_products", "capture_id"),
}
_FOREIGN_KEYS: dict[str, dict[str, str]] = {}


_LAST_ROW: list[Any] = [None, {}]  # the row whose cells are being drawn, and its dict


def _row(row: Any) -> dict[str, Any]:
    """The row as a dict, built once for all its cells (Datasette draws a row's cells in turn,
    on the event loop; a table page of 100 rows and 25 columns asked for it 2,500 times)."""
    if _LAST_ROW[0] is row:
        return _LAST_ROW[1]
    try:
        data = {key: row[key] for key in row.keys()}
    except (AttributeError, TypeError, IndexError):
        data = {}
    _LAST_ROW[:] = [row, data]
    return data


def _a(href: str, text: Any, cls: str = "") -> Markup:
    extra = f' class="{cls}"' if cls else ""
    rel = ' rel="noreferrer"' if href.startswith(("http://", "https://")) else ""
    return Markup(f'<a href="{escape(href)}"{extra}{rel}>{escape(str(text))}</a>')


def archived_link(paths: Paths, url: str, capture_id: Any) -> Markup:
    """The URL opening its archived copy, and the live URL beside it."""
    live = _a(url, "live", "live-url") if url.startswith(("http://", "https://")) else ""
    # Both parts are escaped already: Markup.format would escape-check them again, slowly (a cell each row).
    return Markup(f"{_a(paths.replay(capture_id), url, 'archived-url')} <small>({live})</small>")


def json_cell(value: Any) -> Markup | None:
    """A JSON list as a list (URLs linked, live), an object as indented JSON; None if not JSON."""
    try:
        data = json.loads(value) if isinstance(value, str) else None
    except ValueError:
        return None
    if isinstance(data, list):
        items = [
            _a(v, v)
            if isinstance(v, str) and v.startswith(("http://", "https://"))
            else escape(v if isinstance(v, str) else json.dumps(v, ensure_ascii=False))
            for v in data
        ]
        return (
            Markup('<ul class="json-list">{}</ul>').format(
                Markup("").join(Markup("<li>{}</li>").format(i) for i in items)
            )
            if items
            else Markup("(none)")
        )
    if isinstance(data, dict):
        return Markup("<pre>{}</pre>").format(json.dumps(data, indent=2, ensure_ascii=False))
    return None


async def _foreign_keys(datasette, table: str) -> dict[str, str]:
    if table not in _FOREIGN_KEYS:
        db = datasette.get_database(DATABASE)
        found = await db.foreign_keys_for_table(table) if await db.table_exists(table) else []
        _FOREIGN_KEYS[table] = {fk["column"]: fk["other_table"] for fk in found}
    return _FOREIGN_KEYS[table]


def _query_cell(paths: Paths, data: dict[str, Any], column: str, value: Any) -> Markup | None:
    """Cells of canned queries, known by their own columns."""
    if column in QUERY_IDS and str(value).isdigit():
        return _a(paths.row(QUERY_IDS[column], value), value)
    if column == "change_id" and str(value).isdigit():
        return _a(paths.diff(value), f"{value} (diff)")
    is_capture_search = {"id", "page_url", "fetched_at", "snippet"} <= set(data)
    if is_capture_search and column == "id":
        return _a(paths.capture(value), value)
    if is_capture_search and column == "page_url":
        return archived_link(paths, str(value), data["id"])
    if column == "page_url" and data.get("document_id") is not None and data.get("document_page_id"):
        return _with_live(paths.row("document_pages", data["document_page_id"]), value)
    return None


def _name_cell(paths: Paths, table: str | None, data: dict[str, Any], column: str, value: Any):
    if column not in NAME_COLUMNS or table in NAMES_ELSEWHERE:
        return None
    if table is None and {"held", "spyglass_row"} & set(data):
        return None  # atlas_links' queries
    return _a(paths.browse(column, str(value)), value)


def _plain(value: Any) -> Any:
    """A cell's own value: the table view expands foreign keys to {"value": ..., "label": ...}."""
    return value["value"] if isinstance(value, dict) and "value" in value else value


def _with_live(href: str, value: Any) -> Markup:
    """`value` opening our copy at `href`, the live URL beside it."""
    return Markup(f"{_a(href, value, 'archived-url')} <small>({_a(str(value), 'live', 'live-url')})</small>")


def _archived_cell(paths: Paths, table: str | None, data: dict[str, Any], column: str, value: Any):
    if table == "mentions" and column == "proof_url" and data.get("document_id") not in (None, ""):
        return _with_live(paths.document(_plain(data["document_id"]), data.get("page_number")), value)
    if (
        table == "agency_products"
        and column == "proof_url"
        and data.get("document_page_id") not in (None, "")
    ):
        return _with_live(paths.row("document_pages", _plain(data["document_page_id"])), value)
    if table == "agency_products" and column == "proof_url" and data.get("capture_id") not in (None, ""):
        return archived_link(paths, str(value), _plain(data["capture_id"]))
    holder = ARCHIVED_URLS.get((table, column))
    fetched_from = fetch_label(data) if (table, column) == ("captures", "url") else None
    if fetched_from and data.get("id") not in (None, "") and isinstance(value, str):
        # A memento's fetch address (/web/<ts>id_/...): what it is, and never offered as the live page.
        return Markup('<small class="fetched-from">{}</small> {}').format(
            fetched_from, _a(paths.replay(_plain(data["id"])), value, "archived-url fetch-url")
        )
    if holder and data.get(holder) not in (None, "") and isinstance(value, str):
        return archived_link(paths, value, _plain(data[holder]))
    return None


@hookimpl
def render_cell(row, value, column, table, database, datasette):
    if database != DATABASE or value in (None, "") or (table, column) in OWNED_ELSEWHERE:
        return None
    paths = Paths(datasette.urls.path)
    data = _row(row)
    if (table, column) in JSON_COLUMNS:
        return json_cell(value)
    found = _archived_cell(paths, table, data, column, value)
    if found is None and table is None:
        found = _query_cell(paths, data, column, value)
    if found is None and table == "agency_products" and column in ("mentions", "documents"):
        # The view names the first mention; this opens every one of them.
        found = _a(paths.table("mentions", agency=data.get("agency"), product=data.get("product")), value)
    if found is None:
        found = _name_cell(paths, table, data, column, value)
    if found is not None or table is None or isinstance(data.get(column), dict):
        return found  # a dict: the table view already links this foreign key, with its label
    if table in _FOREIGN_KEYS:
        target = _FOREIGN_KEYS[table].get(column)
        return _a(paths.row(target, value), value) if target else None

    async def foreign_key():
        target = (await _foreign_keys(datasette, table)).get(column)
        return _a(paths.row(target, value), value) if target else None

    return foreign_key
