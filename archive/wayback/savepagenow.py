"""Save Page Now: ask the Wayback Machine for a fresh snapshot, and record honestly what happened.

SPN2 (`POST /save` with `Authorization: LOW key:secret`) when credentials are in
the environment, else the anonymous `GET /save/<url>`. The job id is stored at
once, the status polled, and the result confirmed through a CDX lookup: SPN
sometimes reports an error for a page it did save, a "success" that the
CDX does not show is recorded as unconfirmed, never as saved, and a capture of
the site answering 5xx is no snapshot of the page. Every request spends the
machine's Wayback budget (archive/wayback/budget.py) and honours its pause. Our own small
HTTP client (urllib) because waybackpy has no timeouts, no status checks and
no SPN2.
"""

from __future__ import annotations

import gzip
import html
import json
import re
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple
from urllib.parse import urlencode

import sqlite_utils

from archive.config import Config
from archive.errors import SavePageNowError, WaybackError
from archive.index.runs import save_request
from archive.times import iso, utc_now
from archive.wayback.budget import Budget, wait_sync, wayback_budget
from archive.wayback.client import CdxRecord, Endpoints, citation_url, parse_cdx, parse_snapshot_url
from archive.wayback.policy import DEFAULT_POLICY, MAX_429_PER_REQUEST, RatePolicy

HTTP_TIMEOUT = 60.0
# SPN's HTML error page (the anonymous save's answer when it fails) says why in the paragraph
# after its heading.
_ERROR_PAGE = re.compile(r"</h2>\s*<p[^>]*>(.*?)</p>", re.S | re.I)


@dataclass(frozen=True)
class SaveSettings:
    """Where and how to ask; credentials come from the environment only (Config)."""

    endpoints: Endpoints
    budget: Budget
    policy: RatePolicy = DEFAULT_POLICY
    access_key: str | None = None
    secret_key: str | None = None
    poll_interval: float = 5.0
    timeout: float = 300.0
    user_agent: str = "Spyglass"

    @classmethod
    def from_config(cls, config: Config) -> SaveSettings:
        return cls(
            endpoints=Endpoints.from_config(config),
            budget=wayback_budget(config),
            policy=RatePolicy.from_config(config),
            access_key=config.spn_access_key or None,
            secret_key=config.spn_secret_key or None,
            poll_interval=config.spn_poll_interval,
            timeout=config.spn_timeout,
            user_agent=config.user_agent,
        )

    @property
    def authenticated(self) -> bool:
        return bool(self.access_key and self.secret_key)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a redirect is an answer to read, not to follow


_opener = urllib.request.build_opener(_NoRedirect)


class Answer(NamedTuple):
    """What the Wayback Machine answered, and when the request it answered was sent (after the
    budget's wait), so a save request is dated by its sending, not by its queueing."""

    status: int
    headers: dict[str, str]
    body: bytes
    sent_at: datetime


