"""A crawl run's frontier bookkeeping: which URLs are taken, how many look alike, which limits were hit.

Spyglass's spiders keep their own seen-set of canonical URLs (Scrapy's
dupefilter is off: fingerprinting every link was the main cost of link
following, MEASURED.md). One crawler keeps it in memory (`LocalFrontier`);
in Redis mode every worker of a run shares one in Redis
(archive/cluster/frontier.py), so no URL is fetched twice and the page and
trap limits count for the run, not for each worker.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

from archive.crawl.fingerprints import Fingerprints
from archive.crawl.items import FetchError
from archive.index.kinds import ErrorType
from archive.times import iso, utc_now

# What `claim` says of a URL.
NEW = "new"  # taken now: this crawler fetches it
SEEN = "seen"  # taken before (by this crawler or another worker of the run)
FULL = "full"  # not taken: the run already holds `limit` URLs
HELD = "held"  # taken, but held back as a crawler trap's until enough pages link to it (vouch)


# Different pages that must link to a held URL before it is fetched: more than a
# calendar day's neighbours (the day before, the day after, its month), fewer than
# the lists and related items that link to a catalogue's pages (spiders/traps.py).
VOUCHING_PAGES = 5

_DIGITS = re.compile(r"\d+")


def url_pattern(url: str) -> str:
    """The URL with every run of digits as N and query values dropped: a calendar's months share one."""
    parts = urlsplit(url)
    keys = "&".join(sorted(p.split("=")[0] for p in parts.query.split("&") if p))
    path = _DIGITS.sub("N", parts.path)
    return f"{parts.netloc}{path}" + (f"?{_DIGITS.sub('N', keys)}" if keys else "")


@dataclass(frozen=True)
class Trap:
    """The first URL of a look-alike pattern held back: what the trap's fetch_errors row names."""

    pattern: str
    url: str
    referrer: str | None
    depth: int
    most: int  # the limit (SPYGLASS_MAX_SIMILAR_URLS) it went past


def trap_error(trap: Trap, held: int, source: str) -> FetchError:
    """The fetch_errors row of a pattern whose `held` URLs no page vouched for, by the end."""
    return FetchError(
        url=trap.url,
        source=source,
        error_type=ErrorType.TRAP,
        reason=(
            f"trap: {trap.pattern.removeprefix(urlsplit(trap.url).netloc)} after {trap.most:,} similar "
            f"URLs (SPYGLASS_MAX_SIMILAR_URLS: a crawler trap?); {held:,} such URLs, each linked from "
            f"fewer than {VOUCHING_PAGES} pages and listed in no sitemap, were not followed"
        ),
        occurred_at=iso(utc_now()),
        referrer=trap.referrer,
        depth=trap.depth,
    )


class Frontier(Protocol):
    """What a spider asks of its run's frontier."""

    shared: bool  # True when other workers take URLs from it too (Redis mode)

    def claim(self, key: str, limit: int) -> str:
        """Take canonical URL `key` unless it was taken or `limit` URLs were: NEW, SEEN, HELD or FULL."""
        ...

    def hold(self, key: str, referrer: str, trap: Trap) -> None:
        """Hold back `key` (taken, one of too many similar URLs of `trap.pattern`) until pages
        vouch for it; `trap` names the pattern's first one."""
        ...

    def vouch(self, key: str, referrer: str, needed: int) -> bool:
        """Page `referrer` links to held `key`: True (and `key` no longer held, to fetch now) once
        `needed` different pages have; False otherwise, or if `key` is not held."""
        ...

    def traps(self) -> list[tuple[Trap, int]]:
        """Each pattern with URLs still held back: its first one, and how many are held."""
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
    """The frontier of a run crawled by one process, in memory: the URLs taken as fingerprints.

    `keep`: also list the canonical URLs taken as pages, in `kept` (a Redis run's
    seed publishes them to the run's shared seen-set).
    """

    shared = False

    def __init__(self, keep: bool = False) -> None:
        self.seen = Fingerprints()
        self.requisites = Fingerprints()
        self.kept: list[str] | None = [] if keep else None
        self.similar: dict[str, int] = {}
        self.hit: set[str] = set()
        self.holding: dict[str, set[str]] = {}  # held key -> the pages that link to it
        self.patterns: dict[str, str] = {}  # held key -> its pattern
        self.first_held: dict[str, Trap] = {}  # pattern -> its first URL held

    def claim(self, key: str, limit: int) -> str:
        if key in self.holding:
            return HELD
        if key in self.seen or key in self.requisites:
            return SEEN
        if len(self.seen) >= limit:
            return FULL
        self.add(key)
        return NEW

    def claim_requisite(self, key: str) -> bool:
        if key in self.seen or key in self.requisites:
            return False
        self.requisites.add(key)
        return True

    def add(self, key: str) -> None:
        self.seen.add(key)
        if self.kept is not None:
            self.kept.append(key)

    def hold(self, key: str, referrer: str, trap: Trap) -> None:
        self.holding[key] = {referrer}
        self.patterns[key] = trap.pattern
        self.first_held.setdefault(trap.pattern, trap)

    def vouch(self, key: str, referrer: str, needed: int) -> bool:
        pages = self.holding.get(key)
        if pages is None:
            return False
        pages.add(referrer)
        if len(pages) < needed:
            return False
        del self.holding[key]
        del self.patterns[key]
        return True

    def traps(self) -> list[tuple[Trap, int]]:
        counts = Counter(self.patterns.values())
        return [(self.first_held[pattern], held) for pattern, held in counts.items()]

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
