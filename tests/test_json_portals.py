"""End to end: `spyglass crawl` of JSON records APIs (MuckRock, DocumentCloud, NextRequest) on loopback."""

from __future__ import annotations

import asyncio
import gzip
import html
import json
import shutil
import sqlite3
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from warcio.archiveiterator import ArchiveIterator

from archive.demo.nextrequest_portal import DOCUMENTS, HARBOR, REQUESTS, start_nextrequest_portal
from archive.demo.storage import start_storage
from archive.evidence.cite import citation_of_page
from archive.index import queries
from archive.publish.datasette import datasette_app
from tests.servers.records_apis import (
    AGENCY,
    COVER_PHRASE,
    HUMAN_PAGE,
    JURISDICTION,
    RESOLVE,
    SCAN_PHRASE,
    start_records_apis,
)

from .conftest import ROOT, run_cli
from .conftest import db_rows as rows
from .test_records import datasette_get, request_page

TOKEN = "mr-test-token-5f2a9c"
FAST = {
    "SPYGLASS_MUCKROCK_PER_MINUTE": "6000",
    "SPYGLASS_DOCUMENTCLOUD_PER_MINUTE": "6000",
    "SPYGLASS_NEXTREQUEST_PER_MINUTE": "6000",
}

SOURCES = """
sources:
  - name: northwind-recognize
    kind: vendor
    urls: [http://127.0.0.1:9/]
    vendor: Northwind Cloud
    product: {{name: Northwind Recognize, aliases: [Recognize]}}
  - name: muckrock-recognize
    kind: records
    allow_private: [127.0.0.1]
    urls: ["{base}/api_v2/requests/?search=recognize"]
    walk: {{shape: muckrock}}
  - name: documentcloud-project
    kind: records
    allow_private: [127.0.0.1]
    urls: ["{base}/api/documents/?project=404"]
    walk: {{shape: documentcloud}}
  - name: documentcloud-search
    kind: records
    allow_private: [127.0.0.1]
    urls: ["{base}/api/documents/search/?q=recognize"]
    walk: {{shape: documentcloud}}
"""
NAMES = ("muckrock-recognize", "documentcloud-project", "documentcloud-search")


def crawl(data: Path, sources: Path) -> str:
    args = ["crawl", "--sources", str(sources), "--data", str(data)]
    for name in NAMES:
        args += ["--source", name]
    env = {**FAST, "SPYGLASS_MUCKROCK_TOKEN": TOKEN, "SPYGLASS_RESOLVE": RESOLVE}
    return run_cli(*args, env=env, check=True).stdout


@pytest.fixture(scope="module")
def apis(tmp_path_factory: pytest.TempPathFactory):
    servers = start_records_apis()
    root = tmp_path_factory.mktemp("json-portals")
    sources = root / "sources.yml"
    sources.write_text(SOURCES.format(base=servers.url))
    data = root / "data"
    stdout = crawl(data, sources)
    yield {"servers": servers, "data": data, "sources": sources, "stdout": stdout, "hits": dict(servers.hits)}
    servers.stop()


def test_muckrock_requests_become_releases_with_their_agency_and_files(apis):
    data, base = apis["data"], apis["servers"].url
    found = {
        r["reference"] or r["title"]: r
        for r in rows(data, "SELECT * FROM releases WHERE source = 'muckrock-recognize'")
    }
    assert set(found) == {"BCSO-18-044", "Rekognition pilot emails"}
    done = found["BCSO-18-044"]
    assert (done["agency"], done["status"], done["released_on"], done["page_url"]) == (
        AGENCY,
        "done",
        "2018-05-09",
        f"{base}/api_v2/requests/51001/",
    )
    assert found["Rekognition pilot emails"]["agency"] == AGENCY  # one look-up served both
    assert apis["hits"]["/api_v2/agencies/7301/"] == 1
    links = rows(
        data,
        "SELECT l.*, d.file_url AS fetched, d.cite_url AS cited FROM document_links l "
        "JOIN documents d ON d.id = l.document_id WHERE l.release_id = ?",
        (done["id"],),
    )
    assert len(links) == 2
    for link in links:
        # Fetched from the CDN host, cited by the file's own record in the API.
        assert link["fetched"].startswith(apis["servers"].cdn_server.url)
        assert link["cite_url"] == link["cited"]
    assert sorted(link["cited"] for link in links) == [f"{base}/api_v2/files/81/", f"{base}/api_v2/files/82/"]


