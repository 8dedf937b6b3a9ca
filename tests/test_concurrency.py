"""Datasette keeps answering searches while a crawl writes to the same archive."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

from .conftest import ROOT, served_archive

SEARCHERS = 4  # a bounded load: four readers searching back to back
QUERIES = [
    "/spyglass/captures.json?_search=person+tracking&_shape=objects",
    "/spyglass/captures.json?_search=booking+photos&_nocount=1&_shape=objects",
    "/spyglass/crawl_runs.json?_shape=objects",
    "/spyglass/fetch_errors.json?_shape=objects",
    "/spyglass.json?sql=select+count(*)+as+n+from+captures",
]


class Searchers:
    """SEARCHERS threads searching back to back; answers count once the crawl has started."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.results: list[tuple[str, int, str]] = []
        self.crawling = threading.Event()
        self.done = threading.Event()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.search, args=(i,)) for i in range(SEARCHERS)]

    def search(self, worker: int) -> None:
        n = worker
        while not self.done.is_set():
            path = QUERIES[n % len(QUERIES)]
            n += 1
            try:
                with urllib.request.urlopen(self.base + path, timeout=30) as r:
                    outcome = (path, r.status, r.read().decode("utf-8"))
            except urllib.error.HTTPError as err:
                outcome = (path, err.code, err.read().decode("utf-8", "replace"))
            if self.crawling.is_set():
                with self.lock:
                    self.results.append(outcome)

    def __enter__(self) -> Searchers:
        for thread in self.threads:
            thread.start()
        self.crawling.set()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        for thread in self.threads:
            thread.join(timeout=60)


def test_searches_succeed_while_a_crawl_writes(crawled, tmp_path: Path):
    data = tmp_path / "data"
    shutil.copytree(crawled["data"], data)
    conn = sqlite3.connect(data / "spyglass.db")
    [(new_run,)] = conn.execute("SELECT max(id) + 1 FROM crawl_runs").fetchall()
    conn.close()
    with served_archive(data, allow_sql=True) as base, Searchers(base) as searchers:
        # The vendor site crawled again into the served archive (a run row, revisits, batches).
        crawl = subprocess.run(
            [
                sys.executable,
                "-m",
                "archive.cli",
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
                "AUTOTHROTTLE_ENABLED=False",
            ],
            cwd=ROOT,
            env={**os.environ, **crawled["env"]},
            capture_output=True,
            text=True,
            timeout=120,
        )
    results = searchers.results
    assert crawl.returncode == 0, crawl.stderr
    assert len(results) >= SEARCHERS, "no searches overlapped the crawl"
    failures = [(path, status, body[:300]) for path, status, body in results if status != 200]
    assert failures == []
    assert not any("locked" in body for _, _, body in results)
    seen_runs = set()
    for path, _, body in results:
        payload = json.loads(body)
        assert "rows" in payload or "ok" in payload, (path, body[:300])
        if path.startswith("/spyglass/crawl_runs"):
            seen_runs |= {row["id"] for row in payload["rows"]}
    assert new_run in seen_runs, "no search saw the new run: reads did not overlap its writes"
    # The crawl really wrote while we read: a second run with its revisits is there.
    conn = sqlite3.connect(data / "spyglass.db")
    [(runs,)] = conn.execute(
        "SELECT count(*) FROM crawl_runs WHERE status = 'finished' AND spider = 'vendor'"
    ).fetchall()
    [(revisits,)] = conn.execute("SELECT count(*) FROM captures WHERE warc_type = 'revisit'").fetchall()
    conn.close()
    assert runs == 2 and revisits > 0
