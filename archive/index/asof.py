"""The as-of rule: when a capture shows the page, and which page. One definition, for SQL and Python.

A Wayback capture shows the page as the Wayback Machine saw it, at its
memento time; a live capture shows it at the time Spyglass sent the request.
The generated columns `as_of_at` and `page_url` (migration m100) are written
from the SQL here, and every reader (history, replay, export, citation, the
capture page, Memento) calls the functions here, so they cannot disagree.

Why `memento_at` and not `wayback_timestamp`: the one writer of Wayback
captures (spiders/wayback.py) sets both from the same answer, and
`check_memento` refuses a memento whose Memento-Datetime is not the asked
timestamp to the second, so in every row they name the same instant; and no
writer, then or now, sets one without the other. `memento_at` is the one the
index and Datasette already sort by.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from archive.index.rows import is_wayback
from archive.times import parse_when

# The first non-empty column is the as-of time. Changing this needs a new
# migration that re-creates the generated column: archives made before keep
# m100's (tests/test_asof.py checks the schema against AS_OF_SQL).
AS_OF_COLUMNS = ("memento_at", "captured_at")
# The page a capture shows: the original URL of a Wayback memento, else the URL fetched.
PAGE_URL_COLUMNS = ("original_url", "url")
AS_OF_COLUMN = "as_of_at"
PAGE_URL_COLUMN = "page_url"

MEMENTO_TIME = "memento time"
CAPTURE_TIME = "capture time"
# What the URL Spyglass fetched a memento from is (its /web/<ts>id_/ address): never the page itself.
FETCHED_FROM_WAYBACK = "fetched from the Wayback Machine at"


# The rules in SQL, for the generated columns and any query that cannot read them.
AS_OF_SQL = f"coalesce({', '.join(AS_OF_COLUMNS)})"
PAGE_URL_SQL = f"coalesce({', '.join(PAGE_URL_COLUMNS)})"

# The generated columns of captures, as migration m100 adds them.
GENERATED_COLUMNS = {AS_OF_COLUMN: AS_OF_SQL, PAGE_URL_COLUMN: PAGE_URL_SQL}


def _first(capture: Mapping[str, Any], columns: tuple[str, ...]) -> Any:
    # As SQL's coalesce: the first that is not NULL. The last is never NULL in the
    # index; a row without it is no capture row (KeyError).
    found = next((capture[c] for c in columns[:-1] if capture.get(c) is not None), None)
    return capture[columns[-1]] if found is None else found


def as_of_text(capture: Mapping[str, Any]) -> str:
    """The as-of time as the index stores it (ISO 8601 UTC): what `as_of_at` reads for this row."""
    return str(_first(capture, AS_OF_COLUMNS))


def as_of(capture: Mapping[str, Any]) -> datetime:
    """When a capture shows the page: the memento's time for a Wayback capture, ours otherwise."""
    return parse_when(as_of_text(capture))


def memento_time(capture: Mapping[str, Any]) -> datetime | None:
    """When the Wayback Machine archived the page (not when we fetched it); None for a live capture."""
    return parse_when(capture["memento_at"]) if capture.get("memento_at") is not None else None


def as_of_kind(capture: Mapping[str, Any]) -> str:
    """What the as-of time is: the memento time or our capture time."""
    return MEMENTO_TIME if capture.get("memento_at") is not None else CAPTURE_TIME


def page_url(capture: Mapping[str, Any]) -> str:
    """The URL a capture shows: for a Wayback memento the original page, not the snapshot."""
    return str(_first(capture, PAGE_URL_COLUMNS))


def fetch_label(capture: Mapping[str, Any]) -> str | None:
    """How to label the URL a capture was fetched from when it is not the page: a Wayback
    memento's fetch address; None when the URL fetched is the page itself."""
    return FETCHED_FROM_WAYBACK if is_wayback(capture) and capture.get("url") != page_url(capture) else None
