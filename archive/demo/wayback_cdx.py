"""The CDX server's query language, as the Wayback Machine answers it.

Pure functions over a list of rows, so the simulator and its tests share them:
matchType and wildcards, inclusive from/to, whole-field filters with `!` and
regular expressions, collapse over adjacent rows only (`field` or `field:N`),
fl, limit (negative: the last rows), output=json, and resume keys printed after
a blank line.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import parse_qsl, quote_plus, unquote_plus

from archive.wayback.client import CDX_FIELDS, surt


@dataclass(frozen=True)
class Row:
    """One CDX line; `statuscode` and `mimetype` are '-' / 'warc/revisit' for revisits."""

    urlkey: str
    timestamp: str
    original: str
    mimetype: str
    statuscode: str
    digest: str
    length: str

    def field(self, name: str) -> str:
        return getattr(self, name)

    def line(self, fields: Sequence[str] = CDX_FIELDS) -> str:
        return " ".join(self.field(f) for f in fields)


class CdxQueryError(ValueError):
    """A query the real server would answer with 400."""


def _match(rows: list[Row], url: str, match_type: str | None) -> list[Row]:
    if match_type is None:
        if url.endswith("*"):
            match_type, url = "prefix", url[:-1]
        elif url.startswith("*."):
            match_type, url = "domain", url[2:]
        else:
            match_type = "exact"
    key = surt(url)
    if match_type == "exact":
        return [r for r in rows if r.urlkey == key]
    if match_type == "prefix":
        if url.rstrip("/").count("/") <= 2 and not url.endswith("/"):
            key = key.rstrip("/")  # "example.com" as a prefix means the whole host
        return [r for r in rows if r.urlkey.startswith(key)]
    host = key.split(")", 1)[0]
    if match_type == "host":
        return [r for r in rows if r.urlkey.split(")", 1)[0] == host]
    if match_type == "domain":
        return [r for r in rows if r.urlkey.split(")", 1)[0] == host or r.urlkey.startswith(host + ",")]
    raise CdxQueryError(f"unknown matchType {match_type!r}")


def _bound(value: str, fill: str) -> str:
    if not value.isdigit() or len(value) > 14:
        raise CdxQueryError(f"bad timestamp bound {value!r}")
    return value + fill * (14 - len(value))


def _filters(specs: list[str]) -> list[tuple[bool, str, re.Pattern]]:
    out = []
    for spec in specs:
        negate = spec.startswith("!")
        name, sep, pattern = spec.lstrip("!").partition(":")
        if not sep or name not in CDX_FIELDS:
            raise CdxQueryError(f"bad filter {spec!r}")
        out.append((negate, name, re.compile(pattern)))
    return out


def resume_key_after(row: Row) -> str:
    """What the real server prints: the last row's urlkey and its timestamp plus one second."""
    moment = datetime.strptime(row.timestamp, "%Y%m%d%H%M%S") + timedelta(seconds=1)
    return quote_plus(f"{row.urlkey} {moment:%Y%m%d%H%M%S}")


def answer(rows: list[Row], query: str) -> tuple[str, str]:
    """(content type, body) of a CDX query over `rows` (sorted by urlkey, timestamp)."""
    params = parse_qsl(query, keep_blank_values=True)
    first = {}
    for key, value in params:
        first.setdefault(key, value)
    url = first.get("url")
    if not url:
        raise CdxQueryError("url is required")
    found = _match(rows, url, first.get("matchType"))
    if "from" in first:
        low = _bound(first["from"], "0")
        found = [r for r in found if r.timestamp >= low]
    if "to" in first:
        high = _bound(first["to"], "9")
        found = [r for r in found if r.timestamp <= high]
    if "resumeKey" in first:
        key_url, _, key_ts = unquote_plus(first["resumeKey"]).partition(" ")
        found = [r for r in found if (r.urlkey, r.timestamp) >= (key_url, key_ts)]
    for negate, name, pattern in _filters([v for k, v in params if k == "filter"]):
        found = [r for r in found if bool(pattern.fullmatch(r.field(name))) != negate]
    for spec in [v for k, v in params if k == "collapse"]:
        name, _, size = spec.partition(":")
        if name not in CDX_FIELDS:
            raise CdxQueryError(f"bad collapse {spec!r}")
        width = int(size) if size.isdigit() else None
        kept: list[Row] = []
        for row in found:
            value = row.field(name)[:width] if width else row.field(name)
            last = (
                kept[-1].field(name)[:width] if (kept and width) else (kept[-1].field(name) if kept else None)
            )
            if value != last:
                kept.append(row)
        found = kept
    resume = None
    if "limit" in first:
        try:
            limit = int(first["limit"])
        except ValueError:
            raise CdxQueryError(f"bad limit {first['limit']!r}") from None
        if limit < 0:
            found = found[limit:]
        elif len(found) > limit:
            found = found[:limit]
            if first.get("showResumeKey") == "true" and found:
                resume = resume_key_after(found[-1])
    fields = [f for f in first.get("fl", "").split(",") if f] or list(CDX_FIELDS)
    if any(f not in CDX_FIELDS for f in fields):
        raise CdxQueryError(f"bad fl {first.get('fl')!r}")
    if first.get("output") == "json":
        table: list[list[str]] = [fields] + [[r.field(f) for f in fields] for r in found] if found else []
        if resume:
            table += [[], [resume]]
        return "application/json", json.dumps(table)
    body = "".join(r.line(fields) + "\n" for r in found)
    if resume:
        body += f"\n{resume}\n"
    return "text/plain", body