def test_malformed_items_429s_and_empty_pages_are_handled_and_the_crawl_finishes(apis):
    data, base = apis["data"], apis["servers"].url
    [error] = rows(data, "SELECT * FROM fetch_errors WHERE source = 'muckrock-recognize'")
    assert error["error_type"] == "malformed-item"
    assert error["reason"] == "item 2: {id} in 'url:/api_v2/requests/{id}/' has no value in this item"
    # The 429 was honoured (Retry-After) and retried; the refusal itself is a capture.
    assert apis["hits"]["/api_v2/requests/?search=recognize"] == 2
    statuses = [
        r["status"]
        for r in rows(
            data,
            "SELECT status FROM captures WHERE url = ? ORDER BY id",
            (f"{base}/api_v2/requests/?search=recognize",),
        )
    ]
    assert statuses == [429, 200]
    # The search's second page is empty: one release, no error.
    assert len(rows(data, "SELECT * FROM releases WHERE source = 'documentcloud-search'")) == 1
    # A page text DocumentCloud does not have is an error of its own; nothing else went wrong.
    errors = rows(data, "SELECT * FROM fetch_errors WHERE source LIKE 'documentcloud%'")
    assert [(e["source"], e["error_type"], e["url"].rsplit("/", 1)[1]) for e in errors] == [
        ("documentcloud-project", "missing-text", "bayview-budget-memo-p1.txt")
    ]
    assert errors[0]["reason"].startswith("page 1 text of ") and errors[0]["reason"].endswith(": HTTP 404")
    runs = rows(data, "SELECT source, status FROM crawl_runs")
    assert {(r["source"], r["status"]) for r in runs} == {(n, "finished") for n in NAMES}


def test_every_api_response_is_in_the_warc_files_and_the_token_is_not(apis):
    data, base = apis["data"], apis["servers"].url
    api_captures = rows(data, "SELECT * FROM captures WHERE url LIKE ? AND status = 200", (f"{base}/api%",))
    assert {
        "/api_v2/requests/?search=recognize",
        "/api_v2/communications/?foia=51001",
        "/api_v2/files/81/",
        "/api_v2/agencies/7301/",
        "/api/documents/?project=404",
    } <= {c["url"][len(base) :] for c in api_captures}
    records, blobs = {}, b""
    for path in (data / "warcs").glob("*.warc.gz"):
        blobs += gzip.decompress(path.read_bytes())
        with path.open("rb") as stream:
            for record in ArchiveIterator(stream):
                uri = record.rec_headers.get_header("WARC-Target-URI")
                records[(record.rec_type, uri)] = (
                    record.rec_headers,
                    record.http_headers,
                    record.content_stream().read(),
                )
    assert TOKEN.encode() not in blobs
    listing = f"{base}/api_v2/requests/?search=recognize"
    _, request_http, _ = records[("request", listing)]
    assert request_http.get_header("Authorization") == "Bearer [redacted by Spyglass]"
    response_warc, _, body = records[("response", listing)]
    assert json.loads(body)["count"] == 3  # the listing as the API answered it
    assert response_warc.get_header("WARC-Spyglass-Redacted") == "Authorization (credential value removed)"
    # The token went to the API, never to the CDN that hosts the files.
    assert f"Bearer {TOKEN}" in apis["servers"].api.authorizations
    assert set(apis["servers"].cdn.authorizations) == {None}
    verified = run_cli("verify", "--data", str(data))
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_documentcloud_documents_keep_its_page_text_beside_ours(apis):
    data = apis["data"]
    releases = {
        r["reference"]: r for r in rows(data, "SELECT * FROM releases WHERE source = 'documentcloud-project'")
    }
    assert set(releases) == {"9001", "9002", "9003"}
    private = releases["9002"]
    assert private["page_url"] == f"{apis['servers'].api.pages}/documents/9002-bayview-board-minutes"
    [document] = rows(
        data,
        "SELECT d.* FROM documents d JOIN document_links l ON l.document_id = d.id WHERE l.release_id = ?",
        (private["id"],),
    )
    # Fetched once through an expiring signed URL; cited by its DocumentCloud page.
    assert "Signature=" in document["file_url"] and document["cite_url"] == private["page_url"]
    pages = {
        r["method"]: r["text"]
        for r in rows(data, "SELECT * FROM document_pages WHERE document_id = ?", (document["id"],))
    }
    assert SCAN_PHRASE in pages["documentcloud"]
    assert len(pages) == 2  # DocumentCloud's text, and our own reading (OCR or its reason)
    found = datasette_get(
        data, "/spyglass/document_pages.json", {"_search": f'"{SCAN_PHRASE}"', "_shape": "objects"}
    )["rows"]
    assert [(r["document_id"], r["method"]) for r in found] == [(document["id"], "documentcloud")]
    # A later `spyglass documents --redo` replaces our pages only.
    run_cli("documents", "--sources", str(apis["sources"]), "--data", str(data), "--redo", check=True)
    assert (
        rows(
            data,
            "SELECT text FROM document_pages WHERE document_id = ? AND method = 'documentcloud'",
            (document["id"],),
        )[0]["text"]
        == pages["documentcloud"]
    )


