"""Running SQL a stranger wrote: limits and an authorizer on the connection that runs it.

A time limit stops a query only between SQLite's virtual-machine
instructions (Datasette's progress handler, or the interrupt of
archive/publish/safety.py); one instruction that builds a huge value
(`randomblob(400000000)`, `printf('%.*c', 1e9, 'x')`) or matches a pathological
LIKE pattern runs to the end unseen. So the size of every value is capped
(SQLITE_LIMIT_LENGTH), and so are LIKE/GLOB patterns; `randomblob` and
`zeroblob` are replaced by versions that refuse more than a few kilobytes.
The authorizer refuses what a published archive never needs and an attacker
would: ATTACH (it creates files), `fts3_tokenizer` (it hands out pointers into
SQLite), `load_extension`, and the introspection tables that show other visitors'
SQL or the file's path; writes are refused by the connection itself.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

# Functions no reader of the archive needs, each refused with a reason.
REFUSED_FUNCTIONS = {
    "fts3_tokenizer": "it exposes and registers native pointers",
    "load_extension": "it loads native code",
    "readfile": "it reads files",
    "writefile": "it writes files",
    "edit": "it runs an editor",
}
# Tables that describe the server rather than the archive, refused to every query:
# sqlite_stmt shows the SQL other visitors' queries are running (their `_where=`
# and searches), pragma_database_list the database file's path, dbstat and
# sqlite_dbpage raw pages. (Datasette's own `PRAGMA database_list` statement is
# no read of these; a visitor cannot send a PRAGMA statement.)
REFUSED_TABLES = {
    "sqlite_stmt": "it shows other visitors' SQL",
    "pragma_database_list": "it shows the database file's path",
    "dbstat": "it reads raw database pages",
    "sqlite_dbpage": "it reads raw database pages",
}
# ATTACH creates the file it names; DETACH has nothing to undo once ATTACH is refused.
_REFUSED_ACTIONS = {sqlite3.SQLITE_ATTACH, sqlite3.SQLITE_DETACH}


@dataclass(frozen=True)
class Limits:
    """How much one statement may build: each value, each LIKE pattern, each random blob."""

    # Larger than any value the index stores (page text is capped at 2,000,000
    # characters, at most 4 bytes each), far below what stalls the server.
    max_value_bytes: int = 10_000_000
    # A reporter's LIKE pattern is a few words; SQLite's default is 50,000.
    max_like_pattern: int = 200
    max_random_blob: int = 4096


class RefusedSQL(sqlite3.DatabaseError):
    """A statement asked for something a published archive does not allow."""


def harden(conn: sqlite3.Connection, limits: Limits = Limits()) -> None:
    """Apply the limits and the authorizer to a connection that will run untrusted SQL."""
    conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, limits.max_value_bytes)
    conn.setlimit(sqlite3.SQLITE_LIMIT_LIKE_PATTERN_LENGTH, limits.max_like_pattern)
    conn.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)

    def randomblob(size: int) -> bytes:
        if not isinstance(size, int) or size > limits.max_random_blob:
            raise RefusedSQL(f"randomblob is limited to {limits.max_random_blob} bytes")
        return os.urandom(max(size, 1))

    def zeroblob(size: int) -> bytes:
        if not isinstance(size, int) or size > limits.max_random_blob:
            raise RefusedSQL(f"zeroblob is limited to {limits.max_random_blob} bytes")
        return bytes(max(size, 0))

    conn.create_function("randomblob", 1, randomblob)
    conn.create_function("zeroblob", 1, zeroblob)
    conn.set_authorizer(authorize)


def authorize(
    action: int, arg1: str | None, arg2: str | None, database: str | None, source: str | None
) -> int:
    """sqlite3 authorizer: refuses ATTACH/DETACH, the refused functions and tables, allows the rest.

    A list of what is refused rather than of what is allowed: SQLite authorizes
    its own internal statements too (FTS5 reads the schema through them), and
    writes are already impossible on these connections (`query_only`, or a
    read-only open).
    """
    if action in _REFUSED_ACTIONS:
        return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_FUNCTION and (arg2 or "").lower() in REFUSED_FUNCTIONS:
        return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_READ and (arg1 or "").lower() in REFUSED_TABLES:
        return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK


def open_untrusted(path: str | Path, limits: Limits = Limits()) -> sqlite3.Connection:
    """A read-only connection to the index at `path`, hardened for SQL someone else wrote."""
    uri = Path(path).resolve().as_uri() + "?mode=ro"
    conn = sqlite3.connect(uri, uri=True)
    conn.execute("PRAGMA query_only = 1")
    harden(conn, limits)
    return conn
