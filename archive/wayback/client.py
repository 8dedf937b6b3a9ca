"""The Wayback Machine's protocol: endpoints, timestamps, CDX answers and the checks that make an answer a memento."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import NamedTuple
from urllib.parse import quote, urlencode, urlsplit

from archive.config import PUBLIC_WAYBACK, Config
from archive.errors import (
    BlockedError,
    ExcludedError,
    MementoMismatchError,
    NotArchivedError,
)

TIMESTAMP_RE = re.compile(r"^\d{14}$")

CDX_FIELDS = ("urlkey", "timestamp", "original", "mimetype", "statuscode", "digest", "length")

# Text the Wayback Machine puts in pages that are not mementos. Seen in the
# recordings (tests/data/wayback-recordings) and on the live service.
EXCLUDED_MARKER = b"This URL has been excluded from the Wayback Machine"

BANNER_MARKERS = (b"<!-- BEGIN WAYBACK TOOLBAR INSERT -->", b"__wm.init(", b"wombat.js")


@dataclass(frozen=True)
class Endpoints:
    """Every Wayback Machine URL Spyglass requests, derived from one base URL."""

    base: str = PUBLIC_WAYBACK
    availability: str = ""

    @classmethod
    def from_config(cls, config: Config) -> Endpoints:
        """Every Wayback Machine URL Spyglass requests, from SPYGLASS_WAYBACK_URL."""
        return cls(config.wayback_url, config.wayback_availability_url)

    def __post_init__(self) -> None:
        object.__setattr__(self, "base", self.base.rstrip("/"))
        if not self.availability:
            object.__setattr__(self, "availability", f"{self.base}/wayback/available")

    @property
    def cdx(self) -> str:
        """The CDX search endpoint."""
        return f"{self.base}/cdx/search/cdx"

    def snapshot(self, timestamp: str, original: str, mode: str = "id_") -> str:
        """`/web/<ts>id_/<url>`: the original bytes, no banner, no rewritten links."""
        return f"{self.base}/web/{timestamp}{mode}/{original}"

    @property
    def save(self) -> str:
        """Save Page Now 2: POST a URL, get a job id."""
        return f"{self.base}/save"

    def save_anonymous(self, original: str) -> str:
        """The anonymous Save Page Now GET."""
        return f"{self.base}/save/{original}"

    def save_status(self, job_id: str) -> str:
        """Status of an SPN2 job (forgotten after about an hour)."""
        return f"{self.base}/save/status/{quote(job_id, safe='')}"


def citation_url(timestamp: str, original: str) -> str:
    """The public snapshot URL a lawyer cites, built from stored values only."""
    return f"{PUBLIC_WAYBACK}/web/{timestamp}/{original}"


def calendar_url(original: str) -> str:
    """The Wayback Machine's calendar of every snapshot of a URL (what a reporter browses next)."""
    return f"{PUBLIC_WAYBACK}/web/*/{original}"


# Hosts that serve Wayback Machine snapshot links (with or without `www.`), and the path of one:
# /web/<timestamp: 4 to 14 digits, a year down to the second><optional replay flag: id_, if_, im_,
# js_, cs_, ...>/<original URL>.
WAYBACK_HOSTS = ("web.archive.org", "wayback.archive.org", "archive.org")
SNAPSHOT_PATH_RE = re.compile(r"^/web/(\d{4,14})([a-z]{2}_)?/(.+)$", re.IGNORECASE | re.DOTALL)


class Snapshot(NamedTuple):
    """A Wayback Machine snapshot URL, read: which memento of which page, in which replay mode."""

    timestamp: str  # 4 to 14 digits, as the URL gives it
    original: str  # the page's URL, with its scheme restored
    flag: str = ""  # the replay mode: "id_" (original bytes), "if_", "im_", "js_", "cs_"..., "" for none


