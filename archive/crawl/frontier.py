"""A crawl run's frontier bookkeeping: which URLs are taken, how many look alike, which limits were hit.

Spyglass's spiders keep their own seen-set of canonical URLs (Scrapy's
dupefilter is off: fingerprinting every link was the main cost of link
following, MEASURED.md). One crawler keeps it in memory (`LocalFrontier`);
in Redis mode every worker of a run shares one in Redis
(archive/cluster/frontier.py), so no URL is fetched twice and the page and
trap limits count for the run, not for each worker.
"""

from __future__ import annotations

from typing import Protocol

# What `claim` says of a URL.
NEW = "new"  # taken now: this crawler fetches it
SEEN = "seen"  # taken before (by this crawler or another worker of the run)
FULL = "full"  # not taken: the run already holds `limit` URLs
HELD = "held"  # taken, but held back as a crawler trap's until enough pages link to it (vouch)


class Frontier(Protocol):
    """What a spider asks of its run's frontier."""

    shared: bool  # True when other workers take URLs from it too (Redis mode)

    def claim(self, key: str, limit: int) -> str:
        """Take canonical URL `key` unless it was taken or `limit` URLs were: NEW, SEEN, HELD or FULL."""
        ...

    def hold(self, key: str, referrer: str) -> None:
        """Hold back `key` (taken, one of too many similar URLs) until pages vouch for it."""
        ...

    def vouch(self, key: str, referrer: str, needed: int) -> bool:
        """Page `referrer` links to held `key`: True (and `key` no longer held, to fetch now) once
        `needed` different pages have; False otherwise, or if `key` is not held."""
        ...

    def held(self, keys: list[str]) -> list[str]:
        """Those of `keys` still held back."""
        ...

    def claim_requisite(self, key: str) -> bool:
        """Take `key` as a page requisite unless it was taken as a page or a requisite.

        Requisites do not count against the page limit; a URL taken as one is
        not taken again as a page (its capture is already in the archive).
        """
        ...

    def add(self, key: str) -> None:
        """Take `key` without a request (a page a sitemap says is unchanged)."""
        ...

    def __contains__(self, key: object) -> bool: ...

    def count_similar(self, pattern: str) -> int:
        """Count one more URL of `pattern` (archive/spiders' url_pattern); the count so far."""
        ...

    def first_hit(self, limit: str) -> bool:
        """True the first time `limit` stops the run (its fetch_errors row is written once)."""
        ...


class LocalFrontier:
    """The frontier of a run crawled by one process, in memory."""

    shared = False

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self.requisites: set[str] = set()
        self.similar: dict[str, int] = {}
        self.hit: set[str] = set()
        self.holding: dict[str, set[str]] = {}  # held key -> the pages that link to it

    def claim(self, key: str, limit: int) -> str:
        if key in self.holding:
            return HELD
        if key in self.seen or key in self.requisites:
            return SEEN
        if len(self.seen) >= limit:
            return FULL
        self.seen.add(key)
        return NEW

    def claim_requisite(self, key: str) -> bool:
        if key in self.seen or key in self.requisites:
            return False
        self.requisites.add(key)
        return True

    def add(self, key: str) -> None:
        self.seen.add(key)

    def hold(self, key: str, referrer: str) -> None:
        self.holding[key] = {referrer}

    def vouch(self, key: str, referrer: str, needed: int) -> bool:
        pages = self.holding.get(key)
        if pages is None:
            return False
        pages.add(referrer)
        if len(pages) < needed:
            return False
        del self.holding[key]
        return True

    def held(self, keys: list[str]) -> list[str]:
        return [key for key in keys if key in self.holding]

    def __contains__(self, key: object) -> bool:
        return key in self.seen

    def __len__(self) -> int:
        return len(self.seen)

    def count_similar(self, pattern: str) -> int:
        self.similar[pattern] = self.similar.get(pattern, 0) + 1
        return self.similar[pattern]

    def first_hit(self, limit: str) -> bool:
        if limit in self.hit:
            return False
        self.hit.add(limit)
        return True
