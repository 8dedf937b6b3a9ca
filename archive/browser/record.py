"""A browser load into WARC records and index rows: each response received, the rendered DOM, its errors.

Every response the browser received is a request/response pair (or a revisit)
written by the one WARC writer (archive/warc/write.py), its capture row a
requisite named `browser:<resource type>` (`browser:document` for the page's
own HTML: the original, one click away). The DOM after scripts is a
`resource` record at the page's URL, `WARC-Refers-To` the page's response;
its capture row (via `browser`) carries the rendered text and title, so it is
what search, history, changes, watched phrases and mentions read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from archive.browser.load import Load, Received
from archive.index.capture_row import CaptureRow
from archive.index.kinds import ErrorType
from archive.index.rendered import (
    CAPTURED_BY,
    LOADED_FOR,
    RENDERED_TYPE,
    VIA,
    rendered_headers,
    rendered_row,
)
from archive.sources.model import Source
from archive.times import iso
from archive.warc.write import REQUISITE_HEADER, Exchange, RecordLocation, WarcStore

# Bodies from Playwright are decoded and de-chunked: headers that describe the bytes
# on the wire would lie about the bytes we have, so they move into a WARC header.
WIRE_HEADERS = ("content-encoding", "transfer-encoding", "content-length")
CAPTURED_BY_NETWORK = (
    "browser network events (Playwright); body as the browser received it after decoding; "
    "HTTP version not exposed by the browser"
)


@dataclass
class Recorded:
    """The rows one load leaves: capture rows (the rendered page last), fetch errors, the rendered record."""

    captures: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    rendered: RecordLocation | None = None


def record_load(store: WarcStore, load: Load, source: Source, run_id: int, browser: str) -> Recorded:
    """Write what `load` received and rendered; the rows for the index (not yet saved)."""
    out = Recorded()
    tags = {"vendor": source.vendor, "product": source.product, "agency": source.agency}
    page: RecordLocation | None = None
    for received in load.responses:
        location = store.write_exchange(_exchange(received, browser, load.url))
        if received.main and page is None:
            page = location
        out.captures.append(
            CaptureRow.from_location(
                location,
                url=received.url,
                source=source.name,
                via=VIA,
                crawl_run=run_id,
                captured_at=iso(received.sent_at),
                status=received.status,
                content_type=_header(received.response_headers, "content-type"),
                referrer=load.url if not received.main else None,
                location=_header(received.response_headers, "location"),
                requisite=_requisite(received),
                **tags,
            ).columns()
        )
    for url, why in load.refused:
        out.errors.append(error_row(source, run_id, load, url, ErrorType.ADDRESS, why))
    if load.status != "ok" or load.dom is None:
        kind = ErrorType.BROWSER_TIMEOUT if load.status == "timeout" else ErrorType.BROWSER_FAILED
        out.errors.append(error_row(source, run_id, load, load.url, kind, load.error))
        return out
    dom = load.dom.encode("utf-8")
    record_id = page.record_id if page is not None else None
    headers = rendered_headers(browser, load.url, record_id, load.http_status)
    out.rendered = store.write_resource(load.url, dom, RENDERED_TYPE, load.started_at, headers)
    row = rendered_row(
        out.rendered,
        dom,
        url=load.url,
        source=source.name,
        crawl_run=run_id,
        captured_at=iso(load.started_at),
        status=load.http_status,
        refers_to=record_id,
        **tags,
    )
    out.captures.append(row)
    return out


def error_row(
    source: Source, run_id: int, load: Load, url: str, error_type: str, reason: str | None
) -> dict[str, Any]:
    """A fetch_errors row for something the browser could not load, or was not allowed to."""
    return {
        "crawl_run": run_id,
        "source": source.name,
        "url": url,
        "occurred_at": iso(load.started_at),
        "error_type": error_type,
        "reason": reason or "failed",
        "referrer": None if url == load.url else load.url,
        "depth": 0,
        "warc_record_id": None,
    }


def _exchange(received: Received, browser: str, page_url: str) -> Exchange:
    kept = [(n, v) for n, v in received.response_headers if n.lower() not in WIRE_HEADERS]
    removed = [f"{n}: {v}" for n, v in received.response_headers if n.lower() in WIRE_HEADERS]
    extra = {CAPTURED_BY: f"{CAPTURED_BY_NETWORK}; {browser}", REQUISITE_HEADER: _requisite(received)}
    if removed:
        extra["WARC-Spyglass-Removed-Header"] = (
            "; ".join(removed) + " (decoded by the browser before archiving)"
        )
    if not received.main:
        extra[LOADED_FOR] = page_url
    if received.body is None:
        extra["WARC-Spyglass-No-Body"] = "the browser kept no body for this response"
    return Exchange(
        url=received.url,
        method=received.method,
        # HTTP/2 pseudo-headers (":authority") are not HTTP/1.1 header lines.
        request_headers=[(n, v) for n, v in received.request_headers if not n.startswith(":")],
        request_body=received.request_body,
        protocol="HTTP/1.1",
        status=received.status,
        reason=received.reason,
        response_headers=kept,
        payload=received.body or b"",
        date=received.sent_at,
        extra_headers=extra,
        any_url=not received.main,
    )


def _requisite(received: Received) -> str:
    return f"browser:{'document' if received.main else received.resource_type}"


def _header(pairs: list[tuple[str, str]], name: str) -> str | None:
    return next((v for n, v in pairs if n.lower() == name), None)
