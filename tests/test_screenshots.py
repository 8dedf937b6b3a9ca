"""Screenshots at capture time: a PNG per page as a WARC resource record, shown, verified, guarded."""

from __future__ import annotations

import asyncio
import hashlib
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers.render_site import METADATA_NAME, PINNED_NAME, RenderServers

from .conftest import db_rows, run_cli

SOURCES = """
sources:
  - name: rendered
    kind: vendor
    urls: ["{base}/"]
    scope: {{max_depth: 1, max_pages: 10}}
    allow_private: [127.0.0.1]
    requisites: false          # the stalling image would hold the crawler up too
    screenshot: true
"""


@pytest.fixture(scope="module")
def shot_archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    servers = RenderServers()
    base = tmp_path_factory.mktemp("screenshots")
    (base / "sources.yml").write_text(SOURCES.format(base=servers.url))
    data = base / "data"
    try:
        result = run_cli(
            "crawl",
            "--sources",
            str(base / "sources.yml"),
            "--data",
            str(data),
            "-s",
            "SPYGLASS_SCREENSHOT_TIMEOUT=8",  # a loaded 2-core machine draws a page in 5 s
            "-s",
            f"SPYGLASS_RESOLVE={METADATA_NAME}=169.254.169.254,{PINNED_NAME}=127.0.0.1",
            check=True,
        )
        yield {"data": data, "base": servers.url, "result": result, "servers": servers}
    finally:
        servers.stop()


def shots_by_path(archive: dict) -> dict[str, dict]:
    found = db_rows(archive["data"], "SELECT * FROM screenshots ORDER BY id")
    return {row["url"].removeprefix(archive["base"]): dict(row) for row in found}


def test_each_page_is_drawn_once_and_kept_as_a_resource_record(shot_archive):
    shots = shots_by_path(shot_archive)
    assert set(shots) == {"/", "/stalls/", "/reaches-private/", "/spins/"}
    drawn = shots["/"]
    assert (drawn["status"], drawn["http_status"], drawn["width"], drawn["cut_at_height"]) == (
        "ok",
        200,
        1280,
        0,
    )
    assert drawn["browser"].startswith("Chromium ") and drawn["error"] is None
    [capture] = db_rows(shot_archive["data"], "SELECT * FROM captures WHERE id = ?", (drawn["capture_id"],))
    assert capture["url"] == shot_archive["base"] + "/" and drawn["taken_at"] > capture["captured_at"]
    from archive.warc.read import read_record

    record = read_record(shot_archive["data"] / "warcs" / drawn["warc_filename"], drawn["warc_offset"])
    assert (record.warc_type, record.url) == ("resource", f"urn:fullPage:{shot_archive['base']}/")
    assert record.headers["Content-Type"] == "image/png" and record.payload[:8] == b"\x89PNG\r\n\x1a\n"
    assert record.headers["WARC-Payload-Digest"] == "sha256:" + drawn["sha256"]
    assert record.headers["WARC-Spyglass-Capture-Record"] == capture["warc_record_id"]
    assert hashlib.sha256(record.payload).hexdigest() == drawn["sha256"] and record.payload_digest_ok
    [run] = db_rows(shot_archive["data"], "SELECT * FROM crawl_runs WHERE spider = 'screenshot'")
    assert (run["status"], run["pages"], run["errors"]) == ("finished", 2, 2)
    assert drawn["warc_filename"] in run["warc_files"]
    assert "Screenshots of 1 source(s): 2 kept, 2 pages could not be drawn." in shot_archive["result"].stdout


def test_a_page_that_cannot_be_drawn_in_time_is_recorded_and_the_pass_goes_on(shot_archive):
    # One never finishes loading (a stalled image), one loads and then its script never yields.
    shots = shots_by_path(shot_archive)
    for path in ("/stalls/", "/spins/"):
        assert shots[path]["status"] == "timeout" and shots[path]["sha256"] is None, shots[path]
        assert shots[path]["error"] == "did not finish loading within 8 s (SPYGLASS_SCREENSHOT_TIMEOUT)"
    assert len(shots) == 4  # every page has its row, whatever happened to the others


