"""Crash safety: a crawl killed with SIGKILL part-way resumes where it stopped when started again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from archive.demo.server import Incoming, LoopbackServer, Reply
from archive.warc.read import gzip_members
from tests.servers.synthetic_site import IMAGES_PER_PAGE, SyntheticSite

from .conftest import ROOT, db_rows, rows_when_ready, run_cli

PAGES = 300


@pytest.fixture(scope="module")
def counted_site():
    """The synthetic site, counting every request per path."""
    site = SyntheticSite(PAGES)
    hits: Counter[str] = Counter()

    def handler(request: Incoming) -> Reply:
        hits[request.path] += 1
        return site(request)

    server = LoopbackServer(handler, etags=True).start()
    site.base = server.url
    yield server.url, site, hits
    server.stop()


def _sources(path: Path, base: str) -> Path:
    path.write_text(
        "sources:\n  - name: synthetic\n    kind: vendor\n"
        f"    urls: ['{base}/p/0.html']\n"
        "    scope: {hosts: [127.0.0.1], max_depth: 1000, max_pages: 5000}\n"
        "    allow_private: [127.0.0.1]\n"
    )
    return path


CRAWL_SETTINGS = [
    "-s",
    "AUTOTHROTTLE_ENABLED=False",
    "-s",
    "CONCURRENT_REQUESTS=4",
    "-s",
    "CONCURRENT_REQUESTS_PER_DOMAIN=4",
    "-s",
    "SPYGLASS_MAX_SIMILAR_URLS=0",
]


def test_a_crawl_killed_with_sigkill_resumes_without_refetching(counted_site, tmp_path: Path):
    base, site, hits = counted_site
    data = tmp_path / "data"
    sources = _sources(tmp_path / "sources.yml", base)
    args = [
        sys.executable,
        "-m",
        "archive.cli",
        "crawl",
        "--sources",
        str(sources),
        "--data",
        str(data),
        *CRAWL_SETTINGS,
    ]
    # Its own process group: the kill takes the writer process down too, mid-batch.
    crawl = subprocess.Popen(
        args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    deadline = time.monotonic() + 120
    while len(rows_when_ready(data, "SELECT id FROM captures")) < 80:
        assert crawl.poll() is None, "the crawl ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    os.killpg(crawl.pid, signal.SIGKILL)
    crawl.wait()
    hits_at_kill = Counter(hits)
    indexed_at_kill = len(db_rows(data, "SELECT id FROM captures"))
    assert indexed_at_kill < site.count(), "killed too late to show anything"
    # What a kill in the middle of a write leaves: the file's last record cut short.
    [warc] = sorted((data / "warcs").glob("*.warc.gz"))
    whole = warc.read_bytes()
    members = list(gzip_members(warc))
    response = members[1]  # the first response record's gzip member
    partial = whole[response.offset : response.offset + response.length // 2]
    # The kill may itself have cut the last record (a large image mid-write); the cut
    # then starts there and runs to the end of the file, the bytes added below included.
    cut_at = members[-1].offset if members[-1].truncated else len(whole)
    with open(warc, "ab") as fh:
        fh.write(partial)

    result = run_cli("crawl", "--sources", str(sources), "--data", str(data), *CRAWL_SETTINGS, timeout=240)
    assert result.returncode == 0, result.stderr
    assert "continues interrupted run 1" in result.stdout

    first, second = db_rows(data, "SELECT * FROM crawl_runs ORDER BY id")
    assert first["status"] == "interrupted" and "found by the next crawl" in first["finish_reason"]
    # Every page archived whole keeps its validators, those the crash left unindexed too:
    # the next crawl asks for each with If-None-Match.
    unvalidated = db_rows(
        data,
        "SELECT DISTINCT c.url FROM captures AS c LEFT JOIN page_validators AS v "
        "ON v.source = c.source AND v.url = c.url WHERE c.status = 200 AND v.etag IS NULL",
    )
    assert [r["url"] for r in unvalidated] == []
    assert second["status"] == "finished" and second["resumed_from"] == first["id"]

    captures = db_rows(data, "SELECT url, crawl_run FROM captures")
    per_url = Counter(r["url"] for r in captures)
    pages = {f"{base}/p/{i}.html" for i in range(PAGES)} | {f"{base}/d/{i}.pdf" for i in range(0, PAGES, 40)}
    requisites = {base + path for path in site.shared} | {
        f"{base}/img/{i}-{n}.jpg" for i in range(PAGES) for n in range(IMAGES_PER_PAGE)
    }
    assert set(per_url) == pages | requisites | {f"{base}/robots.txt"}
    # Requisites captured before the kill are not asked for again: still one capture each.
    assert {
        r["url"] for r in db_rows(data, "SELECT url FROM captures WHERE requisite IS NOT NULL")
    } == requisites
    assert all(count == 1 for count in per_url.values()), [u for u, c in per_url.items() if c > 1]
    # Fetched twice: only what was in flight at the kill (sent, not yet archived).
    again = {path for path, count in hits.items() if count > 1}
    captured_before = {r["url"].removeprefix(base) for r in captures if r["crawl_run"] == first["id"]}
    assert not again & captured_before
    assert len(again) <= 8, again  # 4 concurrent requests, plus any retried
    assert {path for path in hits_at_kill if path not in again} <= captured_before | {
        path for path in hits if hits[path] == 1
    }
    # The cut is named, left in place, and accepted by verify exactly as found.
    [cut] = db_rows(data, "SELECT * FROM warc_cuts")
    assert (cut["filename"], cut["offset"], cut["length"], cut["crawl_run"]) == (
        warc.name,
        cut_at,
        len(whole) + len(partial) - cut_at,
        first["id"],
    )
    assert warc.read_bytes()[: len(whole)] == whole
    verified = run_cli("verify", "--data", str(data))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    with open(warc, "r+b") as fh:
        fh.seek(len(whole) + len(partial) // 2)
        fh.write(b"X")
    altered = run_cli("verify", "--data", str(data))
    assert altered.returncode == 1 and f"{warc.name}:{cut_at}" in altered.stdout + altered.stderr
