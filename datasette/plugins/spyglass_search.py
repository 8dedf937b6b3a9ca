"""SQL helpers for Spyglass's canned search queries.

`fts_query(text)` turns what a reporter types into a safe FTS5 query (each
word literal, "quoted phrases" kept), the same escaping Datasette applies to
`?_search=` with searchmode escaped; canned queries need it as a SQL function.
"""

from datasette import hookimpl
from datasette.utils import escape_fts


def fts_query(text):
    """Escaped FTS5 query for user text; an empty query matches nothing."""
    if not text or not str(text).strip():
        return '""'
    return escape_fts(str(text))


@hookimpl
def prepare_connection(conn):
    conn.create_function("fts_query", 1, fts_query, deterministic=True)
