"""The vendor spider: a vendor's marketing pages, within the source's scope."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import urldefrag, urljoin, urlsplit

import scrapy
from scrapy.http import Response, TextResponse
from scrapy.utils.sitemap import Sitemap
from w3lib.url import canonicalize_url, safe_url_string

from .base import SourceSpider

REDIRECT_STATUSES = {301, 302, 303, 307, 308}
LINK_XPATH = "//a/@href | //area/@href | //iframe/@src | //frame/@src"


class VendorSpider(SourceSpider):
    """Follows links and sitemaps from a vendor source's start URLs, one capture per response."""

    name = "vendor"
    kind = "vendor"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Canonical URLs already scheduled: Scrapy's dupefilter is off (settings.py).
        self.seen: set[str] = set()
        # Every link as written, already judged: most links on a page were seen
        # before, and canonicalising each again was the spider's largest cost.
        self.judged: set[str] = set()

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for url in self.source.urls:
            request = self._request(url, depth=0, referrer=None)
            if request is not None:
                yield request

    def _request(self, url: str, depth: int, referrer: str | None, hops: int = 0) -> scrapy.Request | None:
        """A request for `url` if it is new, in scope and within the source's limits."""
        if url in self.judged:
            return None
        self.judged.add(url)
        url = safe_url_string(urldefrag(url)[0])
        scope = self.source.scope
        if not scope.allows(url):
            return None
        key = canonicalize_url(url)
        if key in self.seen or len(self.seen) >= scope.max_pages:
            return None
        self.seen.add(key)
        return scrapy.Request(
            url,
            callback=self.parse,
            errback=self.errback,
            dont_filter=True,
            meta={
                "spyglass_depth": depth,
                "spyglass_referrer": referrer,
                "spyglass_hops": hops,
                "dont_obey_robotstxt": not self.source.robots,
            },
        )

    def parse(self, response: Response) -> Iterator[Any]:
        yield self.capture(response)
        depth = response.meta.get("spyglass_depth", 0)
        if response.status in REDIRECT_STATUSES:
            yield from self._follow_redirect(response, depth)
            return
        if depth >= self.source.scope.max_depth or response.status >= 400:
            return
        for url in self._links(response):
            request = self._request(url, depth + 1, response.url)
            if request is not None:
                yield request

    def _follow_redirect(self, response: Response, depth: int) -> Iterator[scrapy.Request]:
        location = response.headers.get("Location")
        hops = response.meta.get("spyglass_hops", 0) + 1
        if not location or hops > self.settings.getint("REDIRECT_MAX_TIMES", 20):
            return
        target = urljoin(response.url, location.decode("latin-1"))
        request = self._request(target, depth, response.url, hops)
        if request is not None:
            yield request

    def _links(self, response: Response) -> list[str]:
        body_start = response.body[:512].lstrip()
        if body_start.startswith(b"<?xml") or b"<urlset" in body_start or b"<sitemapindex" in body_start:
            try:
                return [urljoin(response.url, entry["loc"]) for entry in Sitemap(response.body)]
            except Exception:  # a broken sitemap is a page, not a crash
                return []
        if not isinstance(response, TextResponse):
            return []
        try:
            # lxml directly: parsel would wrap each of ~70 links a page in a Selector.
            root = response.selector.root
            hrefs = root.xpath(LINK_XPATH)
            base = root.xpath("string(//base/@href)")
        except (ValueError, AttributeError):  # not parseable as HTML
            return []
        return absolute_links(urljoin(response.url, base) if base else response.url, hrefs)


def absolute_links(base: str, hrefs: list[str]) -> list[str]:
    """Resolve hrefs against `base`; the common cases skip urljoin, the spider's next largest cost."""
    parts = urlsplit(base)
    origin = f"{parts.scheme}://{parts.netloc}"
    links = []
    for href in hrefs:
        href = href.strip()
        if not href:
            continue
        if href.startswith("/") and not href.startswith("//") and "/." not in href:
            links.append(origin + href)  # path-absolute, no dot segments: RFC 3986 5.2.2
        elif href.startswith(("http://", "https://")) and "/." not in href:
            links.append(href)
        else:
            links.append(urljoin(base, href))
    return links
