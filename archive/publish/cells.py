"""Table cells a person reads: dates as people write them, hashes shortened with a copy control.

The exact value stays in the page (a date's `datetime` and hover title, a
hash's copy button and title) and in every export, which Datasette builds
from the rows, not from these cells.
"""

from __future__ import annotations

import re
from datetime import datetime

from markupsafe import Markup

# ISO 8601 as the archive writes it: a date, or a date and time with optional fraction and zone.
WHEN = re.compile(r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$")
HASH = re.compile(r"^(?:sha256:|sha1:)?[0-9a-f]{40}(?:[0-9a-f]{24})?$")
SHOWN_HEX = 12


def when_text(value: str) -> str | None:
    """'2026-12-07T04:57:21.123456+00:00' as '7 Dec 2026, 04:57 UTC'; None if it is not an ISO date."""
    found = WHEN.match(value)
    if not found:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    day = f"{moment.day} {moment:%b %Y}"
    if len(value) == 10:
        return day
    offset = moment.utcoffset()
    zone = " UTC" if offset is not None and not offset else (f" {moment:%z}" if offset is not None else "")
    return f"{day}, {moment:%H:%M}{zone}"


def when_cell(value: str) -> Markup | None:
    """A date cell: written as people write it, the exact value on hover and in `datetime`."""
    text = when_text(value)
    if text is None:
        return None
    return Markup('<time class="when" datetime="{0}" title="{0}">{1}</time>').format(value, text)


def hash_cell(value: str) -> Markup | None:
    """A SHA-256 or SHA-1 cell: its first hex digits, the whole on hover, and a button that copies it."""
    if not HASH.match(value):
        return None
    digits = value.split(":")[-1]
    return Markup(
        '<span class="hash" title="{0}"><code>{1}…</code>'
        '<button type="button" class="copy-hash" data-copy-text="{0}" hidden>copy</button></span>'
    ).format(value, digits[:SHOWN_HEX])
