"""Safe replay and citations in Datasette: a hostile archived page stays inert in every view."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers.attack_page import (
    IMG_PAYLOAD,
    TEXT_PAYLOAD,
    TITLE_PAYLOAD,
    AttackPage,
    start_attack_page,
)

from .conftest import run_cli

SOURCES = """
sources:
  - name: hostile
    kind: vendor
    urls: ["${HOSTILE_SITE}/"]
    scope: {max_depth: 0, max_pages: 5}
    allow_private: [127.0.0.1]
    vendor: Evil Corp
"""
PAYLOADS = (TITLE_PAYLOAD, TEXT_PAYLOAD, IMG_PAYLOAD)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, AttackPage, int]]:
    server, site = start_attack_page()
    base = tmp_path_factory.mktemp("hostile")
    (base / "sources.yml").write_text(SOURCES)
    data = base / "data"
    run_cli(
        "crawl",
        "--sources",
        str(base / "sources.yml"),
        "--data",
        str(data),
        env={"HOSTILE_SITE": server.url},
        check=True,
    )
    conn = sqlite3.connect(data / "spyglass.db")
    [(capture_id,)] = conn.execute("SELECT id FROM captures WHERE url = ?", [server.url + "/"]).fetchall()
    conn.close()
    yield data, site, capture_id
    server.stop()


def datasette_for(data: Path):
    from archive.publish.datasette import datasette_app

    # Custom SQL on: the escaping of archived values is checked in its results too.
    return datasette_app(data, allow_sql=True)


def fetch_all(data: Path, paths: list[str]) -> dict[str, object]:
    ds = datasette_for(data)

    async def run():
        return {path: await ds.client.get(path) for path in paths}

    return asyncio.run(run())


def test_hostile_title_and_text_are_archived_verbatim(hostile):
    data, _, capture_id = hostile
    conn = sqlite3.connect(data / "spyglass.db")
    title, text = conn.execute("SELECT title, text FROM captures WHERE id = ?", [capture_id]).fetchone()
    conn.close()
    assert title == TITLE_PAYLOAD and TEXT_PAYLOAD in text and IMG_PAYLOAD in text


def test_payloads_are_escaped_in_every_datasette_view(hostile):
    data, _, capture_id = hostile
    views = [
        "/",
        "/spyglass",
        "/spyglass/captures",
        "/spyglass/captures?_search=Hostile",
        "/spyglass/captures?_facet=title",
        f"/spyglass/captures/{capture_id}",
        "/spyglass?sql=select+id%2C+title%2C+text+from+captures",
        "/spyglass/captures?_sort=title&_col=title&_col=text&_col=sha256",
        f"/-/spyglass/replay/{capture_id}",
    ]
    responses = fetch_all(data, views)
    for path, response in responses.items():
        assert response.status_code == 200, (path, response.text[:500])
        html = response.text
        for payload in PAYLOADS:
            assert payload not in html, f"{path} carries a live {payload!r}"
    # The payloads are shown, as text, where the page shows titles and text.
    for path in views[2:]:
        assert "&lt;script&gt;alert(" in responses[path].text, path


def test_every_capture_shows_its_citation_and_a_replay_link(hostile):
    data, _, capture_id = hostile
    responses = fetch_all(data, ["/spyglass/captures", f"/spyglass/captures/{capture_id}"])
    conn = sqlite3.connect(data / "spyglass.db")
    rows = conn.execute("SELECT id, sha256, warc_filename, warc_offset FROM captures").fetchall()
    conn.close()
    for response in responses.values():
        assert 'class="spyglass-citation"' in response.text
        assert f'href="/-/spyglass/replay/{capture_id}"' in response.text
    table = responses["/spyglass/captures"].text
    for cid, sha, filename, offset in rows:
        assert f"SHA-256 of the archived payload: {sha}" in table
        assert f"Local copy: {filename}, offset {offset} (Spyglass capture {cid})" in table
    assert "Evil Corp, &lt;script&gt;alert(" in table  # the citation, escaped


def test_replay_is_framed_sandboxed_and_under_a_strict_csp(hostile):
    data, site, capture_id = hostile
    replay_path, archived_path = f"/-/spyglass/replay/{capture_id}", f"/-/spyglass/archived/{capture_id}"
    responses = fetch_all(data, [replay_path, archived_path, "/-/spyglass/archived/999999"])
    replay, archived = responses[replay_path], responses[archived_path]

    csp = archived.headers["content-security-policy"]
    directives = [d.strip() for d in csp.split(";")]
    assert "default-src 'none'" in directives
    # Sandboxed (an opaque origin, no scripts); only a click may open another archived page.
    assert "sandbox allow-top-navigation-by-user-activation" in directives
    assert "allow-scripts" not in csp and "allow-same-origin" not in csp
    assert "script-src" not in csp and "connect-src" not in csp
    assert archived.headers["x-content-type-options"] == "nosniff"
    assert archived.headers["content-type"].startswith("text/html")
    # The archived scripts are still in the copy (inert), its image now comes from the archive.
    assert "<script>document.body.innerHTML" in archived.text
    assert 'src="/-/spyglass/load?at=' in archived.text and f'src="{site.base}/beacon' not in archived.text
    # The original bytes, exactly as archived, are a download.
    original = fetch_all(data, [f"/-/spyglass/file/{capture_id}"])[f"/-/spyglass/file/{capture_id}"]
    assert TITLE_PAYLOAD in original.text and original.headers["content-disposition"].startswith("attachment")
    assert "sandbox" in original.headers["content-security-policy"]

    page_csp = [d.strip() for d in replay.headers["content-security-policy"].split(";")]
    assert "default-src 'none'" in page_csp and "frame-src 'self'" in page_csp
    assert not any(d.startswith("script-src") for d in page_csp)
    html = replay.text
    assert f'<iframe sandbox="allow-top-navigation-by-user-activation" src="{archived_path}"' in html
    conn = sqlite3.connect(data / "spyglass.db")
    url, captured_at, sha = conn.execute(
        "SELECT url, captured_at, sha256 FROM captures WHERE id = ?", [capture_id]
    ).fetchone()
    conn.close()
    for fact in (url, captured_at, sha, "Evil Corp, &lt;script&gt;alert("):
        assert fact in html
    # A live capture: its capture time is its as-of time, said once.
    assert f'<dt>Captured (as of)</dt><dd class="as-of captured-at">{captured_at}</dd>' in html
    missing = responses["/-/spyglass/archived/999999"]
    assert missing.status_code == 404 and "sandbox" in missing.headers["content-security-policy"]


def test_replay_routes_answer_get_and_head_only(hostile):
    data, _, capture_id = hostile
    ds = datasette_for(data)

    async def ask() -> list:
        return [
            await ds.client.post(f"/-/spyglass/archived/{capture_id}"),
            await ds.client.head(f"/-/spyglass/archived/{capture_id}"),
            await ds.client.get("/-/spyglass/load?at=yesterday&url=x"),
        ]

    post, head, bad = asyncio.run(ask())
    assert (post.status_code, post.headers["allow"]) == (405, "GET, HEAD")
    assert head.status_code == 200 and head.content == b""
    assert (bad.status_code, bad.text) == (404, "at must be a 14-digit UTC timestamp")


def test_replay_of_a_revisit_serves_the_original_payload(hostile, tmp_path: Path):
    import shutil

    from archive.index.captures import save_captures
    from archive.index.db import open_db

    data, _, capture_id = hostile
    copy = tmp_path / "data"
    shutil.copytree(data, copy)
    index = open_db(copy / "spyglass.db")
    original = index.table("captures").get(capture_id)
    save_captures(
        index,
        [
            {
                **{
                    k: original[k] for k in ("url", "source", "via", "sha256", "warc_filename", "warc_offset")
                },
                "captured_at": "2026-11-23T00:00:00.000000Z",
                "warc_type": "revisit",
                "warc_record_id": "<urn:uuid:revisit>",
                "refers_to": original["warc_record_id"],
            }
        ],
    )
    revisit_id = index.execute("SELECT max(id) FROM captures").fetchone()[0]
    index.close()
    response = fetch_all(copy, [f"/-/spyglass/archived/{revisit_id}"])[f"/-/spyglass/archived/{revisit_id}"]
    assert response.status_code == 200 and "<h1>Hostile page</h1>" in response.text


def test_document_pages_show_their_citation(hostile, tmp_path: Path):
    """Each page number carries its citation: the date of the release that first linked it, and
    every agency that released it, that release's first."""
    import shutil

    from archive.index.db import open_db

    data, _, capture_id = hostile
    copy = tmp_path / "data"
    shutil.copytree(data, copy)
    index = open_db(copy / "spyglass.db")
    for release_id, agency, day in (
        (1, "Clearwater County <b>Sheriff</b>", "2018-05-22"),
        (2, "Someone Later", "2019-01-01"),
    ):
        index.table("releases").insert(
            {
                "id": release_id,
                "source": "hostile",
                "key": str(release_id),
                "agency": agency,
                "released_on": day,
                "page_url": f"http://records.test/{release_id}",
            }
        )
    index.table("documents").insert(
        {
            "id": 2,
            "sha256": "d" * 64,
            "capture_id": capture_id,
            "file_name": "usage report.pdf",
            "file_url": "http://records.test/r.pdf",
        }
    )
    for link_id, release_id in ((1, 1), (2, 2)):
        index.table("document_links").insert(
            {
                "id": link_id,
                "release_id": release_id,
                "document_id": 2,
                "file_url": "http://records.test/r.pdf",
            }
        )
    index.table("document_pages").insert(
        {"id": 3, "document_id": 2, "page_number": 14, "text": TEXT_PAYLOAD, "method": "ocr"}
    )
    index.close()
    responses = fetch_all(copy, ["/spyglass/document_pages", "/spyglass/document_pages/3"])
    for response in responses.values():
        assert response.status_code == 200
        assert (
            "Clearwater County &lt;b&gt;Sheriff&lt;/b&gt; and Someone Later, usage report.pdf, at 14 "
            "(released May 22, 2018), http://records.test/r.pdf"
        ) in response.text
        assert TEXT_PAYLOAD not in response.text


