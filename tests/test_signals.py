"""SIGTERM stops every command cleanly, children included; the demo can be run again into its archive."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

from archive.demo.server import free_port, wait_for_port

from .conftest import ROOT, db_rows, rows_when_ready


def _start(*args: str) -> subprocess.Popen:
    """`spyglass ARGS` in its own process group, so whatever it leaves behind can be found."""
    return subprocess.Popen(
        [sys.executable, "-m", "archive.cli", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _nothing_left(proc: subprocess.Popen) -> None:
    """The process has exited and no process of its group is left."""
    proc.wait(timeout=30)
    deadline = time.monotonic() + 10
    while True:
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return
        assert time.monotonic() < deadline, "a process of the command's group is still running"
        time.sleep(0.1)


def test_sigterm_stops_serve_and_its_datasette(crawled):
    port = free_port()
    proc = _start("serve", "--data", str(crawled["data"]), "--port", str(port))
    wait_for_port(port)
    proc.send_signal(signal.SIGTERM)
    _nothing_left(proc)


def test_sigterm_stops_a_crawl_cleanly_and_marks_it_interrupted(vendor_site, tmp_path: Path, monkeypatch):
    data = tmp_path / "data"
    # The demo's sources.yml reads the site's address from the environment.
    monkeypatch.setenv("SPYGLASS_VENDOR_SITE", vendor_site[0])
    proc = _start(
        "crawl",
        "--sources",
        str(ROOT / "sources.yml"),
        "--data",
        str(data),
        "--source",
        "northwind-recognize",
        "--only",
        "live",
        "-s",
        "DOWNLOAD_DELAY=0.5",
        "-s",
        "AUTOTHROTTLE_ENABLED=False",
    )
    deadline = time.monotonic() + 60
    while not rows_when_ready(data, "SELECT id FROM captures"):
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        assert time.monotonic() < deadline
        time.sleep(0.05)
    # To the whole group, as a terminal's Ctrl-C or systemd's stop does: the writer process
    # leaves the stopping to the crawler, which flushes and closes it.
    os.killpg(proc.pid, signal.SIGTERM)
    _nothing_left(proc)
    assert proc.returncode == 1
    [run] = db_rows(data, "SELECT * FROM crawl_runs")
    assert (run["status"], run["finish_reason"]) == ("interrupted", "shutdown")


def test_demo_twice_crawls_the_same_site_again_and_sigterm_stops_it(tmp_path: Path):
    data = tmp_path / "data"
    first = subprocess.run(
        [
            sys.executable,
            "-m",
            "archive.cli",
            "demo",
            "--no-serve",
            "--data",
            str(data),
            "--fixture-port",
            "0",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert first.returncode == 0, first.stderr
    [last_first_run] = [r[0] for r in db_rows(data, "SELECT max(id) FROM crawl_runs")]
    port = free_port()
    second = _start("demo", "--data", str(data), "--fixture-port", "0", "--port", str(port))
    wait_for_port(port, timeout=180)
    # The vendor site, the records portal, the JSON portal and the Wayback simulator: the same
    # addresses both times (the JSON portal's file storage hands out expiring URLs anyway).
    sql = (
        "SELECT DISTINCT url FROM captures WHERE source != 'atlas.import' "
        "AND url NOT LIKE '%/download/%' AND crawl_run {} ?"
    )
    hosts = [
        {urlsplit(r["url"]).netloc for r in db_rows(data, sql.format(op), (last_first_run,))}
        for op in ("<=", ">")
    ]
    assert hosts[1] and hosts[1] <= hosts[0], hosts
    runs = db_rows(data, "SELECT source, spider, count(*) AS n FROM crawl_runs GROUP BY source, spider")
    assert {r["n"] for r in runs} == {2}, [tuple(r) for r in runs]
    second.send_signal(signal.SIGTERM)
    _nothing_left(second)
