"""A second SIGINT/SIGTERM stops a crawl now: the writer flushes and exits, the run is interrupted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from archive.demo.server import Incoming, LoopbackServer, Reply

from .conftest import ROOT, db_rows, rows_when_ready

PAGES = 400
SLOW = 30.0  # seconds a slow page takes: a clean stop waits for it, a stop now does not


def _handler(request: Incoming) -> Reply:
    """The first 20 pages answer at once (they fill the index), every other page takes SLOW seconds."""
    number = int(request.path.rsplit("/", 1)[-1].split(".")[0] or 0) if request.path.startswith("/p/") else 0
    if number >= 20:
        time.sleep(SLOW)
    links = "".join(f'<a href="/p/{i}.html">{i}</a>' for i in range(1, PAGES))
    return Reply(
        200, f"<html><title>page {number}</title><body>{links}</body></html>".encode(), [], "text/html"
    )


@pytest.fixture(scope="module")
def slow_site() -> Iterator[str]:
    with LoopbackServer(_handler) as server:
        yield server.url


def _sources(path: Path, base: str) -> Path:
    path.write_text(
        "sources:\n"
        f"  - {{name: slow, kind: vendor, every: 1d, urls: ['{base}/'], allow_private: [127.0.0.1], "
        "robots: false, scope: {hosts: [127.0.0.1], max_depth: 2}}\n"
    )
    return path


def _start(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "archive.cli", *args, "-s", "AUTOTHROTTLE_ENABLED=False"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _stop_twice_and_wait(proc: subprocess.Popen, data: Path) -> float:
    """Wait for the first pages, send two SIGTERMs 0.3 s apart to the group; seconds until all exited."""
    deadline = time.monotonic() + 90
    while len(rows_when_ready(data, "SELECT id FROM captures")) < 5:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(1.0)  # the slow pages are in flight now
    os.killpg(proc.pid, signal.SIGTERM)
    time.sleep(0.3)
    os.killpg(proc.pid, signal.SIGTERM)
    second = time.monotonic()
    try:
        proc.communicate(timeout=SLOW * 0.6)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    while True:
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            break
        assert time.monotonic() - second < SLOW * 0.6, "a process of the group is still running"
        time.sleep(0.05)
    return time.monotonic() - second


@pytest.mark.parametrize("command", ["crawl", "run-due"])
def test_a_second_sigterm_stops_now_and_keeps_what_was_written(slow_site: str, tmp_path: Path, command: str):
    data = tmp_path / "data"
    sources = _sources(tmp_path / "sources.yml", slow_site)
    proc = _start(command, "--sources", str(sources), "--data", str(data))
    took = _stop_twice_and_wait(proc, data)
    # The slow pages still had SLOW seconds to go: a clean stop would have waited for them.
    assert took < SLOW / 2, took
    assert proc.returncode == 1
    [run] = db_rows(data, "SELECT * FROM crawl_runs")
    assert run["status"] == "interrupted", dict(run)
    kept = db_rows(data, "SELECT count(*) AS n FROM captures")[0]["n"]
    assert kept >= 5
    verified = subprocess.run(
        [sys.executable, "-m", "archive.cli", "verify", "--data", str(data)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_a_second_sigterm_stops_a_redis_worker_now(slow_site: str, tmp_path: Path):
    from .servers.redis_server import redis_server

    data = tmp_path / "data"
    sources = _sources(tmp_path / "sources.yml", slow_site)
    with redis_server(tmp_path / "redis") as url:
        crawl = _start("crawl", "--sources", str(sources), "--data", str(data), "--redis", url)
        worker = _start("worker", "--redis", url, "--data", str(data))
        try:
            took = _stop_twice_and_wait(worker, data)
            assert took < SLOW / 2, took
            # What the worker archived before it stopped reached the index.
            assert db_rows(data, "SELECT count(*) AS n FROM captures")[0]["n"] >= 5
        finally:
            for proc in (crawl, worker):
                if proc.poll() is None:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=30)
