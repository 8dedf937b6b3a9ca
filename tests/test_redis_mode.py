"""Redis mode: three real worker processes share one frontier on a real redis-server; one is
SIGKILLed mid-crawl; every page ends up captured exactly once and `spyglass verify` passes.

The site: 2,000 small pages (3-8 KB of markup, 68 links each) plus 50 PDFs,
served by a separate process, so the crawl takes seconds, not minutes.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis
from scrapy_redis import picklecompat
from warcio.archiveiterator import ArchiveIterator

from archive.cluster import keys

from .conftest import ROOT, db_rows, run_cli
from .servers.redis_server import redis_server

PAGES = 2000
PDF_EVERY = 40
LEASE = "10"  # seconds: the killed worker's requests go back soon after; a loaded machine can stall a healthy worker for a few


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory):
    base = tmp_path_factory.mktemp("redis-mode")
    site = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.servers.synthetic_site",
            "--pages",
            str(PAGES),
            "--page-bytes",
            "3000-8000",
        ],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    port = int(site.stdout.readline())
    try:
        with redis_server(base / "redis") as url:
            yield url, f"http://127.0.0.1:{port}", base
    finally:
        site.stdin.close()
        site.wait(timeout=30)


def _spyglass(*args: str, **popen: object) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "archive.cli", *args], cwd=ROOT, stdin=subprocess.DEVNULL, **popen
    )


def _workers(count: int, url: str, data: Path, settings: list[str]) -> list[subprocess.Popen]:
    """`count` workers that leave once nothing is left, each in its own process group (a kill
    takes its Chromium and proxy with it)."""
    return [
        _spyglass(
            "worker",
            "--redis",
            url,
            "--data",
            str(data),
            "--exit-when-idle",
            *settings,
            start_new_session=True,
        )
        for _ in range(count)
    ]


def _wait(what: str, check, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def _fetches(warcs: Path, writer: str = "") -> Counter:
    """How many times each URL was fetched: response and revisit records in the WARC files
    (those whose name holds `writer`)."""
    counts: Counter = Counter()
    for path in warcs.glob(f"*{writer}*.warc.gz" if writer else "*.warc.gz"):
        with open(path, "rb") as fh:
            for record in ArchiveIterator(fh):
                if record.rec_type in ("response", "revisit"):
                    counts[record.rec_headers.get_header("WARC-Target-URI")] += 1
    return counts


# About 60 s on a quiet 2-core machine; at load average 14 (the suite beside two busy loops and
# other work) the crawl and the verify after it took past the suite's 300 s per test.
@pytest.mark.timeout(900)
def test_three_workers_one_killed_every_page_once(cluster):
    url, site, base = cluster
    data, sources = base / "data", base / "sources.yml"
    sources.write_text(f"""sources:
  - name: synth
    kind: vendor
    urls: ["{site}/p/0.html"]
    scope: {{max_depth: 50, max_pages: 100000}}
    allow_private: [127.0.0.1]
    vendor: Synthetic Vendor
""")
    client = redis.Redis.from_url(url)
    # Every page of the synthetic site looks alike (/p/N.html): no trap limit here.
    settings = ["-s", f"SPYGLASS_REDIS_LEASE={LEASE}", "-s", "SPYGLASS_MAX_SIMILAR_URLS=0"]
    crawl = _spyglass(
        "crawl",
        "--sources",
        str(sources),
        "--data",
        str(data),
        "--redis",
        url,
        *settings,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _wait("the run to be published", lambda: client.hlen(keys.JOBS) == 1)
    workers = _workers(3, url, data, settings)
    victim = workers[0]
    _wait(
        "a quarter of the site",
        lambda: (
            (data / "spyglass.db").exists()
            and db_rows(data, "SELECT count(*) FROM captures")[0][0] >= PAGES // 4
        ),
    )
    os.killpg(victim.pid, signal.SIGKILL)  # the worker and its writer process: a machine gone
    victim.wait()
    [run_id] = [int(r) for r in client.hkeys(keys.JOBS)]
    prefix = f"{socket.gethostname().split('.')[0]}-{victim.pid}-"
    in_flight = {
        picklecompat.loads(data_)["url"]
        for lease, data_ in client.hgetall(keys.run_key(run_id, "leases")).items()
        if lease.decode().startswith(prefix)
    }
    try:
        out, err = crawl.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        crawl.kill()
        out, err = crawl.communicate()
        owners = Counter(
            lease.decode().partition("#")[0] for lease in client.hkeys(keys.run_key(run_id, "leases"))
        )
        listed = {w.decode(): client.exists(keys.alive(w.decode())) for w in client.smembers(keys.WORKERS)}
        pytest.fail(f"the run never ended: leases by worker {owners}, listed workers {listed}\n{out}{err}")
    for worker in workers[1:]:
        assert worker.wait(timeout=60) == 0
    assert crawl.returncode == 0, out + err
    assert in_flight, "the killed worker held no request: the hand-back was not exercised"

    expected = (
        {f"{site}/p/{i}.html" for i in range(PAGES)}
        | {f"{site}/d/{i}.pdf" for i in range(0, PAGES, PDF_EVERY)}
        | {f"{site}/robots.txt"}
    )
    rows = db_rows(data, "SELECT url, requisite FROM captures WHERE crawl_run = ?", (run_id,))
    captured = [url for url, requisite in rows if requisite is None]
    assert Counter(captured) == Counter(expected)  # every page, exactly once
    # Page requisites (the pages' images) are claimed in the run's shared frontier: none twice.
    requisites = Counter(url for url, requisite in rows if requisite is not None)
    assert requisites and max(requisites.values()) == 1 and not set(requisites) & expected
    [(status, pages)] = db_rows(data, "SELECT status, pages FROM crawl_runs WHERE id = ?", (run_id,))
    assert (status, pages) == ("finished", len(expected))

    fetched = _fetches(data / "warcs")
    assert expected <= set(fetched) <= expected | set(requisites) | in_flight
    twice = {u for u, n in fetched.items() if n > 1}
    assert twice <= in_flight and max(fetched.values()) <= 2, (twice - in_flight, in_flight)

    writers = {
        row[0].rsplit("-", 2)[-2]
        for row in db_rows(data, "SELECT filename FROM warc_files WHERE crawl_run = ?", (run_id,))
    }
    assert len(writers) == 3  # each worker wrote its own files, named by its pid
    assert str(victim.pid) in writers

    result = run_cli("verify", "--data", str(data))
    assert result.returncode == 0, result.stdout + result.stderr
    assert not list(client.scan_iter(match=f"spyglass:run:{run_id}:*"))  # the run's keys are gone
    assert not client.hgetall(keys.JOBS)
    archived = set(_fetches(data / "warcs", f"-{victim.pid}-"))
    print(
        f"\nin flight at the kill: {len(in_flight)}, of which the killed worker had archived "
        f"{len(in_flight & archived)} (indexed from its records, not fetched again); fetched again: "
        f"{len(in_flight - archived)}; fetched twice: {len(twice)} (a record cut by the kill)"
    )


def test_a_run_left_in_redis_by_a_killed_seeding_command_is_adopted_and_finished(cluster):
    url, site, base = cluster
    data, sources = base / "adopt-data", base / "adopt-sources.yml"
    sources.write_text(f"""sources:
  - name: small
    kind: vendor
    urls: ["{site}/p/5.html"]
    scope: {{max_depth: 50, max_pages: 120}}
    allow_private: [127.0.0.1]
