"""CSS for reporters: the search box first on table pages, and the reader's own pages.

Datasette 0.65 lists every column's description above a table's rows; with
the descriptions metadata.yml gives each column, that pushed the search box
below the fold. They stay on the page, in a short scrolling box.

Templates are read once: Jinja otherwise checks every template file's
modification time each time a page uses it (3% of the server's time under
load). Restart the server after editing a template.
"""

import re

from datasette import hookimpl
from datasette.utils.asgi import Response
from markupsafe import Markup, escape

CSS = """
dl.column-descriptions { max-height: 7.5em; overflow-y: auto; columns: 2; column-gap: 2em;
  font-size: 0.85em; border: 1px solid #ccd; border-radius: 4px; padding: 0.4em 0.8em; }
dl.column-descriptions dt { font-weight: bold; break-after: avoid; }
dl.column-descriptions dd { margin: 0 0 0.4em 0.8em; break-inside: avoid; }
table.rows-and-columns td.col-text { min-width: 24em; }
/* The reader's pages: front page, search, capture and document pages, browse pages. */
form.spyglass-search { margin: 1em 0 1.5em; max-width: 48em; }
form.spyglass-search label { font-weight: bold; display: block; width: auto; margin-bottom: 0.3em; }
.spyglass-inline-form label { width: auto; } .spyglass-inline-form input[type=text], .spyglass-inline-form input[type=url] { width: 16em; }
.spyglass-search-row { display: flex; gap: 0.5em; }
.spyglass-search-row input[type=search] { flex: 1; font-size: 1.2em; padding: 0.35em 0.5em; }
.spyglass-search-row input[type=submit] { font-size: 1.1em; }
.spyglass-hint { color: #556; font-size: 0.85em; margin: 0.3em 0; }
.spyglass-questions { display: grid; grid-template-columns: repeat(auto-fit, minmax(22em, 1fr)); gap: 1em; }
.spyglass-questions section { border: 1px solid #ccd; border-radius: 6px; padding: 0.4em 1em 0.8em; }
.spyglass-questions h3 { margin-top: 0.4em; }
ul.compact { padding-left: 1.2em; margin: 0.4em 0; } ul.compact li { margin: 0.15em 0; }
.spyglass-inline-form label { display: inline-block; margin: 0.2em 0.6em 0.2em 0; }
dl.spyglass-tables dt { font-weight: bold; margin-top: 0.5em; } dl.spyglass-tables dd { margin-left: 1em; color: #334; }
article.result { border-bottom: 1px solid #e3e3ea; padding: 0.3em 0 0.6em; max-width: 60em; }
article.result h3 { margin: 0.3em 0 0.1em; font-size: 1.05em; }
.result-meta, .page-url { color: #445; font-size: 0.9em; overflow-wrap: anywhere; }
.snippet { overflow-wrap: anywhere; } mark { background: #ffe38a; padding: 0 0.1em; }
.snippet.removed span { color: #8b1a1a; font-weight: bold; } .snippet.added span { color: #1a5e20; font-weight: bold; }
ul.captures, ul.pages { margin: 0.2em 0; padding-left: 1.2em; font-size: 0.92em; }
.phrase-event { color: #c0392b; }
.spyglass-doc { max-width: 60em; }
.spyglass-doc dl.facts { display: grid; grid-template-columns: max-content auto; gap: 0.2em 1em; }
.spyglass-doc dl.facts dt { font-weight: bold; } .spyglass-doc dl.facts dd { margin: 0; overflow-wrap: anywhere; }
.spyglass-cite textarea { width: 100%; max-width: 60em; font-family: monospace; font-size: 0.9em; }
.spyglass-actions a, .spyglass-actions button { margin-right: 0.8em; }
.spyglass-doc .page-text { white-space: pre-wrap; border-left: 3px solid #ccd; padding-left: 0.8em; }
table.spyglass-list td, table.spyglass-list th { padding: 0.25em 0.6em; vertical-align: top; text-align: left; }
table.spyglass-fields th { text-align: right; color: #334; white-space: nowrap; }
table.spyglass-fields td { overflow-wrap: anywhere; max-width: 60em; }
tr.this-version td { background: #eef5ff; }
ul.json-list { margin: 0; padding-left: 1.1em; }
dl.verify-checks dd { padding: 0.15em 0.5em; border-left: 4px solid #ccd; }
dd.check-ok { border-left-color: #2e7d32; } dd.check-failed { border-left-color: #c62828; background: #fdecea; }
dd.check-skipped { border-left-color: #9e9e9e; color: #445; }
/* A document's page: its image (rendered from the archived PDF) beside its text, mentions marked. */
.page-pair { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 1em; align-items: start; }
.page-pair:not(:has(.page-image)) { grid-template-columns: 1fr; }
.page-image img { display: block; width: 100%; border: 1px solid #ccd; box-shadow: 0 1px 3px #0002; background: white; }
/* The mentions drawn on the page image: an SVG in the image's own pixels, laid over its content box. */
.page-image { position: relative; display: block; }
svg.mention-boxes { position: absolute; inset: 1px; width: calc(100% - 2px); height: calc(100% - 2px); pointer-events: none; }
rect.mention-box { fill: #ffd400; fill-opacity: 0.35; stroke: #d9a400; stroke-width: 2; }
mark.mention { background: #ffe38a; outline: 1px solid #d9a400; }
.spyglass-doc.spyglass-document { max-width: 90em; }
/* Values that must not break mid-value: dates, hashes (their whole value is on hover). */
time.when, span.hash { white-space: nowrap; } span.hash code { font-size: 0.9em; }
button.copy-hash { font-size: 0.75em; margin-left: 0.3em; padding: 0 0.3em; }
details.spyglass-sql summary { cursor: pointer; color: #445; }
.verdict-ok { color: #2e7d32; } .verdict-failed { color: #c62828; }
"""
CODE_SPAN = re.compile(r"`([^`]+)`")


def code_spans(text: object) -> Markup:
    """Text written for a terminal (`spyglass verify`) with its backticked commands as <code>, escaped."""
    return Markup(CODE_SPAN.sub(r"<code>\1</code>", str(escape(str(text)))))


async def style_css(request):
    return Response(CSS, content_type="text/css; charset=utf-8", headers={"Cache-Control": "max-age=3600"})


@hookimpl
def startup(datasette):
    datasette.jinja_env.auto_reload = False
    datasette.jinja_env.filters["code_spans"] = code_spans


@hookimpl
def register_routes():
    return [(r"^/-/spyglass/style\.css$", style_css)]


@hookimpl
def extra_css_urls():
    return ["/-/spyglass/style.css"]
