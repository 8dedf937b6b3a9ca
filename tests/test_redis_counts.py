"""Redis mode's run report counts every request a server received, a killed worker's last ones too."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from archive.cluster import keys
from archive.demo.server import Incoming, LoopbackServer, Reply

from .conftest import db_rows
from .servers.redis_server import redis_server
from .test_redis_mode import _spyglass, _wait

PAGES = 80


class Site:
    """Pages /p/0..79, each linking to the next four, each answered after 50 ms; counts requests."""

    def __init__(self) -> None:
        self.hits = 0
        self.lock = threading.Lock()

    def __call__(self, request: Incoming) -> Reply:
        with self.lock:
            self.hits += 1
        time.sleep(0.05)  # a worker always has requests in flight, sent since its last report
        number = int(request.path.removeprefix("/p/").removesuffix(".html"))
        links = "".join(f'<a href="/p/{i}.html">{i}</a>' for i in range(number + 1, min(number + 5, PAGES)))
        return Reply(200, f"<html><body>{links}</body></html>".encode(), [], "text/html")


@pytest.fixture()
def site() -> Iterator[tuple[str, Site]]:
    handler = Site()
    with LoopbackServer(handler) as server:
        yield server.url, handler


def test_a_killed_workers_requests_are_all_counted(site, tmp_path: Path):
    base, handler = site
    data, sources = tmp_path / "data", tmp_path / "sources.yml"
    sources.write_text(
        "sources:\n"
        f"  - {{name: counted, kind: vendor, urls: ['{base}/p/0.html'], allow_private: [127.0.0.1], "
        "robots: false, scope: {hosts: [127.0.0.1], max_depth: 100}}\n"
    )
    # Leases of 10 s: the killed worker's requests go back soon; a busy machine can stall a
    # healthy worker for a few seconds, and one whose heartbeat is late stops itself.
    # Depth is the path a page was found by: the killed worker's pages in flight are found
    # again later, one link further down, so the last pages lie deeper than in a calm run.
    # The cap (20 by default) must not be what decides whether they are fetched.
    settings = [
        "-s",
        "SPYGLASS_REDIS_LEASE=10",
        "-s",
        "SPYGLASS_MAX_SIMILAR_URLS=0",
        "-s",
        "SPYGLASS_MAX_DEPTH=1000",
    ]
    with redis_server(tmp_path / "redis") as url:
        client = redis.Redis.from_url(url)
        args = ("--sources", str(sources), "--data", str(data), "--redis", url, *settings)
        crawl = _spyglass("crawl", *args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        _wait("the run to be published", lambda: client.hlen(keys.JOBS) == 1)
        [run_id] = [int(r) for r in client.hkeys(keys.JOBS)]
        victim = _spyglass("worker", "--redis", url, "--data", str(data), *settings, start_new_session=True)
        _wait("a few pages", lambda: handler.hits >= 12 or victim.poll() is not None)
        assert victim.poll() is None, "the worker stopped before it was killed"
        os.killpg(victim.pid, signal.SIGKILL)  # the worker and its writer: a machine gone
        victim.wait()
        sent = handler.hits
        # Counted as sent but perhaps not on the wire yet: at most the requests it held leases for.
        held = client.hlen(keys.run_key(run_id, "leases"))
        survivor = _spyglass("worker", "--redis", url, "--data", str(data), "--exit-when-idle", *settings)
        out, err = crawl.communicate(timeout=180)
        assert crawl.returncode == 0, out + err
        assert survivor.wait(timeout=60) == 0
    [run] = db_rows(data, "SELECT status, pages, requests FROM crawl_runs")
    captured = {r["url"].rsplit("/", 1)[1] for r in db_rows(data, "SELECT url FROM captures")}
    missing = {f"{i}.html" for i in range(PAGES)} - captured
    assert (run["status"], run["pages"], missing) == ("finished", PAGES, set()), out + err
    fetched_after = handler.hits - sent
    # Every request the server received is counted, the killed worker's last ones included.
    assert handler.hits <= run["requests"] <= handler.hits + held, (sent, fetched_after, held, dict(run))


def test_a_calendar_crawled_by_workers_is_a_trap_and_a_catalogue_is_not(tmp_path: Path):
    from .test_partial import PAGES as CATALOGUE
    from .test_partial import SIMILAR, _catalogue_and_calendar

    with LoopbackServer(_catalogue_and_calendar) as server, redis_server(tmp_path / "redis") as url:
        sources = tmp_path / "sources.yml"
        sources.write_text(
            "sources:\n"
            + "".join(
                f"  - {{name: {name}, kind: vendor, urls: ['{server.url}{path}'], "
                "allow_private: [127.0.0.1], robots: false, scope: {hosts: [127.0.0.1], max_depth: 100}}\n"
                for name, path in (("calendar", "/cal/2026-01-01.html"), ("catalogue", "/c/0.html"))
            )
        )
        crawl = _spyglass(
            "crawl",
            *("--sources", str(sources), "--data", str(tmp_path / "data"), "--redis", url),
            *("--workers", "1", "-s", f"SPYGLASS_MAX_SIMILAR_URLS={SIMILAR}"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        out, err = crawl.communicate(timeout=240)
        assert crawl.returncode == 0, out + err
        left = [k.decode() for k in redis.Redis.from_url(url).keys("*")]
    runs = {
        r["source"]: tuple(r)[1:]
        for r in db_rows(tmp_path / "data", "SELECT source, status, pages FROM crawl_runs")
    }
    assert runs == {"calendar": ("partial", SIMILAR), "catalogue": ("finished", CATALOGUE)}, out
    [trap] = db_rows(tmp_path / "data", "SELECT reason FROM fetch_errors WHERE error_type = 'trap'")
    assert trap["reason"].startswith(f"trap: /cal/N-N-N.html after {SIMILAR} similar URLs")
    assert left == [keys.ARCHIVE]  # the runs' held URLs and vouches went with their keys
