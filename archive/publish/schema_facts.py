"""Fewer trips to Datasette's query threads: what the schema says, remembered while it holds.

Under load a page's time is less its own work than its trips to a query
thread: each `await` of a query waits for its thread and then for the event
loop's turn, and with thirty readers and a crawl that turn takes tens to
hundreds of milliseconds. Datasette 0.65 asks the schema afresh on every page
(a table search made 44 trips, 33 of them for columns, keys, labels and
sqlite_master rows, and three more to see whether the schema changed). The
schema of a published archive changes only when a migration runs, so here
those answers are kept, and forgotten when `PRAGMA schema_version` moves;
that is checked at most once every `CHECK_SECONDS` for all pages together.
"""

from __future__ import annotations

import copy
import functools
import time
from collections.abc import Callable
from typing import Any

# How stale the server's view of the schema may be after a migration.
CHECK_SECONDS = 1.0
# Database methods whose answers depend only on the schema (Datasette 0.65's names).
SCHEMA_METHODS = (
    "table_exists",
    "table_names",
    "table_columns",
    "table_column_details",
    "primary_keys",
    "fts_table",
    "label_column_for_table",
    "foreign_keys_for_table",
    "hidden_table_names",
    "view_names",
    "get_all_foreign_keys",
    "get_table_definition",
    "get_view_definition",
)
# Schema questions Datasette asks with `Database.execute` rather than a method.
SCHEMA_SQL = frozenset(
    {
        "select name from sqlite_master where type in ('table', 'view') and name = ? collate nocase",
    }
)
_MARK = "spyglass_schema_facts"


def _facts(db: Any) -> dict:
    return db.__dict__.setdefault(_MARK, {})


def _cached(name: str, method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    async def ask(db: Any, *args: Any, **kwargs: Any) -> Any:
        if db.name.startswith("_") or kwargs:  # Datasette's own databases change as it runs
            return await method(db, *args, **kwargs)
        key = (name, args)
        facts = _facts(db)
        if key not in facts:
            facts[key] = await method(db, *args)
        return copy.copy(facts[key])  # callers may add to a list they were given

    ask.spyglass_cached = True  # type: ignore[attr-defined]
    return ask


def _cached_execute(execute: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(execute)
    async def run(db: Any, sql: str, params: Any = None, *args: Any, **kwargs: Any) -> Any:
        if sql not in SCHEMA_SQL or db.name.startswith("_") or args or kwargs:
            return await execute(db, sql, params, *args, **kwargs)
        key = ("execute", sql, tuple(params or ()))
        facts = _facts(db)
        if key not in facts:
            facts[key] = await execute(db, sql, params)
        return facts[key]

    run.spyglass_cached = True  # type: ignore[attr-defined]
    return run


def remember_schema(datasette: Any) -> None:
    """Keep the schema's answers on each of `datasette`'s databases, and check for a changed
    schema (Datasette's refresh_schemas) at most once every CHECK_SECONDS."""
    from datasette.database import Database

    for name in SCHEMA_METHODS:
        method = getattr(Database, name, None)
        if method is not None and not getattr(method, "spyglass_cached", False):
            setattr(Database, name, _cached(name, method))
    if not getattr(Database.execute, "spyglass_cached", False):
        Database.execute = _cached_execute(Database.execute)
    refresh = datasette.refresh_schemas
    if getattr(refresh, "spyglass_cached", False):
        return
    seen: dict[str, Any] = {"at": float("-inf"), "versions": None}

    async def refresh_now_and_then() -> None:
        if time.monotonic() - seen["at"] < CHECK_SECONDS:
            return
        seen["at"] = time.monotonic()
        versions = {}
        for name, db in list(datasette.databases.items()):
            if not name.startswith("_"):
                versions[name] = (await db.execute("PRAGMA schema_version")).first()[0]
        if versions != seen["versions"]:
            for db in datasette.databases.values():
                _facts(db).clear()
            seen["versions"] = versions
            await refresh()

    refresh_now_and_then.spyglass_cached = True  # type: ignore[attr-defined]
    datasette.refresh_schemas = refresh_now_and_then
