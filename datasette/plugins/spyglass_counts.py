"""Datasette plugin: a table page's rows, count and facets without reading every matching row.

For tables that name a `count_sample` (metadata.yml, `plugins: spyglass:`),
a `?_search=` page is counted from the FTS index read newest first, and any
page's facets count its newest `count_sample` rows
(archive/publish/counting.py says what is exact and what is estimated or a
sample, and the page says it too; `?_counts=exact` gives Datasette's own).
Datasette 0.65 has no hook for a table page's count, facet or row SQL,
hence the wraps: the table view runs with its own count and facets off, and
a search's row query tests matches one by one in the sort's index order when
they are frequent enough for that to stop early. Without the wraps (another
Datasette) pages count as Datasette does.
"""

from __future__ import annotations

import asyncio
import itertools
import math
from contextvars import ContextVar
from typing import Any
from urllib.parse import parse_qs

from datasette import hookimpl
from datasette.database import QueryInterrupted
from datasette.facets import Facet, load_facet_configs
from datasette.plugins import pm
from datasette.utils import escape_sqlite, path_with_added_args, tilde_decode
from datasette.utils.asgi import MultiParams

from archive.publish.counting import EXACT_ARG, EXACT_VALUE, Counted, Search, estimate, where_of
from archive.publish.facet_sample import FacetSample, SampledDatasette
from archive.publish.paths import DATABASE

# Testing one row against the search costs about this many times reading one match's row
# (26 µs against 3 µs for a word in 6% of 100,000 captures).
PROBE_COST = 8
# How long an exact count from the FTS index may take before it is estimated instead.
COUNT_MS = 100
# How long reading the newest matches may take before the search goes uncounted (its rows
# then tested in sort order, its facets still counted on its newest matches).
READ_MS = 200

# What the table view does while it runs for a counted page: the row query's rewrites (the
# search clause first) and where the table's facet SQL is recorded.
_REWRITE: ContextVar[list[tuple[str, str]] | None] = ContextVar("spyglass_counts_rewrite", default=None)
_SEEN: ContextVar[dict[str, Any] | None] = ContextVar("spyglass_counts_seen", default=None)


class SeenSql(Facet):
    """Not a facet: records the SQL and parameters the table view gives facets (its rows
    without order or limit, every filter applied), which counting reads."""

    type = "spyglass-seen"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        seen = _SEEN.get()
        if seen is not None:
            seen.update(sql=self.sql, params=dict(self.params))

    async def suggest(self):
        return []

    async def facet_results(self):
        return [], []


class Uncounted:
    """The request as the table view reads it while it runs: its own count and facets off
    (`_nocount`, `_nofacet`), though its links and forms keep the reader's arguments."""

    def __init__(self, request: Any) -> None:
        self._request = request
        self.active = True

    def __getattr__(self, name: str) -> Any:
        return getattr(self._request, name)

    @property
    def args(self) -> MultiParams:
        if not self.active:
            return self._request.args
        args = parse_qs(self._request.query_string, keep_blank_values=True)
        return MultiParams({**args, "_nocount": ["1"], "_nofacet": ["1"]})


def sample_size(datasette: Any, database: str, table: str, args: MultiParams) -> int | None:
    """The table's `count_sample`, when this plugin counts the page."""
    config = datasette.plugin_config("spyglass", database=database, table=table) or {}
    if database != DATABASE or not config.get("count_sample") or args.get(EXACT_ARG) == EXACT_VALUE:
        return None
    if "_fts_table" in args or "_fts_pk" in args or any(k.startswith("_search_") for k in args):
        return None
    return int(config["count_sample"])


def search_of(datasette: Any, database: str, table: str, args: MultiParams) -> Search | None:
    """The page's `?_search=`, as Datasette reads it."""
    metadata = datasette.table_metadata(database, table)
    if not args.get("_search") or not metadata.get("fts_table"):
        return None
    raw = args.get("_searchmode", "raw" if metadata.get("searchmode") == "raw" else "escaped") == "raw"
    return Search(metadata.get("fts_pk", "rowid"), metadata["fts_table"], raw)


async def probe_over(db: Any, table: str, page_size: int) -> int:
    """Matches from which the row query tests rows in sort order rather than reading every match.

    Reading all T matches of N rows costs T reads; testing rows in order until a
    page is full costs about page / (T / N) tests. They are equal at
    T = sqrt(page * N * PROBE_COST): 20,000 matches at a million rows, 6,400 at 100,000.
    """
    rows = (await db.execute(f"select max(rowid) from {escape_sqlite(table)}")).first()[0] or 0
    return max(math.isqrt(int((page_size + 1) * rows * PROBE_COST)), 1)