def test_mentions_name_the_agencies_of_json_releases(apis):
    view = datasette_get(apis["data"], "/spyglass/agency_products.json", {"_shape": "objects"})["rows"]
    assert {(r["agency"], r["product"]) for r in view} == {
        (AGENCY, "Northwind Recognize"),
        ("Harbor City Police Department", "Northwind Recognize"),
    }
    # DocumentCloud's text of a page does not double a mention our own text already found.
    doubled = rows(
        apis["data"],
        "SELECT document_id, page_number, term, count(*) AS n FROM mentions "
        "WHERE document_id IS NOT NULL GROUP BY 1, 2, 3, agency HAVING n > 1",
    )
    assert not doubled


def test_communications_are_rows_with_their_dates_senders_and_the_files_each_delivered(apis):
    data = apis["data"]
    thread = rows(
        data,
        "SELECT c.* FROM communications c JOIN releases r ON r.id = c.release_id "
        "WHERE r.reference = 'BCSO-18-044' ORDER BY c.sent_at",
    )
    assert [(c["key"], c["direction"], c["sender"], c["subject"]) for c in thread] == [
        (
            "601",
            "outgoing",
            "Ada Reporter",
            "California Public Records Act Request: Face recognition contracts",
        ),
        ("602", "incoming", None, "Acknowledged"),
        ("603", "incoming", "Records Unit", "Records released"),
    ]
    assert thread[0]["body"] == "To Whom It May Concern:\n\nI request contracts for face recognition."
    assert thread[2]["sent_at"] == "2018-05-09T16:20:00-07:00"
    assert thread[2]["api_url"] == f"{apis['servers'].url}/api_v2/communications/?foia=51001"
    delivered = rows(
        data,
        "SELECT l.cite_url FROM communication_files f JOIN document_links l ON l.id = f.link_id "
        "WHERE f.communication_id = ? ORDER BY l.cite_url",
        (thread[2]["id"],),
    )
    base = apis["servers"].url
    assert [d["cite_url"] for d in delivered] == [f"{base}/api_v2/files/81/", f"{base}/api_v2/files/82/"]
    found = datasette_get(
        data, "/spyglass/communications.json", {"_search": f'"{COVER_PHRASE}"', "_shape": "objects"}
    )["rows"]
    assert [r["id"] for r in found] == [thread[2]["id"]]


def test_request_fields_and_the_human_page_are_kept_beside_the_api_record(apis):
    data, base = apis["data"], apis["servers"].url
    [done] = rows(data, "SELECT * FROM releases WHERE reference = 'BCSO-18-044'")
    assert (done["submitted_on"], done["due_on"], done["completed_on"], done["embargo"]) == (
        "2018-03-12",
        "2018-04-10",
        "2018-05-09",
        "public",
    )
    assert done["jurisdiction"] == JURISDICTION  # the agency's record names it: one look-up more
    assert apis["hits"]["/api_v2/jurisdictions/88/"] == 1
    assert done["human_url"] == base + HUMAN_PAGE
    [page] = rows(data, "SELECT * FROM captures WHERE url = ?", (base + HUMAN_PAGE,))
    assert page["status"] == 200 and "Face recognition contracts" in page["title"]


