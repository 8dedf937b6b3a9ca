"""The as-of rule (archive/index/asof.py): one definition, and every page that shows a capture agrees with it."""

from __future__ import annotations

import json
import re
import sqlite3
import urllib.request
import zipfile
from html import unescape
from pathlib import Path
from urllib.parse import quote, urlencode

from archive.evidence.citation import bluebook_date
from archive.index.asof import (
    AS_OF_SQL,
    FETCHED_FROM_WAYBACK,
    MEMENTO_TIME,
    PAGE_URL_SQL,
    as_of,
    as_of_kind,
    as_of_text,
    page_url,
)
from archive.index.db import open_db
from archive.publish.memento import http_date
from archive.times import iso

from .conftest import db_rows, run_cli, served_archive


def test_the_generated_columns_are_written_from_the_rule(tmp_path: Path):
    db = open_db(tmp_path / "spyglass.db")
    try:
        schema = db.execute("SELECT sql FROM sqlite_master WHERE name = 'captures'").fetchone()[0]
    finally:
        db.close()
    assert f"as_of_at TEXT GENERATED ALWAYS AS ({AS_OF_SQL}) VIRTUAL" in schema
    assert f"page_url TEXT GENERATED ALWAYS AS ({PAGE_URL_SQL}) VIRTUAL" in schema


def test_sqlite_and_python_read_every_capture_alike(crawled):
    captures = [dict(r) for r in db_rows(crawled["data"], "SELECT * FROM captures")]
    assert {c["via"] for c in captures} == {"live", "wayback"}
    for row in captures:
        assert as_of_text(row) == row["as_of_at"] and page_url(row) == row["page_url"], row["id"]
        # Both Wayback columns name one instant, so reading either would give the same rule.
        if row["via"] == "wayback":
            assert row["wayback_timestamp"] == as_of(row).strftime("%Y%m%d%H%M%S"), row["id"]


def _get(base: str, path: str) -> tuple[str, dict[str, str]]:
    with urllib.request.urlopen(base + path, timeout=30) as answer:
        return unescape(answer.read().decode("utf-8")), {k.lower(): v for k, v in answer.headers.items()}


