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
from archive.ingest.batch import Batch
from tests.servers.app_site import AppServers

from .conftest import db_rows, run_cli
from .servers.redis_server import redis_server
from .test_browser_render import CLAIMS, SETTINGS, SOURCES
from .test_redis_mode import _spyglass, _wait, _workers

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
            workers = _workers(2, url, data, settings)

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


def test_a_worker_killed_between_writing_a_load_and_sending_its_rows_leaves_its_rendered_page_indexed(
    tmp_path: Path,
):
    from datetime import UTC, datetime
    from functools import partial

    from archive.browser.load import Load, Received
    from archive.browser.run import load_batch
    from archive.cluster.jobs import Job, active_jobs
    from archive.cluster.reap import reap
    from archive.cluster.render import seed_render
    from archive.cluster.sink import RedisSink, WorkerTarget
    from archive.config import Config
    from archive.crawl.screenshots import load_shot_row
    from archive.index.capture_row import CaptureRow
    from archive.index.db import writing
    from archive.index.runs import start_run
    from archive.ingest.sink import IndexSink
    from archive.sources.load import load_sources
    from archive.warc.write import Exchange, WarcStore
    from tests.servers.app_site import PNG

    sources, data = tmp_path / "sources.yml", tmp_path / "data"
    sources.write_text(SOURCES.format(base="http://app.example", render="render: browser"))
    [source] = load_sources(sources)
    page, now = "http://app.example/", datetime.now(UTC)
    shell = b"<title>A</title><div id='app'>Loading</div>"
    with redis_server(tmp_path / "redis") as url:
        config = Config(data_dir=data, redis_url=url)
        client = redis.Redis.from_url(url)
        sink = IndexSink(config)
        with writing(sink.index):
            live = start_run(sink.index, "app", "vendor")
        # The live run archived the page's shell.
        crawled = WarcStore(data / "warcs", "app", on_open=lambda filename: sink.file_opened(filename, live))
        html = [("Content-Type", "text/html")]
        location = crawled.write_exchange(
            Exchange(page, "GET", [], b"", "HTTP/1.1", 200, "OK", html, shell, now)
        )
        crawled.close()
        row = CaptureRow.from_location(
            location,
            url=page,
            source="app",
            via="live",
            crawl_run=live,
            captured_at=location.date,
            status=200,
            content_type="text/html",
        )
        sink.commit(Batch(captures=[row.columns()]))
        render = seed_render(client, sink, config, Job(live, source, "vendor", "2026-01-01T00:00:00Z"))
        queue, leases = keys.run_key(render.run_id, "requests"), keys.run_key(render.run_id, "leases")
        assert client.zrange(queue, 0, -1) == [page.encode()]
        # A worker takes the page, loads it, writes every record, and is killed before sending the rows.
        worker = "gone-1-abcdef"
        client.zrem(queue, page)
        client.hset(leases, f"{worker}#render-1", page)
        rows = RedisSink(config, WorkerTarget(url, render.run_id, worker))
        store = WarcStore(
            data / "warcs",
            "app",
            originals=rows.originals("app"),
            on_open=lambda filename: rows.file_opened(filename, render.run_id),
            host=worker,
        )
        load = Load(page, now, dom="<title>A</title><p>Identify all faces.</p>", png=PNG)
        load.http_status = 200
        load.responses.append(Received(page, "GET", [], b"", 200, "OK", html, shell, "document", now, True))
        batch = load_batch(store, source, render.run_id, load, "Chromium", partial(load_shot_row, source))
        store.close()
        assert len(batch.captures) == 2 and len(batch.screenshots) == 1  # never sent
        done = reap(client, sink, active_jobs(client), worker)
        sink.close()
        # The rendered page is indexed from the records the worker wrote: it is not loaded again.
        assert (done["pages"], client.zrange(queue, 0, -1), client.hlen(leases)) == (0, [], 0)
    errors = db_rows(data, "SELECT url, error_type, reason FROM fetch_errors ORDER BY id")
    assert [(e["url"], e["error_type"]) for e in errors] == [(f"urn:fullPage:{page}", "interrupted")]
    assert errors[0]["reason"].startswith("a screenshot taken, but the browser pass was killed")
    # What the browser received and rendered is indexed from its records, as after any crash.
    captures = db_rows(data, "SELECT * FROM captures WHERE via = 'browser' ORDER BY id")
    assert [(c["requisite"], c["warc_type"]) for c in captures] == [
        ("browser:document", "revisit"),
        (None, "resource"),
    ]
    assert "Identify all faces." in captures[1]["text"]
    verified = run_cli("verify", "--data", str(data))
    assert verified.returncode == 0, verified.stdout + verified.stderr