def parse_snapshot_url(url: str, base: str | None = None) -> Snapshot | None:
    """The snapshot a Wayback Machine snapshot URL names, or None if it names none.

    Accepted: http or https; web.archive.org (or wayback.archive.org,
    archive.org, each with or without `www.`), or the configured Wayback base
    URL `base` (a loopback simulator's); any replay flag or none; a 4- to
    14-digit timestamp. The original is kept as written after the timestamp
    (its own query string included, trailing slash or not); a scheme the link
    left out (`host/path`), or one collapsed to `https:/` by a tool that merged
    slashes or a letter that printed it so, is restored. Calendar links
    (`/web/*/...`) name no memento and give None.
    """
    text = url.strip()
    rest = _snapshot_path(text, base)
    found = SNAPSHOT_PATH_RE.match(rest) if rest is not None else None
    if not found:
        return None
    timestamp, flag, original = found.groups()
    original = re.sub(r"^(https?):/+", r"\1://", original, flags=re.IGNORECASE)
    if not re.match(r"^https?://", original, re.IGNORECASE):
        original = "http://" + original
    if not urlsplit(original).hostname:
        return None
    return Snapshot(timestamp, original, (flag or "").lower())


def _snapshot_path(text: str, base: str | None) -> str | None:
    """What follows the Wayback host (or `base`) in `text`, kept raw: the original's query is in it."""
    if base:
        prefix = base.rstrip("/") + "/web/"
        if text[: len(prefix)].lower() == prefix.lower():
            return text[len(prefix) - len("/web/") :]
    parts = urlsplit(text)
    host = (parts.hostname or "").lower().removeprefix("www.")
    if parts.scheme.lower() not in ("http", "https") or host not in WAYBACK_HOSTS:
        return None
    return text.split(parts.netloc, 1)[1]


def parse_timestamp(timestamp: str) -> datetime:
    """A 14-digit Wayback timestamp as an aware UTC datetime; ValueError if impossible."""
    if not TIMESTAMP_RE.match(timestamp or ""):
        raise ValueError(f"not a 14-digit timestamp: {timestamp!r}")
    return datetime.strptime(timestamp, "%Y%m%d%H%M%S").replace(tzinfo=UTC)


def to_timestamp(moment: datetime) -> str:
    """An aware datetime as a 14-digit Wayback timestamp (UTC)."""
    return moment.astimezone(UTC).strftime("%Y%m%d%H%M%S")


def memento_datetime(header: str | None) -> datetime | None:
    """The Memento-Datetime header (RFC 1123) as UTC, or None when absent or unreadable."""
    if not header:
        return None
    try:
        return parsedate_to_datetime(header).astimezone(UTC)
    except (TypeError, ValueError, IndexError):
        return None


def window_bound(value: str | int | None, upper: bool) -> str | None:
    """`2016` -> '20160101000000' / '20161231235959': CDX `from` and `to` are inclusive."""
    if value is None:
        return None
    digits = str(value)
    if upper:
        return (digits + "1231235959"[len(digits) - 4 :]) if len(digits) < 14 else digits
    return (digits + "0101000000"[len(digits) - 4 :]) if len(digits) < 14 else digits


class CdxRecord(NamedTuple):
    """One CDX line: a capture the Wayback Machine holds (or a revisit of one)."""

    urlkey: str
    timestamp: str
    original: str
    mimetype: str
    statuscode: int | None  # None for revisit rows ('-')
    digest: str
    length: int | None  # None when the CDX says '-'

    @property
    def is_revisit(self) -> bool:
        """A revisit row: its bytes are another capture's, nothing new to fetch."""
        return self.statuscode is None or self.mimetype == "warc/revisit"

    @property
    def captured(self) -> datetime:
        """When the Wayback Machine captured it, UTC."""
        return parse_timestamp(self.timestamp)


@dataclass(frozen=True)
class CdxPage:
    """A parsed CDX answer: usable records, one line per unusable row, and the resume key."""

    records: tuple[CdxRecord, ...]
    problems: tuple[str, ...]
    resume_key: str | None


def parse_cdx(text: str) -> CdxPage:
    """Parse the 7-field text form; a bad line becomes a problem, never an exception."""
    records: list[CdxRecord] = []
    problems: list[str] = []
    resume_key = None
    lines = text.split("\n")
    # The resume key comes after a blank line, as the last non-empty line.
    if "" in lines[:-1]:
        blank = max(i for i, line in enumerate(lines[:-1]) if line == "" and i + 1 < len(lines))
        tail = [line for line in lines[blank + 1 :] if line.strip()]
        if len(tail) == 1 and len(tail[0].split()) == 1:
            # Kept as sent: it goes back verbatim as the resumeKey parameter.
            resume_key = tail[0].strip()
            lines = lines[:blank]
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        record, problem = parse_cdx_line(line)
        if problem:
            problems.append(f"CDX line {number}: {problem}")
        elif record is not None:
            records.append(record)
    return CdxPage(tuple(records), tuple(problems), resume_key)


