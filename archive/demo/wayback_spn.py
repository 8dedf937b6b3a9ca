"""Save Page Now, simulated: anonymous GET /save/<url> and SPN2 (POST /save + /save/status/<id>).

SPN2 wants `Authorization: LOW key:secret`, answers a job id, and reports the
job pending, then success (timestamp, original_url) or error (status_ext),
errors included as HTTP 200. Like the real one it sometimes reports an error
for a page it did save, and forgets a job after about an hour. A page it cannot
fetch (refused, reset, timed out) is an error and no capture: the job reports
`status: error` with a status_ext and message, the anonymous GET answers 520
with the message on its error page; nothing is archived, as on the real one.
"""

from __future__ import annotations

import html
import json
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlsplit

if TYPE_CHECKING:
    from archive.demo.wayback_sim import WaybackSim


@dataclass
class Job:
    job_id: str
    url: str
    # success, error, error-but-saved (reports an error though the capture exists) or
    # pending (forever); set per URL by tests.
    outcome: str
    created: float
    polls: int = 0
    timestamp: str | None = None
    failure: FetchFailed | None = None


class FetchFailed(Exception):
    """The simulator could not fetch the page to save: SPN2's status_ext and message for it."""

    def __init__(self, status_ext: str, message: str) -> None:
        super().__init__(message)
        self.status_ext = status_ext
        self.message = message


class SavePageNow:
    """The /save endpoints of a WaybackSim."""

    def __init__(self, sim: WaybackSim) -> None:
        self.sim = sim
        self.jobs: dict[str, Job] = {}
        self.outcomes: dict[str, str] = {}

    def route(self, method: str, path: str, query: str, headers: dict[str, str], body: bytes):
        if path.startswith("/save/status/"):
            return self._status(path[len("/save/status/") :])
        if path == "/save" and method == "POST":
            return self._submit(headers, body)
        if path.startswith("/save/") and method == "GET":
            url = path[len("/save/") :] + (f"?{query}" if query else "")
            return self._anonymous(url)
        return 405, [("Content-Type", "text/plain")], b"method not allowed\n"

    def _json(self, data: dict, status: int = 200):
        return status, [("Content-Type", "application/json")], json.dumps(data).encode()

    def _submit(self, headers: dict[str, str], body: bytes):
        auth = headers.get("authorization", "")
        scheme, _, creds = auth.partition(" ")
        key, _, secret = creds.partition(":")
        if scheme != "LOW" or (key, secret) not in self.sim.config.spn_keys:
            return self._json(
                {
                    "message": "You need to be logged in to use Save Page Now.",
                    "status": "error",
                    "status_ext": "error:unauthorized",
                },
                401,
            )
        form = dict(parse_qsl(body.decode("utf-8", "replace")))
        url = form.get("url", "")
        if urlsplit(url).scheme not in ("http", "https"):
            return self._json(
                {
                    "status": "error",
                    "status_ext": "error:invalid-url-syntax",
                    "message": f"Invalid URL syntax: {url}",
                }
            )
        job = Job(f"spn2-{uuid.uuid4().hex}", url, self.outcomes.get(url, "success"), time.monotonic())
        self.jobs[job.job_id] = job
        return self._json({"url": url, "job_id": job.job_id})

    def _status(self, job_id: str):
        job = self.jobs.get(job_id)
        if job is None or time.monotonic() - job.created > self.sim.config.spn_status_ttl:
            return self._json(
                {
                    "status": "error",
                    "status_ext": "error:job-not-found",
                    "message": "Job not found or expired.",
                }
            )
        job.polls += 1
        if job.outcome == "pending" or job.polls <= self.sim.config.spn_pending_polls:
            return self._json({"status": "pending", "job_id": job_id, "resources": []})
        if job.outcome in ("success", "error-but-saved") and job.timestamp is None and job.failure is None:
            try:
                job.timestamp = self.capture(job.url)
            except FetchFailed as failed:
                job.failure = failed
        if job.failure is not None:
            return self._json(
                {
                    "status": "error",
                    "job_id": job_id,
                    "status_ext": job.failure.status_ext,
                    "message": job.failure.message,
                }
            )
        if job.outcome == "success":
            return self._json(
                {
                    "status": "success",
                    "job_id": job_id,
                    "original_url": job.url,
                    "timestamp": job.timestamp,
                    "duration_sec": 1.2,
                }
            )
        return self._json(
            {
                "status": "error",
                "job_id": job_id,
                "status_ext": "error:service-unavailable",
                "message": "Service unavailable. Please try again later.",
            }
        )

    def _anonymous(self, url: str):
        if urlsplit(url).scheme not in ("http", "https"):
            return 400, [("Content-Type", "text/plain")], b"Invalid URL\n"
        try:
            stamp = self.capture(url)
        except FetchFailed as failed:
            page = f"<html><body><h2>Sorry</h2>\n<p>{html.escape(failed.message)}</p></body></html>"
            return 520, [("Content-Type", "text/html; charset=utf-8")], page.encode()
        where = f"/web/{stamp}/{url}"
        return (
            302,
            [("Location", self.sim.base + where), ("Content-Location", where), ("Content-Type", "text/html")],
            b"",
        )

    def capture(self, url: str) -> str:
        """Archive `url` now (fetching it only when it is on loopback) and return the timestamp;
        FetchFailed, with nothing archived, when the page cannot be fetched."""
        from archive.demo.wayback_sim import Memento

        body, status, content_type = b"<html><body>Saved by the simulator.</body></html>", 200, "text/html"
        if (urlsplit(url).hostname or "") in ("127.0.0.1", "localhost"):
            try:
                with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (loopback)
                    body, status = response.read(), response.status
                    content_type = response.headers.get("Content-Type", content_type)
            except urllib.error.HTTPError as exc:  # the site's error answer is what gets archived
                body, status = exc.read(), exc.code
                content_type = exc.headers.get("Content-Type", content_type)
            except OSError as exc:  # refused, reset, closed before an answer: SPN keeps nothing
                reason = getattr(exc, "reason", None) or exc
                if isinstance(reason, TimeoutError):
                    raise FetchFailed(
                        "error:read-timeout", f"Live page is not available: {url} timed out"
                    ) from None
                raise FetchFailed(
                    "error:bad-gateway", f"Live page is not available: {url} ({reason})"
                ) from None
        stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
        earlier = self.sim.mementos.get(_key(url), [])
        while any(m.timestamp == stamp for m in earlier):
            stamp = str(int(stamp) + 1)
        # Like the real archive, an unchanged payload is indexed as a revisit row.
        same = bool(earlier) and earlier[-1].body == body and earlier[-1].status == status
        self.sim.add(
            Memento(
                url,
                stamp,
                body,
                status,
                content_type.split(";")[0],
                [("Content-Type", content_type)],
                revisit=same,
            )
        )
        return stamp


def _key(url: str) -> str:
    from archive.wayback.client import surt

    return surt(url)
