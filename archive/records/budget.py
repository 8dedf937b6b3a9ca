"""How fast Spyglass talks to each records service's API: ServiceBudget, one rule per field with its reason.

The budgets are spent through Scrapy's own per-slot politeness: every API
request of a source carries `download_slot` = `spyglass-<service>`, and that
slot gets DOWNLOAD_SLOTS' delay and concurrency from here, so the crawler, its
address guard, its retries (429 with Retry-After, archive/crawl/retry.py) and
its WARC capture all stay in the path. Released files are fetched from other
hosts (a CDN, object storage) and are not counted against an API's budget.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ServiceBudget:
    """Requests per minute Spyglass allows itself against each service's API; each rule says why."""

    # MuckRock's API v2 allows 15 requests a minute (burst 100) on requests/,
    # communications/, files/ and agencies/, for anonymous and signed-in users
    # alike (the limits python-muckrock, MuckRock's own client, enforces). The
    # steady rate is what we keep to; we never rely on the burst.
    muckrock: float = 15.0
    # DocumentCloud's API allows 10 requests a second (python-documentcloud's
    # RATE_LIMIT / RATE_PERIOD); 80% of it leaves room for a person using the
    # same IP in a browser.
    documentcloud: float = 480.0
    # NextRequest publishes no limit. Public scrapers of its client API
    # (Big Local News, foiatool) wait 2 seconds between calls: so do we.
    nextrequest: float = 30.0

    def delay(self, service: str) -> float:
        """Seconds between two API requests to `service`."""
        return 60.0 / max(getattr(self, service), 0.001)


def download_slots(budget: ServiceBudget, service: str) -> dict[str, dict[str, Any]]:
    """The DOWNLOAD_SLOTS entry that spaces one service's API requests: one at a time, evenly."""
    return {slot_name(service): {"concurrency": 1, "delay": budget.delay(service), "jitter": 0}}


def slot_name(service: str) -> str:
    """The Scrapy download slot a service's API requests share."""
    return f"spyglass-{service}"
