"""What a capture row means: whether it is a Wayback memento, whether it is a redirect.

When it shows the page, and which page, is the as-of rule: archive/index/asof.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def is_wayback(capture: Mapping[str, Any]) -> bool:
    """A Wayback Machine memento, as opposed to a live capture."""
    return capture.get("via") == "wayback" or bool(capture.get("wayback_timestamp"))


def is_redirect(capture: Mapping[str, Any]) -> bool:
    """An archived 3xx answer that says where it led."""
    return 300 <= (capture.get("status") or 0) < 400 and bool(capture.get("location"))
