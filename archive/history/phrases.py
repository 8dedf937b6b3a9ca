"""Claims over time: the phrases watched for each source, and when a phrase was on a page.

A source watches its `watch:` phrases (matched whatever their case) and its
product's name and aliases (matched case-sensitively, as proper nouns). A
phrase's history on a page is a list of periods: the first and last
versions that showed it, and the first version after them without it, the
proof it was gone.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from archive.history.changes import refresh_phrases
from archive.history.context import Context
from archive.history.passages import has_phrase
from archive.history.sightings import text_of
from archive.history.sql import insert_many
from archive.index.queries import rows


def watched_terms(config: dict[str, Any]) -> list[tuple[str, str]]:
    """(phrase, term_kind) a source watches, from its configuration (sources.config JSON or source_to_dict)."""
    terms: dict[str, str] = {}
    for phrase in config.get("watch") or []:
        terms.setdefault(" ".join(phrase.split()), "watch")
    if config.get("product"):
        terms.setdefault(config["product"], "product")
    for alias in config.get("aliases") or []:
        terms.setdefault(alias, "alias")
    return sorted(terms.items())


def sync_watched(ctx: Context, name: str, config: dict[str, Any]) -> bool:
    """Store what a source watches; if that changed, recompute its changes' phrase events."""
    wanted = watched_terms(config)
    if ctx.watched(name) == wanted:
        return False
    ctx.db.execute("DELETE FROM watched_phrases WHERE source = ?", [name])
    insert_many(ctx.db, "watched_phrases", [{"source": name, "phrase": p, "term_kind": k} for p, k in wanted])
    ctx._watched.pop(name, None)
    refresh_phrases(ctx, name)
    return True


def sync_all_watched(ctx: Context) -> None:
    """Every source in the index, from its stored configuration."""
    for name, config in ctx.db.execute("SELECT name, config FROM sources").fetchall():
        sync_watched(ctx, name, json.loads(config or "{}"))


@dataclass(frozen=True)
class Period:
    """A phrase on a page: from the first version showing it to the last, then the first without it."""

    first: dict[str, Any]
    last: dict[str, Any]
    gone: dict[str, Any] | None


def phrase_history(conn: sqlite3.Connection, key: str, phrase: str) -> list[Period]:
    """Every period a phrase (any case, whole words) was on a page, oldest first."""
    versions = rows(conn, "SELECT * FROM versions WHERE page_key = ? ORDER BY number", [key])
    periods: list[Period] = []
    start: dict[str, Any] | None = None
    previous: dict[str, Any] | None = None
    for version in versions:
        present = has_phrase(text_of(conn, version["text_sha256"]), phrase)
        if present and start is None:
            start = version
        elif not present and start is not None:
            periods.append(Period(start, previous or start, version))
            start = None
        previous = version
    if start is not None and previous is not None:
        periods.append(Period(start, previous, None))
    return periods
