"""Which sources are due: each source's crawl and Wayback harvest, their last runs and next times.

This module only decides; running is the caller's (`spyglass run-due` runs
the due jobs in its own Scrapy process; a Redis seeding command can hand the
same jobs to workers instead). The scheduler's clock is a parameter, so
tests and dry runs can ask "what would be due at T".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlite_utils

from archive.locks import crawl_lock, is_locked
from archive.sources.every import Every, parse_every
from archive.sources.model import Source
from archive.times import iso, parse_when

# Labels of a job's state, most urgent first; FLAGGED ones make `spyglass status` exit non-zero.
FLAGGED = ("failed", "overdue")


@dataclass(frozen=True)
class Job:
    """One scheduled run: a source's crawl (spider = its kind) or its Wayback harvest."""

    source: Source
    spider: str

    @property
    def every(self) -> Every:
        text = (
            self.source.wayback.every
            if self.spider == "wayback" and self.source.wayback
            else self.source.every
        )
        return parse_every(text)

    @property
    def label(self) -> str:
        return self.source.name if self.spider != "wayback" else f"{self.source.name} (wayback)"


def jobs_of(sources: list[Source]) -> list[Job]:
    """Every scheduled job of these sources."""
    jobs = []
    for source in sources:
        if source.live:
            jobs.append(Job(source, source.kind))
        if source.wayback is not None:
            jobs.append(Job(source, "wayback"))
    return jobs


@dataclass
class JobStatus:
    """Where a job stands at the scheduler's `now`."""

    job: Job
    last_run: dict[str, Any] | None
    last_started_at: datetime | None
    next_due: datetime | None
    overdue_at: datetime | None
    running: bool
    state: str
    added_at: datetime

    @property
    def flagged(self) -> bool:
        return self.state in FLAGGED


def _last_run(db: sqlite_utils.Database, source: str, spider: str) -> dict[str, Any] | None:
    rows = list(
        db.query(
            "SELECT * FROM crawl_runs WHERE source = ? AND spider = ? ORDER BY id DESC LIMIT 1",
            [source, spider],
        )
    )
    return rows[0] if rows else None


def job_status(
    db: sqlite_utils.Database, data_dir: Path, job: Job, now: datetime, grace: float, retry: float
) -> JobStatus:
    """The job's last run, next due time and state at `now`."""
    row = (
        db.table("schedules").get((job.source.name, job.spider))
        if _has_row(db, job.source.name, job.spider)
        else None
    )
    added = parse_when(row["added_at"]) if row else now
    last = _last_run(db, job.source.name, job.spider)
    started = (
        parse_when(row["last_started_at"])
        if row and row["last_started_at"]
        else (parse_when(last["started_at"]) if last else None)
    )
    running = is_locked(crawl_lock(data_dir, job.source.name, job.spider).path)
    every = job.every
    status = last["status"] if last else None
    if status == "running" and not running:
        status = "interrupted"  # its process died: the next crawl reconciles and continues it
    if every.never:
        next_due = None
    elif started is None:
        next_due = added
    elif status == "interrupted":
        next_due = started
    else:
        next_due = every.next_after(started)
        if status == "failed" and next_due is not None and last:
            ended = parse_when(last["ended_at"] or last["started_at"])
            next_due = min(next_due, ended + timedelta(seconds=retry))
    overdue_at = next_due + timedelta(seconds=grace) if next_due else None
    if running:
        state = "running"
    elif every.never:
        state = "manual"
    elif status in ("failed", "interrupted"):
        state = status
    elif overdue_at is not None and now > overdue_at:
        state = "overdue"
    elif next_due is not None and next_due <= now:
        state = "due"
    else:
        state = "ok"
    return JobStatus(job, last, started, next_due, overdue_at, running, state, added)


def _has_row(db: sqlite_utils.Database, source: str, spider: str) -> bool:
    return (
        db.execute("SELECT 1 FROM schedules WHERE source = ? AND spider = ?", [source, spider]).fetchone()
        is not None
    )


def job_statuses(
    db: sqlite_utils.Database,
    data_dir: Path,
    sources: list[Source],
    now: datetime,
    grace: float,
    retry: float,
) -> list[JobStatus]:
    """Every job's status at `now`; also stored in `schedules` for the Datasette status page."""
    statuses = [job_status(db, data_dir, job, now, grace, retry) for job in jobs_of(sources)]
    save_statuses(db, statuses, now)
    return statuses


def due_jobs(statuses: list[JobStatus], now: datetime) -> list[Job]:
    """The jobs whose time has come: due, overdue, or a failed or interrupted run to try again."""
    return [s.job for s in statuses if not s.running and s.next_due is not None and s.next_due <= now]


def save_statuses(db: sqlite_utils.Database, statuses: list[JobStatus], now: datetime) -> None:
    """Write each job's schedule row (derived state, rewritten whenever it is computed)."""
    db.table("schedules").upsert_all(
        [
            {
                "source": s.job.source.name,
                "spider": s.job.spider,
                "every": s.job.every.text,
                "last_started_at": iso(s.last_started_at) if s.last_started_at else None,
                "next_due_at": iso(s.next_due) if s.next_due else None,
                "overdue_at": iso(s.overdue_at) if s.overdue_at else None,
                "added_at": iso(s.added_at),
                "updated_at": iso(now),
            }
            for s in statuses
        ],
        pk=("source", "spider"),
    )


def record_started(db: sqlite_utils.Database, runs: list[tuple[str, str]], when: datetime) -> None:
    """Note that these (source, spider) runs started at `when` (the scheduler's clock)."""
    table = db.table("schedules")
    for source, spider in runs:
        if _has_row(db, source, spider):
            table.update((source, spider), {"last_started_at": iso(when), "updated_at": iso(when)})
        else:
            table.insert(
                {
                    "source": source,
                    "spider": spider,
                    "last_started_at": iso(when),
                    "added_at": iso(when),
                    "updated_at": iso(when),
                }
            )
