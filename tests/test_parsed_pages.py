"""The writer parses a page once: the links it answers are the ones the crawler's own parse finds,
and it answers None (the crawler parses) whenever its tree could differ from Scrapy's selector's."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from scrapy.http import HtmlResponse

from archive.crawl.parsed import ParsedPages
from archive.text.extract import text_columns
from archive.warc.write import Exchange, RecordLocation
from spiders.outlinks import page_links
from tests.servers.synthetic_site import SyntheticSite

URL = "http://127.0.0.1:8000/p/1.html"

PAGES = {
    "synthetic": SyntheticSite(50).page(7, keep=False),
    "base and frames": b"<base href='/b/'><a href=c>c</a><iframe src='/f'></iframe><base href='/d/'>",
    "requisites": b"<html><head><link rel=stylesheet href='/s.css'><style>.a{background:url(i.png)}</style></head>"
    b"<body><img srcset='a.png 1x, b.png 2x'><a href='/x' style='background:url(/bg.png)'>x</a></body></html>",
    "declared latin-1": b"<meta charset='iso-8859-1'><a href='/caf\xe9'>x</a>",
    "undeclared utf-8": "<a href='/café'>x</a><p>déjà</p>".encode(),
}
# Pages whose tree in the writer could differ from the selector's: it must leave them to the crawler.
DECLINED = {
    "guessed charset": b"caf\xe9 <a href='/caf\xe9'>x</a>",
    "NUL": b"<a href='/a\x00b'>x</a>",
    "too deep for libxml2 without huge_tree": b"<div>" * 300 + b"<a href='/deep'>x</a>",
    "a block mark in an attribute": b"<a href='/x</p>y'>a</a>",
}


def exchange(body: bytes, content_type: str = "text/html") -> Exchange:
    return Exchange(
        url=URL,
        method="GET",
        request_headers=[],
        request_body=b"",
        protocol="HTTP/1.1",
        status=200,
        reason="OK",
        response_headers=[("Content-Type", content_type)],
        payload=body,
        date=datetime.now(UTC),
    )


def location(record_id: str = "<urn:uuid:1>", warc_type: str = "response") -> RecordLocation:
    return RecordLocation("f.warc.gz", 0, 1, record_id, warc_type, "0" * 64, 1, "2026-12-07T00:00:00Z")


@pytest.mark.parametrize("requisites", [False, True])
@pytest.mark.parametrize("name", sorted(PAGES))
def test_writer_links_are_the_crawlers(name: str, requisites: bool) -> None:
    body = PAGES[name]
    found = ParsedPages().read(location(), exchange(body), requisites)
    assert found is not None
    assert found == page_links(
        HtmlResponse(URL, body=body, headers={"Content-Type": "text/html"}), requisites
    )


@pytest.mark.parametrize("name", sorted(DECLINED))
def test_writer_leaves_a_page_it_may_read_otherwise_to_the_crawler(name: str) -> None:
    assert ParsedPages().read(location(), exchange(DECLINED[name]), True) is None


def test_the_text_extracted_at_write_time_is_the_rows() -> None:
    pages, body = ParsedPages(), PAGES["synthetic"]
    pages.read(location(), exchange(body), False)
    row = {"warc_record_id": "<urn:uuid:1>"}
    assert pages.columns(row, "text/html; charset=utf-8") is None  # read with another content type
    pages.read(location(), exchange(body), False)
    assert pages.columns(row, "text/html") == text_columns("text/html", body)
    assert pages.columns(row, "text/html") is None  # given once


def test_a_revisit_is_not_read() -> None:
    pages = ParsedPages()
    assert pages.read(location(warc_type="revisit"), exchange(PAGES["synthetic"]), False) is None
    assert pages.kept == {}
