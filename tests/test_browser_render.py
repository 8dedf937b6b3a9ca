"""`render: browser`: a script-rendered page's claims captured, searchable, in history; every response
it loaded in the WARC; a screenshot of the same load; the address guard holding."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers.app_site import PNG, AppServers

from .conftest import db_rows, run_cli

CLAIMS = ["Identify all faces in crowded events.", "Person tracking across every camera."]
SOURCES = """
sources:
  - name: app
    kind: vendor
    vendor: Acme
    product: Recognize
    urls: ["{base}/"]
    scope: {{max_depth: 0, max_pages: 5}}
    allow_private: [127.0.0.1]
    requisites: false
    watch: ["identify all faces"]
    {render}
"""
# A loaded 2-core machine starts Chromium and settles a page in seconds, not tens.
SETTINGS = ["-s", "SPYGLASS_BROWSER_IDLE_WAIT=5", "-s", "SPYGLASS_BROWSER_LATE_TIMERS=1"]


def crawl(sources: Path, data: Path) -> str:
    return run_cli("crawl", "--sources", str(sources), "--data", str(data), *SETTINGS, check=True).stdout


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    servers = AppServers(CLAIMS)
    base = tmp_path_factory.mktemp("render")
    sources = base / "sources.yml"
    sources.write_text(SOURCES.format(base=servers.url, render="render: browser"))
    data = base / "data"
    try:
        first = crawl(sources, data)
        snapshot = {
            "captures": [dict(r) for r in db_rows(data, "SELECT * FROM captures ORDER BY id")],
            "errors": [dict(r) for r in db_rows(data, "SELECT * FROM fetch_errors ORDER BY id")],
            "shots": [dict(r) for r in db_rows(data, "SELECT * FROM screenshots ORDER BY id")],
        }
        servers.site.claims = CLAIMS[1:]  # the vendor drops a claim
        second = crawl(sources, data)
        yield {
            "data": data,
            "base": servers.url,
            "first": first,
            "second": second,
            **snapshot,
            "servers": servers,
        }
    finally:
        servers.stop()


def browser_captures(archive: dict) -> dict[str, dict]:
    found = [c for c in archive["captures"] if c["via"] == "browser"]
    return {c["url"].removeprefix(archive["base"]): c for c in found if c["requisite"]} | {
        "rendered": next(c for c in found if not c["requisite"])
    }


def test_the_rendered_claims_are_the_capture_text_and_found_by_search(rendered):
    page = browser_captures(rendered)["rendered"]
    assert page["url"] == rendered["base"] + "/" and page["status"] == 200 and page["warc_type"] == "resource"
    assert all(claim in page["text"] for claim in CLAIMS) and page["title"] == "Recognize"
    shell = next(c for c in rendered["captures"] if c["via"] == "live" and c["url"] == page["url"])
    assert "Identify" not in (shell["text"] or "")  # what Scrapy saw: the shell
    found = db_rows(
        rendered["data"],
        "SELECT c.via FROM captures_fts JOIN captures c ON c.id = captures_fts.rowid "
        "WHERE captures_fts MATCH '\"crowded events\"'",
    )
    assert [r["via"] for r in found] == ["browser"]
    assert "Loaded in a browser for 1 source(s): 1 pages rendered" in rendered["first"]


def test_every_response_the_page_loaded_is_in_the_warc(rendered):
    from archive.warc.read import read_record

    loaded = browser_captures(rendered)
    assert {"/", "/app.js", "/api/claims.json", "/late.png", "/lazy.png"} <= set(loaded)
    assert (loaded["/"]["requisite"], loaded["/app.js"]["requisite"]) == (
        "browser:document",
        "browser:script",
    )
    assert loaded["/api/claims.json"]["requisite"] == "browser:fetch"

    def record(capture: dict):
        return read_record(rendered["data"] / "warcs" / capture["warc_filename"], capture["warc_offset"])

    api = record(loaded["/api/claims.json"])
    # The body as the browser decoded it, and the headers say so instead of claiming gzip.
    assert json.loads(api.payload) == {"claims": CLAIMS} and api.payload_digest_ok
    assert "content-encoding" not in {name.lower() for name, _ in api.http_headers}
    assert "Content-Encoding: gzip" in api.headers["WARC-Spyglass-Removed-Header"]
    assert api.headers["WARC-Spyglass-Captured-By"].startswith("browser network events")
    # The two images are the same bytes: the one loaded first holds them, the other is a revisit of it.
    first, then = sorted((loaded["/late.png"], loaded["/lazy.png"]), key=lambda c: c["id"])
    assert record(first).payload == PNG and then["refers_to"] == first["warc_record_id"]
    dom = record(loaded["rendered"])
    assert dom.headers["WARC-Refers-To"] == loaded["/"]["warc_record_id"] == loaded["rendered"]["refers_to"]
    assert b"Person tracking across every camera." in dom.payload
    # The original HTML, one click away: what Scrapy archived, so the browser's copy is a revisit of it.
    shell = next(c for c in rendered["captures"] if c["via"] == "live" and c["url"] == loaded["/"]["url"])
    assert loaded["/"]["warc_type"] == "revisit" and loaded["/"]["refers_to"] == shell["warc_record_id"]
    assert b"Loading" in record(shell).payload


def test_replay_shows_the_rendered_page_with_its_archived_requisites(rendered):
    import asyncio

    from archive.publish.datasette import datasette_app

    page = browser_captures(rendered)["rendered"]
    answer = asyncio.run(datasette_app(rendered["data"]).client.get(f"/-/spyglass/archived/{page['id']}"))
    assert answer.status_code == 200 and CLAIMS[0] in answer.text
    # The late image is served from the archive, not the live site.
    assert "/-/spyglass/load?" in answer.text and "late.png" in answer.text


def test_a_screenshot_of_the_same_load_is_kept(rendered):
    page = browser_captures(rendered)["rendered"]
    [shot] = rendered["shots"]
    assert (shot["capture_id"], shot["status"], shot["crawl_run"]) == (page["id"], "ok", page["crawl_run"])
    assert shot["error"].startswith("1 request(s) refused by the address guard")
    assert shot["taken_at"] == page["captured_at"]


def test_nothing_reaches_a_private_address(rendered):
    assert rendered["servers"].canary.held == []
    [beacon] = [e for e in rendered["errors"] if "/beacon" in e["url"]]
    assert beacon["error_type"] == "address" and beacon["referrer"] == rendered["base"] + "/"


def test_a_dropped_claim_is_a_change_and_verify_passes(rendered):
    data = rendered["data"]
    versions = db_rows(data, "SELECT * FROM versions ORDER BY number")
    assert len(versions) == 2  # the shell Scrapy fetched is no version: the browser's capture is
    changes = run_cli("changes", "--data", str(data), "--source", "app")
    assert changes.returncode == 3, changes.stdout + changes.stderr
    assert "identify all faces" in changes.stdout.lower()
    verified = run_cli("verify", "--data", str(data))
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_a_page_that_hangs_the_browser_is_a_fetch_error_and_the_pass_goes_on(tmp_path: Path):
    servers = AppServers(CLAIMS)
    try:
        sources = tmp_path / "sources.yml"
        text = SOURCES.format(base=servers.url, render="render: browser")
        sources.write_text(
            text.replace(f'urls: ["{servers.url}/"]', f'urls: ["{servers.url}/spins/", "{servers.url}/"]')
        )
        data = tmp_path / "data"
        run_cli(
            "crawl",
            "--sources",
            str(sources),
            "--data",
            str(data),
            *SETTINGS,
            # 8 s: a loaded 2-core machine settles the other page in about 5.
            *("-s", "SPYGLASS_BROWSER_PAGE_TIMEOUT=8", "-s", "SPYGLASS_BROWSER_RESTART_AFTER=1"),
            check=True,
        )
    finally:
        servers.stop()
    [hung] = db_rows(data, "SELECT * FROM fetch_errors WHERE url LIKE '%/spins/'")
    assert (hung["error_type"], hung["reason"]) == (
        "browser-timeout",
        "did not load and settle within 8 s (SPYGLASS_BROWSER_PAGE_TIMEOUT)",
    )
    [page] = db_rows(data, "SELECT * FROM captures WHERE via = 'browser' AND requisite IS NULL")
    assert page["url"] == servers.url + "/" and CLAIMS[0] in page["text"]
    [run] = db_rows(data, "SELECT * FROM crawl_runs WHERE spider = 'browser'")
    assert (run["status"], run["pages"]) == ("finished", 1)


def test_a_source_without_it_is_told_its_pages_look_script_rendered(tmp_path: Path):
    servers = AppServers(CLAIMS)
    sources, data = tmp_path / "sources.yml", tmp_path / "data"
    try:
        sources.write_text(SOURCES.format(base=servers.url, render=""))
        result = run_cli("crawl", "--sources", str(sources), "--data", str(data), check=True)
        # Unchanged the second time (a 304): its latest run still counts the shell.
        again = run_cli("crawl", "--sources", str(sources), "--data", str(data), check=True)
    finally:
        servers.stop()
    for crawled in (result, again):
        assert (
            f"note: app: 1 page(s) look script-rendered (scripts, almost no text), e.g. {servers.url}/; "
            "consider `render: browser`"
        ) in crawled.stderr
    status = run_cli("status", "--sources", str(sources), "--data", str(data))
    [row] = [line for line in status.stdout.splitlines() if line.startswith("app ")]
    assert row.endswith("(1 page(s) look script-rendered; consider `render: browser`)"), status.stdout
    [view] = db_rows(data, "SELECT last_run, script_shells FROM source_status WHERE source = 'app'")
    assert view["script_shells"] == 1 and view["last_run"] == 2


@pytest.mark.parametrize(
    ("render", "message"),
    [
        ("render: chrome", "field 'render': must be 'browser' or {browser: [URL patterns]}, got 'chrome'"),
        ("render: {browser: []}", "field 'render.browser': must be a non-empty list of URL patterns"),
    ],
)
def test_render_errors_name_file_source_and_field(tmp_path: Path, render: str, message: str):
    from archive.errors import ConfigError
    from archive.sources.load import load_sources

    path = tmp_path / "sources.yml"
    path.write_text(SOURCES.format(base="https://example.com", render=render))
    with pytest.raises(ConfigError) as raised:
        load_sources(path)
    assert str(raised.value).startswith(f"{path}: source 'app': {message}")


def test_url_patterns_choose_the_pages_loaded_in_a_browser(tmp_path: Path):
    from archive.sources.load import load_sources

    path = tmp_path / "sources.yml"
    path.write_text(SOURCES.format(base="https://example.com", render="render: {browser: ['*/app/*']}"))
    [source] = load_sources(path)
    assert source.renders("https://example.com/app/claims") and not source.renders("https://example.com/")


def test_the_demo_shows_a_claim_only_a_browser_sees(tmp_path: Path, vendor_site):
    from archive.demo.live_page import CLAIMS as LIVE_CLAIMS

    from .conftest import ROOT

    data = tmp_path / "data"
    for _ in range(2):  # the second time the shell answers 304: the browser loads it all the same
        run_cli(
            "crawl",
            "--sources",
            str(ROOT / "sources.yml"),
            "--data",
            str(data),
            "--source",
            "northwind-recognize-live",
            *SETTINGS,
            env={"SPYGLASS_VENDOR_SITE": vendor_site[0]},
            check=True,
        )
    assert (
        db_rows(data, "SELECT count(*) FROM observations WHERE status = 304 AND url LIKE '%/live/'")[0][0]
        == 1
    )
    runs = db_rows(data, "SELECT status, pages FROM crawl_runs WHERE spider = 'browser'")
    assert [tuple(r) for r in runs] == [("finished", 1), ("finished", 1)]
    found = db_rows(
        data,
        "SELECT c.via, c.url FROM captures_fts JOIN captures c ON c.id = captures_fts.rowid "
        "WHERE captures_fts MATCH '\"booking photos\"'",
    )
    assert [(r["via"], r["url"]) for r in found] == [
        ("browser", vendor_site[0] + "/products/recognize/live/")
    ] * 2  # each crawl's rendered capture; one version, unchanged
    [version] = db_rows(data, "SELECT * FROM versions WHERE page_url LIKE '%/live/'")
    [text] = db_rows(data, "SELECT text FROM page_texts WHERE sha256 = ?", (version["text_sha256"],))
    assert LIVE_CLAIMS[0] in text["text"]


def test_a_browser_crawl_killed_with_sigkill_resumes_without_losing_or_repeating_a_page(tmp_path: Path):
    import os
    import signal
    import subprocess
    import sys
    import time
    from collections import Counter

    from archive.demo.server import LoopbackServer
    from tests.servers.app_site import numbered_claim_page

    from .conftest import ROOT, rows_when_ready

    server = LoopbackServer(numbered_claim_page).start()
    urls = [f"{server.url}/p/{n}.html" for n in range(5)]  # max_pages: 5
    sources, data = tmp_path / "sources.yml", tmp_path / "data"
    text = SOURCES.format(base=server.url, render="render: browser")
    sources.write_text(text.replace(f'["{server.url}/"]', json.dumps(urls)))
    args = ["crawl", "--sources", str(sources), "--data", str(data), *SETTINGS[:2]]
    args += ["-s", "SPYGLASS_BROWSER_LATE_TIMERS=0"]
    rendered = "SELECT url, crawl_run, text FROM captures WHERE via = 'browser' AND requisite IS NULL"
    try:
        # Its own process group: the kill takes Chromium and the proxy down too, mid-pass.
        crawl = subprocess.Popen(
            [sys.executable, "-m", "archive.cli", *args],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 120
        while len(rows_when_ready(data, rendered)) < 2:
            assert crawl.poll() is None, "the crawl ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.05)
        os.killpg(crawl.pid, signal.SIGKILL)
        crawl.wait()
        before = {r["url"] for r in db_rows(data, rendered)}
        assert len(before) < len(urls), "killed too late to show anything"
        run_cli(*args, check=True)
    finally:
        server.stop()
    first, second = db_rows(data, "SELECT * FROM crawl_runs WHERE spider = 'browser' ORDER BY id")
    assert (first["status"], second["status"], second["resumed_from"]) == (
        "interrupted",
        "finished",
        first["id"],
    )
    after = db_rows(data, rendered)
    assert Counter(r["url"] for r in after) == Counter(urls)  # each page rendered once, none lost
    assert {r["url"] for r in after if r["crawl_run"] == first["id"]} == before
    assert all(f"Claim of page {r['url'][-6]}." in r["text"] for r in after)
    verified = run_cli("verify", "--data", str(data))
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_a_resumed_live_run_renders_the_pages_its_earlier_run_archived(tmp_path: Path):
    from archive.archive import Archive
    from archive.browser.run import pages_seen
    from archive.index.captures import save_captures
    from archive.index.db import open_index, writing
    from archive.index.runs import start_run

    index = open_index(Archive(tmp_path))
    try:
        with writing(index):
            killed = start_run(index, "app", "vendor")
            resumed = start_run(index, "app", "vendor", resumed_from=killed)
            other = start_run(index, "app", "vendor")
        page = {"source": "app", "via": "live", "status": 200, "content_type": "text/html", "sha256": "0"}
        page |= {"captured_at": "2026-01-01T00:00:00Z", "warc_filename": "a.warc.gz", "warc_offset": 0}
        runs = {"killed": killed, "resumed": resumed, "other": other}
        save_captures(
            index, [{**page, "url": f"https://a.example/{k}", "crawl_run": r} for k, r in runs.items()]
        )
        # The page archived before the crash is not fetched again, but is loaded in the browser.
        assert [p["url"] for p in pages_seen(index, resumed)] == [
            "https://a.example/killed",
            "https://a.example/resumed",
        ]
        assert [p["url"] for p in pages_seen(index, other)] == ["https://a.example/other"]
    finally:
        index.close()


def test_a_page_is_written_while_the_next_one_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    import threading
    from contextlib import asynccontextmanager

    import archive.browser.run as run
    from archive.browser.load import Load, Settling
    from archive.config import Config
    from archive.sources.load import load_sources
    from archive.times import utc_now

    events: list[str] = []
    second_loaded = threading.Event()

    async def load_page(browser, url: str, settling: Settling) -> Load:
        events.append(f"load {url}")
        if url.endswith("b"):
            second_loaded.set()
        return Load(url, utc_now(), status="failed", error="not loaded")

    def record_load(store, load: Load, *args):
        # Page a's writing waits for page b's load: it can only come while a is being written.
        saw = second_loaded.wait(10) if load.url.endswith("a") else True
        events.append(f"wrote {load.url[-1]}{'' if saw else ' before b loaded'}")
        return recorded(store, load, *args)

    class Started:
        ready, problem, connected, name = True, None, True, "Chromium"

    @asynccontextmanager
    async def open_browser():
        yield Started()

    recorded = run.record_load
    monkeypatch.setattr(run, "load_page", load_page)
    monkeypatch.setattr(run, "record_load", record_load)
    (tmp_path / "sources.yml").write_text(SOURCES.format(base="http://app.example", render="render: browser"))
    [source] = load_sources(tmp_path / "sources.yml")
    pages = [{"url": "http://app.example/a"}, {"url": "http://app.example/b"}]
    run.render_run(Config(data_dir=tmp_path / "data"), source, pages, open_browser, lambda *args: None)
    assert [e.removeprefix("load http://app.example/") for e in events] == ["a", "b", "wrote a", "wrote b"]
    errors = db_rows(tmp_path / "data", "SELECT url FROM fetch_errors ORDER BY id")
    assert [r["url"] for r in errors] == [p["url"] for p in pages]  # written in order all the same
