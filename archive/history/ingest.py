"""History as captures arrive: the writer hands each batch of saved captures here.

Each capture adds at most one sighting and, in the usual case, computes at
most one change. After a crawl run, `settle` finds the touched hosts'
boilerplate again, where it can have changed. All of it runs inside the
writer's transaction under a savepoint: if history fails, the captures are
still saved, and `spyglass rebuild-history` recomputes it.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any

import sqlite_utils

from archive.history.boilerplate import boilerplate_may_change, settle_host
from archive.history.context import Context, Rules, Work
from archive.history.phrases import sync_watched
from archive.history.sightings import build_sighting, save_sighting
from archive.history.versions import add_sighting
from archive.times import iso, utc_now


def add_capture(ctx: Context, capture: dict[str, Any], text: str | None) -> str | None:
    """Fold one saved capture (with its extracted main text) into history; returns its host, if a page."""
    sighting = build_sighting(ctx.db, capture, text, ctx.boilerplate)
    if sighting is None:
        return None
    save_sighting(ctx.db, sighting)
    ctx.work.sightings_added += 1
    add_sighting(ctx, sighting)
    return sighting["host"]


def add_observation(ctx: Context, capture_id: int, seen_at: str) -> str | None:
    """The page seen unchanged at `seen_at`, confirming capture `capture_id` (a 304, an unchanged payload).

    It extends the version that capture belongs to, as a sighting would. For
    a regroup to keep it, sightings.page_sightings must list observations too.
    """
    found = ctx.db.execute("SELECT * FROM page_sightings WHERE capture_id = ?", [capture_id])
    names = [d[0] for d in found.description]
    row = found.fetchone()
    if row is None:
        return None
    sighting = {**dict(zip(names, row)), "seen_at": seen_at}
    add_sighting(ctx, sighting)
    return sighting["host"]


class HistoryWriter:
    """The writer process's history: captures folded in batch by batch, hosts settled at the end."""

    def __init__(self, db: sqlite_utils.Database, rules: Rules) -> None:
        self.db = db
        self.rules = rules
        self.hosts: set[str] = set()
        self.work = Work()

    def _guarded(self, what: str, job: Any) -> None:
        conn = self.db.conn
        conn.execute("SAVEPOINT history")
        try:
            job(Context(self.db, self.rules, self.work))
        except Exception as exc:  # noqa: BLE001 - derived data must never cost a capture
            conn.execute("ROLLBACK TO history")
            print(
                f"spyglass: history not updated ({what}: {type(exc).__name__}: {exc}); "
                "run `spyglass rebuild-history`",
                file=sys.stderr,
            )
        conn.execute("RELEASE history")

    def add(self, captures: Iterable[dict[str, Any]]) -> None:
        """Saved capture rows (with ids and extracted text), inside the caller's transaction."""

        def job(ctx: Context) -> None:
            for capture in captures:
                host = add_capture(ctx, capture, capture.get("text"))
                if host:
                    self.hosts.add(host)

        self._guarded("captures", job)

    def observe(self, observations: Iterable[tuple[int, str]]) -> None:
        """(confirmed capture id, seen at) pairs: a page seen unchanged without a new capture."""

        def job(ctx: Context) -> None:
            for capture_id, seen_at in observations:
                host = add_observation(ctx, capture_id, seen_at)
                if host:
                    self.hosts.add(host)

        self._guarded("observations", job)

    def watch(self, name: str, config: dict[str, Any]) -> None:
        """A source's configuration was recorded: keep its watched phrases current."""
        self._guarded("watched phrases", lambda ctx: sync_watched(ctx, name, config))

    def defer(self, run_id: int | None) -> int:
        """Leave the hosts this run touched to be settled after it is reported finished
        (archive/history/later.py), inside the caller's transaction; how many."""
        hosts, self.hosts = sorted(self.hosts), set()
        now = iso(utc_now())
        self.db.conn.executemany(
            "INSERT INTO history_pending (host, crawl_run, added_at) VALUES (?, ?, ?)",
            [(host, run_id, now) for host in hosts],
        )
        return len(hosts)

    def settle(self) -> None:
        """Find the boilerplate of every host this run touched, where it can have changed
        (inside the caller's transaction)."""
        hosts, self.hosts = sorted(self.hosts), set()

        def job(ctx: Context) -> None:
            for host in hosts:
                if boilerplate_may_change(ctx, host):
                    settle_host(ctx, host)

        self._guarded("boilerplate", job)
