"""The publishing load test: reporters and strangers against `spyglass serve` while a crawl writes.

A synthetic site is crawled into a fresh archive; Datasette serves it as
`spyglass serve --allow-sql` does (the worst case: custom SQL on); Locust runs
a few dozen reporters and three hostile clients for a bounded time while the
same site is crawled again into the served archive. Reported: requests/s,
p50/p95/p99 of the reporters' pages, 4xx/5xx counts, the server's peak memory,
and how long SIGTERM takes to stop it while strangers' heavy work runs.
"""

from __future__ import annotations

import contextlib
import csv
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from archive.demo.server import free_port, wait_for_port
from archive.publish.datasette import datasette_command, datasette_environment
from scripts.benchlib.attacks import heavy_paths
from scripts.benchlib.heavy import add_big_page, add_heavy_change

ROOT = Path(__file__).resolve().parents[2]
LOCUSTFILE = ROOT / "scripts" / "benchlib" / "locustfile.py"


def _peak_mb(pid: int) -> float:
    found = re.search(r"^VmHWM:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text(), re.M)
    return int(found.group(1)) / 1000 if found else 0.0


def _cpu_seconds(pid: int) -> float:
    """CPU time a process has used (user and system), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _capture_ids(data: Path, limit: int = 200) -> list[int]:
    conn = sqlite3.connect(data / "spyglass.db")
    try:
        return [
            r[0]
            for r in conn.execute(
                "SELECT id FROM captures WHERE status = 200 AND content_type LIKE 'text/html%' "
                "ORDER BY id LIMIT ?",
                [limit],
            )
        ]
    finally:
        conn.close()


def _stats(prefix: Path) -> dict[str, dict[str, str]]:
    with open(f"{prefix}_stats.csv", newline="") as fh:
        return {row["Name"]: row for row in csv.DictReader(fh)}


def _locust(
    user: str, users: int, seconds: int, host: str, prefix: Path, captures: list[int], heavy: str
) -> subprocess.Popen:
    """One headless Locust process running `users` of one user class (its own CSV statistics)."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(LOCUSTFILE),
            "--headless",
            user,
            "--users",
            str(users),
            "--spawn-rate",
            str(users),
            "--run-time",
            f"{seconds}s",
            "--host",
            host,
            "--csv",
            str(prefix),
            "--only-summary",
            "--loglevel",
            "ERROR",
            "--exit-code-on-error",
            "0",
        ],
        env={
            **os.environ,
            "SPYGLASS_LOAD_CAPTURES": ",".join(map(str, captures)),
            "SPYGLASS_LOAD_HEAVY": heavy,
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _server_errors(prefix: Path) -> int:
    """5xx answers in a Locust failure log."""
    path = Path(f"{prefix}_failures.csv")
    if not path.exists():
        return 0
    with open(path, newline="") as fh:
        return sum(
            int(row["Occurrences"]) for row in csv.DictReader(fh) if re.search(r"\b5\d\d\b", row["Error"])
        )


def _why_5xx(log: Path) -> str:
    """What the server logged for each request it failed: the path and the exception's last line."""
    lines = log.read_text(errors="replace").splitlines()
    found = []
    for i, line in enumerate(lines):
        if line.startswith("unexpected error serving "):
            tail = next(
                (t for t in lines[i + 1 : i + 80] if re.match(r"^[\w.]+(Error|Exception|Interrupted)\b", t)),
                "(no exception line)",
            )
            found.append(f"  {line.removeprefix('unexpected error serving ')}: {tail}")
    return "load test: the server's 5xx answers, from its log:\n" + ("\n".join(found) or "  (none logged)")


def run_load_test(
    data: Path, crawl: list[str], seconds: int, users: int, work: Path, heavy_sentences: int, big_bytes: int
) -> list[tuple[str, str, str]]:
    """Serve `data`, run `crawl` (a spyglass crawl command writing into it) and the load at once.

    The archive first gets heavy pages (scripts/benchlib/heavy.py): a change between two
    texts of `heavy_sentences` repeated sentences (and five times as many repeated words)
    and an HTML page of `big_bytes`, which the strangers ask to diff, match and replay.
    """
    big = add_big_page(data, big_bytes)
    heavy = {**add_heavy_change(data, heavy_sentences, big), "big": big}
    heavy_env = ",".join(str(heavy[k]) for k in ("change", "from", "to", "big", "url"))
    port = free_port()
    host = f"http://127.0.0.1:{port}"
    log = open(work / "datasette.log", "wb")  # what a 5xx was, kept with --keep
    server = subprocess.Popen(
        datasette_command(data, port),
        env={**os.environ, **datasette_environment(True)},
        stdout=log,
        stderr=log,
    )
    captures = _capture_ids(data)
    try:
        # Datasette and the plugins import for 20 s and more on this shared machine at load 25+.
        wait_for_port(port, timeout=120)
        _warm(host, captures)
        writer = subprocess.Popen(crawl, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        reporters = _locust("Reporter", users, seconds, host, work / "reporters", captures, heavy_env)
        strangers = _locust("Stranger", 3, seconds, host, work / "strangers", captures, heavy_env)
        cpu, load = _cpu_seconds(server.pid), os.getloadavg()[0]
        for proc in (reporters, strangers):
            _, err = proc.communicate(timeout=seconds + 120)
            if proc.returncode != 0:
                raise SystemExit(f"locust failed:\n{err[-2000:]}")
        cpu, load = _cpu_seconds(server.pid) - cpu, (load + os.getloadavg()[0]) / 2
        writer.wait(timeout=600)
        peak = _peak_mb(server.pid)
        stopped, running = _stop_while_busy(server, host, heavy_env.split(",", 4))
    finally:
        if server.poll() is None:
            server.kill()
        server.wait(timeout=10)
        log.close()
    ours = _stats(work / "reporters")["Aggregated"]
    theirs = _stats(work / "strangers")["Aggregated"]
    fives = _server_errors(work / "reporters") + _server_errors(work / "strangers")
    if fives:
        print(_why_5xx(work / "datasette.log"), file=sys.stderr)
    rate = float(ours["Requests/s"]) + float(theirs["Requests/s"])
    sent, kept = int(theirs["Request Count"]), int(theirs["Failure Count"])
    return [
        (
            "Publishing under load: throughput",
            f"{rate:.1f} requests/s for {seconds} s: {users} reporters, 3 hostile clients, a crawl "
            f"writing to the archive; the server used {cpu:.0f} CPU-seconds, load average {load:.0f}",
            "(the server's CPU share: what it could do on a shared machine)",
        ),
        (
            "Publishing under load: reporters' pages (front page and its search, canned search, "
            "capture pages, archived copies, a canned query)",
            f"p50 {float(ours['50%']):.0f} ms, p95 {float(ours['95%']):.0f} ms, p99 {float(ours['99%']):.0f} ms; "
            f"{ours['Request Count']} requests, {ours['Failure Count']} errors",
            "goal p95 < 500 ms",
        ),
        (
            "Publishing under load: hostile requests (the review's SQL and paths; diffs, phrases, "
            "searches and replays of heavy pages)",
            f"{sent} sent: {sent - kept} refused, or bounded (answered within 10 s, or 503/429); "
            f"{kept} answered in full, past 10 s or failed",
            "goal: none of the last",
        ),
        (
            "Publishing under load: 5xx answers, server peak memory",
            f"{fives}; {peak:.0f} MB",
            "goal 0; < 500 MB",
        ),
        (
            "Publishing under load: SIGTERM while heavy work runs",
            f"stopped in {stopped:.1f} s, {running} heavy requests in flight",
            "goal < 5 s",
        ),
    ]


def _warm(host: str, captures: list[int]) -> None:
    """One of each reporter's pages before the clock starts, as a server in service has seen
    them: Datasette's first request sets up its internal tables and the replay pool starts
    its workers, seconds that are not what a reader waits for later."""
    capture = captures[0] if captures else 1
    for path in (
        "/",
        "/-/spyglass/search?q=face",
        "/spyglass/search?q=face",
        "/spyglass/captures?_search=face",
        f"/spyglass/captures/{capture}",
        f"/-/spyglass/replay/{capture}",
        f"/-/spyglass/archived/{capture}",
        "/spyglass/agency_products",
    ):
        with contextlib.suppress(OSError):
            urllib.request.urlopen(host + path, timeout=60).read()


def _stop_while_busy(server: subprocess.Popen, host: str, heavy: list[str]) -> tuple[float, int]:
    """Set the server to the strangers' heavy work (each request twice, each from its own
    client), SIGTERM it while that runs: seconds until it exited, and requests then in flight."""

    def ask(path: str, client: int) -> None:
        request = urllib.request.Request(host + path, headers={"X-Forwarded-For": f"10.3.0.{client}"})
        with contextlib.suppress(OSError):  # refused, reset or an error status: all the same here
            urllib.request.urlopen(request, timeout=60).read()

    asking = [
        threading.Thread(target=ask, args=(path, n), daemon=True)
        for n, path in enumerate(heavy_paths(*heavy) * 2, 1)
    ]
    for thread in asking:
        thread.start()
    time.sleep(1.0)  # long enough for the requests to reach their work
    running = sum(thread.is_alive() for thread in asking)
    started = time.monotonic()
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        pass  # reported as 30 s or more; the caller kills it
    return time.monotonic() - started, running
