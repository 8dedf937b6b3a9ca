"""One round of alerts: look for events since the last look, record one alert per target, send what waits.

The look and the marks it moves are one write transaction, so two processes
never find the same events twice; sending holds a lock of its own, so two
processes never send the same pending alert twice, and holds no write lock on
the index while a message is on its way.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from archive.archive import Archive
from archive.config import Config
from archive.index.db import open_index, writing
from archive.locks import LOCK_DIR, Busy, Lock, crawl_lock, is_locked
from archive.notify import events as found
from archive.notify import store
from archive.notify.deliver import Sent, deliver, send
from archive.notify.messages import Event, links
from archive.ops.schedule import job_statuses
from archive.sources.model import Source, Target
from archive.times import iso

if TYPE_CHECKING:
    from archive.evidence.verify import Problem

TEST_SUBJECT = "Spyglass test alert"
TEST_MESSAGE = (
    "This is a test from `spyglass notify --test`: alerts from this archive reach you here. "
    "Nothing has changed."
)


@dataclass
class Round:
    """What one round did: alerts recorded, and what sending them did (None: another process was sending)."""

    new: int
    sent: Sent | None

    @property
    def quiet(self) -> bool:
        """Nothing found, sent or failed: a crawl need not mention alerts."""
        return (
            not self.new
            and self.sent is not None
            and not (self.sent.sent or self.sent.failed or self.sent.dropped)
        )

    @property
    def answers(self) -> list[str]:
        """Each target that refused, with its answer (secrets out)."""
        return self.sent.answers if self.sent else []

    def line(self) -> str:
        head = f"Alerts: {self.new} new"
        if self.sent is None:
            return head + "; another process is sending alerts right now, it sends these too."
        return f"{head}; {self.sent.line()}."


def targets_of(sources: Iterable[Source]) -> list[Target]:
    """Every target any source sends to, each once."""
    return list({t.key: t for source in sources for t in source.notify}.values())


def notify_lock(data_dir: Path) -> Lock:
    """Held while alerts are being sent, so two processes never send the same one."""
    return Lock(Path(data_dir) / LOCK_DIR / "notify.lock", "sending alerts")


def look(config: Config, db, sources: list[Source], now: datetime) -> int:
    """Find the events since the last look and record an alert for each of their targets; how many."""
    by_name = {s.name: s for s in sources if s.notify}
    paths = links(config.public_url)
    with writing(db):
        after_capture, after_run = store.mark(db, "captures"), store.mark(db, "crawl_runs")
        (through_capture,) = db.execute("SELECT coalesce(max(id), 0) FROM captures").fetchone()
        through_run = _runs_ended(db, config.data_dir)
        conn = db.conn
        records = sorted(name for name, s in by_name.items() if s.kind == "records")
        events = [
            *found.change_events(
                conn, after_capture, through_capture, {n: s.alert for n, s in by_name.items()}, paths
            ),
            *found.document_events(conn, after_capture, through_capture, records, paths),
            *found.failed_run_events(conn, after_run, max(through_run, after_run), sorted(by_name)),
            *found.overdue_events(
                job_statuses(
                    db,
                    config.data_dir,
                    list(by_name.values()),
                    now,
                    config.schedule_grace,
                    config.schedule_retry,
                )
            ),
        ]
        new = sum(store.record(db, e, by_name[e.source].notify, now) for e in events if e.source in by_name)
        store.set_mark(db, "captures", max(through_capture, after_capture), now)
        store.set_mark(db, "crawl_runs", max(through_run, after_run), now)
    return new


def _runs_ended(db, data_dir: Path) -> int:
    """The last run id up to which every run has ended: a run still going must be seen by a later look.

    A run left `running` by a dead process holds no lock, and does not hold the mark back.
    """
    going = [
        run_id
        for run_id, source, spider in db.execute(
            "SELECT id, source, spider FROM crawl_runs WHERE status = 'running'"
        ).fetchall()
        if is_locked(crawl_lock(data_dir, source, spider).path)
    ]
    (last,) = db.execute("SELECT coalesce(max(id), 0) FROM crawl_runs").fetchone()
    return min(going) - 1 if going else last


def send_waiting(config: Config, db, sources: list[Source], now: datetime) -> Sent | None:
    """Send every pending alert, unless another process is sending them right now (None)."""
    try:
        with notify_lock(config.data_dir):
            return deliver(db, targets_of(sources), now)
    except Busy:
        return None


def notify_round(config: Config, sources: list[Source], now: datetime, extra: Iterable[Event] = ()) -> Round:
    """Look for events (and record `extra` ones, for every target), then send what waits."""
    db = open_index(Archive.from_config(config))
    try:
        new = look(config, db, sources, now)
        extra = list(extra)
        if extra:
            targets = targets_of(sources)
            with writing(db):
                new += sum(store.record(db, event, targets, now) for event in extra)
        return Round(new, send_waiting(config, db, sources, now))
    finally:
        db.close()


def altered(config: Config, sources: list[Source], problems: Iterable[Problem], now: datetime) -> Round:
    """What `spyglass verify` found, told to every target (each problem once)."""
    return notify_round(config, sources, now, found.altered_events(problems, iso(now)))


def test_all(sources: list[Source]) -> list[tuple[Target, bool, str]]:
    """A test message to every target: (target, delivered, its answer). Nothing is recorded."""
    return [(t, *send(t, TEST_SUBJECT, TEST_MESSAGE)) for t in targets_of(sources)]
