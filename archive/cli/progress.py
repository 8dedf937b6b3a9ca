"""A progress bar for long commands (verify, documents): redrawn in place on a terminal only.

Output that goes to a file or a pipe gets no bar and no carriage returns: one
plain line when the work is done (what was read and how long it took), so a log
stays one line per event.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO

WIDTH = 30
REDRAW_SECONDS = 0.1


class Bar:
    """`[#####.....]  45%  44.1/98.4 MB  1.2 s` on stderr while work is done, if stderr is a terminal."""

    def __init__(
        self, label: str, unit: str = "MB", scale: float = 1e6, stream: TextIO | None = None
    ) -> None:
        self.label = label
        self.unit = unit
        self.scale = scale
        self.stream = stream or sys.stderr
        self.shown = bool(getattr(self.stream, "isatty", lambda: False)())
        self.total = 0
        self.done = 0
        self.started = time.monotonic()
        self.drawn = 0.0
        self.lock = threading.Lock()

    def start(self, total: int) -> None:
        """Set how much work there is; the bar appears now."""
        with self.lock:
            self.total, self.done, self.started = total, 0, time.monotonic()
            self._draw()

    def add(self, more: int) -> None:
        """More work found as it goes (a document's pages, once it is opened)."""
        with self.lock:
            self.total += more

    def advance(self, done: int) -> None:
        """Count `done` more units (safe from any thread); redraws at most ten times a second."""
        with self.lock:
            self.done += done
            if time.monotonic() - self.drawn >= REDRAW_SECONDS:
                self._draw()

    def finish(self) -> None:
        """Draw the bar full and end its line; without a terminal, print the plain line instead."""
        with self.lock:
            if not self.shown:
                seconds = time.monotonic() - self.started
                self.stream.write(f"{self.label}: {self._amount(self.done)} {self.unit} in {seconds:.1f} s\n")
                self.stream.flush()
                return
            self.done = max(self.done, self.total)
            self._draw()
            self.stream.write("\n")
            self.stream.flush()

    def stop(self) -> None:
        """The work failed: end the bar's line on a terminal, so the error starts on its own; nothing off one."""
        with self.lock:
            if self.shown and self.drawn:
                self.stream.write("\n")
                self.stream.flush()

    def line(self) -> str:
        """The bar as one line of text."""
        share = min(self.done / self.total, 1.0) if self.total else 1.0
        filled = int(share * WIDTH)
        return (
            f"{self.label} [{'#' * filled}{'.' * (WIDTH - filled)}] {share:4.0%}  "
            f"{self._amount(self.done)}/{self._amount(self.total)} {self.unit}  "
            f"{time.monotonic() - self.started:.1f} s"
        )

    def _amount(self, n: int) -> str:
        return str(n) if self.scale == 1 else f"{n / self.scale:.1f}"

    def _draw(self) -> None:
        if not self.shown:
            return
        self.drawn = time.monotonic()
        self.stream.write("\r" + self.line())
        self.stream.flush()
