"""The records spider's JSON side: API listings, their child listings, agency look-ups, page texts.

Every API call goes through the crawler like any page (address guard,
retries that honour Retry-After, the service's rate budget as a download
slot, WARC capture), which is why the services' own Python clients
(python-muckrock, python-documentcloud) are not used: they fetch with
`requests` behind the crawler's back, so nothing they fetch would be
guarded, budgeted or archived as evidence. What the walk reads is declared in
archive/sources/api_walk.py and evaluated by archive/records/api.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import scrapy
from scrapy.http import Response

from archive.index.kinds import ErrorType
from archive.records import api
from archive.records.api import FileEntry, ItemProblem
from archive.records.budget import slot_name
from archive.records.findings import Findings
from archive.records.items import Communication, PageText, Release, ReleaseLinks
from archive.records.walk import iso_date
from archive.sources.api_walk import ApiWalk, Step

from .records_lookups import LookupWaiting

REDIRECT_STATUSES = {301, 302, 303, 307, 308}
# MuckRock's API v2 and DocumentCloud both take the access token their shared
# sign-in (accounts.muckrock.com) hands out, as a Bearer token.
TOKEN_SCHEME = "Bearer"


class ApiWalking(LookupWaiting):
    """Mixed into RecordsSpider: walks a source whose `walk.api` is set."""

    # Set by RecordsSpider: the source, its seen-set and request helpers.
    source: Any
    api_hosts: set[str]
    token: str
    known_versions: dict[str, str | None]
    known_files: set[str]
    fetched_cites: set[str]
    waiting: dict[str, list[tuple[Release, Any, Step, str, int, list[FileEntry]]]]
    findings: Findings  # what the walk found, for the run's summary and its partial verdict

    @property
    def api_walk(self) -> ApiWalk:
        assert self.source.walk is not None and self.source.walk.api is not None
        return self.source.walk.api

    def api_request(
        self, url: str, callback: Any, depth: int, referrer: str | None, **meta: Any
    ) -> scrapy.Request | None:
        """A request to the service's API (RecordsSpider._request puts it on the API's terms)."""
        return self._request(url, callback, depth, referrer, **meta)  # type: ignore[attr-defined]

    def on_api_terms(self, request: scrapy.Request) -> scrapy.Request:
        """A request to the API's own hosts spends its budget's download slot and carries the token.

        Only those hosts: a file on a CDN or behind a signed storage URL is
        neither counted against the API nor sent the token.
        """
        if urlsplit(request.url).netloc not in self.api_hosts:
            return request
        if self.api_walk.budget != "none":
            request.meta["download_slot"] = slot_name(self.api_walk.budget)
            # AutoThrottle must not shorten the budget's delay.
            request.meta["autothrottle_dont_adjust_delay"] = True
        if self.token:
            request.headers["Authorization"] = f"{TOKEN_SCHEME} {self.token}"
        return request

    def _json_of(self, response: Response, callback: Any) -> Iterator[Any]:
        """Capture, redirect, refusal: yields items; the parsed JSON is left in meta when usable."""
        yield self.capture(response)  # type: ignore[attr-defined]
        gave_up = response.meta.get("spyglass_gave_up")
        if gave_up:
            kind = ErrorType.RATE_LIMITED if response.status == 429 else ErrorType.SERVER_ERROR
            yield self._error(response, kind, gave_up)
        if response.status in REDIRECT_STATUSES:
            yield from self._redirect(response, callback)  # type: ignore[attr-defined]
            return
        if response.status >= 400:
            return
        try:
            response.meta["spyglass_json"] = api.parse_json(response.body, response.url)
        except ItemProblem as problem:
            yield self._error(response, ErrorType.MALFORMED_JSON, str(problem))

    def _error(self, response: Response, kind: str, reason: str) -> Any:
        return self.error_item(
            response.url,
            kind,
            reason,  # type: ignore[attr-defined]
            response.meta.get("spyglass_referrer"),
            response.meta.get("spyglass_depth", 0),
            response=response,
        )

    def parse_api_listing(self, response: Response) -> Iterator[Any]:
        """A page of the API's listing: one release per item, then the next page."""
        yield from self._json_of(response, self.parse_api_listing)
        data = response.meta.pop("spyglass_json", None)
        if data is None:
            return
        step = self.api_walk.listing
        yield from self._each_item(response, data, step, self._release_of)

    def parse_api_follow(self, response: Response) -> Iterator[Any]:
        """A child listing of one release (communications, files, documents): its files, its follows."""
        yield from self._json_of(response, self.parse_api_follow)
        data = response.meta.pop("spyglass_json", None)
        if data is None:
            return
        step: Step = response.meta["spyglass_api_step"]
        yield from self._each_item(response, data, step, self._child_of)

    def _each_item(self, response: Response, data: Any, step: Step, handle: Any) -> Iterator[Any]:
        try:
            found = api.items(step, data)
        except ItemProblem as problem:
            yield self._error(response, ErrorType.MALFORMED_JSON, str(problem))
            return
        self.findings.listed(step, len(found), response.url)
        before = response.meta.get("spyglass_api_seen", 0)
        for number, item in enumerate(found, 1):
            response.meta["spyglass_api_number"] = before + number
            try:
                if not isinstance(item, dict):
                    raise ItemProblem(f"is a {type(item).__name__}, not an object")
                yield from handle(response, item, step)
            except ItemProblem as problem:
                yield self._error(response, ErrorType.MALFORMED_ITEM, f"item {number}: {problem}")
        seen = response.meta.get("spyglass_api_seen", 0) + len(found)
        try:
            following = api.next_page(step, data, response.url, seen)
        except ItemProblem as problem:
            yield self._error(response, ErrorType.MALFORMED_JSON, f"next page: {problem}")
            return
        if following:
            keep = {k: v for k, v in response.meta.items() if k.startswith("spyglass_api_")}
            # Next pages continue the same listing: they do not count as depth.
            request = self.api_request(
                following,
                response.request.callback,
                response.meta.get("spyglass_depth", 0),
                response.url,
                **{**keep, "spyglass_api_seen": seen},
            )
            if request is not None:
                yield request

    def _release_of(self, response: Response, item: dict, step: Step) -> Iterator[Any]:
        walk = self.api_walk
        base = response.url
        page_url = api.url(walk.page_url, item, base) if walk.page_url else None
        key_value = api.text(walk.key, item)
        if not page_url and not key_value:
            raise ItemProblem(f"no {walk.key!r} and no page_url: cannot tell this release apart")
        key = page_url or f"{base}#{key_value}"
        released_text = api.text(walk.released_at, item)
        entries = self._files_of(step, item, base)
        release = Release(
            source=self.source.name,
            key=key,
            page_url=page_url or base,
            record_id=response.meta["spyglass_warc"].record_id,
            title=api.text(walk.title, item),
            agency=api.text(walk.agency, item) or self.source.agency,
            reference=api.text(walk.reference, item),
            released_text=released_text,
            released_on=iso_date(released_text),
            status=api.text(walk.status, item),
            version=api.text(walk.version, item),
            file_urls=[e.url for e in entries],
            cite_urls={e.url: e.cite_url for e in entries},
            human_urls=_human_urls(entries),
            human_url=api.url(walk.human_url, item, base) if walk.human_url else None,
            submitted_on=iso_date(api.text(walk.submitted_at, item)),
            due_on=iso_date(api.text(walk.due_at, item)),
            completed_on=iso_date(api.text(walk.completed_at, item)),
            jurisdiction=api.text(walk.jurisdiction, item),
            embargo=api.text(walk.embargo, item),
            entry_text=api.item_text(item),
        )
        depth = response.meta.get("spyglass_depth", 0)
        yield from self._resolve((release, item, step, base, depth, entries))

    def _emit(
        self, release: Release, item: dict, step: Step, base: str, depth: int, entries: list[FileEntry]
    ) -> Iterator[Any]:
        """The release, its files, and (unless it is unchanged since the last crawl) its follows."""
        self.findings.releases += 1
        yield release
        yield from self._human_page(release, depth, base)
        yield from self._file_requests(release, depth, base, entries)
        unchanged = (
            release.version is not None
            and release.key in self.known_versions
            and self.known_versions[release.key] == release.version
        )
        if not unchanged:
            yield from self._follow_requests(release.key, item, step, base, depth)

    def _child_of(self, response: Response, item: dict, step: Step) -> Iterator[Any]:
        key = response.meta["spyglass_api_release"]
        entries: list[FileEntry] = self._files_of(step, item, response.url)
        depth = response.meta.get("spyglass_depth", 0)
        letter = response.meta.get("spyglass_api_comm")
        if step.communication is not None:
            communication = self._communication_of(response, item, step)
            letter = communication.key
            yield communication
        if entries:
            links = ReleaseLinks(
                self.source.name,
                key,
                [e.url for e in entries],
                {e.url: e.cite_url for e in entries},
                communication=letter,
                human_urls=_human_urls(entries),
            )
            yield links
            yield from self._file_requests(links, depth, response.url, entries)
        yield from self._follow_requests(
            key, item, step, response.url, depth, response.meta["spyglass_api_page"], letter
        )

    def _communication_of(self, response: Response, item: dict, step: Step) -> Communication:
        """A communication of the release, its fields where the walk says they are."""
        assert step.communication is not None
        fields = api.letter(step.communication, item)
        fields["key"] = fields["key"] or f"{response.url}#{response.meta['spyglass_api_number']}"
        record_id = response.meta["spyglass_warc"].record_id
        release = response.meta["spyglass_api_release"]
        return Communication(self.source.name, release, api_url=response.url, record_id=record_id, **fields)

    def _files_of(self, step: Step, item: dict, base: str) -> list[FileEntry]:
        """The files an item names, counted for the run's summary."""
        entries = api.files(step, item, base)
        self.findings.files.update(e.cite_url for e in entries)
        return entries

    def _human_page(self, release: Release, depth: int, referrer: str) -> Iterator[Any]:
        """The release's page as a reader opens it, archived beside its API record."""
        if not release.human_url:
            return
        request = self._request(
            release.human_url,
            self.parse_human_page,
            depth + 1,
            referrer,  # type: ignore[attr-defined]
            in_scope=False,
        )
        if request is not None:
            yield request

    def parse_human_page(self, response: Response) -> Iterator[Any]:
        """The human page is evidence in its own right: captured, its redirects followed."""
        yield self.capture(response)  # type: ignore[attr-defined]
        if response.status in REDIRECT_STATUSES:
            yield from self._redirect(response, self.parse_human_page)  # type: ignore[attr-defined]

    def walk_outcome(self) -> tuple[dict[str, int], str | None]:
        """What the walk found per step and, if a step found nothing, the line that says where."""
        listing = self.api_walk.listing
        return self.findings.summary(listing), self.findings.first_empty(listing)

    def _follow_requests(
        self,
        key: str,
        item: dict,
        step: Step,
        base: str,
        depth: int,
        page: str | None = None,
        letter: str | None = None,
    ) -> Iterator[Any]:
        if depth >= self.source.scope.max_depth:
            return  # each child listing is one level deeper (scope.max_depth); files are not
        self.findings.expanded[step.name] += 1
        for follow in step.follow:
            for value in api.follows(item, follow.each):
                url = api.url(follow.url, value, base)
                if not url:
                    continue
                self.findings.asked(follow.step, url)
                request = self.api_request(
                    url,
                    self.parse_api_follow,
                    depth + 1,
                    base,
                    spyglass_api_step=follow.step,
                    spyglass_api_release=key,
                    spyglass_api_page=page or key,
                    spyglass_api_comm=letter,
                )
                if request is not None:
                    yield request

    def _file_requests(
        self, release: Release | ReleaseLinks, depth: int, referrer: str, entries: list[FileEntry]
    ) -> Iterator[Any]:
        """A download for each file not already held under its stable page (this crawl or before)."""
        for url in release.file_urls:
            cite = release.cite_urls.get(url, url)
            if cite in self.known_files or cite in self.fetched_cites:
                continue
            self.fetched_cites.add(cite)
            texts = next((e.page_texts for e in entries if e.url == url), ())
            request = self._request(
                url,
                self.parse_file,
                depth + 1,
                referrer,  # type: ignore[attr-defined]
                in_scope=False,
                spyglass_link=url,
                spyglass_link_cite=cite,
                spyglass_link_texts=texts,
            )
            if request is not None:
                yield request

    def page_text_requests(self, response: Response) -> Iterator[Any]:
        """After a file arrived: the service's own text of each of its pages, if the walk names it."""
        linked = response.meta.get("spyglass_link", response.url)
        for number, url in enumerate(response.meta.get("spyglass_link_texts") or (), 1):
            request = self._request(
                url,
                self.parse_page_text,  # type: ignore[attr-defined]
                response.meta.get("spyglass_depth", 0),
                response.url,
                in_scope=False,
                spyglass_link_of=linked,
                spyglass_link_page=number,
            )
            if request is not None:
                yield request

    def parse_page_text(self, response: Response) -> Iterator[Any]:
        """One page's text as the hosting service read it, kept beside our own extraction."""
        yield self.capture(response)  # type: ignore[attr-defined]
        if response.status in REDIRECT_STATUSES:
            yield from self._redirect(response, self.parse_page_text)  # type: ignore[attr-defined]
            return
        if response.status >= 400:
            page = response.meta["spyglass_link_page"]
            reason = f"page {page} text of {response.meta['spyglass_link_of']}: HTTP {response.status}"
            yield self._error(response, ErrorType.MISSING_TEXT, reason)
            return
        text = response.body.decode("utf-8", "replace").strip() or None
        method = "documentcloud" if self.api_walk.budget == "documentcloud" else "service"
        yield PageText(
            self.source.name,
            response.meta["spyglass_link_of"],
            response.meta["spyglass_link_page"],
            text,
            method,
        )


def _human_urls(entries: list[FileEntry]) -> dict[str, str]:
    """File URL -> the file's own page a reader opens, for the files whose walk names one."""
    return {e.url: e.human_url for e in entries if e.human_url}
