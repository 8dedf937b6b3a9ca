"""One search over everything the archive holds, grouped by kind: pages, documents, releases,
communications, changes, Atlas rows.

Each kind is one FTS5 `MATCH` read newest first (by rowid, the order rows
were archived) and stopped at a LIMIT: no ranking and no count over every
match, so a search costs about the same at a million captures as at a
hundred (the canned `search` query measured p95 86 ms at 1,000,000 captures
the same way; MEASURED.md). What a reporter types is escaped as Datasette
escapes `?_search=` (each word literal, "quoted phrases" kept). Snippets
come back with control-character markers that are turned into <mark> only
after the text around them is escaped, so archived text never becomes markup.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from datasette.utils import escape_fts
from markupsafe import Markup, escape

from archive.history.sightings import page_key

START, END = "\x01", "\x02"
SNIPPET = f"'{START}', '{END}', ' … ', 24"


@dataclass(frozen=True)
class Kind:
    """One kind of thing searched: its heading, its SQL (params :q and :limit) and its LIMIT."""

    name: str
    title: str
    sql: str
    limit: int


PAGES = Kind(
    "pages",
    "Pages and their Wayback versions",
    """
    SELECT c.id, c.as_of_at, c.captured_at, c.page_url, c.url, c.title, c.vendor, c.product,
           c.agency, c.source, c.via, c.status, c.snapshot_url
    FROM captures_fts JOIN captures AS c ON c.id = captures_fts.rowid
    WHERE captures_fts MATCH :q
    ORDER BY captures_fts.rowid DESC LIMIT :limit""",
    60,
)


def page_snippets_sql(count: int) -> str:
    """SQL for (id, snippet) of `count` matching captures (params :q; :id0, :id1, ...; :lo and
    :hi, their lowest and highest id).

    Pages' snippets are read only for the capture a page is shown by (the newest
    archived of its group): FTS5's snippet() tokenizes the whole text, 99% of a
    search's SQL, and a page with many versions matched would pay it for each.
    The ids are read as one range of the index (the matches the page query read)
    and kept by a filter: as an index constraint each id would run the match again.
    """
    ids = ", ".join(f":id{i}" for i in range(count))
    return (
        f"SELECT rowid AS id, snippet(captures_fts, -1, {SNIPPET}) AS snippet FROM captures_fts "
        f"WHERE captures_fts MATCH :q AND rowid BETWEEN :lo AND :hi AND +rowid IN ({ids})"
    )


DOCUMENTS = Kind(
    "documents",
    "Released documents, page by page",
    f"""
    SELECT p.id AS page_id, p.page_number, p.method, d.id AS document_id, d.file_name,
           d.file_url, d.cite_url, d.capture_id, d.content_type, d.page_count, d.first_seen_at,
           (SELECT r.id FROM document_links AS l JOIN releases AS r ON r.id = l.release_id
            WHERE l.document_id = d.id ORDER BY l.id LIMIT 1) AS release_id,
           snippet(document_pages_fts, 0, {SNIPPET}) AS snippet
    FROM document_pages_fts
    JOIN document_pages AS p ON p.rowid = document_pages_fts.rowid
    JOIN documents AS d ON d.id = p.document_id
    WHERE document_pages_fts MATCH :q
    ORDER BY document_pages_fts.rowid DESC LIMIT :limit""",
    40,
)

RELEASES = Kind(
    "releases",
    "Releases of public records",
    f"""
    SELECT r.id, r.agency, r.title, r.reference, r.released_on, r.released_text, r.page_url,
           r.capture_id, r.source, snippet(releases_fts, -1, {SNIPPET}) AS snippet
    FROM releases_fts JOIN releases AS r ON r.rowid = releases_fts.rowid
    WHERE releases_fts MATCH :q
    ORDER BY releases_fts.rowid DESC LIMIT :limit""",
    20,
)

COMMUNICATIONS = Kind(
    "communications",
    "Communications of records requests",
    f"""
    SELECT c.id, c.release_id, c.sent_at, c.direction, c.sender, c.subject, c.capture_id,
           r.title AS request_title, r.agency, snippet(communications_fts, -1, {SNIPPET}) AS snippet
    FROM communications_fts JOIN communications AS c ON c.rowid = communications_fts.rowid
    JOIN releases AS r ON r.id = c.release_id
    WHERE communications_fts MATCH :q
    ORDER BY communications_fts.rowid DESC LIMIT :limit""",
    20,
)

CHANGES = Kind(
    "changes",
    "What changed on pages",
    f"""
    SELECT c.id, c.changed_at, c.before_at, c.page_url, c.title, c.vendor, c.product,
           c.from_capture_id, c.to_capture_id,
           snippet(changes_fts, 1, {SNIPPET}) AS removed,
           snippet(changes_fts, 0, {SNIPPET}) AS added,
           (SELECT group_concat('"' || phrase || '" ' || event, ', ') FROM change_phrases
            WHERE change_id = c.id) AS phrases
    FROM changes_fts JOIN changes AS c ON c.id = changes_fts.rowid
    WHERE changes_fts MATCH :q AND c.substantive = 1
    ORDER BY changes_fts.rowid DESC LIMIT :limit""",
    20,
)

ATLAS = Kind(
    "atlas",
    "Atlas of Surveillance rows",
    f"""
    SELECT a.id, a.aosnumber, a.agency, a.state, a.technology, a.vendor,
           snippet(atlas_rows_fts, -1, {SNIPPET}) AS snippet
    FROM atlas_rows_fts JOIN atlas_rows AS a ON a.id = atlas_rows_fts.rowid
    WHERE atlas_rows_fts MATCH :q AND a.superseded_at IS NULL
    ORDER BY atlas_rows_fts.rowid DESC LIMIT :limit""",
    20,
)

KINDS = (PAGES, DOCUMENTS, RELEASES, COMMUNICATIONS, CHANGES, ATLAS)


# Words of a search that are used; FTS5 spent seconds on a thousand repeated
# words, and no reporter's question needs more than these.
MAX_TERMS = 16
MAX_QUERY_CHARS = 400


def match_query(text: str) -> str:
    """The FTS5 query for what a reporter typed (as Datasette's escaped `_search=`), its first MAX_TERMS words."""
    words = (text or "")[:MAX_QUERY_CHARS].split()[:MAX_TERMS]
    return escape_fts(" ".join(words)) if words else ""


def highlight(snippet: str | None) -> Markup:
    """A snippet with its matches in <mark>, everything else escaped."""
    text = str(escape(snippet or ""))
    return Markup(text.replace(START, "<mark>").replace(END, "</mark>"))


def group_pages(rows: Iterable[Mapping[str, Any]], per_page: int = 8) -> list[dict[str, Any]]:
    """Captures grouped by the page they show (any URL form), newest archived page first.

    Each group keeps its matching captures newest as-of first, at most
    `per_page` of them, and counts the rest. Its `shown_by` is the capture whose
    snippet it shows (its newest archived); `snippet` is set by with_snippets.
    """
    groups: dict[str, dict[str, Any]] = {}
    for row in rows:
        key = page_key(row["page_url"] or row["url"])
        group = groups.setdefault(
            key,
            {
                "page_url": row["page_url"],
                "title": row["title"],
                "vendor": row["vendor"],
                "product": row["product"],
                "shown_by": row["id"],
                "snippet": highlight(None),
                "captures": [],
            },
        )
        group["captures"].append(dict(row))
    for group in groups.values():
        group["captures"].sort(key=lambda c: (c["as_of_at"] or "", c["id"]), reverse=True)
        group["more"] = max(0, len(group["captures"]) - per_page)
        group["captures"] = group["captures"][:per_page]
    return list(groups.values())


def with_snippets(groups: list[dict[str, Any]], snippets: Iterable[Mapping[str, Any]]) -> None:
    """Give each page group the snippet of the capture it is shown by (rows of page_snippets_sql)."""
    by_id = {row["id"]: row["snippet"] for row in snippets}
    for group in groups:
        group["snippet"] = highlight(by_id.get(group["shown_by"]))


def group_documents(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Matching pages grouped by document, in the order found, each page with its snippet."""
    groups: dict[int, dict[str, Any]] = {}
    for row in rows:
        group = groups.setdefault(row["document_id"], {**dict(row), "pages": []})
        group["pages"].append(
            {
                "page_id": row["page_id"],
                "page_number": row["page_number"],
                "method": row["method"],
                "snippet": highlight(row["snippet"]),
            }
        )
    for group in groups.values():
        group["pages"].sort(key=lambda p: p["page_number"])
    return list(groups.values())


def marked(rows: Iterable[Mapping[str, Any]], *columns: str) -> list[dict[str, Any]]:
    """Rows as dicts with the named snippet columns highlighted."""
    return [{**dict(row), **{c: highlight(row[c]) for c in columns}} for row in rows]
