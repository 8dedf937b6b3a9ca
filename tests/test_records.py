"""End to end: `spyglass crawl` of the fixture records portal, then the releases, documents and mentions it built."""

from __future__ import annotations

import asyncio
import html
import json
import shutil
from pathlib import Path

import pytest

from archive.demo.muckrock_api import COVER_LETTER_PHRASE
from archive.demo.nextrequest_portal import HARBOR
from archive.demo.records_portal import (
    BOARD,
    DIRECTORY,
    DIRECTORY_FILES,
    POLICE,
    REQUESTS,
    SCAN_ONLY_PHRASE,
    SHERIFF,
    TABLE,
    build_files,
)
from archive.publish.datasette import datasette_app
from archive.warc.digests import sha256_hex

from .conftest import ROOT, run_cli
from .conftest import db_rows as rows

RECORDS_SOURCES = ("clearwater-requests", "lakeport-police-records", "clearwater-sheriff-reading-room")
FILES = build_files()


def crawl(data: Path, base: str) -> str:
    args = ["crawl", "--sources", str(ROOT / "sources.yml"), "--data", str(data)]
    for name in RECORDS_SOURCES:
        args += ["--source", name]
    env = {"SPYGLASS_RECORDS_PORTAL": base, "SPYGLASS_VENDOR_SITE": "http://127.0.0.1:9"}
    return run_cli(*args, env=env, check=True).stdout


@pytest.fixture(scope="module")
def records(tmp_path_factory: pytest.TempPathFactory, records_portal) -> dict:
    base, portal = records_portal
    data = tmp_path_factory.mktemp("records")
    stdout = crawl(data, base)
    return {"data": data, "base": base, "hits": dict(portal.hits), "stdout": stdout}


def expected_file_urls(base: str) -> set[str]:
    urls = {f"{base}/files/{name}" for release in REQUESTS + TABLE for name in release.files}
    return urls | {f"{base}{DIRECTORY}{name}" for name in DIRECTORY_FILES}


def test_every_release_is_archived_once_with_agency_title_reference_and_date(records):
    data, base = records["data"], records["base"]
    found = {r["reference"]: r for r in rows(data, "SELECT * FROM releases WHERE reference IS NOT NULL")}
    assert len(found) == len(REQUESTS) + len(TABLE)
    for release in REQUESTS + TABLE:
        row = found[release.reference]
        assert (row["agency"], row["title"], row["released_on"], row["released_text"]) == (
            release.agency,
            release.title,
            release.released_on,
            release.released,
        ), release
        linked = {
            r["file_url"]
            for r in rows(data, "SELECT file_url FROM document_links WHERE release_id = ?", (row["id"],))
        }
        assert linked == {f"{base}/files/{name}" for name in release.files}
    for release in REQUESTS:
        row = found[release.reference]
        assert row["source"] == "clearwater-requests"
        assert row["page_url"] == f"{base}/requests/{release.slug}/"
    # Each release points at the capture of the page that shows it.
    for row in found.values():
        [capture] = rows(data, "SELECT url FROM captures WHERE id = ?", (row["capture_id"],))
        assert capture["url"] == row["page_url"]
    [directory] = rows(data, "SELECT * FROM releases WHERE source = 'clearwater-sheriff-reading-room'")
    assert directory["agency"] == SHERIFF and directory["page_url"] == base + DIRECTORY
    assert len(rows(data, "SELECT * FROM releases")) == len(REQUESTS) + len(TABLE) + 1


def test_every_page_and_file_is_fetched_and_captured_once(records):
    data, base, hits = records["data"], records["base"], records["hits"]
    assert all(count == 1 for path, count in hits.items() if path != "/robots.txt"), hits
    captured = [r["url"] for r in rows(data, "SELECT url FROM captures WHERE url NOT LIKE '%/robots.txt'")]
    assert len(captured) == len(set(captured))
    listings = {
        f"{base}/requests/",
        f"{base}/requests/?page=2",
        f"{base}/lakeport/police/released-records/",
        f"{base}/lakeport/police/released-records/?page=2",
        base + DIRECTORY,
    }
    release_pages = {f"{base}/requests/{r.slug}/" for r in REQUESTS}
    assert set(captured) == listings | release_pages | expected_file_urls(base)
    runs = rows(data, "SELECT source, status FROM crawl_runs")
    assert sorted(tuple(r) for r in runs) == sorted((name, "finished") for name in RECORDS_SOURCES)
    # One document per distinct file: the training slides are served at two URLs.
    documents = rows(data, "SELECT * FROM documents")
    assert sorted(d["sha256"] for d in documents) == sorted({sha256_hex(b) for b, _ in FILES.values()})
    for document in documents:
        [capture] = rows(data, "SELECT * FROM captures WHERE id = ?", (document["capture_id"],))
        assert capture["sha256"] == document["sha256"] and capture["url"] == document["file_url"]


