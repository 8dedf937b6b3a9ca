"""The vendor spider: a vendor's marketing pages, within the source's scope."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urldefrag, urljoin

import scrapy
from scrapy import signals
from scrapy.exceptions import DontCloseSpider
from scrapy.http import HtmlResponse, Response
from scrapy.utils.sitemap import Sitemap
from w3lib.url import canonicalize_url, safe_url_string

from archive.archive import Archive
from archive.crawl.capture import WRITER_LINKS
from archive.crawl.conditional import STORED_LINKS
from archive.crawl.fingerprints import Fingerprints
from archive.crawl.frontier import FULL, HELD, SEEN, Frontier, LocalFrontier
from archive.crawl.items import FetchError
from archive.index.captures import last_capture_times
from archive.index.db import open_index
from archive.index.kinds import ErrorType
from archive.index.links import PageLinks
from archive.times import parse_when

from .base import SourceSpider
from .outlinks import followed, page_links
from .requisites import RequisitesMixin
from .traps import TrapHolding

REDIRECT_STATUSES = {301, 302, 303, 307, 308}


class VendorSpider(TrapHolding, RequisitesMixin, SourceSpider):
    """Follows links and sitemaps from a vendor source's start URLs, one capture per response,
    and fetches what each page needs to render (spiders/requisites.py)."""

    name = "vendor"
    kind = "vendor"
    # A 304 answer comes bare, with the page's links as kept at its capture (archive/crawl/conditional.py).
    follows_stored_links = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        frontier = kwargs.pop("frontier", None)
        super().__init__(*args, **kwargs)
        # Canonical URLs already scheduled, look-alike counts, limits hit: Scrapy's
        # dupefilter is off (settings.py). In Redis mode the run's, shared by its workers.
        self.seen: Frontier = frontier if frontier is not None else LocalFrontier()
        # Every link as written, already judged: most links on a page were seen
        # before, and canonicalising each again was the spider's largest cost.
        # Fingerprints: it grows with the site (archive/crawl/fingerprints.py).
        self.judged = Fingerprints()
        # recrawl: changed. Pages captured before wait until the start URLs
        # (sitemaps among them) are done, so a sitemap can say they are unchanged.
        self.previous: dict[str, tuple[str, datetime, int]] = {}
        self.waiting: dict[str, scrapy.Request] = {}
        self.unchanged: set[str] = set()
        self.released = True
        self.starts_pending = 0

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> VendorSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        if spider.source.recrawl == "changed":
            spider.previous = _previous_captures(Archive.from_config(spider.config), spider.source.name)
            # Workers sharing a frontier cannot hold pages back for one another's sitemaps.
            spider.released = not spider.previous or spider.seen.shared
            crawler.signals.connect(spider.spider_idle, signal=signals.spider_idle)
        return spider

    async def start(self) -> AsyncIterator[Any]:
        requests = [self._request(url, depth=0, referrer=None, start=True) for url in self.source.urls]
        starts = [r for r in requests if isinstance(r, scrapy.Request)]
        self.starts_pending = len(starts)
        for request in starts:
            request.meta["spyglass_start"] = True
        for request in requests:
            if request is not None:
                yield request
        if not starts:
            for request in self._release():
                yield request

    @property
    def max_depth(self) -> int:
        return min(self.source.scope.max_depth, self.config.max_depth)

    @property
    def max_pages(self) -> int:
        return min(self.source.scope.max_pages, self.config.max_pages)

    def _request(
        self,
        url: str,
        depth: int,
        referrer: str | None,
        hops: int = 0,
        chain: tuple[str, ...] = (),
        start: bool = False,
        recheck: bool = False,
        listed: bool = False,
    ) -> scrapy.Request | FetchError | None:
        """A request for `url` if it is new, in scope and within the limits; a FetchError
        the first time a limit stops the crawl; None for what is simply not ours to fetch.

        `recheck`: ask the frontier even about a link judged before (a page handed back
        after its Redis worker died: the links it had taken were given back too).
        `listed`: the site's sitemap lists it, which vouches for it: a catalogue's
        numbered pages are listed, a calendar's endless dates are not (spiders/traps.py).
        """
        if url in self.judged and not recheck:
            if url not in self.held_links:
                return None
            vouched = self._vouch(url, referrer, listed)
            return self._page_request(vouched, depth, referrer) if vouched else None
        self.judged.add(url)
        written, url = url, safe_url_string(urldefrag(url)[0])
        if not self.source.scope.allows(url):
            return None
        key = canonicalize_url(url)
        verdict = self.seen.claim(key, self.max_pages)
        if verdict == HELD:  # held back by another worker of the run
            self.held_links[written] = (url, key)
            vouched = self._vouch(written, referrer, listed)
            return self._page_request(vouched, depth, referrer) if vouched else None
        if verdict == SEEN:
            return None
        if verdict == FULL:
            return self._limit_once(
                "max_pages",
                url,
                referrer,
                depth,
                ErrorType.LIMIT,
                f"max_pages: {self.max_pages:,} URLs (scope.max_pages, SPYGLASS_MAX_PAGES); "
                "this and further links were not followed",
            )
        limit = self.settings.getint("URLLENGTH_LIMIT", 2083)
        if limit and len(url) > limit:
            return self.error_item(
                url,
                ErrorType.URL_TOO_LONG,
                (f"URL is {len(url)} characters, over the limit of {limit} (URLLENGTH_LIMIT); not fetched"),
                referrer,
                depth,
            )
        if not listed and self._too_similar(url, key, written, referrer, depth):
            return None
        return self._page_request(url, depth, referrer, hops, chain, start, key)

    def _page_request(
        self,
        url: str,
        depth: int,
        referrer: str | None,
        hops: int = 0,
        chain: tuple[str, ...] = (),
        start: bool = False,
        key: str | None = None,
    ) -> scrapy.Request | None:
        """The request for page `url`, taken in the frontier as `key`; None while it waits for the
        start URLs (recrawl: changed)."""
        key = key or canonicalize_url(url)
        request = scrapy.Request(
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
                "spyglass_key": key,  # as taken in the frontier
            },
        )
        if not start and not self.released and key in self.previous:
            self.waiting[key] = request
            return None
        return request

    def _limit_once(
        self, which: str, url: str, referrer: str | None, depth: int, error_type: str, reason: str
    ) -> FetchError | None:
        """One fetch_errors row per limit per run, not one per link it stopped."""
        if not self.seen.first_hit(which):
            return None
        return self.error_item(url, error_type, reason, referrer, depth)

    def parse(self, response: Response) -> Iterator[Any]:
        yield from self._parse(response)
        yield from self._start_done(response.meta)

    def _parse(self, response: Response) -> Iterator[Any]:
        links = self._page_links(response)
        yield self.capture(response, links=links)
        gave_up = response.meta.get("spyglass_gave_up")
        if gave_up:
            kind = ErrorType.RATE_LIMITED if response.status == 429 else ErrorType.SERVER_ERROR
            yield self.error_item(
                response.url,
                kind,
                gave_up,
                response.meta.get("spyglass_referrer"),
                response.meta.get("spyglass_depth", 0),
            )
        depth = response.meta.get("spyglass_depth", 0)
        if response.status in REDIRECT_STATUSES:
            yield from self._follow_redirect(response, depth)
            return
        # The deepest pages and error pages are drawn with their requisites too.
        yield from self.requisites_of(response, links.requisites if links is not None else None)
        if depth >= self.max_depth or response.status >= 400:
            return
        if _is_sitemap(response):
            yield from self._follow_sitemap(response, depth)
            return
        if links is None:
            links = page_links(response, requisites=False)
        recheck = bool(response.meta.get("spyglass_handed_back"))
        for url in followed(response.url, links) if links is not None else ():
            request = self._request(url, depth + 1, response.url, recheck=recheck)
            if request is not None:
                yield request

    def _page_links(self, response: Response) -> PageLinks | None:
        """What a page links to: kept at its capture when it answered 304 (archive/crawl/conditional.py),
        else found now in a page that can answer 304 next time (a 200; a sitemap is read again):
        read by the writer from its own parse of the page when it could, else parsed here."""
        kept = response.meta.get(STORED_LINKS)
        if kept is not None:
            return kept
        if response.status != 200 or _is_sitemap(response):
            return None
        found = response.meta.get(WRITER_LINKS)
        if found is not None and isinstance(response, HtmlResponse):
            return found  # the selector would parse the same tree from the same text
        return page_links(response, self.source.requisites)

    def links_wanted(self, request: scrapy.Request, response: Response) -> bool | None:
        """For the capture middleware: whether to ask the writer for this page's links (None: no;
        True: with its requisites), so the page is parsed once, in the writer (archive/crawl/parsed.py)."""
        if response.status != 200 or request.callback != self.parse or STORED_LINKS in request.meta:
            return None
        return self.source.requisites

    def _follow_redirect(self, response: Response, depth: int) -> Iterator[Any]:
        location = response.headers.get("Location")
        if not location:
            return
        hops = response.meta.get("spyglass_hops", 0) + 1
        chain = tuple(response.meta.get("spyglass_chain", ())) + (response.url,)
        target = safe_url_string(urljoin(response.url, location.decode("latin-1")))
        # Errors name the chain's first URL and the page that linked to it.
        referrer = response.meta.get("spyglass_chain_referrer", response.meta.get("spyglass_referrer"))
        if canonicalize_url(target) in {canonicalize_url(u) for u in chain}:
            yield self.error_item(
                chain[0],
                ErrorType.REDIRECT,
                (f"redirect loop: {response.url} redirects back to {target} after {hops} hop(s)"),
                referrer,
                depth,
            )
            return
        most = self.settings.getint("REDIRECT_MAX_TIMES", 10)
        if hops > most:
            yield self.error_item(
                chain[0],
                ErrorType.REDIRECT,
                (
                    f"too many redirects: still redirecting after {most} hops "
                    f"(REDIRECT_MAX_TIMES), last to {target}"
                ),
                referrer,
                depth,
            )
            return
        request = self._request(
            target, depth, response.url, hops, chain, recheck=bool(response.meta.get("spyglass_handed_back"))
        )
        if isinstance(request, scrapy.Request):
            request.meta["spyglass_chain_referrer"] = referrer
        if request is not None:
            yield request

    def _follow_sitemap(self, response: Response, depth: int) -> Iterator[Any]:
        for entry in _sitemap_entries(response.body):
            url = urljoin(response.url, entry.get("loc", ""))
            if self._unchanged_since_capture(url, entry.get("lastmod")):
                continue
            request = self._request(
                url,
                depth + 1,
                response.url,
                recheck=bool(response.meta.get("spyglass_handed_back")),
                listed=True,
            )
            if request is not None:
                yield request

    def _unchanged_since_capture(self, url: str, lastmod: str | None) -> bool:
        """True (and the page is skipped) when the sitemap dates it before our last capture."""
        if not self.previous or not lastmod:
            return False
        key = canonicalize_url(safe_url_string(urldefrag(url)[0]))
        known = self.previous.get(key)
        modified = _parse_lastmod(lastmod)
        if known is None or modified is None:
            return False
        captured = known[1]
        if len(lastmod.strip()) <= 10:
            # A bare date cannot tell a change later that day: only earlier days count.
            unchanged = modified.date() < captured.date()
        else:
            unchanged = modified < captured
        already_fetched = key in self.seen and key not in self.waiting
        if unchanged and not already_fetched and key not in self.unchanged:
            self.unchanged.add(key)
            self.seen.add(key)
            self.waiting.pop(key, None)
            self.crawler.stats.inc_value("spyglass/skipped")
        return unchanged

    def _release(self) -> list[scrapy.Request]:
        """Start URLs are done: the pages no sitemap vouched for, to fetch now.

        That is the pages that waited, and the pages captured before that no
        fetched page links to any more (their linking pages were skipped).
        """
        if self.released:
            return []
        self.released = True
        waiting, self.waiting = self.waiting, {}
        requests = [r for key, r in waiting.items() if key not in self.unchanged]
        for key, (url, _, depth) in self.previous.items():
            if key not in self.seen:
                request = self._request(url, depth, None)
                if isinstance(request, scrapy.Request):
                    requests.append(request)
        return requests

    def _start_done(self, meta: dict) -> list[scrapy.Request]:
        """Count down the start URLs; after the last one, release the waiting pages."""
        if self.released or not meta.get("spyglass_start"):
            return []
        self.starts_pending -= 1
        return self._release() if self.starts_pending <= 0 else []

    def spider_idle(self) -> None:
        """A fallback: release the waiting pages if a start URL never reported back."""
        requests = self._release()
        if requests:
            for request in requests:
                self.crawler.engine.crawl(request)
            raise DontCloseSpider

    def errback(self, failure: Any) -> Iterator[Any]:
        yield from super().errback(failure)
        request = getattr(failure, "request", None)
        if request is not None:
            yield from self._start_done(request.meta)


def _sitemap_entries(body: bytes) -> Iterator[dict[str, Any]]:
    """A sitemap's entries one at a time as they are read, none after an error.

    Read as the requests are made, not all first: the 20,500 entries of the
    benchmark site's sitemap held 9 MB of the crawler at once.
    """
    try:
        yield from Sitemap(body)
    except Exception:  # a broken sitemap is a page, not a crash
        return


def _is_sitemap(response: Response) -> bool:
    start = response.body[:512].lstrip()
    return start.startswith(b"<?xml") or b"<urlset" in start or b"<sitemapindex" in start


def _parse_lastmod(value: str) -> datetime | None:
    """A sitemap <lastmod> (W3C datetime) as an aware UTC datetime, or None if unreadable."""
    text = value.strip().replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _previous_captures(archive: Archive, source: str) -> dict[str, tuple[str, datetime, int]]:
    """Canonical URL -> (URL, time of its latest successful capture, depth) for this source."""
    if not archive.exists():
        return {}
    index = open_index(archive)
    try:
        return {
            canonicalize_url(url): (url, parse_when(at), depth)
            for url, at, depth in last_capture_times(index, source)
        }
    finally:
        index.close()
