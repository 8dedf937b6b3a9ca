"""What the history commands and feeds read: a page's versions and changes, and changes over a period."""

from __future__ import annotations

import sqlite3
from typing import Any

from archive.errors import NotFound
from archive.evidence.cite import citation_of
from archive.history.passages import has_phrase
from archive.history.sightings import known_page_key, text_of
from archive.index import queries
from archive.index.queries import rows


def versions_of(conn: sqlite3.Connection, url: str) -> list[dict[str, Any]]:
    """A page's versions, oldest first (the page by any URL form the archive knows it by)."""
    found = rows(
        conn, "SELECT * FROM versions WHERE page_key = ? ORDER BY number", [known_page_key(conn, url)]
    )
    if not found:
        raise NotFound(
            f"no versions of {url} in the archive (is it archived? after an upgrade, "
            "run `spyglass rebuild-history`)"
        )
    return found


def changes_of(conn: sqlite3.Connection, url: str) -> list[dict[str, Any]]:
    """A page's changes, oldest first, each with its passages and phrase events."""
    found = rows(
        conn, "SELECT * FROM changes WHERE page_key = ? ORDER BY changed_at", [known_page_key(conn, url)]
    )
    return [with_details(conn, c) for c in found]


def with_details(conn: sqlite3.Connection, change: dict[str, Any]) -> dict[str, Any]:
    """A change row plus its passages (boilerplate left out) and its watched-phrase events."""
    passages = rows(
        conn,
        "SELECT side, text FROM change_passages WHERE change_id = ? AND boilerplate = 0 ORDER BY position",
        [change["id"]],
    )
    events = rows(
        conn,
        "SELECT phrase, term_kind, event FROM change_phrases WHERE change_id = ? ORDER BY phrase",
        [change["id"]],
    )
    return {**change, "passages": passages, "phrases": events}


def citation(conn: sqlite3.Connection, capture_id: int) -> dict[str, Any]:
    """A capture's citation as a dict (as `spyglass cite --format json` gives it)."""
    return citation_of(conn, queries.capture(conn, capture_id)).as_dict()


def list_changes(
    conn: sqlite3.Connection,
    *,
    since: str | None = None,
    until: str | None = None,
    by: str = "changed_at",
    source: str | None = None,
    vendor: str | None = None,
    phrase: str | None = None,
) -> list[dict[str, Any]]:
    """Substantive changes, newest first, by as-of time (`changed_at`) or when found (`found_at`).

    With `phrase`, only changes where it appeared or disappeared, with that event added.
    """
    assert by in ("changed_at", "found_at")
    sql = "SELECT * FROM changes WHERE substantive = 1"
    params: list[Any] = []
    for column, op, value in (
        (by, ">=", since),
        (by, "<", until),
        ("source", "=", source),
        ("vendor", "=", vendor),
    ):
        if value:
            sql += f" AND {column} {op} ?"
            params.append(value)
    found = [with_details(conn, c) for c in rows(conn, sql + f" ORDER BY {by} DESC, id DESC", params)]
    if not phrase:
        return found
    kept = []
    for change in found:
        old, new = (text_of(conn, _text_sha(conn, change[k])) for k in ("from_version_id", "to_version_id"))
        before, after = has_phrase(old, phrase), has_phrase(new, phrase)
        if before != after:
            event = {"phrase": phrase, "term_kind": "asked", "event": "appeared" if after else "disappeared"}
            others = [e for e in change["phrases"] if e["phrase"].lower() != phrase.lower()]
            kept.append({**change, "phrases": [event, *others]})
    return kept


def _text_sha(conn: sqlite3.Connection, version_id: int) -> str | None:
    found = conn.execute("SELECT text_sha256 FROM versions WHERE id = ?", [version_id]).fetchone()
    return found[0] if found else None
