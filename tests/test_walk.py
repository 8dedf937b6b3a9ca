"""Records walks: sources.yml validation of `walk`, and the spider's parsing of each portal shape."""

from __future__ import annotations

from pathlib import Path

import pytest
from scrapy import Request
from scrapy.http import HtmlResponse

from archive.crawl.items import Capture
from archive.demo.records_portal import (
    POLICE,
    REQUESTS,
    SHERIFF,
    TABLE,
    request_listing,
    request_page,
    table_listing,
)
from archive.errors import ConfigError
from archive.records.items import DocumentFile, Release
from archive.records.walk import iso_date
from archive.sources.load import load_sources
from archive.warc.write import RecordLocation
from spiders.records import RecordsSpider

from .conftest import ROOT

BASE = "http://portal.test"


def test_example_records_sources_validate_with_shape_defaults_and_overrides():
    by_name = {s.name: s for s in load_sources(ROOT / "sources.example.yml")}
    requests = by_name["muckrock-rekognition"]
    assert requests.kind == "records" and requests.walk.shape == "foia-request"
    assert requests.walk.mode == "pages" and requests.walk.title == "h1"
    assert requests.walk.release_links.startswith("xpath://table")
    table = by_name["wcso-released-records"]
    assert table.walk.mode == "rows" and table.walk.released_at == "column:Date"
    assert (
        table.walk.title.startswith("column:Title") and table.agency == "Washington County Sheriff's Office"
    )
    assert by_name["aws-rekognition"].walk is None


def test_a_records_source_without_walk_is_a_directory(tmp_path: Path):
    path = tmp_path / "s.yml"
    path.write_text("sources:\n  - {name: dir, kind: records, urls: ['https://r.example/files/']}\n")
    [source] = load_sources(path)
    assert source.walk.shape == "directory" and source.walk.mode == "directory"


