"""Datasette plugin: tables of the spyglass database drawn for people.

- dates as people write them and hashes shortened with a copy control
  (archive/publish/cells.py); tried last, so other plugins' links to rows,
  copies and citations come first, and a cell it does not recognise is left
  to Datasette. Exports (JSON, CSV) keep the exact values.
- `/-/spyglass/tables.js`: the hash's copy button, and a table's SQL
  definition folded into a "details" at the page's foot. Served, not
  inline, because the pages' CSP allows no inline script; without
  JavaScript the hash stays in its hover title and the SQL stays open.
"""

from __future__ import annotations

from datasette import hookimpl
from datasette.utils.asgi import Response

from archive.publish.cells import hash_cell, when_cell
from archive.publish.paths import DATABASE

TABLES_JS = """
document.querySelectorAll("button[data-copy-text]").forEach(function (button) {
  button.hidden = false;
  button.addEventListener("click", function () {
    var text = button.getAttribute("data-copy-text");
    var done = function () { button.textContent = "copied"; };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done);
      return;
    }
    var box = document.createElement("textarea");
    box.value = text;
    document.body.appendChild(box);
    box.select();
    if (document.execCommand("copy")) { done(); }
    box.remove();
  });
});
document.querySelectorAll("pre.wrapped-sql").forEach(function (pre) {
  var fold = document.createElement("details");
  var summary = document.createElement("summary");
  fold.className = "spyglass-sql";
  summary.textContent = "SQL definition";
  pre.replaceWith(fold);
  fold.append(summary, pre);
});
"""


@hookimpl(trylast=True)
def render_cell(value, column, table, database, datasette):
    if database != DATABASE or not isinstance(value, str) or len(value) > 80:
        return None
    return when_cell(value) or hash_cell(value)


async def tables_js(request) -> Response:
    return Response(
        TABLES_JS,
        content_type="text/javascript; charset=utf-8",
        headers={"Cache-Control": "max-age=3600"},
    )


@hookimpl
def register_routes():
    return [(r"^/-/spyglass/tables\.js$", tables_js)]


@hookimpl
def extra_js_urls(database, datasette):
    """The script above, on the archive's table, row and query pages."""
    if database == DATABASE:
        return [{"url": datasette.urls.path("/-/spyglass/tables.js"), "module": True}]
    return None
