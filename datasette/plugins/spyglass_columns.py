"""Datasette plugin: a table page shows its default columns, and only those are drawn.

Tables name the columns their HTML page shows first, in order (metadata.yml:
`plugins: spyglass: columns:`), until the reader chooses columns (`_col`,
`_nocol`) or asks for all of them (`_columns=all`). JSON and CSV keep every
column.

Datasette 0.65 draws every cell of `select *` through each plugin's
render_cell before the template can hide a column: 37 columns of 50 captures
are 1,850 cells, most of a table page's time and the slowest page reporters
opened under load. So the table view's cell drawing (`display_columns_and_rows`)
is given only the shown columns, in their order. The query still reads the
other columns, because cells need columns they do not show (a URL's archived
copy is found by the row's id, a capture's citation by its WARC record),
except the long ones a table names as `long_columns` (a page's extracted
text, a change's passages: 15 of the 20 ms of a captures search's rows).
Neither is done by putting `_col` in the URL, which would carry into the
page's pagination, sort and export links. No Datasette hook reaches these
steps, hence the wraps; on a Datasette without them every column is read and
drawn, as before.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any
from urllib.parse import parse_qs

from datasette import hookimpl
from datasette.utils import tilde_decode
from datasette.utils.asgi import MultiParams

from archive.publish.drawing import DRAWING, Drawing
from archive.publish.paths import DATABASE

# The query arguments of the request being answered: the cell-drawing step is not given the request.
_ARGS: ContextVar[MultiParams | None] = ContextVar("spyglass_request_args", default=None)


def _config(datasette: Any, database: str, table: str) -> dict[str, Any]:
    return datasette.plugin_config("spyglass", database=database, table=table) or {}


def default_columns(datasette: Any, database: str, table: str | None, args: MultiParams | None) -> list[str]:
    """The columns a table page shows first, in order; none when the reader chose columns or asked for all."""
    if database != DATABASE or table is None or args is None:
        return []
    if "_col" in args or "_nocol" in args or "all" in args.getlist("_columns"):
        return []
    return list(_config(datasette, database, table).get("columns") or [])


def unread_columns(datasette: Any, database: str, table: str, args: MultiParams) -> set[str]:
    """Long columns the HTML table page need not read: not shown and not sorted by."""
    shown = default_columns(datasette, database, table, args)
    if not shown:
        return set()
    metadata = datasette.table_metadata(database, table)
    sorted_by = {args.get("_sort"), args.get("_sort_desc"), metadata.get("sort"), metadata.get("sort_desc")}
    return set(_config(datasette, database, table).get("long_columns") or []) - set(shown) - sorted_by


class ShownRow:
    """A row that yields only the shown columns' values, in their order, and still answers any
    column by name: render_cell plugins read columns that are not shown."""

    __slots__ = ("_row", "_at")

    def __init__(self, row: Any, at: list[int]) -> None:
        self._row = row
        self._at = at

    def __iter__(self) -> Any:
        return (self._row[i] for i in self._at)

    def __len__(self) -> int:
        return len(self._at)

    def __getitem__(self, key: Any) -> Any:
        return self._row[self._at[key]] if isinstance(key, int) else self._row[key]

    def keys(self) -> Any:
        return self._row.keys()


def shown_only(description: Any, rows: list[Any], shown: list[str]) -> tuple[list[Any], list[Any]]:
    """The description and rows narrowed to `shown` (names the query lacks are skipped)."""
    position = {column[0]: i for i, column in enumerate(description)}
    at = [position[name] for name in shown if name in position]
    if not at:
        return list(description), rows
    return [description[i] for i in at], [ShownRow(row, at) for row in rows]


# The wrapped steps, set when the table view is wrapped (startup, below).
_SELECT: Any = None
_DRAW: Any = None


async def _select_unread_left_out(self, table_columns, pks, request):
    columns = await _SELECT(self, table_columns, pks, request)
    if request.url_vars.get("format") or "table" not in request.url_vars:
        return columns  # JSON, CSV and other renderers get every column
    database = self.ds.get_database(route=request.url_vars["database"]).name
    unread = unread_columns(self.ds, database, tilde_decode(request.url_vars["table"]), request.args)
    return [c for c in columns if c not in unread] if unread else columns


async def _draw_shown(datasette, database_name, table_name, description, rows, *args, **kwargs):
    shown = default_columns(datasette, database_name, table_name, _ARGS.get())
    if shown:
        description, rows = shown_only(description, rows, shown)
    drawing = DRAWING.set(Drawing(database_name, table_name, rows))  # cells may fetch for the whole page
    try:
        return await _DRAW(datasette, database_name, table_name, description, rows, *args, **kwargs)
    finally:
        DRAWING.reset(drawing)


@hookimpl
def startup(datasette):
    """Wrap the table view's steps once. Not at import: Datasette loads entry-point plugins while
    its views module is still being imported, so importing the table view here would be circular."""
    global _SELECT, _DRAW
    import datasette.views.table as table_view

    select = getattr(getattr(table_view, "TableView", None), "columns_to_select", None)
    if select is not None and not getattr(select, "spyglass_wrapped", False):
        _SELECT = select
        _select_unread_left_out.spyglass_wrapped = True  # type: ignore[attr-defined]
        table_view.TableView.columns_to_select = _select_unread_left_out
    draw = getattr(table_view, "display_columns_and_rows", None)
    if draw is not None and not getattr(draw, "spyglass_wrapped", False):
        _DRAW = draw
        _draw_shown.spyglass_wrapped = True  # type: ignore[attr-defined]
        table_view.display_columns_and_rows = _draw_shown


@hookimpl
def asgi_wrapper(datasette):
    def wrap(app):
        async def with_args(scope, receive, send):
            if scope["type"] == "http":
                _ARGS.set(
                    MultiParams(
                        parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
                    )
                )
            return await app(scope, receive, send)

        return with_args

    return wrap


@hookimpl
def extra_template_vars(view_name, table, database, columns, request, datasette):
    """What the page says about its columns: how many of how many, and the link to all of them."""
    if view_name != "table" or request is None or _DRAW is None:
        return None
    shown = [c for c in default_columns(datasette, database, table, request.args) if c in (columns or [])]
    if not shown:
        return None

    async def say():
        every = await datasette.get_database(database).table_columns(table)
        link = (
            request.path + "?" + (request.query_string + "&" if request.query_string else "") + "_columns=all"
        )
        return {
            "spyglass_columns_shown": len(shown),
            "spyglass_columns_total": len(every),
            "spyglass_all_columns": link,
        }

    return say
