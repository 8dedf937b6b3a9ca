"""One full copy of identical bytes: one PDF served under two URLs, released by two agencies.

The second copy is a WARC revisit (identical-payload-digest) pointing at the
first, indexed as a capture of its own URL; replay, export and verify follow
it; and every citation of the file names both agencies, each capture its own
release first.
"""

from __future__ import annotations

import asyncio
import zipfile
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from archive.demo.pdfgen import text_pdf
from archive.demo.server import Incoming, LoopbackServer, Reply
from archive.publish.datasette import datasette_app

from .conftest import db_rows as rows
from .conftest import run_cli

LAKEPORT = "Lakeport Police Department"
BAYVIEW = "Bayview County Sheriff's Office"
PDF = text_pdf([["Emails about the Northwind Recognize pilot, forwarded to both agencies."]])

LISTING = f"""<!DOCTYPE html><html><head><title>Records released</title></head><body><table>
<tr><th>Title</th><th>Agency</th><th>Date released</th><th>Files</th></tr>
<tr><td>Emails about Recognize</td><td>{LAKEPORT}</td><td>2019-03-01</td>
<td><a href="/lakeport/emails.pdf">emails.pdf</a></td></tr>
<tr><td>Pilot correspondence</td><td>{BAYVIEW}</td><td>2019-05-02</td>
<td><a href="/bayview/pilot-emails-copy.pdf">pilot-emails-copy.pdf</a></td></tr>
</table></body></html>""".encode()

SOURCES = """
sources:
  - name: county-records
    kind: records
    allow_private: [127.0.0.1]
    urls: ["{base}/released/"]
    walk: {{shape: records-table}}
"""


def serve(request: Incoming) -> Reply:
    if request.path == "/released/":
        return Reply(body=LISTING)
    if request.path in ("/lakeport/emails.pdf", "/bayview/pilot-emails-copy.pdf"):
        return Reply(body=PDF, content_type="application/pdf")
    return Reply(404, b"not here")


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory):
    with LoopbackServer(serve) as server:
        root = tmp_path_factory.mktemp("shared")
        (root / "sources.yml").write_text(SOURCES.format(base=server.url))
        data = root / "data"
        run_cli("crawl", "--sources", str(root / "sources.yml"), "--data", str(data), check=True)
        first, second = f"{server.url}/lakeport/emails.pdf", f"{server.url}/bayview/pilot-emails-copy.pdf"
        yield {"data": data, "first": first, "second": second}


def _capture(shared: dict, url: str):
    [row] = rows(shared["data"], "SELECT * FROM captures WHERE url = ?", (url,))
    return row


def test_the_second_url_s_copy_is_a_revisit_of_the_first(shared):
    data = shared["data"]
    # Whichever copy arrived first (the two downloads run side by side) is the full one.
    first, second = sorted(
        (_capture(shared, shared["first"]), _capture(shared, shared["second"])),
        key=lambda c: c["warc_type"] == "revisit",
    )
    assert (first["warc_type"], second["warc_type"]) == ("response", "revisit")
    assert second["refers_to"] == first["warc_record_id"] and second["sha256"] == first["sha256"]
    records = {}
    for path in (data / "warcs").glob("*.warc.gz"):
        with path.open("rb") as stream:
            for record in ArchiveIterator(stream):
                records[record.rec_headers.get_header("WARC-Record-ID")] = record.rec_headers
    headers = records[second["warc_record_id"]]
    assert headers.get_header("WARC-Target-URI") == second["url"]
    assert headers.get_header("WARC-Profile").endswith("/identical-payload-digest")
    assert headers.get_header("WARC-Refers-To-Target-URI") == first["url"]
    assert headers.get_header("WARC-Refers-To-Date") == records[first["warc_record_id"]].get_header(
        "WARC-Date"
    )
    # One full copy of the bytes in the whole archive.
    full = [r for r in records.values() if r.get_header("WARC-Type") == "response"]
    assert sum(1 for r in full if r.get_header("WARC-Target-URI") in (shared["first"], shared["second"])) == 1
    [document] = rows(data, "SELECT * FROM documents")
    assert document["capture_id"] == first["id"]
    assert {r["document_id"] for r in rows(data, "SELECT document_id FROM document_links")} == {
        document["id"]
    }


def test_each_copy_s_citation_names_its_own_release_first_and_every_agency(shared):
    data = shared["data"]
    for url, agencies, date in (
        (shared["first"], f"{LAKEPORT} and {BAYVIEW}", "Mar. 1, 2019"),
        (shared["second"], f"{BAYVIEW} and {LAKEPORT}", "May 2, 2019"),
    ):
        result = run_cli("cite", url, "--format", "footnote", "--data", str(data))
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip().startswith(f"{agencies}, ")
        assert result.stdout.strip().endswith(f"(released {date}), {url}")


def test_verify_replay_and_export_follow_the_revisit(shared, tmp_path: Path):
    data = shared["data"]
    verified = run_cli("verify", "--data", str(data))
    assert verified.returncode == 0, verified.stderr
    # None were asked for: said so, not "0 time-stamp token(s) match".
    assert verified.stdout.rstrip().endswith("no time-stamp tokens yet (`spyglass timestamp` gets them).")
    second = next(
        c
        for c in (_capture(shared, shared["first"]), _capture(shared, shared["second"]))
        if c["warc_type"] == "revisit"
    )
    out = tmp_path / "copy.wacz"
    run_cli("export", "--data", str(data), "--out", str(out), "--capture", str(second["id"]), check=True)
    with zipfile.ZipFile(out) as wacz:
        found = set()
        for name in wacz.namelist():
            if name.endswith(".warc.gz"):
                with wacz.open(name) as stream:
                    for record in ArchiveIterator(stream):
                        found.add((record.rec_type, record.rec_headers.get_header("WARC-Target-URI")))
    original = rows(data, "SELECT url FROM captures WHERE warc_record_id = ?", (second["refers_to"],))[0]
    assert {("revisit", second["url"]), ("response", original["url"])} <= found

    async def original_file() -> bytes:
        response = await datasette_app(data).client.get(f"/-/spyglass/file/{second['id']}")
        assert response.status_code == 200
        return response.content

    assert asyncio.run(original_file()) == PDF  # replayed from the first copy's record