def parse_cdx_line(line: str) -> tuple[CdxRecord | None, str | None]:
    """(record, None) or (None, why this line is unusable)."""
    fields = line.split(" ")
    if len(fields) != 7:
        return None, f"expected 7 fields, got {len(fields)}: {_clip(line)}"
    urlkey, timestamp, original, mimetype, status, digest, length = fields
    try:
        parse_timestamp(timestamp)
    except ValueError:
        return None, f"impossible timestamp {timestamp!r}: {_clip(line)}"
    parts = urlsplit(original)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None, f"original {_clip(original, 80)!r} is not an http(s) URL"
    if status == "-":
        code = None
    elif status.isdigit() and len(status) == 3:
        code = int(status)
    else:
        return None, f"status {status!r} is not an HTTP status: {_clip(line)}"
    size = int(length) if length.isdigit() else None
    return CdxRecord(urlkey, timestamp, original, mimetype, code, digest, size), None


def cdx_query(
    url: str,
    *,
    match: str = "exact",
    start: str | None = None,
    end: str | None = None,
    limit: int | None = None,
    resume_key: str | None = None,
) -> str:
    """The query string of a harvest's CDX request: revisits filtered, adjacent digests collapsed."""
    params: list[tuple[str, str]] = [("url", url), ("matchType", match)]
    if start:
        params.append(("from", start))
    if end:
        params.append(("to", end))
    # Revisit rows (status '-') point at another capture's bytes: nothing new to fetch.
    params.append(("filter", "!statuscode:-"))
    # Collapses only adjacent rows; the spider also dedupes by digest itself.
    params.append(("collapse", "digest"))
    if limit:
        params += [("limit", str(limit)), ("showResumeKey", "true")]
    if resume_key:
        params.append(("resumeKey", resume_key))
    return urlencode(params)


def surt(url: str) -> str:
    """Sort-friendly URI key as the CDX prints it: 'gov,nasa)/path?query'."""
    if "://" not in url:
        url = "http://" + url
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if host.startswith("www."):
        host = host[4:]
    key = ",".join(reversed(host.split("."))) + ")"
    if parts.port and parts.port not in (80, 443):
        key = key[:-1] + f":{parts.port})"
    path = (parts.path or "/").lower()
    return key + path + (f"?{parts.query.lower()}" if parts.query else "")


def check_memento(status: int, headers: dict[str, str], body: bytes, asked: str) -> datetime:
    """The memento's datetime if this `id_` answer is the capture asked for; else a WaybackError."""
    runtime_error = headers.get("x-archive-wayback-runtime-error")
    if status == 403 or runtime_error:
        raise BlockedError(f"blocked by the Wayback Machine ({runtime_error or 'HTTP 403'})")
    if status == 404 and not headers.get("memento-datetime"):
        raise NotArchivedError("the Wayback Machine has not archived this URL (404)")
    moment = memento_datetime(headers.get("memento-datetime"))
    if moment is None:
        if EXCLUDED_MARKER in body:
            raise ExcludedError("this URL has been excluded from the Wayback Machine")
        reason = headers.get("x-archive-redirect-reason")
        if reason:
            raise MementoMismatchError(
                f"no capture at {asked}: HTTP {status} to {headers.get('location', '?')} ({reason})"
            )
        raise MementoMismatchError(f"HTTP {status} without Memento-Datetime: not a memento")
    if to_timestamp(moment) != asked:
        raise MementoMismatchError(f"asked for {asked}, got a memento of {to_timestamp(moment)}")
    if any(marker in body for marker in BANNER_MARKERS):
        raise MementoMismatchError("answer carries the Wayback banner: a rewritten page, not the original")
    return moment


def _clip(text: str, size: int = 120) -> str:
    return text if len(text) <= size else text[:size] + "..."
