"""What a capture row means: whether it is a Wayback memento, and when it shows the page."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from archive.times import parse_when


def is_wayback(capture: Mapping[str, Any]) -> bool:
    """A Wayback Machine memento, as opposed to a live capture."""
    return capture.get("via") == "wayback" or bool(capture.get("wayback_timestamp"))


def memento_time(capture: Mapping[str, Any]) -> datetime | None:
    """When the Wayback Machine archived the page (not when we fetched it)."""
    for key in ("wayback_timestamp", "memento_at"):
        if capture.get(key):
            return parse_when(str(capture[key]))
    return None


def effective_time(capture: Mapping[str, Any]) -> datetime:
    """The time a capture shows the page at: the memento's for Wayback rows, ours otherwise."""
    return memento_time(capture) or parse_when(capture["captured_at"])


def page_url(capture: Mapping[str, Any]) -> str:
    """The URL a capture shows: for a Wayback memento the original page, not the snapshot."""
    return capture.get("original_url") or capture["url"]


def is_redirect(capture: Mapping[str, Any]) -> bool:
    """An archived 3xx answer that says where it led."""
    return 300 <= (capture.get("status") or 0) < 400 and bool(capture.get("location"))
