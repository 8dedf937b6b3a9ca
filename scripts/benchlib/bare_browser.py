"""Bare Playwright baseline for `scripts/bench`'s browser row: loads pages in Chromium, records nothing.

The ceiling a browser crawl can reach on this machine: the same Chromium with
the same flags (no background traffic), one page at a time in a fresh context,
each waited for until `load` and then the network quiet (as Spyglass settles
it), no proxy, no records, no DOM, no screenshot.
Usage: python bare_browser.py CHROMIUM FLAGS_JSON URL...
"""

import json
import os
import sys

from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import sync_playwright


def main(chromium: str, flags: list[str], urls: list[str]) -> None:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=flags, chromium_sandbox=os.geteuid() != 0)
        for url in urls:
            context = browser.new_context(viewport={"width": 1280, "height": 800})
            page = context.new_page()
            page.goto(url, wait_until="load")
            try:
                page.wait_for_load_state("networkidle", timeout=10_000)
            except PlaywrightTimeout:
                pass
            context.close()
        browser.close()


if __name__ == "__main__":
    main(sys.argv[1], json.loads(sys.argv[2]), sys.argv[3:])