def test_a_file_is_cited_with_its_request_its_human_page_and_the_letter_that_delivered_it(apis):
    data, base = apis["data"], apis["servers"].url
    [document] = rows(data, "SELECT * FROM documents WHERE cite_url = ?", (f"{base}/api_v2/files/81/",))
    cited = run_cli("cite", str(document["capture_id"]), "--format", "json", "--data", str(data), check=True)
    citation = json.loads(cited.stdout)
    # Cited by the page a reader opens (its request's: a MuckRock file has no page of its own),
    # the API record kept as provenance, the download URL as where the bytes came from.
    assert (citation["author"], citation["url"]) == (AGENCY, base + HUMAN_PAGE)
    assert citation["original_url"].startswith(apis["servers"].cdn_server.url)
    assert citation["detail"].endswith(
        "in 'Face recognition contracts, Bayview County', request BCSO-18-044 "
        f"({base}{HUMAN_PAGE}), delivered by 'Records released' of 2018-05-09T16:20:00-07:00"
        f"; API record {base}/api_v2/files/81/"
    )
    assert citation["text"].splitlines()[0].endswith(f", {base}{HUMAN_PAGE}")
    # Each page's citation says the same of its release.
    conn = sqlite3.connect(data / "spyglass.db")
    try:
        [page] = queries.rows(
            conn, "SELECT * FROM document_pages WHERE document_id = ? LIMIT 1", [document["id"]]
        )
        detail = citation_of_page(conn, page).detail
    finally:
        conn.close()
    assert detail.endswith(
        f"({base}{HUMAN_PAGE}), delivered by 'Records released' of 2018-05-09T16:20:00-07:00"
        f"; API record {base}/api_v2/files/81/"
    )


def test_each_run_says_what_its_walk_found(apis):
    found = {
        r["source"]: json.loads(r["found"])
        for r in rows(apis["data"], "SELECT source, found FROM crawl_runs WHERE spider = 'records'")
    }
    # The listing's three items (one malformed), their communications, their distinct files.
    assert found["muckrock-recognize"] == {"requests": 3, "releases": 2, "communications": 3, "files": 2}
    assert found["documentcloud-project"] == {"documents": 3, "releases": 3, "files": 3}
    assert "muckrock-recognize: finished (finished)" in apis["stdout"]
    assert "; found 3 requests, 2 releases, 3 communications, 2 files" in apis["stdout"]


def test_a_second_crawl_fetches_no_file_again_and_skips_unchanged_requests(apis, tmp_path: Path):
    data = tmp_path / "data"
    shutil.copytree(apis["data"], data)
    tables = ("releases", "documents", "document_links", "document_pages", "communications")
    before = {t: len(rows(data, f"SELECT * FROM {t}")) for t in tables}
    hits = dict(apis["servers"].hits)
    apis["servers"].api.status_51002 = "done"  # the pending request moves on
    try:
        crawl(data, apis["sources"])
    finally:
        apis["servers"].api.status_51002 = "processed"
    after = apis["servers"].hits
    assert {t: len(rows(data, f"SELECT * FROM {t}")) for t in tables} == before
    # Human pages are pages: seen again each crawl, as any page is.
    pages = {
        urlsplit(r[0]).path for r in rows(data, "SELECT human_url FROM releases WHERE human_url IS NOT NULL")
    }
    files = [p for p in after if p.startswith(("/foia_files/", "/documents/", "/bucket/")) and p not in pages]
    assert files and all(after[p] == hits[p] for p in files), (hits, after)
    # The finished request is unchanged (same datetime_updated): its communications are not asked for.
    assert after["/api_v2/communications/?foia=51001"] == hits["/api_v2/communications/?foia=51001"]
    assert (
        after["/api_v2/requests/?page=2&search=recognize"]
        == hits["/api_v2/requests/?page=2&search=recognize"] + 1
    )
    # Its status changed between the crawls: a change with its window, like a page's.
    [change] = rows(data, "SELECT * FROM release_status_changes")
    assert (change["title"], change["status_before"], change["status_after"]) == (
        "Rekognition pilot emails",
        "processed",
        "done",
    )
    assert change["changed_after"] < change["changed_by"]
    kept = rows(
        data,
        "SELECT s.status FROM release_statuses s JOIN releases r ON r.id = s.release_id "
        "WHERE r.reference = 'BCSO-18-044'",
    )
    assert [k["status"] for k in kept] == ["done"]  # seen twice, one stretch


