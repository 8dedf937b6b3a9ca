"""Sightings: each capture that shows a page, as of when, and what it showed (its content key).

A sighting is derived from one capture: the page it is a version of (its
`page_key`, the SURT of the original URL, so http/https, `www.` and a
Wayback memento's original URL all name one page), its as-of time, and a
content key. Two sightings with the same key show the same version: the key
is the SHA-256 of the main text less the host's site-wide boilerplate, or of
the payload when there is no text; a revisit has the key of the capture it
repeats. Only 2xx answers (content), 3xx (a redirect to a named place) and
404/410 (gone) are sightings: a 429 or a 503 says nothing about the page.

`page_sightings` is the one list every version is grouped from. Observations
that confirm a capture without a new capture (a 304, an unchanged payload;
the operations issue's `observations` table) fold in there, as extra rows
with their own `seen_at` and the content key of the capture they confirm.
"""

from __future__ import annotations

import functools
import hashlib
import json
import sqlite3
from collections.abc import Callable, Mapping
from typing import Any

import sqlite_utils

from archive.history.passages import TextKeys, without, without_keys
from archive.history.sql import insert
from archive.index.asof import as_of_text, page_url
from archive.index.kinds import ObservationKind
from archive.index.queries import rows
from archive.sources.model import rendered_in_browser
from archive.wayback.client import parse_snapshot_url, surt

PAGE, REDIRECT, GONE = "page", "redirect", "gone"


def page_key(url: str) -> str:
    """The key one page's captures share: its SURT (scheme, `www.`, case of host and path ignored)."""
    return surt(url)


def page_key_variants(url: str) -> list[str]:
    """The keys a URL a person types may name a page by, most likely first: its own, then the
    same path with or without its closing slash. A Wayback snapshot URL names its original page."""
    snapshot = parse_snapshot_url(url.strip())
    key = page_key(snapshot.original if snapshot else url.strip())
    if "?" in key or key.endswith(")/"):
        return [key]
    return [key, key[:-1] if key.endswith("/") else key + "/"]


def known_page_key(conn: sqlite3.Connection, url: str) -> str:
    """The page key the archive knows a URL by (trailing slash or not), or its own key if none."""
    variants = page_key_variants(url)
    for key in variants:
        if conn.execute("SELECT 1 FROM page_sightings WHERE page_key = ? LIMIT 1", [key]).fetchone():
            return key
    return variants[0]


def host_of(key: str) -> str:
    """The host part of a page key ('com,example)' for 'com,example)/path')."""
    return key.split(")", 1)[0] + ")"


def kind_of(status: int | None) -> str | None:
    """page, redirect or gone for the statuses that say something about a page; None otherwise."""
    if status is None or 200 <= status < 300:
        return PAGE
    if 300 <= status < 400:
        return REDIRECT
    if status in (404, 410):
        return GONE
    return None


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def content_key(
    kind: str,
    text: str | None,
    capture: Mapping[str, Any],
    boilerplate: set[str],
    keys: TextKeys | None = None,
) -> str:
    """What a sighting showed, as a key: equal keys are one version.

    `keys`, if given, is `passages.text_keys(text)` already computed.
    """
    if kind == REDIRECT:
        return sha256_text(f"redirect {capture.get('status')} {capture.get('location') or ''}")
    if kind == GONE:
        return sha256_text(f"gone {capture.get('status')}")
    if not text:
        main = ""
    elif keys is not None and boilerplate:
        main = without_keys(text, {bytes.fromhex(key) for key in boilerplate}, keys)
    else:
        main = without(text, boilerplate)
    if main.strip():
        return sha256_text(main)
    return str(capture["sha256"])


def save_text(db: sqlite_utils.Database, text: str) -> str:
    """Keep one copy of each distinct main text; returns its SHA-256."""
    digest = sha256_text(text)
    db.execute(
        "INSERT OR IGNORE INTO page_texts (sha256, text, chars) VALUES (?, ?, ?)", [digest, text, len(text)]
    )
    return digest


