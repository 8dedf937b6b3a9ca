"""How often a source is crawled: `every:` values of sources.yml, and the next time one falls due.

An `every` is a duration (`30m`, `6h`, `1d`, `7d`, `2w`: the next run is due
that long after the last one started), a five-field cron expression
(`0 3 * * *`: due at the next time it names after the last start, in UTC), or
`never` (crawled only when asked by name, never by `spyglass run-due`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"(\d+)\s*([mhdw])")

# Built-in defaults when neither the source nor the file says: vendor pages
# change often enough to look daily; a Wayback harvest only fetches what the
# Wayback Machine gained since, so weekly loses nothing.
DEFAULT_EVERY = {"vendor": "1d", "records": "1d", "wayback": "7d"}
EVERY_KINDS = tuple(DEFAULT_EVERY)


@dataclass(frozen=True)
class Every:
    """A parsed `every:` value."""

    text: str
    seconds: int | None = None  # a duration
    cron: str | None = None  # a cron expression

    @property
    def never(self) -> bool:
        return self.seconds is None and self.cron is None

    def next_after(self, when: datetime) -> datetime | None:
        """When a job last started at `when` is due again (None: never)."""
        if self.seconds is not None:
            return when + timedelta(seconds=self.seconds)
        if self.cron is not None:
            from croniter import croniter

            return croniter(self.cron, when).get_next(datetime)
        return None


def parse_every(value: object) -> Every:
    """An Every from sources.yml text; ValueError with a readable reason otherwise."""
    if isinstance(value, bool) or not isinstance(value, str) or not value.strip():
        raise ValueError(
            f"must be a duration such as 6h, 1d or 7d, a cron expression, or never; got {value!r}"
        )
    text = " ".join(value.split())
    if text.lower() == "never":
        return Every("never")
    match = _DURATION.fullmatch(text.lower())
    if match:
        seconds = int(match.group(1)) * UNITS[match.group(2)]
        if seconds < 60:
            raise ValueError(f"must be at least 1m, got {value!r}")
        return Every(text, seconds=seconds)
    if len(text.split()) == 5 and _cron_valid(text):
        return Every(text, cron=text)
    raise ValueError(
        f"must be a duration such as 6h, 1d or 7d (m, h, d, w), a five-field cron "
        f"expression such as '0 3 * * *', or never; got {value!r}"
    )


def _cron_valid(text: str) -> bool:
    """Whether croniter reads `text` (imported here: 0.04 CPU-s that only a cron `every` needs)."""
    from croniter import croniter

    return croniter.is_valid(text)
