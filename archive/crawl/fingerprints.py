"""A set of strings kept as 8-byte fingerprints: a crawl's seen-sets, in a sixth of the memory.

A crawler remembers every link it has judged and every canonical URL it has
taken. As strings in Python sets they cost about 130 bytes each, and they are
the part of a crawler's memory that grows with the site (20,500 pages: some
41,000 strings, 5.5 MB). Here each string is its 64-bit hash, kept in a
sorted array (8 bytes) once a few have gathered in a small set of the
newest: about 17 bytes each. Two different strings share a fingerprint with
a chance of about n / 2**64 per look-up (for 41,000 URLs, 2e-15): then the
second one is taken as seen. The hash is Python's own, the one a set of
strings uses anyway, so fingerprints are only meaningful inside one process.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left

# The newest fingerprints wait in a set until they are this many, or an eighth of those
# sorted, then are merged in: a merge sorts everything again, so each costs O(n log n), and
# letting the set grow with the array keeps their number logarithmic in the set's size.
NEWEST = 1024


class Fingerprints:
    """Membership of strings by fingerprint: `add`, `in`, `len`; no iteration (the strings are gone)."""

    def __init__(self) -> None:
        self._sorted = array("q")
        self._newest: set[int] = set()

    def _has(self, mark: int) -> bool:
        if mark in self._newest:
            return True
        kept = self._sorted
        at = bisect_left(kept, mark)
        return at < len(kept) and kept[at] == mark

    def __contains__(self, text: object) -> bool:
        return self._has(hash(text))

    def add(self, text: str) -> None:
        """Remember `text` (nothing changes if it was)."""
        mark = hash(text)
        if self._has(mark):
            return
        self._newest.add(mark)
        if len(self._newest) > max(NEWEST, len(self._sorted) >> 3):
            self._sorted = array("q", sorted([*self._sorted, *self._newest]))
            self._newest = set()

    def __len__(self) -> int:
        return len(self._sorted) + len(self._newest)

    def __bool__(self) -> bool:
        return len(self) > 0