""")
    client = redis.Redis.from_url(url)
    client.flushdb()
    seeding = _spyglass(
        "crawl",
        "--sources",
        str(sources),
        "--data",
        str(data),
        "--redis",
        url,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _wait("the run to be published", lambda: client.hlen(keys.JOBS) == 1)
    seeding.kill()  # no worker ever came; the run stays in Redis, its row says running
    seeding.wait()
    [run_id] = [int(r) for r in client.hkeys(keys.JOBS)]
    time.sleep(2.0)  # the run waits in Redis: the time nobody crawled it is not its crawl's
    adopting = datetime.now(UTC)
    result = run_cli(
        "crawl",
        "--sources",
        str(sources),
        "--data",
        str(data),
        "--redis",
        url,
        "--workers",
        "1",
        "-s",
        "SPYGLASS_MAX_SIMILAR_URLS=0",
        timeout=240,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    [(seconds, ended)] = db_rows(data, "SELECT seconds, ended_at FROM crawl_runs")
    # Timed from when a worker first crawled it: after the adopting command started.
    adopted_for = (datetime.fromisoformat(ended.replace("Z", "+00:00")) - adopting).total_seconds()
    assert 0 < seconds < adopted_for, (seconds, adopted_for)
    assert f" in {seconds:.1f} s (" in result.stdout
    runs = [tuple(r) for r in db_rows(data, "SELECT id, status, pages FROM crawl_runs")]
    # Adopted, not started again: 120 pages and robots.txt; partial, as max_pages stopped it.
    assert runs == [(run_id, "partial", 121)]
    [(limit,)] = db_rows(data, "SELECT count(*) FROM fetch_errors WHERE error_type = 'limit'")
    assert limit == 1  # the page limit counts for the run, whichever worker reached it
    assert run_cli("verify", "--data", str(data)).returncode == 0


def test_a_run_the_workers_crawled_gets_its_screenshot_pass_as_a_local_run_does(cluster):
    url, site, base = cluster
    data, sources = base / "shots-data", base / "shots-sources.yml"
    sources.write_text(f"""sources:
  - name: drawn
    kind: vendor
    urls: ["{site}/p/7.html"]
    scope: {{max_depth: 1, max_pages: 4}}
    requisites: false
    screenshot: true
    allow_private: [127.0.0.1]
""")
    redis.Redis.from_url(url).flushdb()
    result = run_cli(
        "crawl",
        "--sources",
        str(sources),
        "--data",
        str(data),
        "--redis",
        url,
        "--workers",
        "1",
        "-s",
        "SPYGLASS_MAX_SIMILAR_URLS=0",
        "-s",
        "SPYGLASS_SCREENSHOT_TIMEOUT=8",
        timeout=240,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    runs = db_rows(data, "SELECT id, spider, status FROM crawl_runs ORDER BY id")
    # max_pages cut the site short: partial, and its pages still get their screenshots.
    assert [(r["spider"], r["status"]) for r in runs] == [("vendor", "partial"), ("screenshot", "finished")]
    pages = {
        r[0]
        for r in db_rows(
            data,
            "SELECT id FROM captures WHERE crawl_run = ? AND status = 200 "
            "AND requisite IS NULL AND content_type LIKE '%html%'",
            (runs[0]["id"],),
        )
    }
    shots = db_rows(data, "SELECT capture_id, status FROM screenshots")
    assert len(pages) == 4 and {r["capture_id"] for r in shots} == pages  # each page drawn, once
    assert {r["status"] for r in shots} == {"ok"} and len(shots) == len(pages)
    assert "Screenshots of 1 source(s): 4 kept" in result.stdout
    assert run_cli("verify", "--data", str(data)).returncode == 0
