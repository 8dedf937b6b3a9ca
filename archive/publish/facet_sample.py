"""A table page's facet sample held in memory, so its facets count it without a trip to a query thread.

datasette/plugins/spyglass_counts.py reads the newest `count_sample` rows'
faceted columns once; Datasette's own facet classes then count them. Each
facet used to be a query of its own over that copy sent as JSON: seven trips to
the query threads a captures page, each parsing the whole copy again (10 of
the page's 70 ms of CPU, and a wait for a thread each on a busy server). Here
the copy is one small in-memory table the facets' SQL runs against at once,
under the same time limit Datasette gives facets.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from datasette.database import QueryInterrupted, Results
from datasette.utils import escape_sqlite, sqlite_timelimit

TABLE = "spyglass_sample"


class FacetSample:
    """Rows of some columns in a private in-memory SQLite table; `sql` selects them all."""

    def __init__(self, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        self.sql = f"select * from {TABLE}"
        self._conn = sqlite3.connect(":memory:")
        self._conn.row_factory = sqlite3.Row
        names = ", ".join(escape_sqlite(c) for c in columns)
        marks = ", ".join("?" for _ in columns)
        self._conn.execute(f"create table {TABLE} ({names})")  # no types: values keep theirs
        self._conn.executemany(f"insert into {TABLE} values ({marks})", rows)

    def execute(self, sql: str, params: Any, time_limit_ms: int) -> Results:
        """A facet's query over the sample, as Datasette's execute answers (QueryInterrupted past the limit)."""
        with sqlite_timelimit(self._conn, time_limit_ms):
            try:
                cursor = self._conn.execute(sql, params or {})
                return Results(cursor.fetchall(), False, cursor.description)
            except sqlite3.OperationalError as error:
                if error.args == ("interrupted",):
                    raise QueryInterrupted(error, sql, params) from error
                raise

    def close(self) -> None:
        self._conn.close()


class SampledDatasette:
    """Datasette as the facet classes see it: their queries over the sample answered from it,
    everything else (labels, URLs, settings) Datasette's own."""

    def __init__(self, datasette: Any, sample: FacetSample) -> None:
        self._datasette = datasette
        self._sample = sample

    def __getattr__(self, name: str) -> Any:
        return getattr(self._datasette, name)

    async def execute(self, db_name: str, sql: str, params: Any = None, **kwargs: Any) -> Results:
        if self._sample.sql not in sql:
            return await self._datasette.execute(db_name, sql, params, **kwargs)
        limit = self._datasette.sql_time_limit_ms
        custom = kwargs.get("custom_time_limit")
        return self._sample.execute(sql, params, min(limit, custom) if custom else limit)
