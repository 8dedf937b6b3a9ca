"""datasette/metadata.yml stays true to the schema; the published archive works in a real browser."""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from archive.index.db import open_db

from .conftest import ROOT, served_archive

METADATA = yaml.safe_load((ROOT / "datasette" / "metadata.yml").read_text())


def test_metadata_describes_every_table_and_column(tmp_path: Path):
    index = open_db(tmp_path / "spyglass.db")
    tables = METADATA["databases"]["spyglass"]["tables"]
    for name in index.table_names():
        if "_fts_" in name:
            continue  # FTS5 shadow tables (captures_fts_data, document_pages_fts_idx, ...)
        assert name in tables, f"table {name} is not in metadata.yml"
        if tables[name].get("hidden"):
            continue
        assert tables[name].get("description"), f"table {name} has no description"
        columns = tables[name].get("columns", {})
        # table_xinfo, not table_info: generated columns (captures.as_of_at) are columns too.
        actual = [row[1] for row in index.execute(f"PRAGMA table_xinfo([{name}])").fetchall()]
        for column in actual:
            assert columns.get(column), f"{name}.{column} has no description in metadata.yml"
        assert set(columns) <= set(actual), f"{name}: stale columns"
    captures = tables["captures"]
    assert captures["fts_table"] == "captures_fts"
    assert {"vendor", "product", "source", "via", "page_url"} <= set(
        f for f in captures["facets"] if isinstance(f, str)
    )
    assert {"year": "as_of_at"} in captures["facets"] and captures["sort_desc"] == "as_of_at"
    for view in index.view_names():
        assert tables.get(view, {}).get("description"), f"view {view} has no description"


def test_metadata_describes_every_view_column_and_query_and_gives_each_table_a_sort(tmp_path: Path):
    """Views' columns are described like tables'; default columns name real ones; every table sorts."""
    index = open_db(tmp_path / "spyglass.db")
    database = METADATA["databases"]["spyglass"]
    tables = database["tables"]
    for name in index.table_names() + index.view_names():
        if "_fts" in name or tables.get(name, {}).get("hidden"):
            continue
        meta = tables[name]
        actual = [row[1] for row in index.execute(f"PRAGMA table_xinfo([{name}])").fetchall()]
        described = meta.get("columns", {})
        assert [c for c in actual if not described.get(c)] == [], f"{name}: columns without a description"
        assert set(described) <= set(actual), f"{name}: stale columns"
        defaults = (meta.get("plugins") or {}).get("spyglass", {}).get("columns", [])
        assert set(defaults) <= set(actual), f"{name}: default columns that do not exist"
        long = (meta.get("plugins") or {}).get("spyglass", {}).get("long_columns", [])
        assert set(long) <= set(actual) - set(defaults), f"{name}: long columns that are not hidden ones"
        assert meta.get("sort") or meta.get("sort_desc"), f"{name} has no sort"
        for facet in meta.get("facets", []):
            column = facet if isinstance(facet, str) else next(iter(facet.values()))
            assert column in actual, f"{name}: facet on a missing column {column}"
    for name, query in database["queries"].items():
        assert query.get("title") and (query.get("description") or query.get("description_html")), name
        assert query.get("hide_sql") is True, f"{name}: its SQL would push the question off the screen"


def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        pytest.fail("Debian's chromium is required for browser tests: run scripts/setup")
    return path


BROWSER_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def launch_chromium(playwright: Any) -> Any:
    """Debian's headless chromium, as every browser test drives it (nothing is downloaded)."""
    return playwright.chromium.launch(executable_path=chromium_path(), args=BROWSER_ARGS)


@pytest.fixture
def served(crawled) -> Iterator[str]:
    with served_archive(crawled["data"]) as base:
        yield base


