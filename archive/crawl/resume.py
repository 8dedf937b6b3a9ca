"""Resuming an interrupted crawl: what it already did is read back from the archive, not fetched.

Scrapy's JOBDIR keeps the scheduler's queue on disk, but its queue files are
consistent only after a clean stop: a crawl killed with SIGKILL (or by the
machine) leaves them half-written. Spyglass's spiders also keep their own
seen-sets. So a resumed run rebuilds both the way they were built: it starts
from the start URLs again, and every URL the interrupted run (or the runs it
resumed) captured is answered from the WARC record instead of the network.
The spider parses it as before, so its seen-set, counters and frontier come
back as they were, and only what was never archived is fetched.
"""

from __future__ import annotations

import sqlite3
import weakref
from dataclasses import dataclass, field
from typing import Any

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response

from archive.archive import Archive
from archive.config import Config
from archive.crawl.replay import replayed_response
from archive.index import queries
from archive.index.capture_row import PAYLOAD_COLUMNS, location_of
from archive.index.kinds import ErrorType


class AlreadyRecorded(IgnoreRequest):
    """The interrupted run already recorded this URL's failure; it is not fetched again."""


@dataclass
class ResumeState:
    """What the runs being resumed did: per URL, the archived payload to replay, or its failure."""

    runs: list[int]
    done: dict[str, dict[str, Any]] = field(default_factory=dict)
    failed: set[str] = field(default_factory=set)
    errors: set[tuple[str, str]] = field(default_factory=set)  # (url, error_type) recorded


def load_resume_state(conn: sqlite3.Connection, runs: list[int]) -> ResumeState:
    """The state of the chain of runs `runs` (the run being resumed and those it resumed)."""
    state = ResumeState(runs)
    marks = ", ".join("?" * len(runs))
    for row in queries.rows(conn, f"SELECT * FROM captures WHERE crawl_run IN ({marks}) ORDER BY id", runs):
        payload = queries.payload_row(conn, row)
        if payload is not None:
            state.done[row["url"]] = {k: payload[k] for k in PAYLOAD_COLUMNS}
    seen = queries.rows(
        conn,
        f"SELECT o.url, c.* FROM observations o JOIN captures c ON c.id = o.capture_id "
        f"WHERE o.crawl_run IN ({marks}) ORDER BY o.id",
        runs,
    )
    for row in seen:
        state.done.setdefault(row["url"], {k: row[k] for k in PAYLOAD_COLUMNS})
    for url, error_type in conn.execute(
        f"SELECT url, error_type FROM fetch_errors WHERE crawl_run IN ({marks})", runs
    ).fetchall():
        state.errors.add((url, error_type))
        if url not in state.done and error_type != ErrorType.INTERRUPTED:
            state.failed.add(url)
    return state


_states: weakref.WeakKeyDictionary[Any, ResumeState] = weakref.WeakKeyDictionary()


def set_resume_state(crawler: Crawler, state: ResumeState) -> None:
    """Make `state` the crawler's: its requests for done URLs are answered from the archive."""
    _states[crawler] = state


def resume_state(crawler: Crawler) -> ResumeState | None:
    """The crawler's ResumeState, if its run resumes another."""
    return _states.get(crawler)


class ResumeMiddleware:
    """Answers requests the resumed runs already archived with their archived responses.

    Order 45: before the address guard and robots.txt, which the first run
    already passed. Every later middleware sees `spyglass_replayed` and lets
    the response through untouched (no new WARC record, no retry).
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.archive = Archive.from_config(Config.from_settings(crawler.settings))

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ResumeMiddleware:
        return cls(crawler)

    def process_request(self, request: Request) -> Response | None:
        state = _states.get(self.crawler)
        # Redis mode: a request handed back after its worker died, whose response that
        # worker had archived (archive/cluster/reap.py), names the capture to replay.
        handed = request.meta.get("spyglass_replay_from")
        if handed is None and (state is None or request.method != "GET"):
            return None
        payload = handed or (state.done.get(request.url) if state is not None else None)
        if payload is not None:
            try:
                response = replayed_response(self.archive, request, payload)
            except (OSError, EOFError, ValueError):
                return None  # its record cannot be read: fetch it again
            request.meta.update(
                spyglass_replayed=True,
                spyglass_warc=location_of(payload),
                spyglass_no_warc=True,
                dont_retry=True,
            )
            self.crawler.stats.inc_value("spyglass/replayed")
            return response
        if state is not None and request.url in state.failed:
            raise AlreadyRecorded(f"{request.url}: failed in the interrupted run, recorded there")
        return None
