"""The rows a Datasette table page is drawing, so that cells can fetch what they show for all of them at once.

Datasette draws a table page's cells one at a time, and a cell that needs a
query (a capture's citation) would otherwise send one to the thread pool per
row: 50 trips for a page, each waiting behind other pages' queries under load.
datasette/plugins/spyglass_columns.py sets DRAWING around the table view's
cell drawing; a cell's plugin asks `Drawing.once` for its whole page's data.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any


class Drawing:
    """One table page's rows, and what its cells fetched for them (once each)."""

    def __init__(self, database: str, table: str, rows: list[Any]) -> None:
        self.database = database
        self.table = table
        self.rows = rows
        self._fetched: dict[str, asyncio.Future] = {}

    async def once(self, key: str, fetch: Callable[[], Awaitable[Any]]) -> Any:
        """`fetch()`'s result, fetched for the first cell that asks and shared by the rest."""
        if key not in self._fetched:
            self._fetched[key] = asyncio.ensure_future(fetch())
        return await self._fetched[key]


DRAWING: ContextVar[Drawing | None] = ContextVar("spyglass_drawing", default=None)
