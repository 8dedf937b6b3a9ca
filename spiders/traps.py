"""The similar-URL trap, told from a catalogue: what vouches for a numbered URL.

Past SPYGLASS_MAX_SIMILAR_URLS URLs of one pattern (url_pattern: digits as N),
a new one is held back, not refused: a sitemap listing it, or links to it from
VOUCHING_PAGES different pages, let it through. A catalogue's numbered pages
are linked from many pages (lists, related items, navigation); a calendar's
endless dates are each linked from their neighbours only, and the next one is
found only by fetching this one, so they stay held. What is still held when
the crawl ends is its trap: one fetch_errors row per pattern, and the run is
partial (archive/index/runs.py partial_reason).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from archive.crawl.frontier import Frontier
from archive.crawl.items import FetchError
from archive.index.kinds import ErrorType

# Different pages that must link to a held URL before it is fetched: more than a
# calendar day's neighbours (the day before, the day after, its month), fewer than
# the lists and related items that link to a catalogue's pages.
VOUCHING_PAGES = 5

_DIGITS = re.compile(r"\d+")


def url_pattern(url: str) -> str:
    """The URL with every run of digits as N and query values dropped: a calendar's months share one."""
    parts = urlsplit(url)
    keys = "&".join(sorted(p.split("=")[0] for p in parts.query.split("&") if p))
    path = _DIGITS.sub("N", parts.path)
    return f"{parts.netloc}{path}" + (f"?{_DIGITS.sub('N', keys)}" if keys else "")


class TrapHolding:
    """Holds back URLs past the similar-URL limit until pages vouch for them (a VendorSpider part)."""

    seen: Frontier
    config: Any

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Links as written that this crawler found held: (URL, canonical key), to count
        # each further page linking to them. And what it held itself, for the trap's row.
        self.held_links: dict[str, tuple[str, str]] = {}
        self.held_back: dict[str, tuple[str, str, str | None, int]] = {}

    def _too_similar(self, url: str, key: str, written: str, referrer: str | None, depth: int) -> bool:
        """Count `url` among its look-alikes; past the limit, hold it back (True)."""
        pattern = url_pattern(url)
        most = self.config.max_similar_urls
        if not most or self.seen.count_similar(pattern) <= most:
            return False
        self.seen.hold(key, referrer or "")
        self.held_links[written] = (url, key)
        self.held_back[key] = (url, pattern, referrer, depth)
        return True

    def _vouch(self, written: str, referrer: str | None, listed: bool) -> str | None:
        """Page `referrer` (or a sitemap: `listed`) links to held link `written`: its URL once
        vouched for (to fetch now), else None."""
        url, key = self.held_links[written]
        if not self.seen.vouch(key, referrer or "", 1 if listed else VOUCHING_PAGES):
            return None
        del self.held_links[written]
        return url

    def closing_items(self) -> list[FetchError]:
        """At the end: a trap row per pattern whose URLs no page vouched for (still held)."""
        still = set(self.seen.held(list(self.held_back)))
        counts: dict[str, int] = {}
        for key in still:
            pattern = self.held_back[key][1]
            counts[pattern] = counts.get(pattern, 0) + 1
        most = self.config.max_similar_urls
        rows = []
        for key, (url, pattern, referrer, depth) in self.held_back.items():
            if key not in still or not self.seen.first_hit(pattern):
                continue
            rows.append(
                self.error_item(  # type: ignore[attr-defined]
                    url,
                    ErrorType.TRAP,
                    f"trap: {pattern.removeprefix(urlsplit(url).netloc)} after {most:,} similar URLs "
                    f"(SPYGLASS_MAX_SIMILAR_URLS: a crawler trap?); {counts[pattern]:,} such URLs, each "
                    f"linked from fewer than {VOUCHING_PAGES} pages and listed in no sitemap, "
                    "were not followed",
                    referrer,
                    depth,
                )
            )
        return rows
