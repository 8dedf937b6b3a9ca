"""Locks that keep two processes from doing the same work: one file each, held with flock.

The kernel releases an flock when its holder dies, however it dies, so a lock
file left behind by a killed process is no lock at all: the next process takes
it over at once. The file names its holder (pid, host, start time) so a
refusal can say who holds it, and a take-over can say whose lock it was.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from archive.times import iso, utc_now

LOCK_DIR = "locks"


@dataclass(frozen=True)
class Holder:
    """Who holds (or last held) a lock."""

    pid: int | None
    hostname: str
    since: str
    what: str

    def describe(self) -> str:
        return f"pid {self.pid} on {self.hostname}, since {self.since}"


class Busy(Exception):
    """The lock is held by a live process."""

    def __init__(self, path: Path, holder: Holder | None) -> None:
        self.path = path
        self.holder = holder
        who = holder.describe() if holder else "another process"
        super().__init__(f"{path.name} is held by {who}")


class Lock:
    """An exclusive, non-blocking lock on `path`; `acquire` raises Busy when a live process holds it."""

    def __init__(self, path: Path, what: str) -> None:
        self.path = Path(path)
        self.what = what
        self._fh: IO[str] | None = None
        # The holder found in the file when it was taken over from a dead process.
        self.taken_over: Holder | None = None

    def acquire(self) -> Lock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - held until release
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fh)
            fh.close()
            raise Busy(self.path, holder) from None
        previous = _read_holder(fh)
        if previous is not None and previous.pid is not None:
            self.taken_over = previous
        fh.seek(0)
        fh.truncate()
        json.dump(
            {
                "pid": os.getpid(),
                "hostname": socket.gethostname(),
                "since": iso(utc_now()),
                "what": self.what,
            },
            fh,
        )
        fh.flush()
        self._fh = fh
        return self

    def release(self) -> None:
        """Empty the file (a clean exit leaves no holder to report) and unlock it."""
        if self._fh is None:
            return
        self._fh.seek(0)
        self._fh.truncate()
        self._fh.flush()
        fcntl.flock(self._fh.fileno(), fcntl.LOCK_UN)
        self._fh.close()
        self._fh = None

    def __enter__(self) -> Lock:
        return self.acquire()

    def __exit__(self, *exc: Any) -> None:
        self.release()


def _read_holder(fh: IO[str]) -> Holder | None:
    fh.seek(0)
    try:
        data = json.loads(fh.read() or "null")
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    return Holder(
        data.get("pid"), str(data.get("hostname", "")), str(data.get("since", "")), str(data.get("what", ""))
    )


def is_locked(path: Path) -> bool:
    """Whether a live process holds the lock at `path` right now (it is not taken)."""
    if not Path(path).exists():
        return False
    with open(path, encoding="utf-8") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
    return False


def crawl_lock(data_dir: Path, source: str, spider: str) -> Lock:
    """The lock a crawl of `source` by `spider` holds for as long as it runs, whatever started it."""
    return Lock(Path(data_dir) / LOCK_DIR / f"crawl-{source}-{spider}.lock", f"crawl of {source} ({spider})")


def run_due_lock(data_dir: Path) -> Lock:
    """The lock `spyglass run-due` holds, so runs started by cron never overlap."""
    return Lock(Path(data_dir) / LOCK_DIR / "run-due.lock", "spyglass run-due")
