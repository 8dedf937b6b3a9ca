"""How fast Spyglass talks to the Wayback Machine: RatePolicy, one rule per field with its reason."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RatePolicy:
    """How fast Spyglass talks to the Wayback Machine; each rule says why."""

    # CDX and TimeMap share one budget of 30 requests a minute per IP; 80% of
    # it leaves room for a person using the same IP in a browser.
    cdx_per_window: int = 24
    # Snapshot (id_) fetches are allowed about 600 a minute; 80% again.
    snapshots_per_window: int = 480
    # Save Page Now takes 6 URLs a minute from an account and 3 anonymously
    # (its changelog, 2023); more are queued as "overloaded", not refused.
    # Status polls are ordinary requests and count as snapshots.
    saves_per_window: int = 3
    # The "minute" the budgets count over. Only tests shrink it.
    window_seconds: float = 60.0
    # 429s carry no Retry-After, and an IP that keeps sending after 429s for
    # over a minute is firewalled for an hour (doubling each time): stop
    # everything for at least a minute.
    pause_on_429: float = 60.0
    # A 503 or a cut body is usually a busy node: retry a few times, slowly,
    # never at once ("never retry hot").
    retries: int = 2
    retry_backoff: float = 10.0
    # Rows per CDX request before following the resume key.
    cdx_page_size: int = 5000

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
