"""Records a JSON release names and Spyglass looks up before storing it: its agency, that agency's jurisdiction.

One look-up per record however many releases name it; the releases wait for
it, then go on (archive/sources/api_walk.py `agency_lookup`,
`jurisdiction_lookup`). Mixed into spiders/records_api.py's ApiWalking.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import scrapy
from scrapy.http import Response

from archive.records import api
from archive.records.api import ItemProblem
from archive.sources.api_walk import ApiWalk


def _lookup_url(template: str | None, record: dict | None, base: str) -> str | None:
    """The URL of a record another record names (an agency's jurisdiction), if it names one."""
    if not template or record is None:
        return None
    try:
        return api.url(template, record, base)
    except ItemProblem:
        return None  # the record names none: nothing to look up


class LookupWaiting:
    """Holds releases until the records they name have answered, then emits them."""

    lookups: dict[str, dict | None]  # a looked-up record by its URL (None: it did not answer)
    waiting: dict[str, list[tuple]]  # look-up URL -> the releases waiting for it
    # Given by ApiWalking and the spider.
    api_walk: ApiWalk
    api_request: Any
    fetch_error: Any
    _json_of: Any
    _emit: Any

    def _resolve(self, pending: tuple) -> Iterator[Any]:
        """Emit a release once the records it names have answered: its agency's, then that
        agency's jurisdiction's (one look-up each, however many releases name them)."""
        release, item, _, base, depth, _ = pending
        walk = self.api_walk
        if walk.agency_lookup and not api.text(walk.agency, item):
            agency_url = api.url(walk.agency_lookup, item, base)
            if agency_url:
                if agency_url not in self.lookups:
                    yield from self._wait_for(agency_url, pending, base, depth)
                    return
                agency = self.lookups[agency_url]
                release.agency = api.text(walk.agency_name, agency) or release.agency
                place = _lookup_url(walk.jurisdiction_lookup, agency, agency_url)
                if place and place not in self.lookups:
                    yield from self._wait_for(place, pending, base, depth)
                    return
                if place:
                    named = api.text(walk.jurisdiction_name, self.lookups[place])
                    release.jurisdiction = release.jurisdiction or named
        yield from self._emit(*pending)

    def _wait_for(self, lookup: str, pending: tuple, referrer: str, depth: int) -> Iterator[Any]:
        """Hold a release until the record it names (an agency, a jurisdiction) has answered."""
        first = lookup not in self.waiting
        self.waiting.setdefault(lookup, []).append(pending)
        if first:
            request = self.api_request(lookup, self.parse_agency, depth, referrer, spyglass_api_lookup=lookup)
            if request is None:
                self.lookups[lookup] = None
                yield from self._release_waiting(lookup)
            else:
                request.errback = self.agency_failed
                yield request

    def parse_agency(self, response: Response) -> Iterator[Any]:
        """A looked-up record (an agency's, a jurisdiction's): every release waiting for it goes on."""
        lookup = response.meta["spyglass_api_lookup"]
        produced = list(self._json_of(response, self.parse_agency))
        yield from produced
        if any(isinstance(p, scrapy.Request) for p in produced):
            return  # a redirect: its target answers for the same look-up
        data = response.meta.pop("spyglass_json", None)
        self.lookups[lookup] = data if isinstance(data, dict) else None
        yield from self._release_waiting(lookup)

    def agency_failed(self, failure: Any) -> Iterator[Any]:
        """The look-up failed: record why, and store its releases without what it would have named."""
        yield self.fetch_error(failure)  # type: ignore[attr-defined]
        lookup = failure.request.meta["spyglass_api_lookup"]
        self.lookups[lookup] = None
        yield from self._release_waiting(lookup)

    def _release_waiting(self, lookup: str) -> Iterator[Any]:
        for pending in self.waiting.pop(lookup, []):
            yield from self._resolve(pending)
