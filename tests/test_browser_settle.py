"""Settling a page in the browser (archive/browser/load.py): content a script adds after the
first scroll is scrolled through too, so the lazy images it carries are recorded; a page that
changes after it seemed settled is drawn as it ended, not as it was when the screenshot began;
what web components show is in the rendered DOM."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest

from tests.servers.app_site import MARKS, PNG, RED_LATER, AppServers

CLAIMS = ["Identify all faces in crowded events."]


def load_one(tmp_path: Path, path: str, late_timers: float):
    """`path` of the fixture site loaded and settled in Chromium, as a `render: browser` pass does."""
    from archive.browser.load import Settling, load_page
    from archive.config import Config
    from archive.crawl.screenshots import Browser
    from archive.sources.load import load_sources

    servers = AppServers(CLAIMS)
    sources = tmp_path / "sources.yml"
    sources.write_text(
        "sources:\n  - name: app\n    kind: vendor\n    vendor: Acme\n    product: Recognize\n"
        f"    urls: ['{servers.url}{path}']\n    allow_private: [127.0.0.1]\n    render: browser\n"
    )
    [source] = load_sources(sources)
    config = Config(data_dir=tmp_path / "data", browser_idle_wait=5.0, browser_late_timers=late_timers)

    async def load():
        async with Browser(config, source) as browser:
            assert browser.ready, browser.problem
            return await load_page(browser, f"{servers.url}{path}", Settling.from_config(config))

    try:
        return servers, asyncio.run(load())
    finally:
        servers.stop()


def test_lazy_content_that_arrives_after_load_is_scrolled_to_and_recorded(tmp_path: Path):
    # Late timers off: the page's claims come by a request, which the quiet alone waits for.
    servers, load = load_one(tmp_path, "/grows/", late_timers=0.0)
    assert (load.status, load.error) == ("ok", None)
    assert CLAIMS[0] in (load.dom or "")
    received = {r.url.removeprefix(servers.url): r for r in load.responses}
    # Both lie 6,000 pixels below what was the page's bottom when the first scroll ran.
    assert received["/below.png"].body == PNG and received["/seen.png"].body == PNG
    claims = received["/api/slow-claims.json"]
    assert claims.resource_type == "fetch"
    # Dated when the browser sent it, before the server had it (10 ms for the clocks' rounding),
    # not when its answer came, SLOW_API (0.4 s) later.
    assert claims.sent_at.timestamp() <= servers.site.arrived["/api/slow-claims.json"] + 0.01


def test_each_step_of_the_scroll_is_seen_by_observers_and_by_handlers_that_look_a_frame_later(
    tmp_path: Path,
):
    """Each mark is in view at one step only: the scroll moves on only once the page has had a
    frame at that step, its scroll handlers, the frame callbacks they asked for, and its
    intersection observers run."""
    servers, load = load_one(tmp_path, "/spread/", late_timers=0.0)
    assert (load.status, load.error) == ("ok", None)
    received = {r.url.removeprefix(servers.url) for r in load.responses}
    assert {f"/mark-{n}.png" for n in range(MARKS)} <= received


def test_what_web_components_show_is_in_the_rendered_dom_and_its_text(tmp_path: Path):
    from archive.text.extract import extract

    _, load = load_one(tmp_path, "/components/", late_timers=0.0)
    assert (load.status, load.error) == ("ok", None)
    dom = load.dom or ""
    assert dom.startswith('<!DOCTYPE html><html lang="en"><head>') and dom.endswith("</html>")
    assert dom.count('<template shadowrootmode="open">') == 2
    text = extract("text/html; charset=utf-8", dom.encode()).text or ""
    assert "Recognizes faces at 300 metres." in text and "Works with every camera brand." in text
    assert "Forged" not in text  # the page's own getHTML and outerHTML are not the ones called


@pytest.mark.parametrize("path", ["/recolors/", "/draws/"])
def test_a_page_that_changes_after_it_seemed_settled_is_drawn_as_it_ended(tmp_path: Path, path: str):
    """The page asks for nothing after `load`, so its screenshot may begin 0.25 s after the scroll,
    well before it turns red (1.5 s after `load`) within the late timers (3 s): the picture kept
    is the red one, whether the change was to the DOM (a style) or drawn where no DOM shows it (a
    canvas)."""
    from PIL import Image

    _, load = load_one(tmp_path, path, late_timers=2 * RED_LATER)
    assert (load.status, load.error) == ("ok", None)
    assert load.png is not None
    assert Image.open(io.BytesIO(load.png)).convert("RGB").getpixel((5, 5)) == (255, 0, 0)
