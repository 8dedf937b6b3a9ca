"""What a citation says and how it is written: the Citation record and its Bluebook dates.

The Wayback form follows the civil-liberties letters in shared/seeds: who,
what, "(archived Feb. 25, 2018)", then the public snapshot URL. Dates use the
Bluebook's month abbreviations (T12). Every citation also says where the
local copy is and the SHA-256 of its payload, so it can be checked.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from archive.times import parse_when

EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

MONTHS = ("Jan.", "Feb.", "Mar.", "Apr.", "May", "June", "July", "Aug.", "Sept.", "Oct.", "Nov.", "Dec.")


@dataclass(frozen=True)
class Citation:
    """What a citation says; `text()`, `bluebook()` and `as_dict()` render it."""

    kind: str  # "wayback", "live", "document", "document-page", "request" or "communication"
    author: str
    title: str
    when: str  # e.g. "archived Feb. 25, 2018"
    url: str  # the URL a reader should follow
    sha256: str | None = None
    warc_filename: str | None = None
    warc_offset: int | None = None
    capture_id: int | None = None
    original_url: str | None = None
    archived_url: str | None = None  # a Save Page Now snapshot of a live page
    pinpoint: str | None = None  # "at 3" for a document page
    detail: str | None = None  # e.g. the memento's exact time
    redirect_to: str | None = None  # an archived 3xx: where it sent the reader
    # The two times, structured: when the capture shows the page (the memento
    # time for a Wayback capture, the capture time for a live one), and when
    # Spyglass fetched it. ISO 8601 UTC.
    as_of_at: str | None = None
    as_of_kind: str | None = None  # asof.MEMENTO_TIME or asof.CAPTURE_TIME
    fetched_at: str | None = None
    # Later checks that found the page unchanged (observations: a 304, or the same payload again).
    seen_unchanged: int | None = None
    seen_unchanged_at: str | None = None  # the latest, ISO 8601 UTC
    seen_unchanged_proof: str | None = None  # its WARC record: "file, offset"
    published_url: str | None = None  # the capture's page in the published archive, when configured

    def line(self) -> str:
        """Who, what, when, where: the form of the seeds' footnotes."""
        title = f"{self.title}, {self.pinpoint}" if self.pinpoint else self.title
        line = f"{self.author}, {title} ({self.when}), {self.url}"
        if self.archived_url:
            line += f" [{self.archived_url}]"
        return line

    def footnote(self) -> str:
        """One line in the coalition letter's form: `<title> (archived on Feb. 25, 2018), <snapshot URL>`.

        A live capture gives the date Spyglass captured it and the original
        URL, then where the capture is in the published archive (and its Save
        Page Now snapshot), when there is one; a document keeps its agency.
        """
        if self.kind not in ("wayback", "live"):
            return self.line()  # a document, a request, a communication: who released or wrote it
        shown = parse_when(self.as_of_at) if self.as_of_at else None
        date = bluebook_date(shown) if shown else "date unknown"
        if self.kind == "wayback":
            return f"{self.title} (archived on {date}), {self.url}"
        copies = [c for c in (self.published_url, self.archived_url) if c]
        return f"{self.title} (captured on {date}), {self.url}" + (
            f", archived at {' and '.join(copies)}" if copies else ""
        )

    def bluebook(self) -> str:
        """One footnote-ready line, ending with the payload hash and the local copy."""
        local = []
        if self.sha256:
            local.append(f"SHA-256 {self.sha256}")
        if self.warc_filename:
            local.append(f"local copy {self.warc_filename} at offset {self.warc_offset}")
        return self.line() + (f" ({'; '.join(local)})" if local else "") + "."

    def text(self) -> str:
        """The citation line, then the facts that let anyone check the local copy."""
        lines = [self.line()]
        if self.detail:
            lines.append(f"  {self.detail}")
        if self.seen_unchanged and self.seen_unchanged_at:
            last = parse_when(self.seen_unchanged_at).strftime("%Y-%m-%d %H:%M:%S UTC")
            lines.append(
                f"  Seen unchanged {self.seen_unchanged} time(s) since, last at {last} "
                f"(proof: {self.seen_unchanged_proof})"
            )
        if self.sha256:
            empty = (
                " (an empty body: the answer was the redirect)"
                if (self.redirect_to and self.sha256 == EMPTY_SHA256)
                else ""
            )
            lines.append(f"  SHA-256 of the archived payload: {self.sha256}{empty}")
        if self.warc_filename:
            where = f"  Local copy: {self.warc_filename}, offset {self.warc_offset}"
            if self.capture_id is not None:
                where += f" (Spyglass capture {self.capture_id})"
            lines.append(where)
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        """Every field, plus the two rendered forms."""
        return {
            **asdict(self),
            "text": self.text(),
            "bluebook": self.bluebook(),
            "footnote": self.footnote(),
        }

    def render(self, fmt: str) -> str:
        """Render as `text`, `bluebook`, `footnote` or `json`."""
        import json

        if fmt == "footnote":
            return self.footnote()
        if fmt == "bluebook":
            return self.bluebook()
        if fmt == "json":
            return json.dumps(self.as_dict(), indent=2, ensure_ascii=False)
        return self.text()


def bluebook_date(when: datetime) -> str:
    """Feb. 25, 2018."""
    return f"{MONTHS[when.month - 1]} {when.day}, {when.year}"


def author_of(row: Mapping[str, Any], url: str) -> str:
    """Who a page or file is cited to: its vendor or agency, else the host it came from."""
    return row.get("vendor") or row.get("agency") or urlsplit(url).hostname or row.get("source") or "Unknown"


def local_copy(capture: Mapping[str, Any]) -> dict[str, Any]:
    """The Citation fields that locate a capture's payload: its hash, WARC file and offset."""
    return {
        "sha256": capture.get("sha256"),
        "warc_filename": capture.get("warc_filename"),
        "warc_offset": capture.get("warc_offset"),
        "capture_id": capture.get("id"),
    }
