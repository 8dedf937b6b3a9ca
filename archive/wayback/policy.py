"""How fast Spyglass talks to the Wayback Machine: RatePolicy, one rule per field.

Each rule's default and its reason are written once, beside its setting in
archive/config.py; RatePolicy only reads them.
"""

from __future__ import annotations

from dataclasses import dataclass

from archive.config import Config


@dataclass(frozen=True)
class RatePolicy:
    """How fast Spyglass talks to the Wayback Machine; each rule's reason is beside its setting."""

    cdx_per_window: int = Config.wayback_cdx_per_window
    snapshots_per_window: int = Config.wayback_snapshots_per_window
    saves_per_window: int = Config.wayback_saves_per_window
    window_seconds: float = Config.wayback_window
    pause_on_429: float = Config.wayback_pause_on_429
    retries: int = Config.wayback_retries
    retry_backoff: float = Config.wayback_retry_backoff
    cdx_page_size: int = Config.wayback_cdx_page_size

    @classmethod
    def from_config(cls, config: Config) -> RatePolicy:
        """The Wayback Machine rate policy these settings describe."""
        return cls(
            cdx_per_window=config.wayback_cdx_per_window,
            snapshots_per_window=config.wayback_snapshots_per_window,
            saves_per_window=config.wayback_saves_per_window,
            window_seconds=config.wayback_window,
            pause_on_429=config.wayback_pause_on_429,
            retries=config.wayback_retries,
            retry_backoff=config.wayback_retry_backoff,
            cdx_page_size=config.wayback_cdx_page_size,
        )

    def interval(self, bucket: str) -> float:
        """Seconds between two requests of `bucket` ('cdx', 'snapshot' or 'save')."""
        per = {"cdx": self.cdx_per_window, "save": self.saves_per_window}.get(
            bucket, self.snapshots_per_window
        )
        return self.window_seconds / max(per, 1)


DEFAULT_POLICY = RatePolicy()

# After this many 429s for one request something is wrong with the budget;
# giving up is kinder to the service than a firewall block.
MAX_429_PER_REQUEST = 5
