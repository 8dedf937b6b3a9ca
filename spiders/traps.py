"""The similar-URL trap, told from a catalogue: what vouches for a numbered URL.

Past SPYGLASS_MAX_SIMILAR_URLS URLs of one pattern (url_pattern: digits as N),
a new one is held back, not refused: a sitemap listing it, or links to it from
VOUCHING_PAGES different pages, let it through. A catalogue's numbered pages
are linked from many pages (lists, related items, navigation); a calendar's
endless dates are each linked from their neighbours only, and the next one is
found only by fetching this one, so they stay held. What is still held when
the crawl ends is its trap: one fetch_errors row per pattern, and the run is
partial (archive/index/runs.py partial_reason). In Redis mode the ingest
writes those rows when it finishes the run (archive/cluster/jobs.py).
"""

from __future__ import annotations

from typing import Any

from archive.crawl.frontier import VOUCHING_PAGES, Frontier, Trap, trap_error, url_pattern
from archive.crawl.items import FetchError

__all__ = ["TrapHolding", "url_pattern"]


class TrapHolding:
    """Holds back URLs past the similar-URL limit until pages vouch for them (a VendorSpider part)."""

    seen: Frontier
    config: Any
    source: Any

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Links as written found held (by this crawler or another worker of the run):
        # (URL, canonical key), to count each further page that links to them.
        self.held_links: dict[str, tuple[str, str]] = {}

    def _too_similar(self, url: str, key: str, written: str, referrer: str | None, depth: int) -> bool:
        """Count `url` among its look-alikes; past the limit, hold it back (True)."""
        pattern = url_pattern(url)
        most = self.config.max_similar_urls
        if not most or self.seen.count_similar(pattern) <= most:
            return False
        self.seen.hold(key, referrer or "", Trap(pattern, url, referrer, depth, most))
        self.held_links[written] = (url, key)
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
        """At the end of a crawl by one process: a trap row per pattern whose URLs no page vouched
        for (still held). A Redis worker's end is not its run's: the ingest writes them then."""
        if self.seen.shared:
            return []
        return [
            trap_error(trap, held, self.source.name)
            for trap, held in self.seen.traps()
            if self.seen.first_hit(trap.pattern)
        ]