BAD = {
    "walk on vendor": (
        "{name: acme, kind: vendor, urls: ['https://a.example/'], walk: {shape: directory}}",
        "source 'acme': field 'walk': only records sources",
    ),
    "bad shape": (
        "{name: acme, kind: records, urls: ['https://a.example/'], walk: {shape: blog}}",
        "source 'acme': field 'walk.shape': must be one of foia-request, records-table, directory",
    ),
    "unknown": (
        "{name: acme, kind: records, urls: ['https://a.example/'], walk: {titel: h1}}",
        "source 'acme': field 'walk.titel': unknown field",
    ),
    "bad css": (
        "{name: acme, kind: records, urls: ['https://a.example/'], walk: {title: 'h1[['}}",
        "source 'acme': field 'walk.title': not a valid CSS selector",
    ),
    "bad xpath": (
        "{name: acme, kind: records, urls: ['https://a.example/'], walk: {files: '//a[@href'}}",
        "source 'acme': field 'walk.files': not a valid XPATH selector",
    ),
    "column outside rows": (
        "{name: acme, kind: records, urls: ['https://a.example/'],"
        " walk: {shape: foia-request, title: 'column:Title'}}",
        "source 'acme': field 'walk.title': column: selectors work only inside release_rows",
    ),
    "not a mapping": (
        "{name: acme, kind: records, urls: ['https://a.example/'], walk: [h1]}",
        "source 'acme': field 'walk': must be a mapping",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_invalid_walks_name_file_source_and_field(tmp_path: Path, case: str):
    body, expected = BAD[case]
    path = tmp_path / "sources.yml"
    path.write_text("sources:\n  - " + body + "\n")
    with pytest.raises(ConfigError) as info:
        load_sources(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and expected in message and "\n" not in message


def spider_for(tmp_path: Path, walk: str, agency: str | None = None) -> RecordsSpider:
    path = tmp_path / "sources.yml"
    path.write_text(
        "sources:\n  - name: portal\n    kind: records\n    urls: ['"
        + BASE
        + "/']\n"
        + (f"    agency: {agency}\n" if agency else "")
        + f"    walk: {walk}\n"
    )
    [source] = load_sources(path)
    spider = RecordsSpider()
    spider.source = source
    spider.source_name = source.name
    return spider


def response(url: str, body: bytes) -> HtmlResponse:
    location = RecordLocation(
        "f.warc.gz",
        0,
        10,
        f"<urn:uuid:{url}>",
        "response",
        "0" * 64,
        len(body),
        "2026-01-01T00:00:00.000000Z",
    )
    return HtmlResponse(url=url, body=body, request=Request(url, meta={"spyglass_warc": location}))


def by_type(items: list, cls: type) -> list:
    return [i for i in items if isinstance(i, cls)]


def test_foia_request_shape_reads_listing_links_next_page_and_request_fields(tmp_path: Path):
    spider = spider_for(tmp_path, "{shape: foia-request}")
    items = list(spider.parse_listing(response(BASE + "/requests/", request_listing(1))))
    assert len(by_type(items, Capture)) == 1 and not by_type(items, Release)
    urls = [i.url for i in items if isinstance(i, Request)]
    assert urls == [f"{BASE}/requests/{r.slug}/" for r in REQUESTS[:2]] + [BASE + "/requests/?page=2"]
    release = REQUESTS[1]
    items = list(spider.parse_release(response(f"{BASE}/requests/{release.slug}/", request_page(release))))
    [found] = by_type(items, Release)
    assert (found.title, found.agency, found.reference, found.released_text, found.released_on) == (
        release.title,
        SHERIFF,
        release.reference,
        release.released,
        release.released_on,
    )
    assert found.file_urls == [f"{BASE}/files/{name}" for name in release.files]
    assert found.record_id == f"<urn:uuid:{BASE}/requests/{release.slug}/>"
    assert [i.url for i in items if isinstance(i, Request)] == found.file_urls


def test_records_table_shape_reads_one_release_per_row_by_column_name(tmp_path: Path):
    spider = spider_for(tmp_path, "{shape: records-table}", agency=POLICE)
    url = BASE + "/lakeport/police/released-records/"
    items = list(spider.parse_listing(response(url, table_listing(1))))
    releases = by_type(items, Release)
    assert [(r.title, r.reference, r.released_on, r.agency) for r in releases] == [
        (r.title, r.reference, r.released_on, POLICE) for r in TABLE[:2]
    ]
    assert releases[0].key == url + "#" + TABLE[0].reference
    assert releases[0].file_urls == [f"{BASE}/files/{TABLE[0].files[0]}"]
    assert [i.url for i in items if isinstance(i, Request)][-1] == url + "?page=2"


def test_custom_selectors_override_the_shape(tmp_path: Path):
    page = (
        b"<html><body><h2 class='t'>Contract file</h2><span id='who'>Transit Police</span>"
        b"<p>Ref: <b class='ref'>TP-9</b></p><time>Sept. 4, 2019</time>"
        b"<div class='docs'><a href='/d/a.pdf'>a</a><a href='/d/a.pdf#page=2'>again</a></div></body></html>"
    )
    spider = spider_for(
        tmp_path,
        "{shape: foia-request, title: h2.t, agency: '#who',"
        " reference: '//b[@class=\"ref\"]/text()', released_at: time,"
        " files: '.docs a'}",
    )
    [found] = by_type(list(spider.parse_release(response(BASE + "/r/9", page))), Release)
    assert (found.title, found.agency, found.reference, found.released_on) == (
        "Contract file",
        "Transit Police",
        "TP-9",
        "2019-09-04",
    )
    assert found.file_urls == [BASE + "/d/a.pdf"]  # one file, however often it is linked


def test_directory_shape_takes_every_file_link_and_skips_sorting_and_parent_links(tmp_path: Path):
    spider = spider_for(tmp_path, "{}", agency=SHERIFF)
    page = (
        b"<html><title>Index of /pub/</title><pre><a href='?C=N;O=D'>Name</a>"
        b"<a href='/'>Parent Directory</a><a href='memo.pdf'>memo.pdf</a>"
        b"<a href='sub/'>sub/</a></pre></html>"
    )
    items = list(spider.parse_listing(response(BASE + "/pub/", page)))
    [found] = by_type(items, Release)
    assert found.file_urls == [BASE + "/pub/memo.pdf"] and found.agency == SHERIFF
    assert found.title == "Index of /pub/"
    assert sorted(i.url for i in items if isinstance(i, Request)) == [
        BASE + "/pub/memo.pdf",
        BASE + "/pub/sub/",
    ]


def test_a_downloaded_file_becomes_a_document_item(tmp_path: Path):
    spider = spider_for(tmp_path, "{}")
    resp = response(BASE + "/files/x.pdf", b"%PDF-1.4 ...")
    resp.request.meta["spyglass_link"] = BASE + "/files/x.pdf"
    [capture, document] = list(spider.parse_file(resp))
    assert isinstance(capture, Capture) and isinstance(document, DocumentFile)
    assert (document.file_name, document.linked_url, document.size) == ("x.pdf", BASE + "/files/x.pdf", 12)


def test_dates_in_the_forms_portals_write_them():
    assert iso_date("May 2, 2018") == iso_date("2018-05-02") == iso_date("05/02/2018") == "2018-05-02"
    assert iso_date("Sept. 4, 2019") == "2019-09-04"
    assert iso_date("sometime in spring") is None


def test_the_readme_records_example_is_a_valid_source(tmp_path: Path):
    readme = (ROOT / "README.md").read_text()
    section = readme.split("#### Records sources", 1)[1]
    example = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "sources.yml"
    path.write_text("sources:\n" + example)
    [source] = load_sources(path)
    assert source.kind == "records" and source.walk.mode == "pages"
    assert source.walk.agency == "//dt[.='Agency']/following-sibling::dd[1]"
