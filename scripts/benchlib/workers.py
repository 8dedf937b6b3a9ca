"""scripts/bench --only workers: pages/s with 1, 2 and 3 Redis-mode workers beside the single-process crawl.

The same synthetic site and settings as the throughput section; a real
redis-server on loopback (tests/servers/redis_server.py), emptied between
runs. Each Redis run is `spyglass crawl --redis URL --workers N`: the command
publishes the run, starts N workers on this machine and ingests what they
archive. pages/s is counted from the run's first capture to its last (the
workers' start-up left out), and over the whole run beside it.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import redis

from scripts.benchlib.procs import measure
from scripts.benchlib.site import serve_site
from scripts.benchlib.throughput import spyglass_command
from tests.servers.redis_server import redis_server


def _run_figures(data: Path) -> tuple[int, float, float, str]:
    """(pages, seconds of the run, seconds from its first capture to its last, status)."""
    conn = sqlite3.connect(data / "spyglass.db")
    try:
        run, pages, seconds, status = conn.execute(
            "SELECT id, pages, seconds, status FROM crawl_runs ORDER BY id DESC LIMIT 1"
        ).fetchone()
        span = conn.execute(
            "SELECT (julianday(max(captured_at)) - julianday(min(captured_at))) * 86400 FROM captures "
            "WHERE crawl_run = ?",
            (run,),
        ).fetchone()[0]
        return pages or 0, seconds or 0.0, span or 0.0, status
    finally:
        conn.close()


def workers_section(pages: int, work: Path) -> list[tuple[str, str, str]]:
    """Rows: the single-process crawl, then 1, 2 and 3 workers on one Redis."""
    rows: list[tuple[str, str, str]] = []
    with serve_site(pages, work / "site") as site, redis_server(work / "redis") as url:
        base = site.base
        client = redis.Redis.from_url(url)
        single = None
        for workers in (0, 1, 2, 3):
            run = work / f"workers-{workers}"
            run.mkdir()
            cmd = spyglass_command(base, run, pages, {"SPYGLASS_PROGRESS": "false"})
            if workers:
                client.flushdb()
                cmd += ["--redis", url, "--workers", str(workers)]
            result = measure(cmd)
            if result.returncode != 0:
                raise RuntimeError(f"{' '.join(cmd)} failed:\n{result.stderr[-2000:]}")
            count, seconds, span, status = _run_figures(run / "data")
            rate = count / span if span else 0.0
            figures = (
                f"{rate:.0f} pages/s from first to last capture; {count} pages in "
                f"{seconds:.1f} s of run ({count / seconds if seconds else 0:.0f} pages/s "
                f"with start-up), {status}"
            )
            if not workers:
                single = rate
                rows.append(
                    (
                        "Crawl throughput, one process (`spyglass crawl`, the baseline here)",
                        figures,
                        "baseline",
                    )
                )
                continue
            rows.append(
                (
                    f"Crawl throughput, Redis mode, {workers} worker(s) on this machine "
                    "(`crawl --redis --workers N`)",
                    figures,
                    f"{rate / single:.2f} of one process" if single else "",
                )
            )
    return rows
