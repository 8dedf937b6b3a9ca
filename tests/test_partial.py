"""Partial means partial: a run a limit cut short says so everywhere; a sitemap, or links from many pages, vouch for numbered pages."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest

from archive.demo.server import Incoming, LoopbackServer, Reply

from .conftest import db_rows, run_cli

PAGES = 40
SIMILAR = 10


def _catalogue(request: Incoming) -> Reply:
    """Numbered product pages, each linking to the next three; a sitemap listing every one."""
    if request.path == "/sitemap.xml":
        base = f"http://{request.headers['Host']}"
        urls = "".join(f"<url><loc>{base}/p/{i}.html</loc></url>" for i in range(PAGES))
        body = f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'
        return Reply(200, body.encode(), [], "application/xml")
    number = int(request.path.removeprefix("/p/").removesuffix(".html") or 0)
    links = "".join(f'<a href="/p/{i}.html">{i}</a>' for i in range(number + 1, min(number + 4, PAGES)))
    return Reply(
        200, f"<html><title>Product {number}</title><body>{links}</body></html>".encode(), [], "text/html"
    )


@pytest.fixture(scope="module")
def catalogue() -> Iterator[str]:
    with LoopbackServer(_catalogue) as server:
        yield server.url


def _crawl(tmp_path: Path, urls: list[str]) -> tuple[Path, Path, str]:
    sources = tmp_path / "sources.yml"
    sources.write_text(
        "sources:\n"
        f"  - {{name: shop, kind: vendor, every: 1d, urls: {urls!r}, allow_private: [127.0.0.1], "
        "robots: false, scope: {hosts: [127.0.0.1], max_depth: 100}}\n"
    )
    data = tmp_path / "data"
    result = run_cli(
        "crawl", "--sources", str(sources), "--data", str(data), "-s", f"SPYGLASS_MAX_SIMILAR_URLS={SIMILAR}"
    )
    assert result.returncode == 0, result.stderr
    return sources, data, result.stdout


def test_a_run_the_trap_limit_stopped_is_partial_in_the_summary_status_and_datasette(catalogue, tmp_path):
    sources, data, out = _crawl(tmp_path, [f"{catalogue}/p/0.html"])
    label = f"trap: /p/N.html after {SIMILAR} similar URLs"
    assert f"shop: partial ({label}), {SIMILAR} pages" in out
    [run] = db_rows(data, "SELECT status, finish_reason FROM crawl_runs")
    assert tuple(run) == ("partial", label)
    status = run_cli("status", "--sources", str(sources), "--data", str(data))
    assert status.returncode == 1
    [log] = (data / "logs").glob("crawl-*.log")
    assert "Spider opened" in log.read_text()  # Scrapy's INFO log, though the console showed WARNING
    assert f"1 need attention: shop is partial: {label} (log: {log})" in status.stderr
    assert "PARTIAL" in status.stdout

    from archive.publish.datasette import datasette_app

    app = datasette_app(data)
    page = asyncio.run(app.client.get("/spyglass/source_status.json?_shape=objects")).json()["rows"]
    assert [(r["state"], r["last_status"], r["finish_reason"], r["log_file"]) for r in page] == [
        ("partial", "partial", label, str(log.relative_to(data)))
    ]


def test_a_sitemap_vouches_for_a_catalogues_numbered_pages(catalogue, tmp_path):
    _, data, out = _crawl(tmp_path, [f"{catalogue}/p/0.html", f"{catalogue}/sitemap.xml"])
    [run] = db_rows(data, "SELECT status, pages FROM crawl_runs")
    assert tuple(run) == ("finished", PAGES + 1), out  # every product page and the sitemap


def _catalogue_and_calendar(request: Incoming) -> Reply:
    """/c/N.html: numbered pages, each linking to the next eight (so each is linked from eight);
    /cal/YYYY-MM-DD.html: endless dates, each linking to the day before and the day after."""
    if request.path.startswith("/cal/"):
        day = date.fromisoformat(request.path.removeprefix("/cal/").removesuffix(".html"))
        links = "".join(f'<a href="/cal/{day + timedelta(days=d)}.html">{d}</a>' for d in (-1, 1))
    else:
        number = int(request.path.removeprefix("/c/").removesuffix(".html"))
        links = "".join(f'<a href="/c/{i}.html">{i}</a>' for i in range(number + 1, min(number + 9, PAGES)))
    return Reply(
        200, f"<html><title>{request.path}</title><body>{links}</body></html>".encode(), [], "text/html"
    )


@pytest.fixture(scope="module")
def shapes() -> Iterator[str]:
    with LoopbackServer(_catalogue_and_calendar) as server:
        yield server.url


def test_links_from_many_pages_vouch_for_a_catalogues_numbered_pages(shapes, tmp_path):
    _, data, out = _crawl(tmp_path, [f"{shapes}/c/0.html"])
    [run] = db_rows(data, "SELECT status, pages FROM crawl_runs")
    assert tuple(run) == ("finished", PAGES), out
    assert not db_rows(data, "SELECT * FROM fetch_errors")


def test_a_calendars_endless_dates_each_linked_from_its_neighbours_are_a_trap(shapes, tmp_path):
    _, data, out = _crawl(tmp_path, [f"{shapes}/cal/2026-01-01.html"])
    label = f"trap: /cal/N-N-N.html after {SIMILAR} similar URLs"
    [run] = db_rows(data, "SELECT status, finish_reason, pages FROM crawl_runs")
    assert tuple(run) == ("partial", label, SIMILAR), out
    [error] = db_rows(data, "SELECT error_type, reason FROM fetch_errors")
    assert error["error_type"] == "trap" and "each linked from fewer than 5 pages" in error["reason"]
