"""recrawl: changed skips pages whose sitemap <lastmod> predates their last capture."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from archive.demo.vendor_site import FRESH_PATHS, SITEMAP_PATHS
from archive.errors import ConfigError
from archive.sources.load import load_sources

from .conftest import ROOT, run_cli


def test_recrawl_mode_is_validated(tmp_path: Path):
    path = tmp_path / "s.yml"
    path.write_text(
        "sources:\n  - {name: a, kind: vendor, urls: ['https://a.example/'], recrawl: sometimes}\n"
    )
    with pytest.raises(ConfigError, match=r"source 'a': field 'recrawl': must be one of all, changed"):
        load_sources(path)


def test_changed_mode_fetches_only_what_the_sitemap_says_changed(crawled, tmp_path: Path):
    data = tmp_path / "data"
    shutil.copytree(crawled["data"], data)
    sources = tmp_path / "sources.yml"
    demo = (ROOT / "sources.yml").read_text()
    # The demo's vendor source, in recrawl: changed mode.
    sources.write_text(demo.replace("    robots: true\n", "    robots: true\n    recrawl: changed\n", 1))
    run_cli(
        "crawl",
        "--sources",
        str(sources),
        "--data",
        str(data),
        "--source",
        "northwind-recognize",
        "--only",
        "live",
        env=crawled["env"],
        check=True,
    )
    conn = sqlite3.connect(data / "spyglass.db")
    [(run, skipped)] = conn.execute(
        "SELECT id, skipped FROM crawl_runs WHERE spider = 'vendor' ORDER BY id DESC LIMIT 1"
    ).fetchall()
    # Fetched: archived anew, or answered 304 to a conditional request (an observation).
    fetched = {
        row[0]
        for row in conn.execute(
            "SELECT url FROM captures WHERE crawl_run = ? UNION SELECT url FROM observations WHERE crawl_run = ?",
            (run, run),
        )
    }
    known_requisites = {
        row[0] for row in conn.execute("SELECT url FROM captures WHERE requisite IS NOT NULL")
    }
    # What the pages fetched again need to render is asked for again, and is unchanged:
    # answered 304 (an observation) or, without validators, stored as a revisit.
    new_requisites = conn.execute(
        "SELECT count(*) FROM captures WHERE crawl_run = ? AND requisite IS NOT NULL "
        "AND warc_type != 'revisit'",
        (run,),
    ).fetchone()[0]
    conn.close()
    assert new_requisites == 0 and fetched & known_requisites
    urls = fetched - known_requisites
    base = crawled["base"]
    # Start URLs, robots.txt, the page whose lastmod is fresh, and the page no
    # sitemap lists (found again from the archive, since the page linking to it was skipped).
    assert urls == {
        base + p
        for p in ("/", "/sitemap.xml", "/robots.txt", *FRESH_PATHS, "/customers/clearwater-county-sheriff/")
    }
    assert skipped == len(SITEMAP_PATHS) - len(FRESH_PATHS) - 1  # "/" is a start URL