@pytest.fixture(scope="module")
def harbor(tmp_path_factory: pytest.TempPathFactory):
    portal = start_nextrequest_portal(quirks=True)
    data = tmp_path_factory.mktemp("harbor") / "data"
    env = {
        **FAST,
        "SPYGLASS_JSON_PORTAL": portal.url,
        "SPYGLASS_VENDOR_SITE": "http://127.0.0.1:9",
        "SPYGLASS_RECORDS_PORTAL": "http://127.0.0.1:9",
    }
    args = (
        "crawl",
        "--sources",
        str(ROOT / "sources.yml"),
        "--data",
        str(data),
        "--source",
        "harbor-city-requests",
    )
    run_cli(*args, env=env, check=True)
    first = dict(portal.storage.hits)
    run_cli(*args, env=env, check=True)
    yield {"portal": portal, "data": data, "first_storage_hits": first}
    portal.stop()


def test_nextrequest_files_behind_expiring_urls_are_fetched_once_and_cited_by_their_page(harbor):
    data, base = harbor["data"], harbor["portal"].url
    releases = rows(data, "SELECT * FROM releases ORDER BY reference")
    assert [r["reference"] for r in releases] == [r.id for r in REQUESTS]
    assert {r["agency"] for r in releases} == {HARBOR}
    assert [r["page_url"] for r in releases] == [f"{base}/requests/{r.id}" for r in REQUESTS]
    documents = rows(data, "SELECT * FROM documents ORDER BY cite_url")
    assert [d["cite_url"] for d in documents] == [f"{base}/documents/{d.id}" for d in DOCUMENTS]
    assert all(d["file_url"].startswith(harbor["portal"].storage.base) for d in documents)
    # Two crawls, three files, each downloaded once although every crawl gets new signed URLs.
    assert harbor["portal"].storage.hits == harbor["first_storage_hits"]
    assert sum(n for p, n in harbor["portal"].storage.hits.items() if p.startswith("/bucket/")) == 3
    links = rows(data, "SELECT * FROM document_links")
    assert len(links) == 4 and all(link["document_id"] for link in links)
    errors = rows(data, "SELECT error_type, reason FROM fetch_errors")
    assert [tuple(e) for e in errors] == [
        ("malformed-item", "item 2: {id} in 'url:/requests/{id}' has no value in this item")
    ] * 2


def test_a_signed_url_stops_working_when_it_expires():
    server, storage = start_storage({"memo.pdf": (b"%PDF-1.4 memo", "application/pdf")}, ttl=-1)
    try:
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(storage.signed_url("memo.pdf"), timeout=5)
        assert refused.value.code == 403 and b"Request has expired" in refused.value.read()
    finally:
        server.stop()


def test_the_request_page_shows_its_whole_lineage(apis):
    data, base = apis["data"], apis["servers"].url
    [done] = rows(data, "SELECT id FROM releases WHERE reference = 'BCSO-18-044'")
    page = request_page(data, done["id"])
    human = rows(data, "SELECT * FROM captures WHERE url = ?", (base + HUMAN_PAGE,))[0]
    # The request, cited by its human page (archived: its hash shown), the API record beside it.
    assert f"{AGENCY}, Face recognition contracts, Bayview County (submitted Mar. 12, 2018" in page
    assert human["sha256"] in page and f"{base}/api_v2/requests/51001/" in page
    # Its communications in order, the cover letter with the files it delivered.
    order = [page.index(s) for s in ("California Public Records Act Request", "Acknowledged", COVER_PHRASE)]
    assert order == sorted(order)
    contract = rows(data, "SELECT * FROM documents WHERE cite_url = ?", (f"{base}/api_v2/files/81/",))[0]
    assert page.index(contract["sha256"]) > page.index(COVER_PHRASE)
    # Its pages, each cited, and the mentions they hold.
    assert f"{contract['file_name']}" in page and ", at 1 (released May 9, 2018)" in page
    assert "real-time face search" in page


def _cite(data: Path, target: str) -> str:
    result = run_cli("cite", target, "--format", "footnote", "--data", str(data))
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_a_file_is_cited_by_the_stable_page_spyglass_names_in_any_spelling(apis):
    data, base = apis["data"], apis["servers"].url
    [doc] = rows(data, "SELECT * FROM documents WHERE cite_url = ?", (f"{base}/api_v2/files/81/",))
    line = _cite(data, f"{base}/api_v2/files/81/")
    assert line.startswith(f"{AGENCY}, ") and line.endswith(f", {base}{HUMAN_PAGE}")
    assert _cite(data, f"{base}/api_v2/files/81") == line
    assert _cite(data, str(doc["capture_id"])) == line
    [canonical] = rows(data, "SELECT * FROM documents WHERE cite_url LIKE '%/documents/9001-%'")
    cited = _cite(data, canonical["cite_url"])
    assert cited.endswith(canonical["cite_url"])
    pages = apis["servers"].api.pages  # http://www.documentcloud.test:PORT
    for spelling in (
        f"{pages}/documents/9001",
        f"{pages.replace('www.', '')}/documents/9001-harbor-camera-plan/",
        f"{pages.replace('http:', 'https:')}/documents/9001-harbor-camera-plan.html",
    ):
        assert _cite(data, spelling) == cited, spelling
    # A request by its API address or its human page: cited as the request, by its human page.
    request = _cite(data, f"{base}/api_v2/requests/51001")
    assert request.startswith(
        f"{AGENCY}, Face recognition contracts, Bayview County (submitted Mar. 12, 2018"
    )
    assert request.endswith(f", {base}{HUMAN_PAGE}")
    assert _cite(data, base + HUMAN_PAGE) == request


