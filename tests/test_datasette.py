"""datasette/metadata.yml stays true to the schema; the published archive works in a real browser."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

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
    assert {"vendor", "product", "source", "via", "page_url"} <= set(f for f in captures["facets"]
                                                                    if isinstance(f, str))
    assert {"date": "as_of_at"} in captures["facets"] and captures["sort_desc"] == "as_of_at"
    for view in index.view_names():
        assert tables.get(view, {}).get("description"), f"view {view} has no description"


def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        pytest.fail("Debian's chromium is required for browser tests: run scripts/setup")
    return path


@pytest.fixture
def served(crawled) -> Iterator[str]:
    with served_archive(crawled["data"]) as base:
        yield base


def test_reporter_searches_captures_in_a_real_browser(served, crawled):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium_path(),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )
        try:
            page = browser.new_page()
            page.goto(f"{served}/spyglass/captures")
            assert "captures" in page.title()
            page.fill("input#_search", "person tracking")
            page.press("input#_search", "Enter")
            page.wait_for_load_state()
            assert "_search=person+tracking" in page.url
            links = page.locator("table.rows-and-columns td.col-url").all_inner_texts()
            assert crawled["base"] + "/products/recognize/faqs/" in links
            # Facets the reporter filters by are offered.
            facets = page.locator(".facet-info").all_inner_texts()
            assert any("vendor" in f for f in facets) and any("product" in f for f in facets)
            page.screenshot(path=str(Path(os.environ.get("SPYGLASS_SCREENSHOTS", crawled["data"])) / "search.png"))
        finally:
            browser.close()
