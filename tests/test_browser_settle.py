"""Settling a page in the browser (archive/browser/load.py): content a script adds after the
first scroll is scrolled through too, so the lazy images it carries are recorded."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.servers.app_site import PNG, AppServers

CLAIMS = ["Identify all faces in crowded events."]


def test_lazy_content_that_arrives_after_load_is_scrolled_to_and_recorded(tmp_path: Path):
    from archive.browser.load import Settling, load_page
    from archive.config import Config
    from archive.crawl.screenshots import Browser
    from archive.sources.load import load_sources

    servers = AppServers(CLAIMS)
    sources = tmp_path / "sources.yml"
    sources.write_text(
        "sources:\n  - name: app\n    kind: vendor\n    vendor: Acme\n    product: Recognize\n"
        f"    urls: ['{servers.url}/grows/']\n    allow_private: [127.0.0.1]\n    render: browser\n"
    )
    [source] = load_sources(sources)
    # Late timers off: the page's claims come by a request, which the quiet alone waits for.
    config = Config(data_dir=tmp_path / "data", browser_idle_wait=5.0, browser_late_timers=0.0)

    async def load_one():
        async with Browser(config, source) as browser:
            assert browser.ready, browser.problem
            return await load_page(browser, f"{servers.url}/grows/", Settling.from_config(config))

    try:
        load = asyncio.run(load_one())
    finally:
        servers.stop()
    assert (load.status, load.error) == ("ok", None)
    assert CLAIMS[0] in (load.dom or "")
    received = {r.url.removeprefix(servers.url): r for r in load.responses}
    # Both lie 6,000 pixels below what was the page's bottom when the first scroll ran.
    assert received["/below.png"].body == PNG and received["/seen.png"].body == PNG
    assert received["/api/slow-claims.json"].resource_type == "fetch"
