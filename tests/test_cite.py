"""Citations: the Wayback form of the coalition letters, live captures, document pages, `spyglass cite`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from archive.evidence.citation import bluebook_date
from archive.evidence.cite import cite, distance
from archive.evidence.cite_records import cite_document, cite_document_page
from archive.index.captures import save_captures
from archive.index.db import open_db
from archive.times import parse_when

from .conftest import run_cli

SNAPSHOT = "https://web.archive.org/web/20180225100337/https://aws.amazon.com/rekognition/"

WAYBACK_ROW = {
    "id": 41,
    "url": "http://127.0.0.1:9/web/20180225100337id_/https://aws.amazon.com/rekognition/",
    "source": "aws-rekognition",
    "via": "wayback",
    "captured_at": "2026-11-22T01:02:03.000000Z",
    "status": 200,
    "sha256": "5" * 64,
    "warc_filename": "aws-rekognition-20261122-00001-h.warc.gz",
    "warc_offset": 12345,
    "title": "Amazon Rekognition – Deep learning-based image analysis",
    "vendor": "Amazon Web Services",
    "product": "Amazon Rekognition",
    "memento_at": "2018-02-25T10:03:37Z",
    "wayback_timestamp": "20180225100337",
    "original_url": "https://aws.amazon.com/rekognition/",
    "snapshot_url": SNAPSHOT,
}

LIVE_ROW = {
    "id": 7,
    "url": "http://127.0.0.1:8470/products/recognize/faqs/",
    "source": "northwind-recognize",
    "via": "live",
    "captured_at": "2026-11-22T01:02:03.456789Z",
    "sha256": "a" * 64,
    "warc_filename": "northwind-recognize-1-00001-h.warc.gz",
    "warc_offset": 999,
    "title": "Northwind Recognize FAQs",
    "vendor": "Northwind Cloud",
}


def test_wayback_capture_reads_like_the_coalition_letter():
    citation = cite(WAYBACK_ROW)
    for text in (citation.text(), citation.bluebook()):
        assert "archived Feb. 25, 2018" in text
        assert SNAPSHOT in text
        assert text.startswith("Amazon Web Services, Amazon Rekognition – Deep learning-based image analysis")
    assert citation.bluebook() == (
        "Amazon Web Services, Amazon Rekognition – Deep learning-based image analysis "
        f"(archived Feb. 25, 2018), {SNAPSHOT} (SHA-256 {'5' * 64}; local copy "
        "aws-rekognition-20261122-00001-h.warc.gz at offset 12345)."
    )
    text = citation.text()
    assert f"SHA-256 of the archived payload: {'5' * 64}" in text
    assert "Local copy: aws-rekognition-20261122-00001-h.warc.gz, offset 12345 (Spyglass capture 41)" in text
    assert "archived by the Wayback Machine 2018-02-25 10:03:37 UTC" in text
    data = json.loads(citation.render("json"))
    assert data["url"] == SNAPSHOT and data["original_url"] == "https://aws.amazon.com/rekognition/"
    assert data["sha256"] == "5" * 64 and data["warc_offset"] == 12345 and data["kind"] == "wayback"
    # Both times, structured: the page as of the memento, fetched by Spyglass years later.
    assert (data["as_of_at"], data["as_of_kind"]) == ("2018-02-25T10:03:37.000000Z", "memento time")
    assert data["fetched_at"] == "2026-11-22T01:02:03.000000Z"


def test_wayback_snapshot_url_is_built_from_stored_values_when_absent():
    # (Its date is the memento time, memento_at, as everywhere: archive/index/asof.py.)
    row = {**WAYBACK_ROW, "snapshot_url": None}
    assert cite(row).url == SNAPSHOT and "archived Feb. 25, 2018" in cite(row).bluebook()


def test_live_capture_gives_our_capture_time_and_any_save_page_now_snapshot():
    plain = cite(LIVE_ROW)
    assert plain.bluebook() == (
        "Northwind Cloud, Northwind Recognize FAQs (captured Nov. 22, 2026, 01:02 UTC), "
        f"http://127.0.0.1:8470/products/recognize/faqs/ (SHA-256 {'a' * 64}; local copy "
        "northwind-recognize-1-00001-h.warc.gz at offset 999)."
    )
    assert "Captured by Spyglass 2026-11-22 01:02:03 UTC" in plain.text()
    assert f"SHA-256 of the archived payload: {'a' * 64}" in plain.text()
    assert (
        "Local copy: northwind-recognize-1-00001-h.warc.gz, offset 999 (Spyglass capture 7)" in plain.text()
    )
    spn = "https://web.archive.org/web/20261122010300/http://127.0.0.1:8470/products/recognize/faqs/"
    saved = cite(LIVE_ROW, {"capture_id": 7, "status": "success", "snapshot_url": spn})
    assert saved.line().endswith(f"faqs/ [{spn}]")
    assert f"Save Page Now snapshot {spn}" in saved.text()
    assert cite(LIVE_ROW, {"capture_id": 7, "status": "pending", "snapshot_url": None}).archived_url is None
    assert (plain.as_of_at, plain.as_of_kind, plain.fetched_at) == (
        LIVE_ROW["captured_at"],
        "capture time",
        LIVE_ROW["captured_at"],
    )


def test_document_page_gives_agency_title_page_release_date_and_url():
    page = {"id": 3, "document_id": 2, "page_number": 14, "text": "...", "method": "ocr"}
    document = {
        "id": 2,
        "file_name": "usage-report.pdf",
        "capture_id": 9,
        "sha256": "c" * 64,
        "file_url": "http://127.0.0.1:8471/files/usage-report.pdf",
    }
    release = {
        "id": 1,
        "agency": "Clearwater County Sheriff's Office",
        "released_on": "2018-05-22",
        "title": "Records about face recognition",
        "page_url": "http://127.0.0.1:8471/r/1",
    }
    capture = {
        "id": 9,
        "url": document["file_url"],
        "sha256": "c" * 64,
        "warc_filename": "records-1-00001-h.warc.gz",
        "warc_offset": 77,
    }
    citation = cite_document_page(page, document, release, capture)
    assert citation.bluebook() == (
        "Clearwater County Sheriff's Office, usage-report.pdf, at 14 "
        "(released May 22, 2018), http://127.0.0.1:8471/files/usage-report.pdf "
        f"(SHA-256 {'c' * 64}; local copy records-1-00001-h.warc.gz at offset 77)."
    )
    assert "SHA-256 of the archived payload: " + "c" * 64 in citation.text()
    assert "records-1-00001-h.warc.gz, offset 77 (Spyglass capture 9)" in citation.text()
    undated = cite_document_page(
        page, document, {**release, "released_on": None, "released_text": "Spring 2018"}, capture
    )
    assert "(released Spring 2018)" in undated.bluebook()


def test_a_file_is_cited_by_its_own_page_else_its_request_s_with_its_api_record_as_provenance():
    document = {
        "file_name": "contract.pdf",
        "file_url": "https://cdn.example/c.pdf",
        "cite_url": "https://x/api/files/81/",
    }
    request = {
        "agency": "Bayview County Sheriff's Office",
        "title": "Contracts",
        "human_url": "https://x/foi/contracts-51/",
    }
    cited = cite_document(document, request)
    assert (cited.url, cited.original_url) == ("https://x/foi/contracts-51/", "https://cdn.example/c.pdf")
    assert cited.detail.endswith("; API record https://x/api/files/81/")
    own = cite_document(
        {**document, "cite_url": "https://x/documents/81"},
        {**request, "file_human_url": "https://x/documents/81"},
    )
    assert own.url == "https://x/documents/81" and "API record" not in own.detail
    # A file of a release with no human page (an HTML portal) is cited by its stable page, as before.
    assert cite_document(document, {"agency": "A"}).url == "https://x/api/files/81/"


def test_dates_and_distances():
    assert bluebook_date(parse_when("20170901000000")) == "Sept. 1, 2017"
    assert bluebook_date(parse_when("2018-06-30")) == "June 30, 2018"
    assert parse_when("2018-02-25T11:03:37+01:00") == parse_when("20180225100337")
    assert distance(parse_when("2018-02-25T10:03:37Z"), parse_when("2018-03-01")) == "3 days 13 hours earlier"
    assert distance(parse_when("2018-03-01T00:00:05Z"), parse_when("2018-03-01")) == "5 seconds later"


def test_cli_cites_a_capture_by_id_and_says_how_far_the_closest_one_is(crawled, tmp_path: Path):
    data = tmp_path / "data"
    shutil.copytree(crawled["data"], data)
    faq_url = crawled["base"] + "/products/recognize/faqs/"
    index = open_db(data / "spyglass.db")
    [faq] = list(index.query("SELECT * FROM captures WHERE url = ?", [faq_url]))
    # Two mementos of the AWS page, as the wayback spider records them.
    for ts in ("20170901000000", "20180225100337"):
        save_captures(
            index,
            [
                {
                    **{k: faq[k] for k in ("source", "sha256", "warc_filename", "warc_offset")},
                    "url": f"http://127.0.0.1:9/web/{ts}id_/https://aws.amazon.com/rekognition/",
                    "via": "wayback",
                    "captured_at": "2026-11-22T00:00:00.000000Z",
                    "warc_type": "response",
                    "warc_record_id": f"<urn:uuid:{ts}>",
                    "title": "Amazon Rekognition",
                    "vendor": "Amazon Web Services",
                    "wayback_timestamp": ts,
                    "memento_at": parse_when(ts).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "original_url": "https://aws.amazon.com/rekognition/",
                    "snapshot_url": f"https://web.archive.org/web/{ts}/https://aws.amazon.com/rekognition/",
                }
            ],
        )
    index.close()

    by_id = run_cli("cite", str(faq["id"]), "--data", str(data), check=True)
    assert by_id.stdout.startswith("Northwind Cloud, Northwind Recognize FAQs (captured ")
    assert f"SHA-256 of the archived payload: {faq['sha256']}" in by_id.stdout
    assert (
        f"{faq['warc_filename']}, offset {faq['warc_offset']} (Spyglass capture {faq['id']})" in by_id.stdout
    )

    near = run_cli(
        "cite",
        "https://aws.amazon.com/rekognition/",
        "--at",
        "2018-03-01",
        "--format",
        "bluebook",
        "--data",
        str(data),
        check=True,
    )
    assert near.stdout.strip() == (
        f"Amazon Web Services, Amazon Rekognition (archived Feb. 25, 2018), {SNAPSHOT} "
        f"(SHA-256 {faq['sha256']}; local copy {faq['warc_filename']} at offset {faq['warc_offset']})."
    )
    assert "showing the page as of 2018-02-25 10:03:37 UTC, 3 days 13 hours earlier." in near.stderr

    as_json = json.loads(
        run_cli(
            "cite",
            "https://aws.amazon.com/rekognition/",
            "--at",
            "2017-08-01",
            "--format",
            "json",
            "--data",
            str(data),
            check=True,
        ).stdout
    )
    assert as_json["url"].startswith("https://web.archive.org/web/20170901000000/")
    assert as_json["closest_to"]["offset"] == "31 days later"

    missing = run_cli("cite", "https://nowhere.example/", "--data", str(data))
    assert missing.returncode == 1
    assert missing.stderr.strip().startswith("Error: no capture of https://nowhere.example/ (looked for ")


def test_an_archived_redirect_says_it_is_one_and_where_it_went():
    empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    row = {**WAYBACK_ROW, "status": 301, "title": None, "sha256": empty, "location": "/rekognition/v2/"}
    citation = cite(row)
    assert "Untitled page" not in citation.text()
    assert citation.title == "Redirect (HTTP 301) to https://aws.amazon.com/rekognition/v2/"
    assert citation.redirect_to == "https://aws.amazon.com/rekognition/v2/"
    assert "an HTTP 301 redirect to https://aws.amazon.com/rekognition/v2/, not a page" in citation.text()
    assert f"{empty} (an empty body: the answer was the redirect)" in citation.text()
    live = cite({**LIVE_ROW, "status": 303, "title": "", "location": "https://elsewhere.test/x"})
    assert live.title == "Redirect (HTTP 303) to https://elsewhere.test/x"


def test_cli_cites_the_demo_s_archived_redirect(crawled):
    result = run_cli(
        "cite",
        f"{crawled['wayback'].base}/web/20170101000000id_/{crawled['base']}/products/recognise/",
        "--data",
        str(crawled["data"]),
    )
    assert result.returncode == 0, result.stderr
    assert f"Redirect (HTTP 301) to {crawled['base']}/products/recognize/" in result.stdout
