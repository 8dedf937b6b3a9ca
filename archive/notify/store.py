"""The alerts table: one row per event and target, pending until sent, never sent twice.

The unique (event_key, target_key) index is the exactly-once rule: an event
found again adds nothing, and a row is marked sent only by the delivery that
sent it. A target's URL (and so its secrets) is never stored: only its label
(scheme and host) and a digest of the URL as sources.yml writes it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlite_utils

from archive.index.queries import rows
from archive.notify.messages import Event
from archive.sources.model import Target
from archive.times import iso, parse_when


def mark(db: sqlite_utils.Database, name: str) -> int:
    """The last id (of captures, of crawl_runs) already looked through for events."""
    found = db.execute("SELECT through_id FROM alert_marks WHERE name = ?", [name]).fetchone()
    return found[0] if found else 0


def set_mark(db: sqlite_utils.Database, name: str, through: int, now: datetime) -> None:
    db.execute(
        "INSERT INTO alert_marks (name, through_id, updated_at) VALUES (?, ?, ?) "
        "ON CONFLICT (name) DO UPDATE SET through_id = excluded.through_id, updated_at = excluded.updated_at",
        [name, through, iso(now)],
    )


def record(db: sqlite_utils.Database, event: Event, targets: Iterable[Target], now: datetime) -> int:
    """A pending alert of `event` for each target it was not already recorded for; how many were new."""
    added = 0
    for target in targets:
        cursor = db.execute(
            "INSERT OR IGNORE INTO alerts (event_key, kind, source, subject, message, event_at, target, "
            "target_key, digest, state, created_at, attempts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, 0)",
            [
                event.key,
                event.kind,
                event.source,
                event.subject,
                event.message,
                event.at,
                target.label,
                target.key,
                int(target.digest),
                iso(now),
            ],
        )
        added += cursor.rowcount
    return added


def pending(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    """Every alert not sent yet, oldest first."""
    return rows(db.conn, "SELECT * FROM alerts WHERE state = 'pending' ORDER BY id")


def settle(db: sqlite_utils.Database, ids: list[int], sent: bool, answer: str, now: datetime) -> None:
    """One delivery's outcome for its alerts: sent (with the target's answer), or tried and still pending."""
    for alert_id in ids:
        db.execute(
            "UPDATE alerts SET attempts = attempts + 1, tried_at = ?, answer = ?, "
            "state = CASE WHEN ? THEN 'sent' ELSE state END, sent_at = CASE WHEN ? THEN ? ELSE sent_at END "
            "WHERE id = ? AND state = 'pending'",
            [iso(now), answer, int(sent), int(sent), iso(now), alert_id],
        )


def drop(db: sqlite_utils.Database, ids: list[int], reason: str, now: datetime) -> None:
    """Alerts whose target is no longer in sources.yml: kept, marked dropped, never sent."""
    for alert_id in ids:
        db.execute(
            "UPDATE alerts SET state = 'dropped', tried_at = ?, answer = ? WHERE id = ? AND state = 'pending'",
            [iso(now), reason, alert_id],
        )


@dataclass(frozen=True)
class Backlog:
    """Alerts not sent yet: how many, how many were tried and failed, and the oldest."""

    pending: int
    failed: int
    oldest: str | None
    overdue: int  # pending longer than the allowed delay

    def line(self) -> str:
        if not self.pending:
            return "Alerts: none waiting."
        return (
            f"Alerts: {self.pending} waiting to be sent ({self.failed} tried and failed), the oldest since "
            f"{self.oldest}" + (f"; {self.overdue} waiting longer than allowed." if self.overdue else ".")
        )


def backlog(db: sqlite_utils.Database, now: datetime, allowed: float) -> Backlog:
    """What `spyglass status` reports of the alerts, at `now`, an alert allowed `allowed` seconds unsent."""
    found = rows(db.conn, "SELECT created_at, attempts FROM alerts WHERE state = 'pending'")
    limit = now - timedelta(seconds=allowed)
    return Backlog(
        len(found),
        sum(1 for r in found if r["attempts"]),
        min((r["created_at"] for r in found), default=None),
        sum(1 for r in found if parse_when(r["created_at"]) < limit),
    )