def _text(html: str) -> str:
    """The page's words, tags gone, spaces collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_a_wayback_capture_shows_one_time_one_page_and_one_label_everywhere(crawled, tmp_path: Path):
    data = crawled["data"]
    [found] = db_rows(
        data,
        "SELECT c.* FROM captures c JOIN versions v ON v.first_capture_id = c.id "
        "WHERE c.via = 'wayback' AND c.title IS NOT NULL AND c.original_url LIKE '%/products/recognize/' "
        "ORDER BY c.id LIMIT 1",
    )
    row = dict(found)
    cid, when, page, title = row["id"], row["as_of_at"], row["page_url"], row["title"]
    assert as_of_kind(row) == MEMENTO_TIME and when == row["memento_at"] != row["captured_at"]
    assert page == f"{crawled['base']}/products/recognize/" and page != row["url"]
    fetched = f"{FETCHED_FROM_WAYBACK} {row['url']}"
    archived_on = f"archived {bluebook_date(as_of(row))}"

    with served_archive(data) as base:
        # The capture page (Datasette's row page): title, as-of, page, the fetch address labelled, citation.
        html, _ = _get(base, f"/spyglass/captures/{cid}")
        assert f"<title>{title} (as of {when[:10]})</title>" in html
        assert f'<dd class="as-of">{when} ' in html and "(memento time:" in html
        assert f'<dd class="page-url">{page} ' in html
        assert f'<dd class="fetch-url">{fetched}</dd>' in html
        every_field = html[html.index('id="fields"') :]
        url_cell = re.search(r'<td class="col-url [^"]*">(.*?)</td>', every_field, re.S)[1]
        assert _text(url_cell) == fetched and "live" not in url_cell
        citation = re.search(r'<textarea id="spyglass-citation"[^>]*>(.*?)</textarea>', html, re.S)[1]
        assert (
            archived_on in citation and row["snapshot_url"] in citation and f"Original URL {page}" in citation
        )

        # Replay: the banner over the archived copy.
        html, _ = _get(base, f"/-/spyglass/replay/{cid}")
        assert f"<title>Archived copy: {title}</title>" in html
        assert f'<dt>Memento time (as of)</dt><dd class="as-of">{when}</dd>' in html
        assert f'<dd class="original-url">{page}</dd>' in html
        assert f'<dd class="fetch-url">{fetched}</dd>' in html
        assert archived_on in html and row["url"] not in html.replace(fetched, "")

        # The timeline: its page, and this capture's tick and version dated as of the memento.
        html, _ = _get(base, "/-/spyglass/timeline?" + urlencode({"url": page}))
        assert f"<title>Timeline: {page}</title>" in html
        assert f"<title>capture {cid}, {when[:19]}</title>" in html
        version = re.search(
            rf"<tr class=\"version[^>]*>((?:(?!</tr>).)*?capture {cid}</a>.*?)</tr>", html, re.S
        )
        assert version and f"<td>{when[:19].replace('T', ' ')}</td>" in version[1]

        # The TimeMap, and the archived copy's own Memento headers.
        timemap, _ = _get(base, f"/-/spyglass/timemap/link/{page}")
        assert f'<{page}>; rel="original"' in timemap
        entry = re.search(
            rf"<[^>]*/-/spyglass/archived/{cid}>; rel=\"[^\"]*\"; datetime=\"([^\"]+)\"", timemap
        )
        assert entry and entry[1] == http_date(when)
        _, headers = _get(base, f"/-/spyglass/archived/{cid}")
        assert headers["memento-datetime"] == http_date(when)
        assert f'<{quote(page, safe=":/")}>; rel="original"' in headers["link"]

    # `spyglass cite`: by id, and by the page's URL at its own as-of time (the SQL's nearest).
    cited = json.loads(run_cli("cite", str(cid), "--data", str(data), "--format", "json", check=True).stdout)
    assert (cited["as_of_at"], cited["as_of_kind"]) == (iso(as_of(row)), MEMENTO_TIME) == (when, MEMENTO_TIME)
    assert (cited["original_url"], cited["title"], cited["url"]) == (page, title, row["snapshot_url"])
    assert archived_on in cited["bluebook"]
    near = run_cli("cite", page, "--at", when, "--data", str(data), "--format", "json", check=True)
    assert json.loads(near.stdout)["closest_to"]["capture_id"] == cid

    # Export: pages.jsonl dates and names the page as the rule does; the manifest labels the fetch.
    out = tmp_path / "one.wacz"
    run_cli("export", "--data", str(data), "--out", str(out), "--capture", str(cid), check=True)
    with zipfile.ZipFile(out) as wacz:
        pages = [json.loads(line) for line in wacz.read("pages/pages.jsonl").splitlines()[1:]]
    [entry] = [p for p in pages if p["url"] == row["url"]]
    assert (entry["ts"], entry["as_of"], entry["page_url"]) == (when, when, page)
    assert entry["title"] == f"{title} (as of {when[:10]}, {page})"
    manifest = out.with_name("one.wacz.manifest.txt").read_text()
    assert f"Capture {cid}: {page}, {fetched}" in manifest


def test_the_rule_reads_a_live_capture_at_its_request_time():
    live = {"url": "http://x.test/a", "captured_at": "2026-11-22T01:02:03.456789Z", "via": "live"}
    assert (as_of_text(live), page_url(live), as_of_kind(live)) == (
        live["captured_at"],
        live["url"],
        "capture time",
    )
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE captures (url, original_url, captured_at, memento_at)")
    conn.execute("INSERT INTO captures VALUES (?, NULL, ?, NULL)", [live["url"], live["captured_at"]])
    assert conn.execute(f"SELECT {AS_OF_SQL}, {PAGE_URL_SQL} FROM captures").fetchone() == (
        live["captured_at"],
        live["url"],
    )
