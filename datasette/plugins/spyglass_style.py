"""A little CSS so reporters reach the search box first.

Datasette 0.65 lists every column's description above a table's rows; with
the descriptions metadata.yml gives each column, that pushed the search box
below the fold. They stay on the page, in a short scrolling box.
"""

from datasette import hookimpl
from datasette.utils.asgi import Response

CSS = """
dl.column-descriptions { max-height: 7.5em; overflow-y: auto; columns: 2; column-gap: 2em;
  font-size: 0.85em; border: 1px solid #ccd; border-radius: 4px; padding: 0.4em 0.8em; }
dl.column-descriptions dt { font-weight: bold; break-after: avoid; }
dl.column-descriptions dd { margin: 0 0 0.4em 0.8em; break-inside: avoid; }
table.rows-and-columns td.col-text { min-width: 24em; }
"""


async def style_css(request):
    return Response(CSS, content_type="text/css; charset=utf-8",
                    headers={"Cache-Control": "max-age=3600"})


@hookimpl
def register_routes():
    return [(r"^/-/spyglass/style\.css$", style_css)]


@hookimpl
def extra_css_urls():
    return ["/-/spyglass/style.css"]
