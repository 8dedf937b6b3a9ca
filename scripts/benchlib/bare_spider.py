"""Bare Scrapy baseline for `scripts/bench`: follows the same links, stores nothing.

Tuned the way MEASURED.md's baseline was (its own seen-set, lxml `//a/@href`,
CONCURRENT_ITEMS=10), so the ratio compares Spyglass with a good crawler, not
with Scrapy's slowest idiom.
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

    async def start(self):
        yield scrapy.Request(self.start_url, dont_filter=True)

    def parse(self, response):
        if not hasattr(response, "xpath"):
            return
        for href in response.xpath("//a/@href").getall():
            url = urldefrag(urljoin(response.url, href))[0]
            if urlsplit(url).netloc == self.host and url not in self.seen:
                self.seen.add(url)
                yield scrapy.Request(url, dont_filter=True)
