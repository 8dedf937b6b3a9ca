"""What replaying a chosen capture needs, found in the archive: its requisites and originals.

Replay draws an archived page with the capture of each requisite nearest in time to it (through
archived redirects), and what its stylesheets import; a revisit needs the record it refers to.
An evidence package carries these beside what was chosen (archive/evidence/export.py).
"""

from __future__ import annotations

import sqlite3
from typing import Any

from archive.archive import Archive
from archive.index import queries
from archive.index.asof import as_of, page_url
from archive.text.refs import css_refs, decode_css, html_requisites, parse_html
from archive.warc.read import open_record

# Stylesheets importing stylesheets, as deep as the crawler follows them (spiders/requisites.py).
MAX_NESTING = 5


def with_dependencies(
    archive: Archive, conn: sqlite3.Connection, rows: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], dict[int, str]]:
    """The chosen rows, then what replaying them needs, each once: their requisites and the
    originals revisits refer to. Returns the rows and, for each one added, why."""
    wanted = {r["id"]: r for r in rows}
    why: dict[int, str] = {}

    def add(row: dict[str, Any], reason: str) -> None:
        if row["id"] not in wanted:
            wanted[row["id"]] = row
            why[row["id"]] = reason

    for row in rows:
        for requisite in requisites_of(archive, conn, row):
            add(requisite, f"a requisite of capture {row['id']}")
    for row in list(wanted.values()):  # replay of a revisit needs the record it refers to
        original = queries.payload_row(conn, row)
        if original is not None:
            add(original, f"capture {row['id']} is a revisit of it")
    return list(wanted.values()), why


def requisites_of(archive: Archive, conn: sqlite3.Connection, row: dict[str, Any]) -> list[dict[str, Any]]:
    """The captures replay draws an archived HTML page with: each requisite's capture nearest in
    time to the page (through archived redirects), and what its stylesheets import."""
    at = as_of(row)
    todo = [(url, 1) for url, _ in _references(archive, conn, row, html=True)]
    seen: set[str] = set()
    found: list[dict[str, Any]] = []
    while todo:
        url, level = todo.pop(0)
        if url in seen:
            continue
        seen.add(url)
        target, chain = queries.resolve_capture(conn, url, at)
        if target is None:
            continue
        found.extend([*chain, target])
        if level < MAX_NESTING and "css" in (target.get("content_type") or "").lower():
            todo.extend((ref, level + 1) for ref, _ in _references(archive, conn, target, html=False))
    return found


def _references(
    archive: Archive, conn: sqlite3.Connection, row: dict[str, Any], html: bool
) -> list[tuple[str, str]]:
    """(url, kind) of the requisites an archived page (html) or stylesheet names; none if unreadable."""
    if html and "html" not in (row.get("content_type") or "").lower():
        return []
    holder = queries.payload_row(conn, row)
    if holder is None:
        return []
    try:
        record = open_record(archive, holder)
    except (OSError, EOFError, ValueError):
        return []  # verify reports it; the package holds what can be read
    if not html:
        return css_refs(decode_css(record.body), page_url(row))
    root = parse_html(record.body, record.content_type)
    return html_requisites(root, page_url(row)) if root is not None else []
