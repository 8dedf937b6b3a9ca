"""Time as Spyglass records it: aware UTC datetimes and their ISO 8601 text."""

from __future__ import annotations

import re
from datetime import UTC, datetime


def utc_now() -> datetime:
    """Timezone-aware now in UTC; every Spyglass timestamp starts here."""
    return datetime.now(UTC)


def iso(dt: datetime) -> str:
    """ISO 8601 UTC with microseconds and a Z, the form used in WARC 1.1 and the index."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_when(value: str) -> datetime:
    """A UTC datetime from ISO 8601 (date or date-time, Z or offset) or a 4-14 digit Wayback timestamp."""
    value = value.strip()
    if re.fullmatch(r"\d{4,14}", value):
        digits = (value + "0101000000"[len(value) - 4:])[:14] if len(value) < 14 else value
        return datetime.strptime(digits, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)
