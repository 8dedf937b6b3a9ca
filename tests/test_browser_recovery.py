"""A browser pass killed between a page's WARC records and its rows: recovery indexes the rendered DOM
as the pass would have, so the capture's text is the rendered page's and the page is not loaded again."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from .conftest import ROOT, db_rows, run_cli

SOURCES = """
sources:
  - name: app
    kind: vendor
    vendor: Acme
    product: Recognize
    urls: {urls}
    scope: {{max_depth: 0, max_pages: 5}}
    allow_private: [127.0.0.1]
    requisites: false
    render: browser
"""
SHELL = b"<title>Recognize</title><div id='app'>Loading</div><script src='/app.js'></script>"
RENDERED = "<html><head><title>Recognize</title></head><body><p>Identify all faces in crowded events.</p></body></html>"


def test_recovery_indexes_a_rendered_dom_exactly_as_the_pass_does(tmp_path: Path):
    from archive.archive import Archive
    from archive.browser.load import Load, Received
    from archive.browser.record import record_load
    from archive.config import Config
    from archive.index.capture_row import COLUMNS
    from archive.ingest.runs import open_run
    from archive.ingest.sink import IndexSink
    from archive.sources.load import load_sources
    from archive.times import utc_now
    from archive.warc.write import WarcStore

    (tmp_path / "sources.yml").write_text(SOURCES.format(urls='["http://app.example/"]'))
    [source] = load_sources(tmp_path / "sources.yml")
    config = Config(data_dir=tmp_path / "data")
    archive = Archive.from_config(config)
    sink = IndexSink(config)
    run_id, _ = open_run(sink, archive, source.name, "browser", source, os.getpid(), config.resume_within)
    store = WarcStore(archive.warc_dir, source.name, on_open=lambda name: sink.file_opened(name, run_id))
    url = "http://app.example/"
    load = Load(url, utc_now(), dom=RENDERED, http_status=200)
    for path, body, kind, main in [("", SHELL, "document", True), ("app.js", b"render()", "script", False)]:
        load.responses.append(
            Received(
                url + path,
                "GET",
                [("Accept", "*/*")],
                b"",
                200,
                "OK",
                [("Content-Type", "text/html")],
                body,
                kind,
                utc_now(),
                main,
            )
        )
    # What the pass would have committed; the kill comes first, so none of it is in the index.
    recorded = record_load(store, load, source, run_id, "Chromium 1")
    store.close()
    sink.close()

    sink = IndexSink(config)  # the next crawl of the source reconciles the killed run
    try:
        open_run(sink, archive, source.name, "browser", source, os.getpid(), config.resume_within)
        found = [
            dict(row) for row in sink.index.query("SELECT * FROM captures WHERE crawl_run = ?", [run_id])
        ]
    finally:
        sink.close()
    rendered = next(row for row in found if row["requisite"] is None)
    assert {name: rendered[name] for name in COLUMNS} == recorded.captures[-1]
    assert (
        "Identify all faces" in rendered["text"]
        and rendered["refers_to"] == recorded.captures[0]["warc_record_id"]
    )
    # Every row the load made, the responses' too, is the row the pass would have committed.
    assert [{name: row[name] for name in COLUMNS} for row in found] == recorded.captures


KILL_AT_THE_RENDERED_ROWS = """
import os, runpy, signal
from archive.ingest.sink import IndexSink

commit = IndexSink.commit


def commit_or_die(self, batch):
    # The page's records are written and flushed; its rows would be committed now.
    if any(row["via"] == "browser" and row["requisite"] is None for row in batch.captures):
        os.killpg(0, signal.SIGKILL)
    commit(self, batch)


IndexSink.commit = commit_or_die
runpy.run_module("archive.cli", run_name="__main__")
"""


def test_a_page_killed_before_its_rows_is_recovered_with_its_rendered_text(tmp_path: Path):
    from archive.demo.server import LoopbackServer
    from tests.servers.app_site import numbered_claim_page

    server = LoopbackServer(numbered_claim_page).start()
    urls = [f"{server.url}/p/{n}.html" for n in range(2)]
    sources, data = tmp_path / "sources.yml", tmp_path / "data"
    sources.write_text(SOURCES.format(urls=json.dumps(urls)))
    args = ["crawl", "--sources", str(sources), "--data", str(data)]
    args += ["-s", "SPYGLASS_BROWSER_IDLE_WAIT=5", "-s", "SPYGLASS_BROWSER_LATE_TIMERS=0"]
    try:
        # Its own process group, so the kill takes Chromium and the proxy with it.
        killed = subprocess.run(
            [sys.executable, "-c", KILL_AT_THE_RENDERED_ROWS, *args],
            cwd=ROOT,
            capture_output=True,
            start_new_session=True,
            timeout=180,
        )
        assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()[-2000:]
        assert db_rows(data, "SELECT count(*) FROM captures WHERE via = 'browser'")[0][0] == 0
        run_cli(*args, check=True)
    finally:
        server.stop()
    first, second = db_rows(data, "SELECT * FROM crawl_runs WHERE spider = 'browser' ORDER BY id")
    assert (first["status"], second["resumed_from"]) == ("interrupted", first["id"])
    rendered = db_rows(
        data, "SELECT * FROM captures WHERE via = 'browser' AND requisite IS NULL ORDER BY url"
    )
    # The killed page's rendered capture is recovered from its records, not loaded again.
    assert [(r["url"], r["crawl_run"]) for r in rendered] == [(urls[0], first["id"]), (urls[1], second["id"])]
    recovered = rendered[0]
    assert (
        "Claim of page 0." in recovered["text"] and recovered["title"] == "P" and recovered["status"] == 200
    )
    [document] = db_rows(
        data,
        "SELECT warc_record_id FROM captures WHERE requisite = 'browser:document' AND crawl_run = ?",
        (first["id"],),
    )
    assert recovered["refers_to"] == document["warc_record_id"]
    found = db_rows(
        data,
        "SELECT c.url FROM captures_fts JOIN captures c ON c.id = captures_fts.rowid "
        "WHERE captures_fts MATCH '\"claim of page 0\"'",
    )
    assert [r["url"] for r in found] == [urls[0]]
    [version] = db_rows(data, "SELECT * FROM versions WHERE page_url = ?", (urls[0],))
    [text] = db_rows(data, "SELECT text FROM page_texts WHERE sha256 = ?", (version["text_sha256"],))
    assert "Claim of page 0." in text["text"]
    verified = run_cli("verify", "--data", str(data))
    assert verified.returncode == 0, verified.stdout + verified.stderr
