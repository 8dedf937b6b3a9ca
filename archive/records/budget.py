"""How fast Spyglass talks to each records service's API: ServiceBudget, one rule per field.

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

from archive.config import Config


@dataclass(frozen=True)
class ServiceBudget:
    """Requests per minute Spyglass allows itself against each service's API (the reasons: archive/config.py)."""

    muckrock: float = Config.muckrock_per_minute
    documentcloud: float = Config.documentcloud_per_minute
    nextrequest: float = Config.nextrequest_per_minute

    @classmethod
    def from_config(cls, config: Config) -> ServiceBudget:
        """The records services' API budgets these settings describe."""
        return cls(
            muckrock=config.muckrock_per_minute,
            documentcloud=config.documentcloud_per_minute,
            nextrequest=config.nextrequest_per_minute,
        )

    def delay(self, service: str) -> float:
        """Seconds between two API requests to `service`."""
        return 60.0 / max(getattr(self, service), 0.001)


def download_slots(budget: ServiceBudget, service: str) -> dict[str, dict[str, Any]]:
    """The DOWNLOAD_SLOTS entry that spaces one service's API requests: one at a time, evenly."""
    return {slot_name(service): {"concurrency": 1, "delay": budget.delay(service), "jitter": 0}}


def slot_name(service: str) -> str:
    """The Scrapy download slot a service's API requests share."""
    return f"spyglass-{service}"
