"""A redirect whose target is no web address keeps the page that carried it, to be archived."""

from __future__ import annotations

import pytest
from scrapy.http import HtmlResponse, Request, Response
from scrapy.utils.test import get_crawler

from archive.crawl import settings as crawl_settings
from archive.crawl.redirects import SafeMetaRefreshMiddleware, SafeRedirectMiddleware


@pytest.mark.parametrize(
    "content",
    ["0;url=javascript:alert(1)", "0; url='javascript:alert(document.domain)//'", "0;url=http://[bad"],
)
def test_a_meta_refresh_to_no_url_keeps_the_page(content):
    body = f'<html><head><meta http-equiv="refresh" content="{content}"></head><body>x</body></html>'
    page = HtmlResponse("http://vendor.test/", body=body.encode(), request=Request("http://vendor.test/"))
    assert SafeMetaRefreshMiddleware.from_crawler(get_crawler()).process_response(page.request, page) is page


def test_a_meta_refresh_to_a_page_is_still_followed():
    body = b'<html><head><meta http-equiv="refresh" content="0;url=/next"></head></html>'
    page = HtmlResponse("http://vendor.test/", body=body, request=Request("http://vendor.test/"))
    followed = SafeMetaRefreshMiddleware.from_crawler(get_crawler()).process_response(page.request, page)
    assert isinstance(followed, Request) and followed.url == "http://vendor.test/next"


def test_a_location_that_is_no_url_keeps_the_redirect():
    request = Request("http://vendor.test/")
    answer = Response("http://vendor.test/", status=302, headers={"Location": "http://[bad"}, request=request)
    assert SafeRedirectMiddleware.from_crawler(get_crawler()).process_response(request, answer) is answer


def test_the_crawl_uses_the_safe_middlewares():
    middlewares = crawl_settings.DOWNLOADER_MIDDLEWARES
    assert middlewares["scrapy.downloadermiddlewares.redirect.MetaRefreshMiddleware"] is None
    assert middlewares["scrapy.downloadermiddlewares.redirect.RedirectMiddleware"] is None
    assert middlewares["archive.crawl.redirects.SafeMetaRefreshMiddleware"] == 580
