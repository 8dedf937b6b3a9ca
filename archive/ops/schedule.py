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
from archive.times import iso, parse_when, utc_now

# Labels of a job's state that make `spyglass status` exit non-zero, most urgent first:
# a run that runs far longer than its source's runs do (hung?), a run whose process is
# gone, runs that never get to finish, a failure, a crawl a limit cut short, a late one.
FLAGGED = ("running too long", "stuck", "interrupted twice", "failed", "partial", "overdue")
# A run is running too long past this many times its source's longest recent finished run
# (and past SPYGLASS_SCHEDULE_GRACE): a crawl of the same site rarely takes 3 times as long.
LONG_RUN_FACTOR = 3


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


def _last_runs(db: sqlite_utils.Database, source: str, spider: str, count: int = 2) -> list[dict[str, Any]]:
    """The job's latest `count` runs, newest first."""
    return list(
        db.query(
            "SELECT * FROM crawl_runs WHERE source = ? AND spider = ? ORDER BY id DESC LIMIT ?",
            [source, spider, count],
        )
    )


def _longest_recent(db: sqlite_utils.Database, source: str, spider: str) -> float | None:
    """Seconds the job's longest run of its last five finished (or partial) ones took."""
    row = db.execute(
        "SELECT max(seconds) FROM (SELECT seconds FROM crawl_runs WHERE source = ? AND spider = ? "
        "AND status IN ('finished', 'partial') ORDER BY id DESC LIMIT 5)",
        [source, spider],
    ).fetchone()
    return row[0] if row and row[0] else None


def job_status(
    db: sqlite_utils.Database,
    data_dir: Path,
    job: Job,
    now: datetime,
    grace: float,
    retry: float,
    pretended: bool = False,
) -> JobStatus:
    """The job's last run, next due time and state at `now` (`pretended`: a clock of `--now`,
    which counts from the starts `run-due --now` pretended; the real clock never does)."""
    row = (
        db.table("schedules").get((job.source.name, job.spider))
        if _has_row(db, job.source.name, job.spider)
        else None
    )
    added = parse_when(row["added_at"]) if row else now
    runs = _last_runs(db, job.source.name, job.spider)
    last = runs[0] if runs else None
    recorded = row and ((pretended and row.get("pretend_started_at")) or row["last_started_at"])
    started = parse_when(recorded) if recorded else (parse_when(last["started_at"]) if last else None)
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
    statuses = [status, *(r["status"] for r in runs[1:])]
    state = _state(db, job, last, statuses, running, now, grace)
    if state in ("ok", "due", "interrupted") and overdue_at is not None and now > overdue_at:
        state = "overdue"
    elif state == "ok" and next_due is not None and next_due <= now:
        state = "due"
    return JobStatus(job, last, started, next_due, overdue_at, running, state, added)


def _state(
    db: sqlite_utils.Database,
    job: Job,
    last: dict[str, Any] | None,
    statuses: list[str | None],
    running: bool,
    now: datetime,
    grace: float,
) -> str:
    """The job's state from its latest runs' statuses (newest first), before its timing is judged."""
    if running and last is not None and last["status"] == "running":
        longest = _longest_recent(db, job.source.name, job.spider)
        age = (now - parse_when(last["started_at"])).total_seconds()
        if longest is not None and age > max(LONG_RUN_FACTOR * longest, grace):
            return "running too long"
    if running:
        return "running"
    if last is not None and last["status"] == "running":
        return "stuck"  # its process is gone without ending the run; run-due continues it
    if statuses[:2] == ["interrupted", "interrupted"]:
        return "interrupted twice"
    if statuses and statuses[0] in ("failed", "partial", "interrupted"):
        return statuses[0] or "ok"
    return "manual" if job.every.never else "ok"


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
    pretended: bool = False,
    save: bool = True,
) -> list[JobStatus]:
    """Every job's status at `now`; also stored in `schedules` for the Datasette status page
    (unless not to `save`: a dry run writes nothing)."""
    statuses = [job_status(db, data_dir, job, now, grace, retry, pretended) for job in jobs_of(sources)]
    if save:
        save_statuses(db, statuses, now)
    return statuses


def due_jobs(statuses: list[JobStatus], now: datetime) -> list[Job]:
    """The jobs whose time has come: due, overdue, or a failed or interrupted run to try again."""
    return [s.job for s in statuses if not s.running and s.next_due is not None and s.next_due <= now]


def save_statuses(db: sqlite_utils.Database, statuses: list[JobStatus], now: datetime) -> None:
    """Write each job's schedule row (derived state, rewritten whenever it is computed; its starts
    are record_started's alone, so a pretended clock's start never becomes a real one)."""
    db.table("schedules").upsert_all(
        [
            {
                "source": s.job.source.name,
                "spider": s.job.spider,
                "every": s.job.every.text,
                "next_due_at": iso(s.next_due) if s.next_due else None,
                "overdue_at": iso(s.overdue_at) if s.overdue_at else None,
                "added_at": iso(s.added_at),
                "updated_at": iso(now),
                "state": s.state,
                "state_run": s.last_run["id"] if s.last_run else None,
            }
            for s in statuses
        ],
        pk=("source", "spider"),
    )


def record_started(
    db: sqlite_utils.Database, runs: list[tuple[str, str]], when: datetime, pretended: bool = False
) -> None:
    """Note that these (source, spider) runs started at `when` (the scheduler's clock; `pretended`:
    a time `run-due --now` gave, kept apart so the real schedule never counts from it)."""
    table = db.table("schedules")
    started = (
        {"pretend_started_at": iso(when)}
        if pretended
        else {"last_started_at": iso(when), "pretend_started_at": None}
    )
    for source, spider in runs:
        if _has_row(db, source, spider):
            table.update((source, spider), {**started, "updated_at": iso(utc_now())})
        else:
            table.insert(
                {
                    "source": source,
                    "spider": spider,
                    **started,
                    "added_at": iso(utc_now()),
                    "updated_at": iso(utc_now()),
                }
            )
