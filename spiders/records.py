"""The records spider: a records portal's listing pages, release pages and released files."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import unquote, urldefrag, urljoin, urlsplit

import scrapy
from parsel import Selector
from scrapy.http import Response, TextResponse
from w3lib.url import canonicalize_url, safe_url_string

from archive.archive import Archive
from archive.index.db import open_index
from archive.records.budget import ServiceBudget, download_slots
from archive.records.findings import Findings
from archive.records.items import DocumentFile, Release
from archive.records.store import known_files, known_releases
from archive.records.walk import iso_date, links_of, select, table_header, text_of

from .base import SourceSpider
from .records_api import ApiWalking

REDIRECT_STATUSES = {301, 302, 303, 307, 308}
_FILENAME = re.compile(r"""filename\*?=(?:UTF-8'')?["']?([^"';]+)""", re.I)


class RecordsSpider(ApiWalking, SourceSpider):
    """Walks a records source as its `walk` says; every page, API response and file becomes a capture."""

    name = "records"
    kind = "records"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Canonical URLs already requested; a file linked by two releases is fetched once.
        self.seen: set[str] = set()

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> RecordsSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        walk = spider.source.walk
        if walk is not None and walk.api is not None:
            spider._prepare_api(crawler, kwargs.get("credentials") or {})
        return spider

    def _prepare_api(self, crawler: Any, credentials: dict[str, str]) -> None:
        """What a JSON walk needs: the service's budget slot, its token, what earlier crawls hold."""
        budget = self.api_walk.budget
        if budget != "none":
            slots = {
                **crawler.settings.getdict("DOWNLOAD_SLOTS"),
                **download_slots(ServiceBudget.from_config(self.config), budget),
            }
            crawler.settings.set("DOWNLOAD_SLOTS", slots, priority="spider")
        self.token = credentials.get(budget, "")
        self.api_hosts = {urlsplit(url).netloc for url in self.source.urls}  # host and port
        self.known_versions, self.known_files = {}, set()
        archive = Archive.from_config(self.config)
        if archive.exists():
            index = open_index(archive)
            try:
                self.known_versions = known_releases(index, self.source.name)
                self.known_files = known_files(index, self.source.name)
            finally:
                index.close()
        self.fetched_cites, self.lookups, self.waiting = set(), {}, {}
        self.findings = Findings()

    async def start(self) -> AsyncIterator[scrapy.Request]:
        walk = self.source.walk
        api = walk is not None and walk.api is not None
        for url in self.source.urls:
            if api:
                request = self.api_request(url, self.parse_api_listing, 0, None)
            else:
                request = self._request(url, self.parse_listing, depth=0, referrer=None)
            if request is not None:
                yield request

    def _request(
        self, url: str, callback: Any, depth: int, referrer: str | None, in_scope: bool = True, **meta: Any
    ) -> scrapy.Request | None:
        """A request for a URL not yet requested, within the source's scope and page budget."""
        url = safe_url_string(urldefrag(url)[0])
        if urlsplit(url).scheme not in ("http", "https"):
            return None
        if in_scope and not self.source.scope.allows(url):
            return None
        key = canonicalize_url(url)
        if key in self.seen or len(self.seen) >= self.source.scope.max_pages:
            return None
        self.seen.add(key)
        request = scrapy.Request(
            url,
            callback=callback,
            errback=self.errback,
            dont_filter=True,
            meta={
                "spyglass_depth": depth,
                "spyglass_referrer": referrer,
                "dont_obey_robotstxt": not self.source.robots,
                **meta,
            },
        )
        return self.on_api_terms(request) if self.source.walk and self.source.walk.api else request

    def _redirect(self, response: Response, callback: Any) -> Iterator[scrapy.Request]:
        """Follow a redirect ourselves (REDIRECT_ENABLED is off) so each hop is a capture."""
        location = response.headers.get("Location")
        hops = response.meta.get("spyglass_hops", 0) + 1
        if not location or hops > self.settings.getint("REDIRECT_MAX_TIMES", 20):
            return
        target = urljoin(response.url, location.decode("latin-1"))
        keep = {k: v for k, v in response.meta.items() if k.startswith(("spyglass_link", "spyglass_api_"))}
        request = self._request(
            target,
            callback,
            response.meta.get("spyglass_depth", 0),
            response.url,
            in_scope=callback not in (self.parse_file, self.parse_page_text, self.parse_human_page),
            spyglass_hops=hops,
            **keep,
        )
        if request is not None:
            if callback == self.parse_agency:
                request.errback = self.agency_failed
            yield request

    def parse_listing(self, response: Response) -> Iterator[Any]:
        """A listing page: releases (as links or table rows), or a directory's files; then the next page."""
        yield self.capture(response)
        if response.status in REDIRECT_STATUSES:
            yield from self._redirect(response, self.parse_listing)
            return
        if response.status >= 400 or not isinstance(response, TextResponse):
            return
        walk = self.source.walk
        assert walk is not None
        depth = response.meta.get("spyglass_depth", 0)
        if walk.mode == "rows":
            for number, row in enumerate(select(response.selector, walk.release_rows or ""), 1):
                yield from self._release(response, row, table_header(row), row_number=number)
        elif walk.mode == "pages":
            if depth < self.source.scope.max_depth:
                for href in links_of(response.selector, walk.release_links):
                    request = self._request(
                        urljoin(response.url, href), self.parse_release, depth + 1, response.url
                    )
                    if request is not None:
                        yield request
        else:
            yield from self._directory(response, depth)
        for href in links_of(response.selector, walk.next_page)[:1]:
            # Next pages continue the same listing: they do not count as depth.
            request = self._request(urljoin(response.url, href), self.parse_listing, depth, response.url)
            if request is not None:
                yield request

    def parse_release(self, response: Response) -> Iterator[Any]:
        """A release page: its fields, then a request for each attached file not yet fetched."""
        yield self.capture(response)
        if response.status in REDIRECT_STATUSES:
            yield from self._redirect(response, self.parse_release)
            return
        if response.status >= 400 or not isinstance(response, TextResponse):
            return
        yield from self._release(response, response.selector, None)

    def _release(
        self,
        response: Response,
        scope: Selector,
        header: list[str] | None,
        row_number: int | None = None,
        files: list[str] | None = None,
    ) -> Iterator[Any]:
        walk = self.source.walk
        assert walk is not None
        title = text_of(scope, walk.title, header)
        if title is None and row_number is None:
            title = text_of(response.selector, "title")
        reference = text_of(scope, walk.reference, header)
        released_text = text_of(scope, walk.released_at, header)
        if files is None:
            files = [urljoin(response.url, h) for h in links_of(scope, walk.files, header)]
        files = list(dict.fromkeys(safe_url_string(urldefrag(f)[0]) for f in files))
        key = response.url
        if row_number is not None:
            key = f"{response.url}#{reference or title or f'row-{row_number}'}"
            if not files and not title:
                return  # a header or spacer row, not a release
        yield Release(
            source=self.source.name,
            key=key,
            page_url=response.url,
            record_id=response.meta["spyglass_warc"].record_id,
            title=title,
            agency=text_of(scope, walk.agency, header) or self.source.agency,
            reference=reference,
            released_text=released_text,
            released_on=iso_date(released_text),
            file_urls=files,
            entry_text=" ".join(" ".join(scope.xpath(".//text()").getall()).split()) or None
            if row_number is not None
            else None,
        )
        depth = response.meta.get("spyglass_depth", 0)
        for url in files:
            # Released files are often hosted elsewhere (a CDN, a document store): a
            # file a release links to is fetched wherever it is, one hop and no further.
            request = self._request(
                url, self.parse_file, depth + 1, response.url, in_scope=False, spyglass_link=url
            )
            if request is not None:
                yield request

    def _directory(self, response: Response, depth: int) -> Iterator[Any]:
        """A plain index of files: the page is one release; subdirectories are listings too."""
        files, subdirectories = [], []
        for href in response.xpath("//a/@href").getall():
            href = href.strip()
            if not href or href.startswith(("?", "#", "mailto:", "javascript:")):
                continue
            url = urljoin(response.url, href)
            if url.endswith("/"):
                if url.startswith(response.url) and url != response.url:
                    subdirectories.append(url)
            elif urlsplit(url).path.startswith(urlsplit(response.url).path.rsplit("/", 1)[0]):
                files.append(url)
        yield from self._release(response, response.selector, None, files=files)
        if depth < self.source.scope.max_depth:
            for url in subdirectories:
                request = self._request(url, self.parse_listing, depth + 1, response.url)
                if request is not None:
                    yield request

    def parse_file(self, response: Response) -> Iterator[Any]:
        """A released file: archived like any capture, and recorded as a document."""
        yield self.capture(response)
        if response.status in REDIRECT_STATUSES:
            yield from self._redirect(response, self.parse_file)
            return
        if response.status >= 400:
            return  # the capture shows what the server said; the link stays without a document
        location = response.meta["spyglass_warc"]
        ctype = response.headers.get("Content-Type")
        yield DocumentFile(
            source=self.source.name,
            linked_url=response.meta.get("spyglass_link", response.url),
            file_url=response.url,
            file_name=_file_name(response),
            record_id=location.record_id,
            sha256=location.sha256,
            size=len(response.body),
            content_type=ctype.decode("latin-1") if ctype else None,
            cite_url=response.meta.get("spyglass_link_cite"),
        )
        yield from self.page_text_requests(response)


def _file_name(response: Response) -> str:
    """The name the server gave the file (Content-Disposition), else the URL's last segment."""
    disposition = response.headers.get("Content-Disposition")
    if disposition:
        found = _FILENAME.search(disposition.decode("latin-1"))
        if found:
            return unquote(found.group(1)).strip() or "file"
    return unquote(urlsplit(response.url).path.rsplit("/", 1)[-1]) or "file"