def test_a_file_linked_by_two_releases_is_one_document_with_two_provenance_rows(records):
    data, base = records["data"], records["base"]
    [quote] = rows(data, "SELECT * FROM documents WHERE file_name = 'northwind-price-quote.pdf'")
    links = rows(
        data,
        "SELECT r.reference, l.file_url FROM document_links l "
        "JOIN releases r ON r.id = l.release_id WHERE l.document_id = ? "
        "ORDER BY r.reference",
        (quote["id"],),
    )
    assert [tuple(link) for link in links] == [
        ("CCSO-PRR-2018-0031", f"{base}/files/northwind-price-quote.pdf"),
        ("CCSO-PRR-2018-0032", f"{base}/files/northwind-price-quote.pdf"),
    ]
    # Same bytes from two different URLs (two sources): still one document.
    [slides] = rows(data, "SELECT * FROM documents WHERE file_name = 'recognize-training-slides.pdf'")
    urls = sorted(
        r["file_url"]
        for r in rows(data, "SELECT file_url FROM document_links WHERE document_id = ?", (slides["id"],))
    )
    assert urls == [
        f"{base}/files/recognize-training-slides.pdf",
        f"{base}{DIRECTORY}recognize-training-slides.pdf",
    ]
    assert slides["page_count"] == 4 and slides["extraction"] == "text-layer"


def test_pages_are_read_from_text_layers_ocr_docx_and_html(records):
    data = records["data"]
    methods = {
        r["file_name"]: (r["extraction"], r["page_count"]) for r in rows(data, "SELECT * FROM documents")
    }
    assert methods["booking-photo-memo-scan.pdf"] == ("ocr", 2)
    assert methods["field-guide.docx"] == ("docx", 1)
    assert methods["ccso-email-export-2017.html"] == ("html", 1)
    assert methods["ccso-face-matching-policy.txt"] == ("text", 1)
    assert methods["nda-northwind-ccso.pdf"] == ("text-layer", 1)
    [page] = rows(
        data,
        "SELECT p.* FROM document_pages p JOIN documents d ON d.id = p.document_id "
        "WHERE d.file_name = 'field-guide.docx'",
    )
    assert "Results from Northwind Recognize arrive in seconds" in page["text"]


def test_the_malformed_pdf_is_archived_with_a_reason_and_the_crawl_finishes(records):
    data = records["data"]
    [invoice] = rows(data, "SELECT * FROM documents WHERE file_name = 'invoice-2017-11.pdf'")
    assert invoice["sha256"] == sha256_hex(FILES["invoice-2017-11.pdf"][0])
    assert invoice["extraction"] == "failed" and invoice["error"].startswith("unreadable PDF: ")
    assert invoice["capture_id"] is not None and invoice["page_count"] is None
    assert not rows(data, "SELECT * FROM document_pages WHERE document_id = ?", (invoice["id"],))
    assert "1 unreadable" in records["stdout"]
    verified = run_cli("verify", "--data", str(data))
    assert verified.returncode == 0, verified.stderr


def datasette_get(data: Path, path: str, params: dict) -> dict:
    ds = datasette_app(data)

    async def get() -> dict:
        response = await ds.client.get(path, params=params)
        assert response.status_code == 200, response.text
        return response.json()

    return asyncio.run(get())


def test_datasette_search_finds_a_phrase_only_in_the_scan_and_names_its_page(records):
    data = records["data"]
    phrase = f'"{SCAN_ONLY_PHRASE}"'
    found = datasette_get(
        data, "/spyglass/document_pages.json", {"_search": phrase, "_shape": "objects", "_labels": "on"}
    )["rows"]
    assert len(found) == 1
    [hit] = found
    assert hit["document_id"]["label"] == "booking-photo-memo-scan.pdf"
    assert (hit["page_number"], hit["method"]) == (2, "ocr")
    # The phrase is in no text layer and on no web page: only OCR could find it.
    assert datasette_get(data, "/spyglass/captures.json", {"_search": phrase})["rows"] == []
    ranked = datasette_get(data, "/spyglass/search_documents.json", {"q": phrase, "_shape": "objects"})[
        "rows"
    ]
    assert [(r["file_name"], r["page_number"], r["agencies"]) for r in ranked] == [
        ("booking-photo-memo-scan.pdf", 2, SHERIFF)
    ]
    assert ranked[0]["page_url"].endswith("/files/booking-photo-memo-scan.pdf#page=2")