def test_replay_in_a_real_browser_runs_nothing_and_fetches_nothing(hostile, tmp_path: Path):
    import os
    import subprocess

    from playwright.sync_api import sync_playwright

    from archive.publish.datasette import datasette_command

    from .conftest import free_port, wait_for_port
    from .test_datasette import launch_chromium

    data, site, capture_id = hostile
    port = free_port()
    proc = subprocess.Popen(
        datasette_command(data, port), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    beacons_before = site.beacons
    try:
        wait_for_port(port)
        with sync_playwright() as p:
            browser = launch_chromium(p)
            try:
                page = browser.new_page()
                dialogs: list[str] = []
                page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
                page.goto(f"http://127.0.0.1:{port}/spyglass/captures/{capture_id}")
                page.click("text=view archived copy")
                page.wait_for_load_state("networkidle")
                assert page.url.endswith(f"/-/spyglass/replay/{capture_id}")
                assert page.title() == f"Archived copy: {TITLE_PAYLOAD}"
                frame = next(f for f in page.frames if f.url.endswith(f"/-/spyglass/archived/{capture_id}"))
                assert frame.inner_text("h1") == "Hostile page"  # the script that rewrites it did not run
                page.screenshot(
                    path=str(Path(os.environ.get("SPYGLASS_SCREENSHOTS", tmp_path)) / "replay.png")
                )
                # Opened directly, the archived copy is still sandboxed.
                page.goto(f"http://127.0.0.1:{port}/-/spyglass/archived/{capture_id}")
                page.wait_for_load_state("networkidle")
                assert page.inner_text("h1") == "Hostile page"
                assert dialogs == []
            finally:
                browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert site.beacons == beacons_before  # no script, image or fetch reached the live site
