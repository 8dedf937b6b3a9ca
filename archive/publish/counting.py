"""A table page's count and facets at any archive size: what is exact, what is estimated or a sample.

Datasette counts a `?_search=` page and each of its facets with its own SQL
over every match, joining each to its row (at 1,000,000 captures 1.6-4.6 s a
facet for a common word). Here the matches are read newest first from the
FTS index alone and stopped: the count comes from the index (exact when it
is quick, else estimated from how densely the newest matches lie), a count
narrowed by other filters is estimated from the newest matches, the facets
count the newest `sample` rows (exact when there are no more), and the page
says which. `_counts=exact` gives Datasette's own exact counting.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from datasette.utils import escape_sqlite

# The reader's way to Datasette's own exact count and facets, under its time limits.
EXACT_ARG = "_counts"
EXACT_VALUE = "exact"


@dataclass(frozen=True)
class Search:
    """How Datasette's `?_search=` clause for a table reads, and the cheaper forms of it."""

    pk: str
    fts_table: str
    raw: bool

    @property
    def match(self) -> str:
        return ":search" if self.raw else "escape_fts(:search)"

    @property
    def where(self) -> str:
        """The clause as datasette/filters.py writes it: every match, joined by the primary key."""
        fts = escape_sqlite(self.fts_table)
        return f"{escape_sqlite(self.pk)} in (select rowid from {fts} where {fts} match {self.match})"

    def newest(self, limit: int) -> str:
        """The same clause narrowed to the newest `limit` matches (FTS5 reads them in rowid order)."""
        fts = escape_sqlite(self.fts_table)
        return (
            f"{escape_sqlite(self.pk)} in (select rowid from {fts} where {fts} match {self.match} "
            f"order by rowid desc limit {int(limit)})"
        )

    def probe(self, table: str) -> str:
        """The same rows, tested one at a time: a scan in index order stops at the page's size
        instead of reading every match first. Cheap only when matches are frequent."""
        fts = escape_sqlite(self.fts_table)
        return (
            f"exists (select 1 from {fts} where {fts} match {self.match} "
            f"and rowid = {escape_sqlite(table)}.{escape_sqlite(self.pk)})"
        )

    def matches(self, limit: int) -> str:
        """SQL for (matches read, the lowest rowid among them), newest first, stopped at `limit`."""
        fts = escape_sqlite(self.fts_table)
        return (
            f"select count(*), min(rowid) from (select rowid from {fts} where {fts} match {self.match} "
            f"order by rowid desc limit {int(limit)})"
        )

    def count(self) -> str:
        fts = escape_sqlite(self.fts_table)
        return f"select count(*) from {fts} where {fts} match {self.match}"


def where_of(sql: str, table: str) -> str | None:
    """The WHERE of a table query as Datasette writes it ('' for none; None if it is not one)."""
    found = re.fullmatch(
        rf"\s*select .*? from {re.escape(escape_sqlite(table))}(?: where (.*?))?\s*", sql, flags=re.DOTALL
    )
    return None if found is None else (found.group(1) or "")


def estimate(read: int, lowest: int, first: int, last: int) -> int:
    """Matches in rowids first..last, from `read` matches found in lowest..last: as dense below."""
    span = max(last - lowest + 1, 1)
    return round(read * (last - first + 1) / span)


@dataclass(frozen=True)
class Counted:
    """What a page's count and facets are: the count (None: not counted), whether it is exact,
    and how many matches the facets counted (None: all of them)."""

    count: int | None
    exact: bool
    sampled: int | None
    exact_url: str
    timed_out: tuple[str, ...] = ()

    def as_json(self) -> dict[str, object]:
        """What the page's JSON and template read: `count` is an estimate unless `count_exact`."""
        return {
            "count": self.count,
            "count_exact": self.exact,
            "facets_sample": self.sampled,
            "exact_url": self.exact_url,
            "timed_out": list(self.timed_out),
        }