def test_mentions_view_lists_exactly_the_agencies_whose_records_name_the_product(records):
    data = records["data"]
    view = datasette_get(data, "/spyglass/agency_products.json", {"_shape": "objects"})["rows"]
    assert sorted((r["agency"], r["vendor"], r["product"]) for r in view) == sorted(
        [
            (POLICE, "Northwind Cloud", "Northwind Recognize"),
            (SHERIFF, "Northwind Cloud", "Northwind Recognize"),
        ]
    )
    for row in view:
        # Each row links to a page that proves it.
        [page] = rows(data, "SELECT text FROM document_pages WHERE id = ?", (row["document_page_id"],))
        assert "Northwind Recognize" in page["text"] and row["proof_url"].startswith("http://127.0.0.1:")
    # The board's letter says "recognize" in lower case and names another vendor: no mention.
    assert not rows(data, "SELECT * FROM mentions WHERE agency = ?", (BOARD,))
    police = rows(data, "SELECT DISTINCT term, term_kind, product FROM mentions WHERE agency = ?", (POLICE,))
    assert sorted(tuple(r) for r in police) == [
        ("Northwind Cloud", "vendor", None),
        ("Northwind Recognize", "product", "Northwind Recognize"),
    ]


def test_a_second_crawl_adds_no_releases_documents_or_links(records, tmp_path: Path):
    data = tmp_path / "data"
    shutil.copytree(records["data"], data)
    counts = {
        t: len(rows(data, f"SELECT * FROM {t}"))
        for t in ("releases", "documents", "document_links", "document_pages", "mentions")
    }
    stdout = crawl(data, records["base"])
    assert "0 document(s) read" in stdout  # nothing new to extract
    assert counts == {t: len(rows(data, f"SELECT * FROM {t}")) for t in counts}
    # No payload archived again: unchanged pages answer 304 (observations) or come back as revisits.
    second = rows(data, "SELECT warc_type FROM captures WHERE crawl_run > 3 AND url NOT LIKE '%robots.txt'")
    assert {r["warc_type"] for r in second} <= {"revisit"}
    assert rows(data, "SELECT * FROM observations WHERE crawl_run > 3 AND kind = 'not-modified'")
    assert not rows(data, "SELECT * FROM document_links WHERE document_id IS NULL")


