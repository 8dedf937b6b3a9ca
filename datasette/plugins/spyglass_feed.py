"""Datasette plugin: an `.atom` output for any query with atom_* columns (Datasette's output renderers).

It takes the column convention of the datasette-atom plugin (atom_id,
atom_title, atom_updated required; atom_content, atom_link,
atom_author_name optional), so the canned feed queries would work with it
too, but datasette-atom 0.9 (tested with Datasette 0.65.5) fails on a query
with no rows (`max()` of nothing: a phrase feed with no changes yet is a
500), and sanitises HTML through bleach, which Spyglass does not need: the
feed carries text only (type="text"), which readers never run. Relative
atom_link values are made absolute against the request.
"""

from __future__ import annotations

from urllib.parse import urljoin
from xml.etree import ElementTree as ET

from datasette import __version__, hookimpl
from datasette.utils.asgi import Response

ATOM = "http://www.w3.org/2005/Atom"
REQUIRED = {"atom_id", "atom_title", "atom_updated"}
# Used when no entry gives a time: the feed's <updated> is required.
EPOCH = "1970-01-01T00:00:00Z"


def _text(parent: ET.Element, tag: str, value: str, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attrs)
    element.text = value
    return element


def _title(datasette, database: str, query_name: str | None, table: str | None, request) -> str:
    if request.args.get("_feed_title"):
        return request.args["_feed_title"]
    if query_name:
        queries = (datasette.metadata(database=database) or {}).get("queries") or {}
        config = queries.get(query_name) or {}
        title = config.get("title") or query_name
        chosen = [
            f"{k} {request.args[k]}" for k in request.args.keys() if not k.startswith("_") and request.args[k]
        ]
        return title + (f" ({', '.join(chosen)})" if chosen else "")
    return table or "Query results"


def render_atom(datasette, request, database, table, query_name, columns, rows):
    """The rows as an Atom 1.0 feed (RFC 4287), in the order the query gave them."""
    if not REQUIRED <= set(columns):
        return Response.text(f"an Atom feed needs the columns {', '.join(sorted(REQUIRED))}", status=400)
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed")
    _text(feed, "title", _title(datasette, database, query_name, table, request))
    _text(feed, "id", request.url)
    ET.SubElement(feed, f"{{{ATOM}}}link", {"rel": "self", "href": request.url})
    _text(feed, "updated", max((str(r["atom_updated"]) for r in rows), default=EPOCH))
    author = ET.SubElement(feed, f"{{{ATOM}}}author")
    _text(author, "name", "Spyglass")
    _text(feed, "generator", "Datasette", uri="https://datasette.io/", version=__version__)
    for row in rows:
        entry = ET.SubElement(feed, f"{{{ATOM}}}entry")
        _text(entry, "id", str(row["atom_id"]))
        _text(entry, "title", str(row["atom_title"]))
        _text(entry, "updated", str(row["atom_updated"]))
        if "atom_author_name" in columns and row["atom_author_name"]:
            _text(ET.SubElement(entry, f"{{{ATOM}}}author"), "name", str(row["atom_author_name"]))
        if "atom_link" in columns and row["atom_link"]:
            ET.SubElement(
                entry,
                f"{{{ATOM}}}link",
                {"rel": "alternate", "href": urljoin(request.url, str(row["atom_link"]))},
            )
        if "atom_content" in columns and row["atom_content"] is not None:
            _text(entry, "content", str(row["atom_content"]), type="text")
    body = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return Response(body, content_type="application/atom+xml; charset=utf-8")


def can_render_atom(columns):
    return REQUIRED <= set(columns)


@hookimpl
def register_output_renderer(datasette):
    return {"extension": "atom", "render": render_atom, "can_render": can_render_atom}
