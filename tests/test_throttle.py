"""Re-crawls at the speed of their answers: AutoThrottle counts a 304 as a good answer, as a 200."""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from archive.demo.server import Incoming, LoopbackServer, Reply

from .conftest import db_rows, run_cli

PAGES = 12
START_DELAY = 2.0
# Scrapy's rule kept a 304-only re-crawl at the start delay between requests; ours
# lets it fall towards latency / 4. A whole second of margin for a busy machine.
FAST_GAP = START_DELAY / 2


class Site:
    """Pages /p/0..11 (each links to all), with ETags; notes when each request arrived."""

    def __init__(self) -> None:
        self.arrivals: list[tuple[float, str]] = []

    def __call__(self, request: Incoming) -> Reply:
        self.arrivals.append((time.monotonic(), request.path))
        links = "".join(f'<a href="/p/{i}.html">{i}</a>' for i in range(PAGES))
        return Reply(
            200, f"<html><title>{request.path}</title><body>{links}</body></html>".encode(), [], "text/html"
        )


@pytest.fixture()
def site() -> Iterator[tuple[str, Site]]:
    handler = Site()
    with LoopbackServer(handler, etags=True) as server:
        yield server.url, handler


def _crawl(base: str, tmp_path: Path) -> None:
    sources = tmp_path / "sources.yml"
    sources.write_text(
        "sources:\n"
        f"  - {{name: t, kind: vendor, urls: ['{base}/p/0.html'], allow_private: [127.0.0.1], "
        "robots: false, scope: {hosts: [127.0.0.1], max_depth: 2}}\n"
    )
    run_cli(
        "crawl",
        "--sources",
        str(sources),
        "--data",
        str(tmp_path / "data"),
        *("-s", "AUTOTHROTTLE_ENABLED=True", "-s", f"AUTOTHROTTLE_START_DELAY={START_DELAY}"),
        *("-s", "CONCURRENT_REQUESTS_PER_DOMAIN=1", "-s", "RANDOMIZE_DOWNLOAD_DELAY=False"),
        check=True,
    )


def test_an_all_304_recrawl_speeds_up_as_a_first_crawl_does(site, tmp_path: Path):
    base, handler = site
    _crawl(base, tmp_path)
    handler.arrivals.clear()
    _crawl(base, tmp_path)
    [run] = db_rows(tmp_path / "data", "SELECT observations, pages FROM crawl_runs WHERE id = 2")
    assert run["observations"] == PAGES, dict(run)  # every page answered 304
    times = [at for at, _ in handler.arrivals]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    # The server's own clock: the last gaps, once the delay has had a few answers to fall on.
    assert statistics.median(gaps[-5:]) < FAST_GAP, gaps
