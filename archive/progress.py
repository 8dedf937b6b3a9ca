"""What long work tells a progress display: how much there is, and each part done (from any thread)."""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    """Told the work's size, more work as it is found, and each part done; archive/cli/progress.py draws it."""

    def start(self, total: int) -> None: ...

    def add(self, more: int) -> None: ...

    def advance(self, done: int) -> None: ...
