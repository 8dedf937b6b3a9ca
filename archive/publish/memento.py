"""Memento (RFC 7089) over Spyglass's own captures: a TimeMap and a TimeGate per page, and memento headers.

A page's mementos are its sightings (archive/history/sightings.py): every
capture that shows the page, a Wayback memento or a live capture, dated by
its as-of time. The memento URI (URI-M) of each is its archived copy,
`/-/spyglass/archived/ID`; the original resource (URI-R) is the page's URL.
The TimeGate follows pattern 2.3 of the RFC (URI-R != URI-G, 302-style
negotiation): Accept-Datetime -> 302 to the closest memento.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any
from urllib.parse import quote

from archive.errors import NotFound
from archive.evidence import lookup
from archive.history.sightings import known_page_key
from archive.index.queries import rows
from archive.times import parse_when

LINK_FORMAT = "application/link-format"
# Characters a URI keeps as they are inside <...>; anything else (spaces,
# non-ASCII, < and >) is percent-encoded so a header stays valid latin-1.
URI_SAFE = ":/?#[]@!$&'()*+,;=%~"


def uri(url: str) -> str:
    """A URL safe to put between < and > in a Link header or a TimeMap."""
    return quote(url, safe=URI_SAFE)


def http_date(when: str | datetime) -> str:
    """RFC 1123 date in GMT, as Memento-Datetime and the TimeMap's datetime attributes want it."""
    moment = parse_when(when) if isinstance(when, str) else when
    return format_datetime(moment, usegmt=True)


def parse_accept_datetime(value: str) -> datetime:
    """The time an Accept-Datetime header asks for; ValueError if it is not an RFC 1123 date."""
    try:
        moment = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError) as exc:
        raise ValueError(f"not an HTTP date: {value!r}") from exc
    if moment is None or moment.tzinfo is None:
        raise ValueError(f"not an HTTP date in GMT: {value!r}")
    return moment


def mementos(conn: sqlite3.Connection, url: str) -> list[dict[str, Any]]:
    """Every capture showing the page `url` names (any form of it), oldest as-of first.

    `url` may also be what a citation holds instead of the page's own URL (a
    released file's stable page, a signed download URL, a release's page): it
    names the page of the capture it resolves to (archive/evidence/lookup.py).
    """
    found = _sightings(conn, url)
    if found:
        return found
    try:
        named = lookup.find(conn, url)
    except NotFound:
        return []
    return _sightings(conn, named.capture["page_url"]) if named.capture.get("page_url") else []


def _sightings(conn: sqlite3.Connection, url: str) -> list[dict[str, Any]]:
    return rows(
        conn,
        "SELECT capture_id, seen_at, page_url FROM page_sightings WHERE page_key = ? "
        "ORDER BY seen_at, capture_id",
        [known_page_key(conn, url)],
    )


def closest(found: list[dict[str, Any]], at: datetime | None) -> dict[str, Any]:
    """The memento nearest in time to `at` (the newest when `at` is None); the earlier one on a tie."""
    if at is None:
        return found[-1]
    return min(found, key=lambda m: abs((parse_when(m["seen_at"]) - at).total_seconds()))


def original_of(found: list[dict[str, Any]]) -> str:
    """The original resource's URI: the page's URL as its newest memento names it."""
    return found[-1]["page_url"]


def links(original: str, timegate: str, timemap: str) -> str:
    """The Link header a TimeGate and a memento carry: original, timegate and timemap."""
    return (
        f'<{uri(original)}>; rel="original", <{uri(timegate)}>; rel="timegate", '
        f'<{uri(timemap)}>; rel="timemap"; type="{LINK_FORMAT}"'
    )


def timemap(
    found: list[dict[str, Any]], self_uri: str, timegate: str, memento_uri: Callable[[int], str]
) -> str:
    """The TimeMap in link format (RFC 7089 section 5.1.1): original, self, timegate, then each memento."""
    entries = [
        f'<{uri(original_of(found))}>; rel="original"',
        f'<{uri(self_uri)}>; rel="self"; type="{LINK_FORMAT}"; '
        f'from="{http_date(found[0]["seen_at"])}"; until="{http_date(found[-1]["seen_at"])}"',
        f'<{uri(timegate)}>; rel="timegate"',
    ]
    last = len(found) - 1
    for n, memento in enumerate(found):
        rel = " ".join(["first"] * (n == 0) + ["last"] * (n == last) + ["memento"])
        entries.append(
            f'<{uri(memento_uri(memento["capture_id"]))}>; rel="{rel}"; '
            f'datetime="{http_date(memento["seen_at"])}"'
        )
    return ",\n".join(entries) + "\n"