def test_the_browser_passes_the_address_guard(shot_archive):
    reaching = shots_by_path(shot_archive)["/reaches-private/"]
    assert reaching["status"] == "ok"  # drawn, without what it may not load, and it says so
    # The image from a name that resolves to the metadata service, and the script's fetch.
    assert reaching["error"].startswith("2 request(s) refused by the address guard, first: ")
    assert shot_archive["servers"].canary.held == []  # the script's fetch never connected
    # The browser reached a name no DNS knows: it used the guard's answer, the address checked.
    assert shot_archive["servers"].site.pinned_hits >= 1


def test_the_capture_page_shows_the_png_and_verify_checks_its_sha256(shot_archive, tmp_path: Path):
    from archive.publish.datasette import datasette_app

    drawn = shots_by_path(shot_archive)["/"]
    ds = datasette_app(shot_archive["data"])

    async def fetch(*paths: str) -> list:
        return [await ds.client.get(path) for path in paths]

    row_page, replay, png = asyncio.run(
        fetch(
            f"/spyglass/captures/{drawn['capture_id']}",
            f"/-/spyglass/replay/{drawn['capture_id']}",
            f"/-/spyglass/screenshot/{drawn['id']}",
        )
    )
    src = f"/-/spyglass/screenshot/{drawn['id']}"
    assert f'<img src="{src}"' in row_page.text
    assert f'PNG SHA-256 <span class="screenshot-sha256">{drawn["sha256"]}</span>' in row_page.text
    assert f'href="{src}"' in replay.text and drawn["sha256"] in replay.text
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert hashlib.sha256(png.content).hexdigest() == drawn["sha256"]

    ok = run_cli("verify", "--data", str(shot_archive["data"]))
    assert ok.returncode == 0 and "and 2 screenshots verified" in ok.stdout
    data = tmp_path / "data"
    shutil.copytree(shot_archive["data"], data)
    path = data / "warcs" / drawn["warc_filename"]
    blob = bytearray(path.read_bytes())
    blob[drawn["warc_offset"] + drawn["warc_length"] // 2] ^= 0x01
    path.write_bytes(bytes(blob))
    bad = run_cli("verify", "--data", str(data))
    failures = [line for line in bad.stderr.splitlines() if line.startswith("FAIL")]
    assert bad.returncode == 1 and failures
    assert failures[0].startswith(
        f"FAIL screenshot {drawn['id']} ({drawn['url']}) at {drawn['warc_filename']}:{drawn['warc_offset']}: "
    )


def test_an_export_of_the_capture_carries_its_screenshot(shot_archive, tmp_path: Path):
    import io
    import zipfile

    from warcio.archiveiterator import ArchiveIterator

    drawn = shots_by_path(shot_archive)["/"]
    out = tmp_path / "page.wacz"
    result = run_cli(
        "export",
        "--data",
        str(shot_archive["data"]),
        "--out",
        str(out),
        "--capture",
        str(drawn["capture_id"]),
        check=True,
    )  # py-wacz validates it
    assert "1 capture(s) and 1 screenshot(s), 3 WARC records" in result.stdout
    with zipfile.ZipFile(out) as wacz:
        [warc_name] = [n for n in wacz.namelist() if n.startswith("archive/")]
        resources = [
            (r.rec_headers.get_header("WARC-Target-URI"), r.content_stream().read())
            for r in ArchiveIterator(io.BytesIO(wacz.read(warc_name)), check_digests="raise")
            if r.rec_type == "resource"
        ]
    assert [(uri, hashlib.sha256(png).hexdigest()) for uri, png in resources] == [
        (f"urn:fullPage:{drawn['url']}", drawn["sha256"])
    ]
    manifest = out.with_name("page.wacz.manifest.txt").read_text()
    assert f"Screenshot {drawn['id']} of capture {drawn['capture_id']}: {drawn['url']}" in manifest
    assert f"PNG SHA-256 {drawn['sha256']}" in manifest
