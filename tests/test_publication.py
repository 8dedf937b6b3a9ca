"""The published archive cannot be turned against its readers: escaped, read-only, unindexed."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import urllib.error
import urllib.request
from collections.abc import Iterator
from urllib.parse import quote

import pytest
import yaml

from archive.publish.datasette import plugin_modules

from .conftest import ROOT, served_archive
from .test_datasette import launch_chromium

# They send requests toward non-public addresses: only inside a namespace (tests/netns.py).
pytestmark = pytest.mark.network_namespace

METADATA = yaml.safe_load((ROOT / "datasette" / "metadata.yml").read_text())
PAYLOAD_MARKERS = ("<script>window.__spyglass_pwned", 'onerror="window.__spyglass_pwned', 'href="javascript:')


def get(url: str) -> tuple[int, dict[str, str], str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, dict(response.headers), response.read().decode("utf-8")
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read().decode("utf-8", "replace")


@pytest.fixture(scope="module")
def published(hostile_crawl) -> Iterator[str]:
    # Custom SQL on: its results must be escaped too.
    with served_archive(hostile_crawl["data"], allow_sql=True) as base:
        yield base


def xss_capture(hostile_crawl) -> int:
    conn = sqlite3.connect(hostile_crawl["data"] / "spyglass.db")
    [(capture_id,)] = conn.execute("SELECT id FROM captures WHERE url LIKE '%/xss'").fetchall()
    conn.close()
    return capture_id


def views(base: str, capture_id: int) -> dict[str, str]:
    """Every kind of page that shows archived titles, text or URLs."""
    sql = "select id, url, title, text, location, referrer from captures where source = 'hostile'"
    pages = {
        "search": f"{base}/spyglass/captures?_search=Quarterly",
        "table": f"{base}/spyglass/captures?source=hostile&_size=max",
        "row": f"{base}/spyglass/captures/{capture_id}",
        "sql": f"{base}/spyglass?sql={quote(sql)}",
        "errors": f"{base}/spyglass/fetch_errors?_size=max",
        "facet": f"{base}/spyglass/captures?_facet=title&source=hostile",
    }
    for name in METADATA["databases"]["spyglass"].get("queries") or {}:
        pages[f"canned:{name}"] = f"{base}/spyglass/{name}"
    return pages


def test_archived_scripts_are_shown_escaped_in_every_view(published, hostile_crawl):
    capture_id = xss_capture(hostile_crawl)
    for name, url in views(published, capture_id).items():
        status, _, html = get(url)
        assert status == 200, (name, url, html[:500])
        for marker in PAYLOAD_MARKERS:
            assert marker not in html, (name, marker)
    _, _, row = get(f"{published}/spyglass/captures/{capture_id}")
    assert "&lt;script&gt;window.__spyglass_pwned" in row
    assert "onerror=&#34;window.__spyglass_pwned" in row or "onerror=&quot;window.__spyglass_pwned" in row
    _, _, table = get(f"{published}/spyglass/captures?source=hostile&_size=max&_columns=all")
    assert "javascript:window.__spyglass_pwned" in table  # the Location header, shown as text


def test_no_archived_script_runs_in_a_real_browser(published, hostile_crawl):
    from playwright.sync_api import sync_playwright

    capture_id = xss_capture(hostile_crawl)
    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            page = browser.new_page()
            dialogs: list[str] = []
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            for name, url in views(published, capture_id).items():
                page.goto(url)
                page.wait_for_load_state("load")
                assert page.evaluate("() => window.__spyglass_pwned === undefined"), name
            assert dialogs == []
        finally:
            browser.close()


def test_robots_are_kept_out(published):
    status, _, text = get(f"{published}/robots.txt")
    assert (status, text) == (200, "User-agent: *\nDisallow: /\n")
    _, headers, _ = get(f"{published}/spyglass/captures")
    lowered = {k.lower(): v for k, v in headers.items()}
    assert lowered["x-robots-tag"] == "noindex, nofollow"
    assert lowered["referrer-policy"] == "no-referrer"


def test_served_read_only_with_a_query_time_limit(published, hostile_crawl):
    _, _, plugins = get(f"{published}/-/plugins.json")
    # Only the project's own plugins (none writes), each registered once through the entry
    # point; no installed third-party plugin.
    assert [p["name"] for p in json.loads(plugins)] == ["spyglass"] * len(plugin_modules())
    assert "spyglass_datasette.plugins.spyglass_safety" in plugin_modules()
    _, _, settings = get(f"{published}/-/settings.json")
    assert json.loads(settings)["sql_time_limit_ms"] == 3000
    before = (
        sqlite3.connect(hostile_crawl["data"] / "spyglass.db")
        .execute("SELECT count(*) FROM fetch_errors")
        .fetchone()
    )
    for sql in (
        "delete from fetch_errors",
        "update sources set notes = 'x'",
        "select 1; delete from fetch_errors",
    ):
        status, _, body = get(f"{published}/spyglass.json?sql={quote(sql)}")
        assert status == 400 and json.loads(body)["ok"] is False, (sql, body)
    after = (
        sqlite3.connect(hostile_crawl["data"] / "spyglass.db")
        .execute("SELECT count(*) FROM fetch_errors")
        .fetchone()
    )
    assert before == after


def test_every_connection_is_query_only_and_write_queries_refuse_to_start(hostile_crawl, tmp_path):
    import shutil

    from datasette.app import Datasette

    # A copy: if the guard failed, this test would really delete rows.
    db_path = str(tmp_path / "spyglass.db")
    shutil.copy(hostile_crawl["data"] / "spyglass.db", db_path)
    ds = Datasette([db_path], metadata=METADATA)

    async def try_write():
        await ds.invoke_startup()
        await ds.get_database("spyglass").execute_write("DELETE FROM fetch_errors")

    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        asyncio.run(try_write())

    writing = {
        **METADATA,
        "databases": {"spyglass": {"queries": {"wipe": {"sql": "delete from fetch_errors", "write": True}}}},
    }
    ds = Datasette([db_path], metadata=writing)
    with pytest.raises(RuntimeError, match="canned query spyglass/wipe is marked write: true"):
        asyncio.run(ds.invoke_startup())