def text_of(conn: sqlite3.Connection, digest: str | None) -> str:
    """A stored main text by its SHA-256 ('' for none)."""
    if not digest:
        return ""
    found = conn.execute("SELECT text FROM page_texts WHERE sha256 = ?", [digest]).fetchone()
    return found[0] if found else ""


def repeated_sighting(conn: sqlite3.Connection, capture: Mapping[str, Any]) -> dict[str, Any] | None:
    """The sighting of the capture a revisit repeats (by WARC-Record-ID), if there is one."""
    if not capture.get("refers_to"):
        return None
    found = rows(
        conn,
        "SELECT s.* FROM captures AS c JOIN page_sightings AS s ON s.capture_id = c.id "
        "WHERE c.warc_record_id = ?",
        [capture["refers_to"]],
    )
    return found[0] if found else None


def build_sighting(
    db: sqlite_utils.Database,
    capture: Mapping[str, Any],
    text: str | None,
    boilerplate: Callable[[str], set[str]],
) -> dict[str, Any] | None:
    """The page_sightings row of a capture row (with its extracted `text`), or None if it shows no page.

    `boilerplate(host)` gives the host's boilerplate sentence keys.
    """
    kind = kind_of(capture.get("status"))
    if kind is None or capture.get("warc_type") not in ("response", "revisit", "resource"):
        return None
    if capture.get("requisite"):
        return None  # a stylesheet or an image a page needs is part of that page, not a page
    if capture.get("via") == "live" and _rendered_in_browser(db.conn, capture):
        return None  # the script shell: the browser's capture of the page is what a reader saw
    url = page_url(capture)
    key = page_key(url)
    row = {
        "capture_id": capture["id"],
        "page_key": key,
        "page_url": url,
        "host": host_of(key),
        "source": capture.get("source"),
        "seen_at": as_of_text(capture),
        "fetched_at": capture["captured_at"],
        "kind": kind,
        "title": capture.get("title"),
        "vendor": capture.get("vendor"),
        "product": capture.get("product"),
        "text_sha256": None,
    }
    if capture.get("warc_type") == "revisit":
        original = repeated_sighting(db.conn, capture)
        if original is not None:
            return {
                **row,
                "kind": original["kind"],
                "content_key": original["content_key"],
                "text_sha256": original["text_sha256"],
                "title": original["title"],
            }
    if text and kind == PAGE:
        row["text_sha256"] = save_text(db, text)
    row["content_key"] = content_key(
        kind,
        text if kind == PAGE else None,
        capture,
        boilerplate(row["host"]) if row["text_sha256"] else set(),
    )
    return row


def _rendered_in_browser(conn: sqlite3.Connection, capture: Mapping[str, Any]) -> bool:
    """Whether the capture's source, as the index last recorded it, loads this page in a browser."""
    found = conn.execute("SELECT config FROM sources WHERE name = ?", [capture.get("source")]).fetchone()
    return bool(found and found[0]) and rendered_in_browser(_config(found[0]), str(capture["url"]))


@functools.lru_cache(maxsize=64)
def _config(text: str) -> dict[str, Any]:
    return json.loads(text)


def save_sighting(db: sqlite_utils.Database, row: dict[str, Any]) -> None:
    insert(db, "page_sightings", row, replace=True)


def page_sightings(conn: sqlite3.Connection, key: str) -> list[dict[str, Any]]:
    """Every sighting of one page, oldest first: the list its versions are grouped from.

    A 304 observation ("seen unchanged at T", no new capture) is one more
    sighting of the capture it confirms, at the observation's time. (An
    unchanged payload fetched whole is a revisit capture: a sighting already.)
    """
    columns = [row[1] for row in conn.execute("PRAGMA table_info(page_sightings)")]
    observed = ", ".join("o.observed_at AS seen_at" if c == "seen_at" else f"s.{c}" for c in columns)
    return rows(
        conn,
        f"""
        SELECT * FROM (
            SELECT * FROM page_sightings WHERE page_key = ?
            UNION ALL
            SELECT {observed} FROM observations AS o JOIN page_sightings AS s ON s.capture_id = o.capture_id
            WHERE s.page_key = ? AND o.kind = ?
        ) ORDER BY seen_at, capture_id""",
        [key, key, ObservationKind.NOT_MODIFIED],
    )