def test_a_signed_download_url_with_any_signature_names_its_file(harbor):
    data = harbor["data"]
    document = rows(data, "SELECT * FROM documents ORDER BY id LIMIT 1")[0]
    resigned = document["file_url"].split("?", 1)[0] + "?X-Amz-Signature=0000&X-Amz-Expires=1"
    assert _cite(data, resigned) == _cite(data, document["cite_url"])
    assert _cite(data, resigned).endswith(document["cite_url"])


def _cited(data: Path, target: str) -> dict:
    return json.loads(run_cli("cite", target, "--format", "json", "--data", str(data), check=True).stdout)


def test_a_documentcloud_document_page_is_archived_beside_its_api_record_and_cited(apis):
    data = apis["data"]
    page = f"{apis['servers'].api.pages}/documents/9002-bayview-board-minutes"
    [release] = rows(
        data, "SELECT * FROM releases WHERE source = 'documentcloud-project' AND reference = '9002'"
    )
    assert release["human_url"] == page
    [capture] = rows(data, "SELECT * FROM captures WHERE url = ?", (page,))
    assert capture["status"] == 200 and "Board minutes, face search pilot" in capture["title"]
    # Its page names the document (the file is what a reader cites by it), and the request page
    # shows the archived copy of it beside the API record that listed it.
    cited = _cited(data, page)
    assert (cited["kind"], cited["url"]) == ("document", page)
    shown = request_page(data, release["id"])
    assert capture["sha256"] in shown and f"{apis['servers'].url}/api/documents/?project=404" in shown


def test_a_nextrequest_request_page_is_archived_and_its_files_cited_by_their_own_pages(harbor):
    data, base = harbor["data"], harbor["portal"].url
    releases = rows(data, "SELECT * FROM releases ORDER BY reference")
    assert [r["human_url"] for r in releases] == [f"{base}/requests/{r.id}" for r in REQUESTS]
    archived = {c["url"] for c in rows(data, "SELECT url FROM captures WHERE status = 200")}
    assert {f"{base}/requests/{r.id}" for r in REQUESTS} <= archived
    request = _cited(data, f"{base}/requests/18-101")
    assert (request["kind"], request["url"], request["detail"]) == (
        "request",
        f"{base}/requests/18-101",
        None,
    )
    # A file with a page of its own is cited by it, not by its request's page.
    [document] = rows(data, "SELECT * FROM documents WHERE cite_url = ?", (f"{base}/documents/5011",))
    cited = _cited(data, str(document["capture_id"]))
    assert (cited["kind"], cited["url"]) == ("document", f"{base}/documents/5011")
    assert "API record" not in cited["detail"]


def test_a_document_page_names_the_communication_that_delivered_it(apis):
    data, base = apis["data"], apis["servers"].url
    [document] = rows(data, "SELECT * FROM documents WHERE cite_url = ?", (f"{base}/api_v2/files/82/",))
    [letter] = rows(data, "SELECT * FROM communications WHERE key = '603'")
    ds = datasette_app(data)

    async def page() -> str:
        response = await ds.client.get(f"/spyglass/documents/{document['id']}")
        assert response.status_code == 200
        return html.unescape(response.text)

    shown = asyncio.run(page())
    assert (
        f'Delivered by <a href="/spyglass/communications/{letter["id"]}">Records released</a>, '
        "sent 2018-05-09T16:20:00-07:00"
    ) in shown
    # Cited by its request's page, the API record named beside it.
    assert f'<a href="{base}{HUMAN_PAGE}" rel="noreferrer">' in shown
    assert f"(API record {base}/api_v2/files/82/)" in shown
