"""Who released what: one listing page carrying two agencies' releases credits each with its own words only."""

from __future__ import annotations

import pytest

from archive.demo.pdfgen import text_pdf
from archive.demo.server import Incoming, LoopbackServer, Reply

from .conftest import db_rows as rows
from .conftest import run_cli

LAKEPORT = "Lakeport Police Department"
BAYVIEW = "Bayview County Sheriff's Office"

# A county-wide page listing releases of several agencies; its introduction names the product,
# and only the first agency's release has anything to do with it.
LISTING = f"""<!DOCTYPE html><html><head><title>County records released</title></head><body>
<h1>Records released by county agencies</h1>
<p>Requests this year asked about Northwind Recognize, body cameras and more.</p>
<table>
<tr><th>Title</th><th>Agency</th><th>Date released</th><th>Files</th></tr>
<tr><td>Northwind Recognize contract</td><td>{LAKEPORT}</td><td>2019-03-01</td>
<td><a href="/files/contract.pdf">contract.pdf</a></td></tr>
<tr><td>Body camera policy</td><td>{BAYVIEW}</td><td>2019-04-01</td>
<td><a href="/files/bodycam-policy.pdf">bodycam-policy.pdf</a></td></tr>
</table></body></html>""".encode()

FILES = {
    "/files/contract.pdf": text_pdf([["Agreement for Northwind Recognize face search licenses."]]),
    "/files/bodycam-policy.pdf": text_pdf([["Officers wear body cameras on every shift."]]),
}

SOURCES = """
sources:
  - name: northwind-recognize
    kind: vendor
    urls: [http://127.0.0.1:9/]
    vendor: Northwind Cloud
    product: Northwind Recognize
  - name: county-records
    kind: records
    allow_private: [127.0.0.1]
    urls: ["{base}/released/"]
    walk: {{shape: records-table}}
"""


def serve(request: Incoming) -> Reply:
    if request.path == "/released/":
        return Reply(body=LISTING)
    if request.path in FILES:
        return Reply(body=FILES[request.path], content_type="application/pdf")
    return Reply(404, b"not here")


@pytest.fixture(scope="module")
def county(tmp_path_factory: pytest.TempPathFactory):
    with LoopbackServer(serve) as server:
        root = tmp_path_factory.mktemp("county")
        (root / "sources.yml").write_text(SOURCES.format(base=server.url))
        data = root / "data"
        args = ("--sources", str(root / "sources.yml"), "--data", str(data), "--source", "county-records")
        run_cli("crawl", *args, check=True)
        yield data


def test_a_listing_s_words_are_credited_only_to_the_release_whose_entry_holds_them(county):
    releases = {r["agency"]: r for r in rows(county, "SELECT * FROM releases")}
    assert set(releases) == {LAKEPORT, BAYVIEW}
    assert releases[LAKEPORT]["capture_id"] == releases[BAYVIEW]["capture_id"]  # one listing page
    assert "Northwind Recognize contract" in releases[LAKEPORT]["entry_text"]
    mentions = rows(county, "SELECT * FROM mentions WHERE product IS NOT NULL")
    assert {m["agency"] for m in mentions} == {LAKEPORT}
    # The listing's mention is its entry's, the document's is the contract's.
    assert {(m["document_id"] is None, m["release_id"]) for m in mentions} == {
        (True, releases[LAKEPORT]["id"]),
        (False, releases[LAKEPORT]["id"]),
    }
    [entry] = [m for m in mentions if m["document_id"] is None]
    assert "Northwind Recognize contract" in entry["snippet"] and "Requests this year" not in entry["snippet"]


def test_agency_products_counts_documents_and_releases_never_the_listing_and_proves_its_agency(county):
    [row] = rows(county, "SELECT * FROM agency_products")
    assert (row["agency"], row["product"], row["mentions"], row["documents"]) == (
        LAKEPORT,
        "Northwind Recognize",
        2,
        2,  # the contract and Lakeport's own entry; the page listing both agencies is neither
    )
    # The proof the view links is a mention of that agency's.
    [proof] = rows(
        county,
        "SELECT r.agency FROM mentions m JOIN releases r ON r.id = m.release_id "
        "WHERE m.proof_url = ? AND (m.document_page_id IS ? OR m.document_page_id = ?)",
        (row["proof_url"], row["document_page_id"], row["document_page_id"]),
    )
    assert proof["agency"] == LAKEPORT
