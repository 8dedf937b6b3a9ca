"""Settling history after a crawl is reported finished: the hosts a run left pending, in a process of its own.

Finding a host's boilerplate again reads and hashes the sentences of up to
2,000 of its pages (about a second for the 2,000-page benchmark site): work
that kept a crawl's command running after its last page. A run now records
the hosts it touched in history_pending as it ends; the crawl starts this
module in the background (`python -m archive.history.later`) and exits. Until
it is done, captures, versions and changes are all there, read consistently,
but a host's boilerplate is the one found before the run: a sentence that has
just become site-wide still shows in that run's changes. `spyglass status`
says how many hosts are pending; the next crawl starts this again if it was
killed; `spyglass rebuild-history` settles every host.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import sqlite_utils

from archive.archive import Archive
from archive.config import Config
from archive.history.context import Rules
from archive.history.ingest import HistoryWriter
from archive.index.db import open_existing, writing
from archive.locks import LOCK_DIR, Busy, Lock


@dataclass(frozen=True)
class Pending:
    """What history still has to settle: hosts, the runs that left them, since when."""

    hosts: int
    runs: list[int]
    since: str | None

    def line(self) -> str:
        """One line for `spyglass status` (empty when nothing is pending)."""
        if not self.hosts:
            return ""
        runs = ", ".join(str(r) for r in self.runs)
        return (
            f"History: boilerplate of {self.hosts} host(s) still being found again after run(s) {runs} "
            f"(since {self.since}); versions and changes are complete once it is done."
        )


def pending(db: sqlite_utils.Database) -> Pending:
    """The hosts left to settle, and by which runs."""
    hosts, since = db.execute("SELECT count(DISTINCT host), min(added_at) FROM history_pending").fetchone()
    runs = [
        r[0]
        for r in db.execute(
            "SELECT DISTINCT crawl_run FROM history_pending WHERE crawl_run IS NOT NULL ORDER BY 1"
        )
    ]
    return Pending(hosts, runs, since)


def settle_pending(db: sqlite_utils.Database, rules: Rules) -> int:
    """Settle every pending host, each in a transaction of its own that also clears it; how many."""
    done = 0
    while True:
        row = db.execute(
            "SELECT host, max(id) FROM history_pending GROUP BY host ORDER BY min(id) LIMIT 1"
        ).fetchone()
        if row is None:
            return done
        host, through = row
        history = HistoryWriter(db, rules)
        history.hosts = {host}
        with writing(db):
            history.settle()
            # Rows added while it settled (another run touched the host) stay for the next turn.
            db.execute("DELETE FROM history_pending WHERE host = ? AND id <= ?", [host, through])
        done += 1


def settle_lock(data_dir: Path) -> Lock:
    """Held while pending history is settled, so two processes never settle the same host at once."""
    return Lock(Path(data_dir) / LOCK_DIR / "settle.lock", "settling history")


def settle_archive(config: Config) -> int:
    """Settle what is pending in `config`'s archive unless another process is doing it; hosts settled."""
    archive = Archive.from_config(config)
    done = 0
    while True:
        try:
            lock = settle_lock(config.data_dir).acquire()
        except Busy:
            return done  # the holder looks again after it lets go
        try:
            db = open_existing(archive)
            try:
                done += settle_pending(db, Rules.from_config(config))
            finally:
                db.close()
        finally:
            lock.release()
        db = open_existing(archive)
        try:
            if not pending(db).hosts:  # nothing came in while the lock was let go
                return done
        finally:
            db.close()


def start_settling(config: Config) -> None:
    """Settle what is pending in a background process that outlives this one.

    It keeps this process's standard output and error: a caller that reads
    them to their end (a test, a pipe) sees the archive settled.
    """
    settings = {
        name: str(value)
        for name, value in config.as_settings().items()
        if name in ("SPYGLASS_DATA_DIR", "SPYGLASS_BOILERPLATE_SHARE", "SPYGLASS_BOILERPLATE_MIN_PAGES")
    }
    subprocess.Popen(
        [sys.executable, "-m", "archive.history.later"],
        env={**os.environ, **settings},
        stdin=subprocess.DEVNULL,
        start_new_session=True,  # Ctrl-C at the terminal, meant for the crawl, does not reach it
    )


if __name__ == "__main__":
    settle_archive(Config.load())
