"""A 304 re-crawl follows a page's links as kept at its capture (page_links), never reading the
page back from its WARC file; an archive made before page_links reads it back, and keeps them."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from archive.demo.server import Incoming, LoopbackServer, Reply

from .conftest import db_rows, run_cli

# A chain: each page is reached only through the one before, so a page whose links went
# unfollowed cuts the re-crawl short. Requisites on: a page's stylesheet and image too.
PAGES = 5


def _site(request: Incoming) -> Reply:
    if request.path == "/site.css":
        return Reply(200, b"body{margin:0}", [], "text/css")
    if request.path == "/logo.png":
        return Reply(200, b"\x89PNG not really", [], "image/png")
    number = int(request.path.removeprefix("/p/").removesuffix(".html"))
    link = f'<a href="/p/{number + 1}.html">next</a>' if number + 1 < PAGES else ""
    body = f"<html><head><link rel=stylesheet href=/site.css></head><body><img src=/logo.png>{link}</body></html>"
    return Reply(200, body.encode(), [], "text/html")


@pytest.fixture(scope="module")
def first(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """The site served with ETags, and a first crawl of it (sources.yml, data directory)."""
    with LoopbackServer(_site, etags=True) as server:
        work = tmp_path_factory.mktemp("stored-links")
        sources = work / "sources.yml"
        sources.write_text(
            "sources:\n"
            f"  - {{name: chain, kind: vendor, urls: ['{server.url}/p/0.html'], allow_private: [127.0.0.1], "
            "robots: false, scope: {hosts: [127.0.0.1], max_depth: 10}}\n"
        )
        _crawl(sources, work / "data")
        yield sources, work / "data"


def _crawl(sources: Path, data: Path) -> str:
    result = run_cli("crawl", "--sources", str(sources), "--data", str(data))
    assert result.returncode == 0, result.stderr
    return result.stderr


def _observed(data: Path) -> set[str]:
    rows = db_rows(data, "SELECT url FROM observations WHERE crawl_run = (SELECT max(id) FROM crawl_runs)")
    return {r["url"].split("/", 3)[3] for r in rows}


EVERY = {*(f"p/{i}.html" for i in range(PAGES)), "site.css", "logo.png"}


def test_a_304_recrawl_follows_kept_links_without_reading_the_archived_pages(first, tmp_path: Path):
    sources, original = first
    data = tmp_path / "data"
    shutil.copytree(original, data)
    assert len(db_rows(data, "SELECT * FROM page_links")) == PAGES
    # Every archived payload out of reach: a 304 that read its page back could not follow it.
    for path in (data / "warcs").glob("*.warc.gz"):
        path.rename(path.with_name("moved-" + path.name))
    log = _crawl(sources, data)
    assert _observed(data) == EVERY  # every page and its requisites
    # Only a stylesheet is read back (its own requisites are followed from its text).
    unread = [line for line in log.splitlines() if "cannot read its archived copy" in line]
    assert len(unread) == 1 and "/site.css" in unread[0], unread


def test_an_archive_without_kept_links_reads_its_pages_back_and_keeps_their_links(first, tmp_path: Path):
    sources, original = first
    data = tmp_path / "data"
    shutil.copytree(original, data)
    conn = sqlite3.connect(data / "spyglass.db")
    with conn:
        conn.execute("DELETE FROM page_links")  # as made before page_links (migration m460)
    conn.close()
    _crawl(sources, data)
    assert _observed(data) == EVERY
    # Read back once, kept: the next 304 needs no archived page.
    assert len(db_rows(data, "SELECT * FROM page_links")) == PAGES
