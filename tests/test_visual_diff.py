"""The visual comparison: a change whose two versions were screenshotted shows both pictures side by
side, with the changed sentences beside them; a change without them shows the sentence diff alone."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from archive.archive import Archive
from archive.crawl.screenshots import Shot, shot_row
from archive.index.captures import save_screenshots
from archive.index.db import open_index, writing
from archive.times import utc_now
from archive.warc.write import WarcStore

from .conftest import db_rows, served_archive
from .test_datasette import launch_chromium
from .test_reader import readme_screenshot

REMOVED = "Person tracking lets agencies follow persons of interest"


@pytest.fixture(scope="module")
def shot_archive(demo_archive, tmp_path_factory) -> Iterator[dict]:
    """A copy of the demo archive where the change that removed person tracking has a screenshot on
    each side, drawn by Chromium from the archived copies and kept as the screenshot pass keeps them."""
    from playwright.sync_api import sync_playwright

    data = tmp_path_factory.mktemp("visual") / "data"
    shutil.copytree(demo_archive, data)
    [change] = db_rows(data, "SELECT * FROM changes WHERE removed LIKE ? LIMIT 1", (f"%{REMOVED}%",))
    old, new = (
        db_rows(data, "SELECT * FROM versions WHERE id = ?", (change[side],))[0]
        for side in ("from_version_id", "to_version_id")
    )
    captures = {"before": old["last_capture_id"], "after": new["first_capture_id"]}
    with served_archive(data) as base:  # Datasette reads the index live: rows added below show
        pngs = {}
        with sync_playwright() as p:
            browser = launch_chromium(p)
            try:
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                for side, capture_id in captures.items():
                    page.goto(f"{base}/-/spyglass/archived/{capture_id}")
                    pngs[side] = page.screenshot()
            finally:
                browser.close()
        index = open_index(Archive(data))
        store = WarcStore(Path(data) / "warcs", "screenshot-test")
        try:
            for side, capture_id in captures.items():
                row = db_rows(
                    data, "SELECT id, url, warc_record_id FROM captures WHERE id = ?", (capture_id,)
                )[0]
                shot = Shot("ok", utc_now(), pngs[side], http_status=200)
                source = SimpleNamespace(name=change["source"])
                shot_rows = [shot_row(store, "Chromium (test)", source, None, dict(row), shot)]
                with writing(index):
                    save_screenshots(index, shot_rows)
        finally:
            store.close()
            index.close()
        yield {"base": base, "change": change, "captures": captures, "data": data}


def test_a_change_with_both_screenshots_shows_them_side_by_side_beside_its_sentences(shot_archive):
    from playwright.sync_api import sync_playwright

    base, change = shot_archive["base"], shot_archive["change"]
    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.goto(f"{base}/-/spyglass/diff?change={change['id']}")
            section = page.locator("section.visual-comparison")
            section.scroll_into_view_if_needed()
            boxes = {}
            for side in ("before", "after"):
                image = section.locator(f"figure.{side} img")
                page.wait_for_function("i => i.complete && i.naturalWidth > 0", arg=image.element_handle())
                assert image.evaluate("i => i.naturalWidth") == 1280  # the PNG held, read from its WARC
                caption = section.locator(f"figure.{side} figcaption").inner_text()
                assert f"capture {shot_archive['captures'][side]}" in caption
                boxes[side] = image.bounding_box()
            sentences = section.locator(".visual-sentences")
            assert REMOVED in " ".join(sentences.locator(".del").all_inner_texts())
            beside = sentences.bounding_box()
            # Side by side, in one row: before, then after, then the sentences that changed.
            assert boxes["before"]["x"] + boxes["before"]["width"] <= boxes["after"]["x"]
            assert boxes["after"]["x"] + boxes["after"]["width"] <= beside["x"]
            assert abs(boxes["before"]["y"] - boxes["after"]["y"]) < 2
            readme_screenshot(page, "diff")
            # A change of the same page whose versions were never screenshotted: the sentences alone.
            other = db_rows(
                shot_archive["data"],
                "SELECT id FROM changes WHERE page_key = ? AND id != ? LIMIT 1",
                (change["page_key"], change["id"]),
            )[0]["id"]
            page.goto(f"{base}/-/spyglass/diff?change={other}")
            assert page.locator("section.visual-comparison").count() == 0
            assert page.locator("table.diff").count() == 1
        finally:
            browser.close()
