"""Page requisites: what an archived HTML page needs to render, fetched once each.

Like `wget --page-requisites --span-hosts`, but for requisites only: a page's
stylesheets (and what they @import or url()), images (srcset candidates too),
fonts, icons, media and scripts are fetched from whatever host serves them,
a CDN included, while links are followed only within the source's scope.
Every request still passes the address guard and, when the source obeys it,
robots.txt. A requisite is fetched once per crawl (then once per crawl again,
stored as a revisit record when unchanged), is never followed as a page, and
its capture says how the page referred to it (`captures.requisite`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import urljoin

import scrapy
from scrapy.http import HtmlResponse, Response
from w3lib.url import canonicalize_url, safe_url_string

from archive.crawl.frontier import Frontier
from archive.crawl.items import FetchError
from archive.index.kinds import ErrorType
from archive.text.refs import STYLESHEET, css_refs, decode_css, html_requisites

REDIRECT_STATUSES = {301, 302, 303, 307, 308}
# Stylesheets importing stylesheets: real sites nest two or three deep.
MAX_NESTING = 5


class RequisitesMixin:
    """Adds requisite fetching to a SourceSpider; the spider calls `requisites_of(response)`."""

    source: Any
    config: Any
    settings: Any
    seen: Frontier  # the run's canonical URLs taken, as pages and as requisites

    def requisites_of(
        self, response: Response, found: Sequence[tuple[str, str]] | None = None
    ) -> Iterator[scrapy.Request | FetchError]:
        """Requests for the requisites of an HTML page (none when the source turned them off);
        `found`: its requisites as (URL, kind), already found (spiders/outlinks.py)."""
        if not self.source.requisites:
            return
        if found is None:
            if not isinstance(response, HtmlResponse):
                return
            try:
                found = html_requisites(response.selector.root, response.url)
            except (ValueError, AttributeError):  # not parseable as HTML
                return
        yield from self._requisite_requests(list(found), response, level=1)

    def parse_requisite(self, response: Response) -> Iterator[Any]:
        """Archive a requisite; follow its archived redirect, and a stylesheet's own requisites."""
        meta = response.meta
        kind = meta["spyglass_requisite"]
        yield self.capture(response, requisite=kind)  # type: ignore[attr-defined]
        if response.status in REDIRECT_STATUSES:
            location = response.headers.get("Location")
            hops = meta.get("spyglass_hops", 0) + 1
            if location and hops <= self.settings.getint("REDIRECT_MAX_TIMES", 10):
                target = safe_url_string(urljoin(response.url, location.decode("latin-1")))
                request = self._requisite(
                    target, kind, meta.get("spyglass_referrer"), meta, meta.get("spyglass_level", 1), hops
                )
                if request is not None:
                    yield request
            return
        level = meta.get("spyglass_level", 1)
        content_type = (response.headers.get("Content-Type") or b"").decode("latin-1").lower()
        is_css = "css" in content_type or (kind == STYLESHEET and not content_type)
        if response.status < 300 and is_css and level < MAX_NESTING:
            found = css_refs(decode_css(response.body), response.url)
            yield from self._requisite_requests(found, response, level + 1)

    def _requisite_requests(
        self, found: list[tuple[str, str]], response: Response, level: int
    ) -> Iterator[scrapy.Request | FetchError]:
        most = self.config.max_requisites
        if len(found) > most:
            error = self._limit_once(  # type: ignore[attr-defined]
                "requisites",
                response.url,
                response.meta.get("spyglass_referrer"),
                response.meta.get("spyglass_depth", 0),
                ErrorType.LIMIT,
                f"requisites: {len(found):,} for one page, over {most:,} (SPYGLASS_MAX_REQUISITES); "
                f"only the first {most} were fetched (reported once per crawl)",
            )
            if error is not None:
                yield error
        page = response.meta.get("spyglass_page") or response.url
        meta = {"spyglass_page": page, "spyglass_depth": response.meta.get("spyglass_depth", 0)}
        for url, kind in found[:most]:
            request = self._requisite(url, kind, response.url, meta, level, 0)
            if request is not None:
                yield request

    def _requisite(
        self, url: str, kind: str, referrer: str | None, meta: dict, level: int, hops: int
    ) -> scrapy.Request | None:
        """A request for a requisite not yet requested in this crawl (as a page or a requisite).

        `referrer` is the page or stylesheet that refers to it; meta["spyglass_page"] the page.
        """
        key = canonicalize_url(url)
        if not self.seen.claim_requisite(key):
            return None
        return scrapy.Request(
            url,
            callback=self.parse_requisite,
            errback=self.errback,  # type: ignore[attr-defined]
            dont_filter=True,
            # Before new pages: a page's look is complete soon after the page itself.
            priority=1,
            meta={
                "spyglass_requisite": kind,
                "spyglass_page": meta["spyglass_page"],
                "spyglass_referrer": referrer,
                "spyglass_depth": meta.get("spyglass_depth", 0),
                "spyglass_level": level,
                "spyglass_hops": hops,
                "dont_obey_robotstxt": not self.source.robots,
            },
        )
