"""Bare Scrapy baseline for `scripts/bench`: follows the same links, stores nothing.

Tuned as a skeptic would tune it (MEASURED.md): its own seen-set instead of
Scrapy's dupefilter, lxml `//a/@href`, CONCURRENT_ITEMS=10, and each path-absolute
link resolved once (most of a page's ~68 links were seen on earlier pages;
resolving them again with urljoin was 14% of its CPU in a py-spy profile).
The benchmark runs it at each concurrency it tries and keeps the fastest.
"""

from urllib.parse import urldefrag, urljoin, urlsplit

import scrapy


class BareSpider(scrapy.Spider):
    name = "bare"

    def __init__(self, start: str = "", **kwargs):
        super().__init__(**kwargs)
        self.start_url = start
        self.host = urlsplit(start).netloc
        self.seen = {start}
        self.judged: set[str] = set()

    async def start(self):
        yield scrapy.Request(self.start_url, dont_filter=True)

    def parse(self, response):
        if not hasattr(response, "xpath"):
            return
        for href in response.xpath("//a/@href").getall():
            if href.startswith("/") and not href.startswith("//"):
                # Path-absolute: the same URL from every page of this one-host crawl.
                if href in self.judged:
                    continue
                self.judged.add(href)
            url = urldefrag(urljoin(response.url, href))[0]
            if urlsplit(url).netloc == self.host and url not in self.seen:
                self.seen.add(url)
                yield scrapy.Request(url, dont_filter=True)
