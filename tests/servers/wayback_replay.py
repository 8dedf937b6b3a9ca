"""Replays recorded Wayback Machine exchanges (VCR.py cassettes) on 127.0.0.1.

Snapshot requests are matched by exact path; CDX requests by the SURT of their
`url`, their `resumeKey` and, when several remain, their `from`. Raw CDX texts
can be served for made-up URLs too (the recordings' malformed answers). A
request nothing matches gets what the real service says for an unknown URL:
an empty CDX answer, or the 404 "not archived" page.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import yaml

from archive.demo.server import Incoming, LoopbackServer, Reply
from archive.demo.wayback_pages import NOT_ARCHIVED_PAGE
from archive.wayback.client import surt

# Describe the recorded transport, not bytes we will send.
DROPPED_HEADERS = {"transfer-encoding", "content-length", "connection"}


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str  # path and query, host removed
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes

    @property
    def params(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.path).query)


def load_cassette(path: Path) -> list[Recorded]:
    """The interactions of one VCR.py cassette."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    found = []
    for interaction in data["interactions"]:
        request, response = interaction["request"], interaction["response"]
        parts = urlsplit(request["uri"])
        body = response["body"].get("string") if isinstance(response["body"], dict) else response["body"]
        if isinstance(body, str):
            body = body.encode("utf-8")
        headers = tuple(
            (name, value)
            for name, values in response["headers"].items()
            for value in values
            if name.lower() not in DROPPED_HEADERS
        )
        found.append(
            Recorded(
                request["method"],
                parts.path + (f"?{parts.query}" if parts.query else ""),
                int(response["status"]["code"]),
                headers,
                body or b"",
            )
        )
    return found


class Replay:
    """The handler: recorded answers first, then extra CDX texts, then 'not archived'."""

    def __init__(self, cassettes: list[Path], cdx_texts: dict[str, bytes] | None = None) -> None:
        self.recorded = [r for path in cassettes for r in load_cassette(path)]
        self.cdx_texts = {surt(url): text for url, text in (cdx_texts or {}).items()}
        self.requests: list[str] = []

    def __call__(self, request: Incoming) -> Reply:
        target = request.path + (f"?{request.query}" if request.query else "")
        self.requests.append(target)
        if request.path == "/cdx/search/cdx":
            return self._cdx(parse_qs(request.query))
        for recorded in self.recorded:
            if recorded.path == target and recorded.method == request.method:
                return Reply(recorded.status, recorded.body, list(recorded.headers), content_type=None)
        return Reply(404, NOT_ARCHIVED_PAGE, content_type="text/html; charset=utf-8")

    def _cdx(self, params: dict[str, list[str]]) -> Reply:
        key = surt(params.get("url", [""])[0])
        resume = params.get("resumeKey")
        candidates = [
            r
            for r in self.recorded
            if r.path.startswith("/cdx/")
            and surt(r.params.get("url", [""])[0]) == key
            and r.params.get("resumeKey") == resume
        ]
        if candidates:
            same_from = [r for r in candidates if r.params.get("from") == params.get("from")]
            chosen = (same_from or candidates)[0]
            return Reply(chosen.status, chosen.body, list(chosen.headers), content_type=None)
        if key in self.cdx_texts and resume is None:
            return Reply(200, self.cdx_texts[key], content_type="text/plain;charset=UTF-8")
        return Reply(200, b"", content_type="text/plain;charset=UTF-8")


def start_replay(
    cassettes: list[Path], cdx_texts: dict[str, bytes] | None = None
) -> tuple[LoopbackServer, Replay]:
    """Serve the recordings on 127.0.0.1; returns the server and its handler."""
    replay = Replay(cassettes, cdx_texts)
    return LoopbackServer(replay).start(), replay
