"""`render: browser` in Redis mode: the workers load the pages in Chromium, each page once (a SIGKILLed
worker's page goes to another), and what they record reaches the index through the one ingest."""

from __future__ import annotations

import json
import os
import pickle
import re
import signal
import socket
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest
import redis

from archive.cluster import keys
from archive.demo.server import Incoming, LoopbackServer, Reply
from tests.servers.app_site import AppServers

from .conftest import db_rows, run_cli
from .servers.redis_server import redis_server
from .test_browser_render import CLAIMS, SETTINGS, SOURCES
from .test_redis_mode import _spyglass, _wait

RENDERED = "SELECT * FROM captures WHERE via = 'browser' AND requisite IS NULL ORDER BY id"


def _host_pid(pid: int) -> str:
    """What a worker's id, its leases and its WARC files' names start with."""
    return f"{socket.gethostname().split('.')[0]}-{pid}-"


def test_two_workers_render_a_page_whose_claims_arrive_by_script(tmp_path: Path):
    servers = AppServers(CLAIMS)
    sources, data = tmp_path / "sources.yml", tmp_path / "data"
    sources.write_text(SOURCES.format(base=servers.url, render="render: browser"))
    try:
        with redis_server(tmp_path / "redis") as url:
            crawled = run_cli(
                *("crawl", "--sources", str(sources), "--data", str(data), "--redis", url, "--workers", "2"),
                *SETTINGS,
                timeout=300,
            )
            assert crawled.returncode == 0, crawled.stdout + crawled.stderr
            # The browser run ended in Redis like any run: nothing of it is left.
            assert [k.decode() for k in redis.Redis.from_url(url).keys("*")] == [keys.ARCHIVE]
    finally:
        servers.stop()
    assert "Loaded in a browser for 1 source(s): 1 pages rendered" in crawled.stdout
    [page] = db_rows(data, RENDERED)
    assert all(claim in page["text"] for claim in CLAIMS) and page["title"] == "Recognize"
    # Written by a worker (its WARC file carries its id), indexed by the one ingest.
    host = re.escape(socket.gethostname().split(".")[0])
    assert re.search(rf"-{host}-\d+-[0-9a-f]{{6}}\.warc\.gz$", page["warc_filename"]), page
    found = db_rows(
        data,
        "SELECT c.via FROM captures_fts JOIN captures c ON c.id = captures_fts.rowid "
        "WHERE captures_fts MATCH '\"crowded events\"'",
    )
    assert [r["via"] for r in found] == ["browser"]
    loaded = {
        r["url"].removeprefix(servers.url): r["requisite"]
        for r in db_rows(data, "SELECT * FROM captures WHERE via = 'browser' AND requisite IS NOT NULL")
    }
    assert loaded["/api/claims.json"] == "browser:fetch" and loaded["/late.png"] == "browser:image"
    [api] = db_rows(data, "SELECT * FROM captures WHERE url LIKE '%/api/claims.json'")
    from archive.warc.read import read_record

    assert json.loads(read_record(data / "warcs" / api["warc_filename"], api["warc_offset"]).payload) == {
        "claims": CLAIMS
    }
    [shot] = db_rows(data, "SELECT * FROM screenshots")
    assert (shot["capture_id"], shot["status"], shot["taken_at"]) == (page["id"], "ok", page["captured_at"])
    [beacon] = db_rows(data, "SELECT * FROM fetch_errors WHERE url LIKE '%/beacon'")
    assert beacon["error_type"] == "address" and servers.canary.held == []
    runs = db_rows(data, "SELECT spider, status, pages FROM crawl_runs ORDER BY id")
    assert [tuple(r)[:2] for r in runs] == [("vendor", "finished"), ("browser", "finished")]
    assert runs[1]["pages"] == 1
    verified = run_cli("verify", "--data", str(data))
    assert verified.returncode == 0, verified.stdout + verified.stderr


class SlowPages:
    """Pages whose claim arrives by script from an answer held back a while: a load takes seconds,
    long enough to kill the worker in the middle of it."""

    HOLD = 3.0

    def __call__(self, request: Incoming) -> Reply:
        if request.path == "/robots.txt":
            return Reply(body=b"User-agent: *\nDisallow:\n", content_type="text/plain")
        number = request.path.rsplit("/", 1)[-1].removesuffix(".html").removesuffix(".json")
        if request.path.startswith("/claim/"):
            time.sleep(self.HOLD)
            return Reply(
                body=json.dumps(f"Claim of page {number}.").encode(), content_type="application/json"
            )
        script = (
            f"fetch('/claim/{number}.json').then(r => r.json())"
            ".then(t => { document.getElementById('app').textContent = t })"
        )
        return Reply(body=f"<title>P</title><div id='app'>Loading</div><script>{script}</script>".encode())


@pytest.mark.timeout(600)
def test_a_worker_killed_mid_render_leaves_its_page_to_another_rendered_once(tmp_path: Path):
    server = LoopbackServer(SlowPages()).start()
    urls = [f"{server.url}/p/{n}.html" for n in range(4)]
    sources, data = tmp_path / "sources.yml", tmp_path / "data"
    text = SOURCES.format(base=server.url, render="render: browser")
    sources.write_text(text.replace(f'["{server.url}/"]', json.dumps(urls)))
    settings = [*SETTINGS, "-s", "SPYGLASS_REDIS_LEASE=8", "-s", "SPYGLASS_BROWSER_LATE_TIMERS=0"]
    try:
        with redis_server(tmp_path / "redis") as url:
            client = redis.Redis.from_url(url)
            args = ("--sources", str(sources), "--data", str(data), "--redis", url, *settings)
            crawl = _spyglass("crawl", *args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            workers = [
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
                for _ in range(2)
            ]

            def render_leases() -> dict[str, str]:
                jobs = [pickle.loads(j) for j in client.hvals(keys.JOBS)]
                return {
                    lease.decode(): page.decode()
                    for job in jobs
                    if job.spider == "browser"
                    for lease, page in client.hgetall(keys.run_key(job.run_id, "leases")).items()
                }

            _wait("a worker loading a page", render_leases, timeout=240)
            lease, page = next(iter(render_leases().items()))
            [victim] = [w for w in workers if lease.startswith(_host_pid(w.pid))]
            os.killpg(victim.pid, signal.SIGKILL)  # the worker, its writer and its Chromium
            victim.wait()
            out, err = crawl.communicate(timeout=300)
            assert crawl.returncode == 0, out + err
            for worker in workers:
                worker.wait(timeout=60)
    finally:
        server.stop()
    rendered = db_rows(data, RENDERED)
    assert Counter(r["url"] for r in rendered) == Counter(urls)  # every page once, none lost
    assert all(f"Claim of page {r['url'][-6]}." in r["text"] for r in rendered)
    # The page the killed worker was loading was rendered by the other one.
    [again] = [r for r in rendered if r["url"] == page]
    assert _host_pid(victim.pid) not in again["warc_filename"]
    shots = db_rows(data, "SELECT capture_id FROM screenshots WHERE status = 'ok'")
    assert sorted(s["capture_id"] for s in shots) == sorted(r["id"] for r in rendered)
    [run] = db_rows(data, "SELECT * FROM crawl_runs WHERE spider = 'browser'")
    assert (run["status"], run["pages"]) == ("finished", len(urls))
    verified = run_cli("verify", "--data", str(data))
    assert verified.returncode == 0, verified.stdout + verified.stderr
