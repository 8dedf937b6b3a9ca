"""The snapshot closest to a time, from the availability API (through waybackpy)."""

from __future__ import annotations

from dataclasses import dataclass

from archive.errors import (
    WaybackError,
)
from archive.wayback.budget import Budget, wait_sync
from archive.wayback.client import TIMESTAMP_RE, Endpoints, citation_url, parse_snapshot_url


@dataclass(frozen=True)
class Availability:
    """The closest snapshot the availability API names, in citation form."""

    timestamp: str
    original: str
    snapshot_url: str


def closest_snapshot(
    url: str,
    endpoints: Endpoints,
    timestamp: str | None = None,
    user_agent: str = "Spyglass",
    budget: Budget | None = None,
) -> Availability | None:
    """Ask the availability API (through waybackpy) for the capture closest to `timestamp`.

    With `budget`, the request waits for a slot of the machine's Wayback budget.
    """
    from waybackpy import WaybackMachineAvailabilityAPI
    from waybackpy.exceptions import InvalidJSONInAvailabilityAPIResponse

    api = WaybackMachineAvailabilityAPI(url, user_agent=user_agent, max_tries=1)
    api.endpoint = endpoints.availability  # per object: waybackpy has no global setting
    api.api_call_time_gap = 0  # our own callers pace themselves
    if timestamp:
        api.payload["timestamp"] = timestamp
    if budget is not None:
        wait_sync(budget, "cdx")
    try:
        data = api.setup_json() or {}
    except InvalidJSONInAvailabilityAPIResponse as exc:
        raise WaybackError(f"{endpoints.availability}: answer is not JSON") from exc
    except Exception as exc:  # requests' connection errors
        raise WaybackError(f"{endpoints.availability}: {exc}") from exc
    closest = (data.get("archived_snapshots") or {}).get("closest")
    if not closest or not closest.get("available"):
        return None
    ts = str(closest.get("timestamp", ""))
    named = parse_snapshot_url(str(closest.get("url", "")), endpoints.base)
    original = named.original if named else url
    if not TIMESTAMP_RE.match(ts):
        raise WaybackError(f"{endpoints.availability}: bad timestamp {ts!r}")
    return Availability(ts, original, citation_url(ts, original))