def test_demo_crawls_the_records_portal_and_its_documents_are_searchable(tmp_path: Path):
    data = tmp_path / "demo"
    result = run_cli("demo", "--no-serve", "--data", str(data), "--fixture-port", "0")
    assert result.returncode == 0, result.stderr
    assert "Fixture records portal: http://127.0.0.1:" in result.stderr
    runs = {r["source"]: r["status"] for r in rows(data, "SELECT * FROM crawl_runs")}
    assert runs == {
        "northwind-recognize": "finished",
        "northwind-recognize-live": "finished",  # and its browser pass
        "harbor-city-requests": "finished",
        "clearwater-foia-api": "finished",
        **{n: "finished" for n in RECORDS_SOURCES},
    }
    # The MuckRock-shaped API's cover letter is found by a phrase of its own, with its request.
    [letter] = datasette_get(
        data,
        "/spyglass/communications.json",
        {"_search": f'"{COVER_LETTER_PHRASE}"', "_shape": "objects", "_labels": "on"},
    )["rows"]
    assert letter["subject"] == "Records responsive to CCSO-PRR-2018-0051"
    places = rows(data, "SELECT DISTINCT jurisdiction FROM releases WHERE source = 'clearwater-foia-api'")
    assert [p["jurisdiction"] for p in places] == ["Clearwater County"]
    assert letter["release_id"]["label"] == "Face search audit logs, Clearwater County Sheriff"
    # The one search box finds it too, and leads to the request's page at the letter.
    found = search_page(data, COVER_LETTER_PHRASE)
    assert f"/spyglass/releases/{letter['release_id']['value']}#communication-{letter['id']}" in found
    lineage = request_page(data, letter["release_id"]["value"])
    for shown in (
        "Pursuant to the California Public Records Act",
        COVER_LETTER_PHRASE,
        "ccso-face-search-audit-log.pdf",
    ):
        assert shown in lineage
    [audit] = rows(data, "SELECT * FROM documents WHERE file_name = 'ccso-face-search-audit-log.pdf'")
    assert audit["sha256"] in lineage and "Northwind Recognize" in lineage  # its page and its mention
    # The whole lineage: the request's archived human page, which cites the request and each file,
    # the communication's and the file's captures, each page's citation.
    [request] = rows(data, "SELECT * FROM releases WHERE id = ?", (letter["release_id"]["value"],))
    [human] = rows(data, "SELECT * FROM captures WHERE url = ? AND status = 200", (request["human_url"],))
    [comm] = rows(
        data,
        "SELECT c.sha256 FROM communications m JOIN captures c ON c.id = m.capture_id WHERE m.id = ?",
        (letter["id"],),
    )
    assert human["sha256"] in lineage and comm["sha256"] in lineage
    assert f"ccso-face-search-audit-log.pdf, at 1 (released July 3, 2018), {request['human_url']}" in lineage
    # The JSON portal's releases sit beside the HTML portals' in Datasette.
    released = datasette_get(
        data, "/spyglass/releases.json", {"source": "harbor-city-requests", "_shape": "objects"}
    )["rows"]
    assert len(released) == 4 and {r["agency"] for r in released} == {HARBOR}
    found = datasette_get(
        data,
        "/spyglass/document_pages.json",
        {"_search": "booking photos", "_shape": "objects", "_labels": "on"},
    )["rows"]
    names = {r["document_id"]["label"] for r in found}
    assert {"booking-photo-memo-scan.pdf", "recognize-training-slides.pdf"} <= names
    view = datasette_get(data, "/spyglass/agency_products.json", {"_shape": "objects"})["rows"]
    assert {(r["agency"], r["product"]) for r in view} == {
        (SHERIFF, "Northwind Recognize"),
        (POLICE, "Northwind Recognize"),
        (HARBOR, "Northwind Recognize"),
    }
    # The demo's Atlas of Surveillance rows (archive/demo/atlas_site.py) sit beside the agencies' records.
    assert "download.csv: 5 Atlas rows, 5 new" in result.stdout
    pairs = {
        (r["agency"], r["vendor"]): r["held"]
        for r in datasette_get(data, "/spyglass/atlas_pairs.json", {"_shape": "objects"})["rows"]
    }
    assert pairs[(SHERIFF, "Northwind Cloud")] == pairs[(POLICE, "Northwind Cloud")] == "records and captures"
    assert pairs[(POLICE, "Orbital Vision")] == "not yet"
    about = datasette_get(data, "/spyglass/about_agency.json", {"agency": POLICE, "_shape": "objects"})[
        "rows"
    ]
    assert {r["kind"] for r in about} == {"atlas", "release", "mention"}


def search_page(data: Path, q: str) -> str:
    """The HTML of the archive-wide search for `q`."""
    ds = datasette_app(data)

    async def page() -> str:
        response = await ds.client.get("/-/spyglass/search", params={"q": q})
        assert response.status_code == 200
        return response.text

    return asyncio.run(page())


def request_page(data: Path, release_id: int) -> str:
    """The text of a request's row page in Datasette (its lineage), entities unescaped."""
    ds = datasette_app(data)

    async def page() -> str:
        response = await ds.client.get(f"/spyglass/releases/{release_id}")
        assert response.status_code == 200
        return response.text

    return html.unescape(asyncio.run(page()))


def test_the_view_links_each_row_to_the_document_page_that_proves_it(records):
    ds = datasette_app(records["data"])

    async def page() -> str:
        response = await ds.client.get("/spyglass/agency_products")
        assert response.status_code == 200
        return response.text

    html = asyncio.run(page())
    for row in rows(records["data"], "SELECT document_page_id FROM agency_products"):
        assert f'<a href="/spyglass/document_pages/{row[0]}">document_pages/{row[0]}</a>' in html


