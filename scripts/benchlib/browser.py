"""The browser row of `scripts/bench`: a `render: browser` crawl against a bare Playwright script.

Both load the same pages of the synthetic site in the same Chromium, one at a
time. Spyglass's figure is its browser pass's own run (crawl_runs.seconds of
the `browser` run: Chromium's start, every load through the guarded proxy,
settling, every response written to WARC, the DOM, a screenshot, the rows);
the bare script's is its whole process. Late timers are set to 0 for the
comparison: the bare script waits for none either. Peak memory is the crawl's
processes and Chromium's together.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import sys
from pathlib import Path

from scripts.benchlib.procs import measure
from scripts.benchlib.site import serve_site
from scripts.benchlib.throughput import ROOT, spyglass_command

PY = sys.executable
# The synthetic site needs more pages than a page has links (68); the browser loads the first few.
SITE_PAGES = 100


def browser_section(pages: int, work: Path) -> list[tuple[str, str, str]]:
    """One row: pages/s of the browser pass against the bare Playwright ceiling, with memory."""
    from archive.config import Config
    from archive.crawl.screenshots import BROWSER_ARGS, chromium_path

    chromium = chromium_path(Config())
    if chromium is None:
        return [("Browser crawl (`render: browser`)", "not measured: no Chromium", "")]
    with serve_site(SITE_PAGES, work / "site") as site:
        urls = [f"{site.base}/p/{i}.html" for i in range(pages)]
        bare_script = str(ROOT / "scripts/benchlib/bare_browser.py")
        bare = measure([PY, bare_script, chromium, json.dumps(BROWSER_ARGS), *urls])
        if bare.returncode:
            raise SystemExit(f"the bare Playwright script failed:\n{bare.stderr[-3000:]}")
        cmd = spyglass_command(site.base, work, SITE_PAGES, {"SPYGLASS_BROWSER_LATE_TIMERS": "0"})
        sources = work / "bench-sources.yml"
        sources.write_text(sources.read_text() + f"    render: {{browser: {urls!r}}}\n")
        crawl = measure(cmd, cwd=ROOT)
        if crawl.returncode:
            raise SystemExit(f"spyglass crawl with render: browser failed:\n{crawl.stderr[-3000:]}")
    conn = sqlite3.connect(work / "data" / "spyglass.db")
    try:
        seconds, rendered, received = conn.execute(
            "SELECT seconds, pages, requisites FROM crawl_runs WHERE spider = 'browser'"
        ).fetchone()
    finally:
        conn.close()
    shutil.rmtree(work, ignore_errors=True)
    rate, ceiling = rendered / seconds, pages / bare.seconds
    return [
        (
            f"Browser crawl (`render: browser`), {pages} pages of the synthetic site",
            f"{rate:.2f} pages/s ({rendered} rendered, {received} responses recorded); peak RSS "
            f"{crawl.rss_main_mb:.0f} MB crawler, {crawl.rss_children_mb:.0f} MB largest child "
            f"(writer or Chromium); bare Playwright {ceiling:.2f} pages/s, "
            f"{bare.rss_children_mb:.0f} MB largest child",
            f"{rate / ceiling:.2f} of bare Playwright (goal >= 0.7)",
        )
    ]
