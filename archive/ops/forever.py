"""`run-due --forever`: a foreground scheduler for a container or a supervisor, where cron is absent.

Each pass is a child `run-due` process, because Twisted's reactor cannot be
started twice in one process, and a crawl's memory is returned when its pass
ends. The child gets its own session, so a terminal's Ctrl-C reaches it once,
from here: the first SIGINT/SIGTERM stops the pass cleanly, a second stops it
at once, just as for `run-due` itself, and then this loop ends.
"""

from __future__ import annotations

import signal
import subprocess
import threading
from collections.abc import Callable
from typing import Any


class Forever:
    """Runs `argv` (one run-due pass) again and again, sleeping `next_wait()` seconds between passes."""

    def __init__(self, argv: list[str], next_wait: Callable[[], float], say: Callable[[str], None]) -> None:
        self.argv = argv
        self.next_wait = next_wait
        self.say = say
        self.stopped = threading.Event()
        self.child: subprocess.Popen | None = None
        self.signals = 0

    def on_signal(self, signum: int, _frame: Any) -> None:
        """Stop after this pass (first signal) or now (second): the child gets each signal too."""
        self.signals += 1
        self.stopped.set()
        child = self.child
        if child is not None and child.poll() is None:
            child.send_signal(signum)

    def run(self) -> int:
        """Loop until a signal; 0 (a stop asked for is a clean stop: the interrupted runs resume)."""
        previous = {sig: signal.signal(sig, self.on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        code = 0
        try:
            while not self.stopped.is_set():
                self.child = subprocess.Popen(self.argv, start_new_session=True)
                code = self.child.wait()
                self.child = None
                if self.stopped.is_set():
                    break
                wait = self.next_wait()
                self.say(f"run-due --forever: next look in {wait:.0f} s")
                self.stopped.wait(wait)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        self.say(f"run-due --forever: stopped by a signal (last pass exited {code})")
        return 0