def test_reporter_searches_captures_in_a_real_browser(served, crawled):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            page = browser.new_page()
            page.goto(f"{served}/spyglass/captures")
            assert "captures" in page.title()
            page.fill("input#_search", "person tracking")
            page.press("input#_search", "Enter")
            page.wait_for_load_state()
            assert "_search=person+tracking" in page.url
            # The page each capture shows, opening its archived copy (the live URL beside it).
            links = page.locator("table.rows-and-columns td.col-page_url a.archived-url").all_inner_texts()
            assert crawled["base"] + "/products/recognize/faqs/" in links
            # Facets the reporter filters by are offered.
            facets = page.locator(".facet-info").all_inner_texts()
            assert any("vendor" in f for f in facets) and any("product" in f for f in facets)
            page.screenshot(
                path=str(Path(os.environ.get("SPYGLASS_SCREENSHOTS", crawled["data"])) / "search.png")
            )
        finally:
            browser.close()


def _page(data: Path, path: str, statements: list[str]) -> str:
    """A page of the app `spyglass serve` runs, with the SQL it ran on the archive appended to `statements`."""
    import asyncio
    import types

    from datasette import hookimpl
    from datasette.plugins import pm

    from archive.publish.datasette import datasette_app

    tracer = types.ModuleType("spyglass_test_sql_trace")

    @hookimpl
    def prepare_connection(conn, database):
        if database == "spyglass":
            conn.set_trace_callback(statements.append)

    tracer.prepare_connection = prepare_connection
    pm.register(tracer, name="spyglass-test-sql-trace")
    try:

        async def get() -> str:
            response = await datasette_app(data).client.get(path)
            assert response.status_code == 200, response.text[:500]
            return response.text

        return asyncio.run(get())
    finally:
        pm.unregister(name="spyglass-test-sql-trace")


def _rows_selected(statements: list[str]) -> list[str]:
    """The columns the table page's row query read."""
    [rows] = [s for s in statements if s.startswith("select ") and " from captures " in s and "limit 51" in s]
    return [c.strip().strip("[]") for c in rows[len("select ") : rows.index(" from captures ")].split(",")]


def test_a_table_page_draws_its_default_columns_and_leaves_long_ones_unread(crawled):
    data = crawled["data"]
    shown = METADATA["databases"]["spyglass"]["tables"]["captures"]["plugins"]["spyglass"]["columns"]
    every = [r[1] for r in open_db(data / "spyglass.db").execute("PRAGMA table_xinfo(captures)")]
    statements: list[str] = []
    page = _page(data, "/spyglass/captures", statements)
    assert re.findall(r'<th [^>]*data-column="([^"]+)"', page) == shown
    # The small-screen labels follow the columns drawn, in their order.
    assert re.findall(r'td:nth-of-type\(\d+\):before \{ content: "([^"]+)"', page) == shown
    assert f"Showing {len(shown)} of {len(every)} columns" in page, re.findall("Showing[^<]*", page)
    # Cells still reach columns they do not show: the archived copy (by id) and the citation,
    # fetched for the whole page at once and each row given its own.
    rows = re.findall(r"<tr>(.*?)</tr>", page[page.index("<tbody>") :], re.S)
    assert len(rows) > 10 and "/-/spyglass/replay/" in page
    for row in rows:
        [capture] = re.findall(r'class="col-id type-pk"><a href="/spyglass/captures/(\d+)"', row)
        assert row.count("<summary>cite</summary>") == 1 and f"(Spyglass capture {capture})" in row
    read = _rows_selected(statements)
    assert "text" not in read and set(shown) <= set(read) and "warc_filename" in read
    # No column choice leaks into the page's links (pagination, sort, export).
    assert not re.search(r'href="[^"]*[?&](_col|_nocol)=', page)

    statements.clear()
    page = _page(data, "/spyglass/captures?_search=recognition&_columns=all", statements)
    assert re.findall(r'<th [^>]*data-column="([^"]+)"', page) == every
    assert "text" in _rows_selected(statements) and "Showing" not in page
    statements.clear()
    _page(data, "/spyglass/captures?_search=recognition&_sort=text", statements)
    assert "text" in _rows_selected(statements)  # the sort column is read, to page on
    exported = _page(data, "/spyglass/captures.json?_search=recognition&_shape=objects", [])
    assert all("text" in row for row in json.loads(exported)["rows"])
