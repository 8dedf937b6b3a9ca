"""The vendor spider: a vendor's marketing pages, within the source's scope."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import urldefrag, urljoin, urlsplit

import scrapy
from scrapy.http import Response, TextResponse
from scrapy.utils.sitemap import Sitemap
from w3lib.url import canonicalize_url, safe_url_string

from archive.items import FetchError

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
        self.similar: dict[str, int] = {}  # url_pattern -> URLs scheduled
        self.limits_hit: set[str] = set()

    async def start(self) -> AsyncIterator[Any]:
        for url in self.source.urls:
            request = self._request(url, depth=0, referrer=None)
            if request is not None:
                yield request

    @property
    def max_depth(self) -> int:
        return min(self.source.scope.max_depth, self.settings.getint("SPYGLASS_MAX_DEPTH", 20))

    @property
    def max_pages(self) -> int:
        return min(self.source.scope.max_pages, self.settings.getint("SPYGLASS_MAX_PAGES", 100_000))

    def _request(self, url: str, depth: int, referrer: str | None, hops: int = 0,
                 chain: tuple[str, ...] = ()) -> scrapy.Request | FetchError | None:
        """A request for `url` if it is new, in scope and within the limits; a FetchError
        the first time a limit stops the crawl; None for what is simply not ours to fetch."""
        url = safe_url_string(urldefrag(url)[0])
        if not self.source.scope.allows(url):
            return None
        key = canonicalize_url(url)
        if key in self.seen:
            return None
        if len(self.seen) >= self.max_pages:
            return self._limit_once(
                "max_pages", url, referrer, depth, "limit",
                f"page limit reached: {self.max_pages} URLs for this source (scope.max_pages, "
                "SPYGLASS_MAX_PAGES); this and further links were not followed")
        self.seen.add(key)
        limit = self.settings.getint("URLLENGTH_LIMIT", 2083)
        if limit and len(url) > limit:
            return self.error_item(url, "url-too-long", (
                f"URL is {len(url)} characters, over the limit of {limit} (URLLENGTH_LIMIT); "
                "not fetched"), referrer, depth)
        pattern = url_pattern(url)
        self.similar[pattern] = self.similar.get(pattern, 0) + 1
        most = self.settings.getint("SPYGLASS_MAX_SIMILAR_URLS", 200)
        if most and self.similar[pattern] > most:
            return self._limit_once(
                pattern, url, referrer, depth, "trap",
                f"crawler trap? more than {most} URLs like {pattern} (SPYGLASS_MAX_SIMILAR_URLS); "
                "this and further ones were not followed")
        return scrapy.Request(
            url,
            callback=self.parse,
            errback=self.errback,
            dont_filter=True,
            meta={
                "spyglass_depth": depth,
                "spyglass_referrer": referrer,
                "spyglass_hops": hops,
                "spyglass_chain": chain,
                "dont_obey_robotstxt": not self.source.robots,
            },
        )

    def _limit_once(self, which: str, url: str, referrer: str | None, depth: int,
                    error_type: str, reason: str) -> FetchError | None:
        """One fetch_errors row per limit per run, not one per link it stopped."""
        if which in self.limits_hit:
            return None
        self.limits_hit.add(which)
        return self.error_item(url, error_type, reason, referrer, depth)

    def parse(self, response: Response) -> Iterator[Any]:
        yield self.capture(response)
        gave_up = response.meta.get("spyglass_gave_up")
        if gave_up:
            kind = "rate-limited" if response.status == 429 else "server-error"
            yield self.error_item(response.url, kind, gave_up,
                                  response.meta.get("spyglass_referrer"),
                                  response.meta.get("spyglass_depth", 0))
        depth = response.meta.get("spyglass_depth", 0)
        if response.status in REDIRECT_STATUSES:
            yield from self._follow_redirect(response, depth)
            return
        if depth >= self.max_depth or response.status >= 400:
            return
        for url in self._links(response):
            request = self._request(url, depth + 1, response.url)
            if request is not None:
                yield request

    def _follow_redirect(self, response: Response, depth: int) -> Iterator[Any]:
        location = response.headers.get("Location")
        if not location:
            return
        hops = response.meta.get("spyglass_hops", 0) + 1
        chain = tuple(response.meta.get("spyglass_chain", ())) + (response.url,)
        target = safe_url_string(urljoin(response.url, location.decode("latin-1")))
        # Errors name the chain's first URL and the page that linked to it.
        referrer = response.meta.get("spyglass_chain_referrer",
                                     response.meta.get("spyglass_referrer"))
        if canonicalize_url(target) in {canonicalize_url(u) for u in chain}:
            yield self.error_item(chain[0], "redirect", (
                f"redirect loop: {response.url} redirects back to {target} "
                f"after {hops} hop(s)"), referrer, depth)
            return
        most = self.settings.getint("REDIRECT_MAX_TIMES", 10)
        if hops > most:
            yield self.error_item(chain[0], "redirect", (
                f"too many redirects: still redirecting after {most} hops "
                f"(REDIRECT_MAX_TIMES), last to {target}"), referrer, depth)
            return
        request = self._request(target, depth, response.url, hops, chain)
        if isinstance(request, scrapy.Request):
            request.meta["spyglass_chain_referrer"] = referrer
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
            hrefs = response.xpath(LINK_XPATH).getall()
        except (ValueError, AttributeError):  # not parseable as HTML
            return []
        return [urljoin(response.url, href.strip()) for href in hrefs if href.strip()]


_DIGITS = re.compile(r"\d+")


def url_pattern(url: str) -> str:
    """The URL with every run of digits as N and query values dropped: a calendar's months share one."""
    parts = urlsplit(url)
    keys = "&".join(sorted(p.split("=")[0] for p in parts.query.split("&") if p))
    path = _DIGITS.sub("N", parts.path)
    return f"{parts.netloc}{path}" + (f"?{_DIGITS.sub('N', keys)}" if keys else "")
