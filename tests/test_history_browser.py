"""The timeline and diff pages in a real browser: drawn, linked, no console errors, no failed requests.

Screenshots are test artifacts: they go to $SPYGLASS_SCREENSHOTS, else to
screenshots/ at the project root (gitignored); the test prints where.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from .conftest import ROOT, served_archive
from .test_datasette import launch_chromium


def screenshot_dir() -> Path:
    path = Path(os.environ.get("SPYGLASS_SCREENSHOTS") or ROOT / "screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def served(crawled) -> Iterator[str]:
    with served_archive(crawled["data"]) as base:
        yield base


def test_timeline_and_diff_pages_in_a_real_browser(served, crawled, capsys):
    from playwright.sync_api import sync_playwright

    shots = screenshot_dir()
    with capsys.disabled():
        print(f"\nscreenshots of the timeline and diff pages: {shots}")
    product = crawled["base"] + "/products/recognize/"
    problems: list[str] = []
    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on(
                "console",
                lambda m: (
                    problems.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning") else None
                ),
            )
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.on("requestfailed", lambda r: problems.append(f"failed request: {r.url}"))
            page.on(
                "response",
                lambda r: problems.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None,
            )
            requested: list[str] = []
            page.on("request", lambda r: requested.append(r.url))

            page.goto(f"{served}/-/spyglass/timeline?url={quote(product, safe='')}&phrase=person+tracking")
            assert page.title() == f"Timeline: {product}"
            svg = page.locator("svg.spyglass-timeline")
            assert svg.locator("a.version").count() == 5
            assert svg.locator("a.change").count() == 4
            assert page.locator("tr.has-phrase").count() == 1
            assert page.locator("span.phrase-event").all_inner_texts() == [
                '"person tracking" appeared',
                '"person tracking" disappeared',
            ]
            page.screenshot(path=str(shots / "timeline.png"), full_page=True)

            # The change marked in red on the time axis opens its diff.
            page.locator("svg a.change").nth(2).click()
            page.wait_for_load_state()
            assert "/-/spyglass/diff?change=" in page.url
            removed = page.locator("table.diff .del").all_inner_texts()
            assert (
                "Person tracking lets agencies follow persons of interest from a street camera or a "
                "body camera, and identify all faces in crowded events and public places."
            ) in removed
            assert page.locator("table.diff .ins.boilerplate").count() == 2  # the call to action, greyed
            page.screenshot(path=str(shots / "diff-side-by-side.png"), full_page=True)

            # Any two versions, inline: the oldest against today's live page.
            page.select_option("select[name=from]", index=0)
            page.select_option("select[name=to]", index=4)
            page.select_option("select[name=view]", "inline")
            page.click("input[type=submit][value=Compare]")
            page.wait_for_load_state()
            assert "view=inline" in page.url
            assert (
                page.locator(".inline-diff .del").count() >= 1
                and page.locator(".inline-diff .ins").count() >= 1
            )
            page.screenshot(path=str(shots / "diff-inline.png"), full_page=True)

            # A version bar opens the archived copy of its first capture.
            page.go_back()
            page.goto(f"{served}/-/spyglass/timeline?url={quote(product, safe='')}")
            page.locator("svg a.version").first.click()
            page.wait_for_load_state()
            assert "/-/spyglass/replay/" in page.url
            assert page.locator("dt", has_text="Memento time (as of)").count() == 1
            page.screenshot(path=str(shots / "replay-from-timeline.png"))
        finally:
            browser.close()
    assert problems == []
    assert all(url.startswith(served) for url in requested), [
        u for u in requested if not u.startswith(served)
    ]
