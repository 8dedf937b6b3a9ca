"""The front page's search reads a page's snippet only for the capture the page is shown by."""

from __future__ import annotations

import sqlite3

from archive.publish import search

COLUMNS = (
    "as_of_at, captured_at, page_url, url, title, vendor, product, agency, source, via, status, snapshot_url"
)


def archive_of(versions: list[tuple[str, str]]) -> sqlite3.Connection:
    """Captures (page URL, text) in archive order, indexed as the captures' FTS5 table is."""
    conn = sqlite3.connect(":memory:")
    conn.row_factory = sqlite3.Row
    conn.execute(f"CREATE TABLE captures (id INTEGER PRIMARY KEY, {COLUMNS})")
    conn.execute("CREATE VIRTUAL TABLE captures_fts USING fts5 (title, text, tokenize='porter')")
    for n, (page, text) in enumerate(versions, 1):
        conn.execute(
            f"INSERT INTO captures (id, {COLUMNS}) VALUES (?, ?, ?, ?, ?, 'Page', NULL, NULL, NULL, "
            "'site', 'live', 200, NULL)",
            [n, f"2024-01-0{n}", f"2024-01-0{n}", page, page],
        )
        conn.execute("INSERT INTO captures_fts (rowid, title, text) VALUES (?, 'Page', ?)", [n, text])
    return conn


def test_each_page_shows_its_newest_versions_snippet_and_no_other_is_read():
    conn = archive_of(
        [
            ("http://a.test/", "old face of page a"),
            ("http://a.test/", "newer face of page a"),
            ("http://b.test/", "face of page b"),
            ("http://a.test/", "newest face of page a"),
            ("http://c.test/", "nothing to find here"),
        ]
    )
    match = search.match_query("face")
    groups = search.group_pages(conn.execute(search.PAGES.sql, {"q": match, "limit": 60}).fetchall())
    assert [(g["page_url"], g["shown_by"], len(g["captures"])) for g in groups] == [
        ("http://a.test/", 4, 3),
        ("http://b.test/", 3, 1),
    ]
    ids = [g["shown_by"] for g in groups]
    params = {"q": match, "lo": min(ids), "hi": max(ids), **{f"id{i}": n for i, n in enumerate(ids)}}
    snippets = conn.execute(search.page_snippets_sql(len(ids)), params).fetchall()
    # Capture 2 lies inside the range read but shows no page: its snippet is not made.
    assert sorted(row["id"] for row in snippets) == [3, 4]
    search.with_snippets(groups, snippets)
    assert [str(g["snippet"]) for g in groups] == [
        "newest <mark>face</mark> of page a",
        "<mark>face</mark> of page b",
    ]