def test_each_document_page_carries_its_citation_in_datasette(records):
    """Agency and date of the release that first linked the file, page number, URL, hash, local copy."""
    import sqlite3 as _sqlite3

    from markupsafe import escape

    from archive.evidence.cite import citation_of_page

    data = records["data"]
    conn = _sqlite3.connect(data / "spyglass.db")
    conn.row_factory = _sqlite3.Row
    page = dict(
        conn.execute(
            "SELECT p.* FROM document_pages p WHERE (SELECT r.released_on FROM document_links l "
            "JOIN releases r ON r.id = l.release_id WHERE l.document_id = p.document_id "
            "ORDER BY l.id LIMIT 1) IS NOT NULL ORDER BY p.id LIMIT 1"
        ).fetchone()
    )
    citation = citation_of_page(conn, page)
    release = conn.execute(
        "SELECT r.* FROM document_links l JOIN releases r ON r.id = l.release_id "
        "WHERE l.document_id = ? ORDER BY l.id LIMIT 1",
        [page["document_id"]],
    ).fetchone()
    document = conn.execute("SELECT * FROM documents WHERE id = ?", [page["document_id"]]).fetchone()
    conn.close()
    assert citation.author == release["agency"] and citation.pinpoint == f"at {page['page_number']}"
    assert citation.url == document["file_url"] and citation.sha256 == document["sha256"]
    assert citation.when.startswith("released ") and "unknown" not in citation.when
    ds = datasette_app(data)

    async def html() -> str:
        response = await ds.client.get(f"/spyglass/document_pages/{page['id']}")
        assert response.status_code == 200
        return response.text

    text = asyncio.run(html())
    assert str(escape(citation.line())) in text
    assert f"SHA-256 of the archived payload: {document['sha256']}" in text


def test_documents_with_unset_placeholders_keeps_every_mention(records, tmp_path: Path):
    data = tmp_path / "data"
    shutil.copytree(records["data"], data)
    before = [tuple(r) for r in rows(data, "SELECT term, agency, document_id FROM mentions ORDER BY id")]
    products = [tuple(r) for r in rows(data, "SELECT * FROM agency_products")]
    assert before and products
    # No ${SPYGLASS_VENDOR_SITE} / ${SPYGLASS_RECORDS_PORTAL}: the vendor's URLs are
    # unknown, but its product terms are not, and they are all a rebuild needs.
    result = run_cli("documents", "--sources", str(ROOT / "sources.yml"), "--data", str(data))
    assert result.returncode == 0, result.stderr
    assert "placeholder ${SPYGLASS_VENDOR_SITE} is not set" in result.stderr
    assert [
        tuple(r) for r in rows(data, "SELECT term, agency, document_id FROM mentions ORDER BY id")
    ] == before
    assert [tuple(r) for r in rows(data, "SELECT * FROM agency_products")] == products
    # A placeholder in the terms themselves leaves nothing to rebuild from: refused, nothing lost.
    sources = tmp_path / "sources.yml"
    sources.write_text(
        (ROOT / "sources.yml")
        .read_text()
        .replace("name: Northwind Recognize", "name: ${SPYGLASS_PRODUCT_NAME}", 1)
    )
    refused = run_cli("documents", "--sources", str(sources), "--data", str(data))
    assert refused.returncode == 1
    assert refused.stderr.strip().startswith(f"Error: {sources}: source 'northwind-recognize': ")
    assert "placeholder ${SPYGLASS_PRODUCT_NAME} is not set" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    assert [
        tuple(r) for r in rows(data, "SELECT term, agency, document_id FROM mentions ORDER BY id")
    ] == before


def test_documents_progress_is_one_plain_line_off_a_terminal(records, tmp_path: Path):
    data = tmp_path / "data"
    shutil.copytree(records["data"], data)
    env = {"SPYGLASS_RECORDS_PORTAL": "http://127.0.0.1:9", "SPYGLASS_VENDOR_SITE": "http://127.0.0.1:9"}
    result = run_cli("documents", "--sources", str(ROOT / "sources.yml"), "--data", str(data), env=env)
    assert result.returncode == 0, result.stderr
    assert "\r" not in result.stderr
    [plain] = [line for line in result.stderr.splitlines() if line.startswith("documents: ")]
    assert plain.startswith("documents: pages read: 0 pages in ")
    assert result.stdout.startswith("Documents: 0 document(s) read")


def test_cite_of_a_released_file_names_its_agency_file_and_release_date(records):
    [doc] = rows(
        records["data"],
        "SELECT d.capture_id, d.file_name, r.agency, r.released_on "
        "FROM documents d JOIN document_links l ON l.document_id = d.id "
        "JOIN releases r ON r.id = l.release_id "
        "WHERE r.agency IS NOT NULL AND r.released_on IS NOT NULL ORDER BY l.id LIMIT 1",
    )
    result = run_cli("cite", str(doc["capture_id"]), "--data", str(records["data"]), "--format", "json")
    assert result.returncode == 0, result.stderr
    citation = json.loads(result.stdout)
    assert (citation["kind"], citation["author"], citation["title"]) == (
        "document",
        doc["agency"],
        doc["file_name"],
    )
    assert citation["when"].startswith("released ") and "Untitled" not in citation["text"]
    assert citation["capture_id"] == doc["capture_id"]
