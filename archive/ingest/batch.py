"""A batch: the rows queued since the last commit, applied by a sink in one transaction."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Batch:
    """Rows queued since the last commit; applied in one transaction, in this order."""

    captures: list[dict[str, Any]] = field(default_factory=list)
    observations: list[dict[str, Any]] = field(default_factory=list)
    validators: list[dict[str, Any]] = field(default_factory=list)
    links: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    # Records items (releases, documents) name captures by WARC-Record-ID, so
    # they are saved after the captures of the same batch.
    records: list[Any] = field(default_factory=list)
    # Screenshots of browser loads, naming their capture by WARC-Record-ID (`capture_record`):
    # its id is known only once the captures before them in the batch are saved.
    screenshots: list[dict[str, Any]] = field(default_factory=list)
    # Redis mode: leases of requests whose every row is in this batch or an earlier one.
    releases: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.captures) + len(self.errors) + len(self.records) + len(self.screenshots)

    def empty(self) -> bool:
        return not (
            self.captures
            or self.errors
            or self.records
            or self.screenshots
            or self.observations
            or self.validators
            or self.releases
        )
