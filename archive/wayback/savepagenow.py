"""Save Page Now: ask the Wayback Machine for a fresh snapshot, and record honestly what happened.

SPN2 (`POST /save` with `Authorization: LOW key:secret`) when credentials are in
the environment, else the anonymous `GET /save/<url>`. The job id is stored at
once, the status polled, and the result confirmed through a CDX lookup: SPN
sometimes reports an error for a page it did save, and a "success" that the
CDX does not show is recorded as unconfirmed, never as saved. Our own small
HTTP client (urllib) because waybackpy has no timeouts, no status checks and
no SPN2.
"""

from __future__ import annotations

import gzip
import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import sqlite_utils

from archive.config import Config
from archive.errors import SavePageNowError, WaybackError
from archive.index.runs import save_request
from archive.times import iso, utc_now
from archive.wayback.client import Endpoints, citation_url, parse_cdx

HTTP_TIMEOUT = 60.0


@dataclass(frozen=True)
class SaveSettings:
    """Where and how to ask; credentials come from the environment only (Config)."""

    endpoints: Endpoints
    access_key: str | None = None
    secret_key: str | None = None
    poll_interval: float = 5.0
    timeout: float = 300.0
    user_agent: str = "Spyglass"

    @classmethod
    def from_config(cls, config: Config) -> SaveSettings:
        return cls(
            endpoints=config.endpoints,
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


def _http(method: str, url: str, options: SaveSettings, data: bytes | None = None,
          headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, data=data, method=method, headers={
        "User-Agent": options.user_agent, "Accept-Encoding": "gzip", **(headers or {})})
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
    return response.status if hasattr(response, "status") else response.code, found, body


def _json(body: bytes, where: str) -> dict[str, Any]:
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise SavePageNowError(f"{where}: answer is not JSON") from None
    if not isinstance(data, dict):
        raise SavePageNowError(f"{where}: unexpected answer {data!r}")
    return data


def submit(url: str, options: SaveSettings) -> str:
    """Start an SPN2 job for `url` and return its job id."""
    auth = {"Authorization": f"LOW {options.access_key}:{options.secret_key}",
            "Accept": "application/json",
            "Content-Type": "application/x-www-form-urlencoded"}
    status, _, body = _http("POST", options.endpoints.save, options,
                            urlencode({"url": url}).encode(), auth)
    data = _json(body, options.endpoints.save)
    if status != 200 or not data.get("job_id"):
        raise SavePageNowError(
            f"Save Page Now refused {url}: HTTP {status}, "
            f"{data.get('status_ext') or ''} {data.get('message') or ''}".strip())
    return str(data["job_id"])


def poll(job_id: str, options: SaveSettings) -> dict[str, Any]:
    """Poll a job until success or error, or until the timeout (then its last 'pending' answer)."""
    deadline = time.monotonic() + options.timeout
    while True:
        status, _, body = _http("GET", options.endpoints.save_status(job_id), options)
        data = _json(body, f"job {job_id}")
        if data.get("status") in ("success", "error") or time.monotonic() >= deadline:
            return data
        time.sleep(options.poll_interval)


def anonymous_save(url: str, options: SaveSettings) -> str | None:
    """GET /save/<url>; the timestamp named by Content-Location or Location, if any."""
    status, headers, _ = _http("GET", options.endpoints.save_anonymous(url), options)
    if status >= 400:
        raise SavePageNowError(f"Save Page Now refused {url}: HTTP {status}")
    for name in ("content-location", "location"):
        path = urlsplit(headers.get(name, "")).path
        if path.startswith("/web/"):
            stamp = path[len("/web/"):].split("/", 1)[0]
            digits = "".join(ch for ch in stamp if ch.isdigit())
            if len(digits) == 14:
                return digits
    return None


def confirm(url: str, since: str, options: SaveSettings) -> str | None:
    """The newest CDX timestamp of `url` at or after `since`, or None: the proof a save happened."""
    query = urlencode([("url", url), ("from", since), ("filter", "!statuscode:-")])
    status, _, body = _http("GET", f"{options.endpoints.cdx}?{query}", options)
    if status != 200:
        raise WaybackError(f"CDX check of {url} answered HTTP {status}")
    records = parse_cdx(body.decode("utf-8", "replace")).records
    return max((r.timestamp for r in records), default=None)


def save_and_record(db: sqlite_utils.Database, url: str, options: SaveSettings, *,
                    source: str | None = None, capture_id: int | None = None) -> dict[str, Any]:
    """Ask for a snapshot of `url` and keep its honest outcome in save_requests; returns the row."""
    started = utc_now()
    since = started.strftime("%Y%m%d%H%M%S")
    row: dict[str, Any] = {
        "capture_id": capture_id, "source": source, "url": url, "requested_at": iso(started),
        "method": "spn2" if options.authenticated else "anonymous", "state": "submitting",
        "confirmed_via_cdx": 0,
    }
    row["id"] = save_request(db, row)
    try:
        reported = None
        if options.authenticated:
            row["job_id"] = submit(url, options)
            row["state"] = "pending"
            save_request(db, row)  # the job id is kept before any polling
            answer = poll(row["job_id"], options)
            row["status_ext"] = answer.get("status_ext")
            row["message"] = answer.get("message")
            if answer.get("status") == "success":
                reported = str(answer.get("timestamp") or "") or None
            elif answer.get("status") != "error":
                row["message"] = f"still pending after {options.timeout:.0f} s; status may expire in about an hour"
                return _final(db, row)
        else:
            reported = anonymous_save(url, options)
        found = confirm(url, since, options)
        if found:
            row.update(state="saved", confirmed_via_cdx=1, wayback_timestamp=found,
                       snapshot_url=citation_url(found, url))
            if row.get("status_ext"):
                row["message"] = (f"Save Page Now reported {row['status_ext']}, "
                                  f"but the CDX shows a capture at {found}")
        elif reported:
            row.update(state="unconfirmed", wayback_timestamp=reported,
                       message=f"Save Page Now reported a capture at {reported}; the CDX does not show it yet")
        else:
            row["state"] = "failed"
    except WaybackError as exc:
        row.update(state="failed", message=str(exc))
    return _final(db, row)


def _final(db: sqlite_utils.Database, row: dict[str, Any]) -> dict[str, Any]:
    save_request(db, row)
    return row