def _http(
    method: str,
    url: str,
    options: SaveSettings,
    bucket: str,
    data: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> Answer:
    """One request inside the machine's Wayback budget: a 429 pauses every Wayback
    request of the machine and is retried; a 5xx to a GET is retried slowly."""
    limited = tries = 0
    while True:
        answer = _send(method, url, options, bucket, data, headers)
        status = answer.status
        if status == 429:
            options.budget.pause(options.policy.pause_on_429)
            limited += 1
            if limited > MAX_429_PER_REQUEST:
                raise SavePageNowError(f"{url}: answered 429 Too Many Requests {limited} times; gave up")
            continue
        # A GET only reads (status, CDX); a POST may have started a job, so it is never repeated.
        if status >= 500 and method == "GET" and bucket != "save":
            if tries >= options.policy.retries:
                raise SavePageNowError(f"{url}: answered HTTP {status} {tries + 1} times; gave up")
            time.sleep(options.policy.retry_backoff * 2**tries)
            tries += 1
            continue
        return answer


def _send(
    method: str,
    url: str,
    options: SaveSettings,
    bucket: str,
    data: bytes | None,
    headers: dict[str, str] | None,
) -> Answer:
    wait_sync(options.budget, bucket)
    sent_at = utc_now()
    request = urllib.request.Request(
        url,
        data=data,
        method=method,
        headers={"User-Agent": options.user_agent, "Accept-Encoding": "gzip", **(headers or {})},
    )
    try:
        response = _opener.open(request, timeout=HTTP_TIMEOUT)
    except urllib.error.HTTPError as exc:
        response = exc
    except (urllib.error.URLError, OSError) as exc:
        raise SavePageNowError(f"{url}: {getattr(exc, 'reason', exc)}") from None
    with response:
        body = response.read()
        found = {k.lower(): v for k, v in response.headers.items()}
    if found.get("content-encoding") == "gzip":
        body = gzip.decompress(body)
    return Answer(response.status if hasattr(response, "status") else response.code, found, body, sent_at)


def _json(body: bytes, where: str, status: int) -> dict[str, Any]:
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise SavePageNowError(f"{where}: HTTP {status}, answer is not JSON") from None
    if not isinstance(data, dict):
        raise SavePageNowError(f"{where}: unexpected answer {data!r}")
    return data


def submit(url: str, options: SaveSettings) -> tuple[str, datetime]:
    """Start an SPN2 job for `url`: its job id, and when the request that started it was sent."""
    auth = {
        "Authorization": f"LOW {options.access_key}:{options.secret_key}",
        "Accept": "application/json",
        "Content-Type": "application/x-www-form-urlencoded",
    }
    status, _, body, sent_at = _http(
        "POST", options.endpoints.save, options, "save", urlencode({"url": url}).encode(), auth
    )
    data = _json(body, options.endpoints.save, status)
    if status != 200 or not data.get("job_id"):
        raise SavePageNowError(
            f"Save Page Now refused {url}: HTTP {status}, "
            f"{data.get('status_ext') or ''} {data.get('message') or ''}".strip()
        )
    return str(data["job_id"]), sent_at


def poll(job_id: str, options: SaveSettings) -> dict[str, Any]:
    """Poll a job until success or error, or until the timeout (then its last 'pending' answer)."""
    deadline = time.monotonic() + options.timeout
    while True:
        status, _, body, _ = _http("GET", options.endpoints.save_status(job_id), options, "snapshot")
        data = _json(body, f"job {job_id}", status)
        if data.get("status") in ("success", "error") or time.monotonic() >= deadline:
            return data
        time.sleep(options.poll_interval)


def anonymous_save(url: str, options: SaveSettings) -> tuple[str | None, datetime]:
    """GET /save/<url>: the timestamp named by Content-Location or Location, if any, and when the
    request was sent."""
    status, headers, body, sent_at = _http("GET", options.endpoints.save_anonymous(url), options, "save")
    if status >= 400:
        said = _page_message(body)
        raise SavePageNowError(f"Save Page Now refused {url}: HTTP {status}" + (f" ({said})" if said else ""))
    base = options.endpoints.base
    for name in ("content-location", "location"):
        value = headers.get(name, "")
        # Often a path (/web/<ts>/<url>): read it as one under the configured base.
        named = parse_snapshot_url(base + value if value.startswith("/web/") else value, base)
        if named is not None and len(named.timestamp) == 14:
            return named.timestamp, sent_at
    return None, sent_at


def _page_message(body: bytes) -> str | None:
    """The message on SPN's HTML error page (the paragraph after its heading), on one line."""
    found = _ERROR_PAGE.search(body.decode("utf-8", "replace"))
    if found is None:
        return None
    text = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", found.group(1))).split())
    return text[:300] or None


def confirm(url: str, since: str, options: SaveSettings, reported: str | None = None) -> CdxRecord | None:
    """The CDX row that proves a save of `url` at or after `since`, or None.

    Revisit rows count: an unchanged page saved again is indexed as a revisit of
    its earlier capture. The row SPN reported is preferred, else the newest.
    """
    query = urlencode([("url", url), ("from", since)])
    status, _, body, _ = _http("GET", f"{options.endpoints.cdx}?{query}", options, "cdx")
    if status != 200:
        raise WaybackError(f"CDX check of {url} answered HTTP {status}")
    records = parse_cdx(body.decode("utf-8", "replace")).records
    chosen = [r for r in records if r.timestamp == reported] or records
    return max(chosen, key=lambda r: r.timestamp, default=None)


def save_and_record(
    db: sqlite_utils.Database,
    url: str,
    options: SaveSettings,
    *,
    source: str | None = None,
    capture_id: int | None = None,
) -> dict[str, Any]:
    """Ask for a snapshot of `url` and keep its honest outcome in save_requests; returns the row."""
    started = utc_now()
    since = started.strftime("%Y%m%d%H%M%S")
    row: dict[str, Any] = {
        "capture_id": capture_id,
        "source": source,
        "url": url,
        "requested_at": iso(started),
        "method": "spn2" if options.authenticated else "anonymous",
        "state": "submitting",
        "confirmed_via_cdx": 0,
    }
    row["id"] = save_request(db, row)
    try:
        reported = None
        if options.authenticated:
            row["job_id"], sent_at = submit(url, options)
            row["requested_at"] = iso(sent_at)  # sent, after the budget's wait
            row["state"] = "pending"
            save_request(db, row)  # the job id is kept before any polling
            answer = poll(row["job_id"], options)
            row["status_ext"] = answer.get("status_ext")
            row["message"] = " ".join(str(answer.get("message") or "").split()) or None  # one line
            if answer.get("status") == "success":
                reported = str(answer.get("timestamp") or "") or None
            elif answer.get("status") != "error":
                row["message"] = (
                    f"still pending after {options.timeout:.0f} s; status may expire in about an hour"
                )
                return _final(db, row)
        else:
            reported, sent_at = anonymous_save(url, options)
            row["requested_at"] = iso(sent_at)
        _judge(row, confirm(url, since, options, reported), reported)
    except WaybackError as exc:
        row.update(state="failed", message=str(exc))
    return _final(db, row)


def _judge(row: dict[str, Any], found: CdxRecord | None, reported: str | None) -> None:
    """Set the row's state from the CDX row that confirms the save (if any) and what SPN reported."""
    url = row["url"]
    if found and (found.statuscode or 0) >= 500:
        # The Wayback Machine reached the page but the site was failing: no usable snapshot.
        row.update(
            state="failed",
            confirmed_via_cdx=1,
            wayback_timestamp=found.timestamp,
            wayback_status=found.statuscode,
            message=f"the Wayback Machine's capture at {found.timestamp} is the site "
            f"answering HTTP {found.statuscode}, not the page",
        )
    elif found:
        row.update(
            state="saved",
            confirmed_via_cdx=1,
            wayback_timestamp=found.timestamp,
            wayback_status=found.statuscode,
            snapshot_url=citation_url(found.timestamp, url),
        )
        if found.is_revisit:
            row["message"] = (
                f"unchanged since an earlier capture: the CDX shows a revisit at {found.timestamp}"
            )
        if row.get("status_ext"):
            row["message"] = (
                f"Save Page Now reported {row['status_ext']}, "
                f"but the CDX shows a capture at {found.timestamp}"
            )
    elif reported:
        row.update(
            state="unconfirmed",
            wayback_timestamp=reported,
            message=f"Save Page Now reported a capture at {reported}; the CDX does not show it yet",
        )
    else:
        row["state"] = "failed"


def _final(db: sqlite_utils.Database, row: dict[str, Any]) -> dict[str, Any]:
    save_request(db, row)
    return row