async def index_ordered(db: Any, table: str, args: MultiParams, metadata: dict[str, Any]) -> bool:
    """Whether the page's sort can be read in index order (its primary key, or an index's first column).

    Rows that tie on the sort then come in the index's order, as on a page without a search;
    breaking the ties by primary key instead (as Datasette's next page assumes) would make
    SQLite sort every row of a filtered search (seconds at a million captures)."""
    column = args.get("_sort") or args.get("_sort_desc") or metadata.get("sort") or metadata.get("sort_desc")
    if column is None or column in await db.primary_keys(table):
        return True
    rows = await db.execute(
        "select 1 from pragma_index_list(:t) as l join pragma_index_info(l.name) as i "
        "where i.seqno = 0 and i.name = :c limit 1",
        {"t": table, "c": column},
    )
    return bool(rows.rows)


async def row_plan(
    datasette: Any, db: Any, database: str, table: str, search: Search, args: MultiParams
) -> tuple:
    """(the row query's rewrites or None, (matches read, lowest rowid), matches read at most)."""
    over = await probe_over(db, table, datasette.page_size)
    try:
        read = (
            await db.execute(search.matches(over), {"search": args["_search"]}, custom_time_limit=READ_MS)
        ).first()
    except QueryInterrupted:
        # A phrase of common words: reading every match would compare the positions of its
        # words in nearly every row, so testing rows in order is the cheaper gamble.
        read = None
    metadata = datasette.table_metadata(database, table)
    if (read is None or read[0] >= over) and await index_ordered(db, table, args, metadata):
        return [(search.where, search.probe(table))], read, over
    return None, read, over


async def rowid_span(db: Any, table: str) -> tuple[int, int]:
    """The table's lowest and highest rowid (its FTS index's too: FTS5 would scan for them)."""
    name = escape_sqlite(table)  # one of min() and max() a query, or SQLite scans for them
    first, last = (
        await db.execute(f"select (select min(rowid) from {name}), (select max(rowid) from {name})")
    ).first()
    return first or 0, last or 0


async def count_page(
    db: Any, table: str, search: Search, sample: int, seen: dict[str, Any], read: tuple, over: int
) -> tuple[int, bool, int | None, str]:
    """(count or None, exact, matches the facets count or None for all, the facets' SQL), from
    `read`: (matches found, the lowest rowid among them) reading at most `over`, newest first,
    or None when that took too long."""
    text = {"search": seen["params"]["search"]}
    facet_sql = seen["sql"].replace(search.where, search.newest(sample))
    if read is None:
        return None, True, sample, facet_sql
    found, lowest = read
    total, exact = found, found < over
    if not exact:
        try:
            total = (await db.execute(search.count(), text, custom_time_limit=COUNT_MS)).first()[0]
            exact = True
        except QueryInterrupted:
            total = estimate(found, lowest, *await rowid_span(db, table))
    sampled = None if exact and total <= sample else min(found, sample)
    if where_of(seen["sql"], table) == search.where:
        return total, exact, sampled, facet_sql
    kept = (await db.execute(f"select count(*) from ({facet_sql})", seen["params"])).first()[0]
    if sampled is None:
        return kept, True, None, facet_sql
    return round(kept * total / max(sampled, 1)), False, sampled, facet_sql


async def count_rows(db: Any, table: str, sample: int, seen: dict[str, Any]) -> tuple:
    """As count_page, for a page without a search: its newest `sample` rows by primary key."""
    pk = escape_sqlite((await db.primary_keys(table) or ["rowid"])[0])
    facet_sql = f"select * from ({seen['sql']}) order by {pk} desc limit {int(sample)}"
    kept, lowest = (
        await db.execute(f"select count(*), min({pk}) from ({facet_sql})", seen["params"])
    ).first()
    if kept < sample:
        return kept, True, None, facet_sql
    table_sql = escape_sqlite(table)
    if where_of(seen["sql"], table) == "":
        try:
            count = await db.execute(f"select count(*) from {table_sql}", custom_time_limit=COUNT_MS)
            return count.first()[0], True, sample, facet_sql
        except QueryInterrupted:
            pass
    return estimate(kept, lowest, *await rowid_span(db, table)), False, sample, facet_sql


