"""The writer process's protocol: typed messages from the crawler, and the replies it waits for.

Everything travels through one ordered pipe, so an exchange's WARC record is
always written before any row that points at it. Messages with a
`request_id` are answered with a `Reply` carrying the same id.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from archive.records.items import RecordItem
from archive.sources.model import Source
from archive.warc.write import Exchange


@dataclass(frozen=True)
class WriteExchange:
    """Write an exchange's WARC records now; answered with its RecordLocation, or with `links` not
    None with (RecordLocation, PageLinks or None): the page's links read from the writer's own parse
    (`links` True: its requisites too; archive/crawl/parsed.py)."""

    request_id: int
    exchange: Exchange
    links: bool | None = None


@dataclass(frozen=True)
class AddCapture:
    """A captures row to index; the writer extracts its title and text from the decoded body.

    `body` None: the body of the exchange the row's WARC record holds, which the
    writer kept when it wrote it (archive/crawl/payloads.py), so it crosses the pipe once.
    """

    row: dict[str, Any]
    content_type: str | None
    body: bytes | None = None
    # The page's ETag / Last-Modified for the next crawl's conditional request
    # (a page_validators row), for live pages with status 200.
    validators: dict[str, Any] | None = None
    # The page's links (a page_links row), so a 304 on the next crawl need not read the page back.
    links: dict[str, Any] | None = None


@dataclass(frozen=True)
class AddFetchError:
    """A fetch_errors row to index."""

    row: dict[str, Any]


@dataclass(frozen=True)
class AddObservation:
    """An observations row: a page seen unchanged (a 304), naming the record it confirms."""

    row: dict[str, Any]
    # The confirmed page's links (a page_links row), when its capture predates page_links.
    links: dict[str, Any] | None = None


@dataclass(frozen=True)
class AddRecord:
    """A records item to store after the captures it names (archive.records.store.save_records)."""

    item: RecordItem


@dataclass(frozen=True)
class Release:
    """Redis mode: the request holding `lease` is done (its rows were sent before this message),
    so its lease ends when the rows are committed to the ingest stream (archive/cluster/)."""

    lease: str


@dataclass(frozen=True)
class StartRun:
    """Record the source's configuration (if any) and open a crawl run.

    An unfinished earlier run of the same source and spider is reconciled with
    its WARC files (archive/ingest/reconcile.py), and continued if it started
    within SPYGLASS_RESUME_WITHIN. Answered with (run id, id of the run it
    resumes or None).
    """

    request_id: int
    name: str
    spider: str
    source: Source | None = None
    pid: int | None = None


@dataclass(frozen=True)
class RunEnd:
    """How a crawl run ended, for its crawl_runs row."""

    run_id: int
    status: str
    reason: str
    counts: dict[str, Any]


@dataclass(frozen=True)
class Close:
    """Flush, close the WARC file, record the run's end; answered with the WARC files written."""

    request_id: int
    finish: RunEnd | None = None


@dataclass(frozen=True)
class Reply:
    """The answer to a message with a request_id: its value, or why it failed."""

    request_id: int
    ok: bool
    value: Any


Message = WriteExchange | AddCapture | AddFetchError | AddObservation | AddRecord | Release | StartRun | Close
