"""Time as Spyglass records it: aware UTC datetimes and their ISO 8601 text."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from dateutil import parser as date_parser


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
        digits = (value + "0101000000"[len(value) - 4 :])[:14] if len(value) < 14 else value
        return datetime.strptime(digits, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


# Two parses with different defaults show which parts the text itself gave:
# a part that differs between them was filled in by the default.
_DEFAULTS = (datetime(2000, 1, 1), datetime(2004, 2, 2))


def iso_date_of(text: str | None) -> str | None:
    """A written date in ISO 8601 at the precision it was written: '12/27/2012' -> '2012-12-27',
    'Mar. 2019' -> '2019-03', '2019' -> '2019'; None when the text names no year.

    US order (month first), as in US public records. Nothing is invented: a
    date without a day stays a month, never the 1st.
    """
    text = (text or "").strip()
    if not text or (text.isdigit() and len(text) not in (4, 8)):
        return None  # a bare count or serial number, not a date
    try:
        first, second = (date_parser.parse(text, default=d) for d in _DEFAULTS)
    except (ValueError, OverflowError):
        return None
    if first.year != second.year or not 1800 <= first.year <= 2200:
        return None
    if first.month != second.month:
        return f"{first.year:04d}"
    if first.day != second.day:
        return f"{first.year:04d}-{first.month:02d}"
    return first.date().isoformat()