async def sample_facets(
    datasette: Any, request: Any, database: str, table: str, sql: str, params: dict
) -> tuple:
    """Datasette's own facets (the configured and the requested) over `sql`: ({name: facet}, timed out).

    The rows are read once, their faceted columns only, and each facet counts that copy
    in memory (archive/publish/facet_sample.py) instead of reading the rows again."""
    classes = [k for k in itertools.chain(*pm.hook.register_facet_classes()) if k is not SeenSql]
    metadata = datasette.table_metadata(database, table)
    types = {k.type for k in classes}  # `_facet_size` reads as a config of a type no class has
    configs = itertools.chain(*(c for t, c in load_facet_configs(request, metadata).items() if t in types))
    columns = list(dict.fromkeys(c["config"].get("column") or c["config"]["simple"] for c in configs))
    if not columns:
        return {}, []
    db = datasette.get_database(database)
    picked = ", ".join(escape_sqlite(c) for c in columns)
    try:
        limit = datasette.setting("facet_time_limit_ms")
        rows = (await db.execute(f"select {picked} from ({sql})", params, custom_time_limit=limit)).rows
    except QueryInterrupted:
        return {}, columns
    sample = FacetSample(columns, rows)
    try:
        sampled = SampledDatasette(datasette, sample)
        facets = [
            k(sampled, request, database, sql=sample.sql, params={}, table=table, metadata=metadata)
            for k in classes
        ]
        answers = await asyncio.gather(*(f.facet_results() for f in facets))
    finally:
        sample.close()
    results: dict[str, Any] = {}
    timed_out: list[str] = []
    for found, late in answers:
        for info in found:
            key, i = info["name"], 1
            while key in results:
                i += 1
                key = f"{info['name']}_{i}"
            results[key] = info
        timed_out += late
    return results, timed_out


_DATA: Any = None
_EXECUTE: Any = None


async def _data_counted(self, request, *args, **kwargs):
    if request.url_vars.get("format") == "csv" or "table" not in request.url_vars:
        return await _DATA(self, request, *args, **kwargs)
    database = self.ds.get_database(route=tilde_decode(request.url_vars["database"])).name
    table = tilde_decode(request.url_vars["table"])
    sample = sample_size(self.ds, database, table, request.args)
    if sample is None:
        return await _DATA(self, request, *args, **kwargs)
    search = search_of(self.ds, database, table, request.args)
    db = self.ds.get_database(database)
    probe, read, over = None, (0, None), 0
    if search is not None:
        probe, read, over = await row_plan(self.ds, db, database, table, search, request.args)
    seen: dict[str, Any] = {}
    uncounted = Uncounted(request)
    tokens = (_SEEN.set(seen), _REWRITE.set(probe))
    try:
        answer = await _DATA(self, uncounted, *args, **kwargs)
    finally:
        uncounted.active = False
        _SEEN.reset(tokens[0])
        _REWRITE.reset(tokens[1])
    if not isinstance(answer, tuple) or "sql" not in seen:
        return answer
    data = answer[0]
    exact_url = self.ds.urls.path(path_with_added_args(request, {EXACT_ARG: EXACT_VALUE}))
    bare = request.args.get("_shape") in ("array", "object")  # Datasette counts neither for these
    if "_next" in request.args or bare or (request.args.get("_nocount") and request.args.get("_nofacet")):
        # After the first page the recorded SQL starts at the cursor: the first page counts.
        data["spyglass_counts"] = Counted(None, True, None, exact_url).as_json()
        return answer
    if search is None:
        count, exact, sampled, facet_sql = await count_rows(db, table, sample, seen)
    else:
        count, exact, sampled, facet_sql = await count_page(db, table, search, sample, seen, read, over)
    timed_out: list[str] = []
    if not request.args.get("_nofacet"):
        results, timed_out = await sample_facets(self.ds, request, database, table, facet_sql, seen["params"])
        data["facet_results"].update(results)
    if request.args.get("_nocount"):
        count, exact = None, True
    data["filtered_table_rows_count"] = count if exact else None
    data["spyglass_counts"] = Counted(count, exact, sampled, exact_url, tuple(timed_out)).as_json()
    return answer


async def _execute_rewritten(self, sql, *args, **kwargs):
    rewrites = _REWRITE.get()
    if rewrites and rewrites[0][0] in sql:  # the row query: the one holding the search
        for old, new in rewrites:
            sql = sql.replace(old, new)
    return await _EXECUTE(self, sql, *args, **kwargs)


@hookimpl
def startup(datasette):
    """Wrap the table view's data step and query execution once (not at import: see spyglass_columns)."""
    global _DATA, _EXECUTE
    import datasette.database as database_module
    import datasette.views.table as table_view

    data = getattr(getattr(table_view, "TableView", None), "data", None)
    if data is None or getattr(data, "spyglass_wrapped", False):
        return
    _DATA, _EXECUTE = data, database_module.Database.execute
    _data_counted.spyglass_wrapped = True  # type: ignore[attr-defined]
    table_view.TableView.data = _data_counted
    database_module.Database.execute = _execute_rewritten


@hookimpl
def register_facet_classes():
    return [SeenSql]
