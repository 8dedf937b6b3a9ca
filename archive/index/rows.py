"""What a capture row means: whether it is a Wayback memento, when it shows the page, where to cite it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from archive.times import parse_when
from archive.wayback.client import citation_url


def is_wayback(capture: Mapping[str, Any]) -> bool:
    """A Wayback Machine memento, as opposed to a live capture."""
    return capture.get("via") == "wayback" or bool(capture.get("wayback_timestamp"))


def snapshot_url(capture: Mapping[str, Any]) -> str | None:
    """The public snapshot URL: as stored, or built from the stored timestamp and original URL."""
    if capture.get("snapshot_url"):
        return capture["snapshot_url"]
    if capture.get("wayback_timestamp") and capture.get("original_url"):
        return citation_url(capture["wayback_timestamp"], capture["original_url"])
    return None


def memento_time(capture: Mapping[str, Any]) -> datetime | None:
    """When the Wayback Machine archived the page (not when we fetched it)."""
    for key in ("wayback_timestamp", "memento_at"):
        if capture.get(key):
            return parse_when(str(capture[key]))
    return None


def effective_time(capture: Mapping[str, Any]) -> datetime:
    """The time a capture shows the page at: the memento's for Wayback rows, ours otherwise."""
    return memento_time(capture) or parse_when(capture["captured_at"])
