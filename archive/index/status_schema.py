"""The schema of run states: what `spyglass status` judged of each job, and the view that shows it."""

from __future__ import annotations

import sqlite_utils

# The view's state: what `spyglass status` (archive/ops/schedule.py) judged of the job's
# latest run when that needs more than SQL knows (a lock, a process, earlier runs); while
# that run is as it was then. Otherwise what the run's status and the clock say.
# {more}: the run's columns that later migrations added.
SOURCE_STATUS = """
    SELECT s.source, s.spider, s.every, s.next_due_at, s.overdue_at,
           r.id AS last_run, r.status AS last_status, r.finish_reason,
           r.started_at AS last_started_at, r.ended_at AS last_ended_at,
           r.pages, r.captures, r.revisits, r.observations, r.errors, r.log_file,{more}
           CASE
             WHEN s.state_run IS r.id AND (
               (s.state IN ('running too long', 'stuck') AND r.status = 'running')
               OR (s.state = 'interrupted twice' AND r.status = 'interrupted'))
               THEN s.state
             WHEN r.status IN ('failed', 'partial') THEN r.status
             WHEN s.every = 'never' THEN 'manual'
             WHEN r.status = 'running' THEN 'running'
             WHEN s.overdue_at < strftime('%Y-%m-%dT%H:%M:%fZ', 'now') THEN 'overdue'
             WHEN r.status = 'interrupted' THEN 'interrupted'
             WHEN s.next_due_at IS NULL OR s.next_due_at <= strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
               THEN 'due'
             ELSE 'ok'
           END AS state
    FROM schedules AS s
    LEFT JOIN crawl_runs AS r ON r.id = (
        SELECT max(id) FROM crawl_runs WHERE source = s.source AND spider = s.spider)
    ORDER BY s.source, s.spider
"""


def add_run_states(db: sqlite_utils.Database) -> None:
    """Each job's judged state (and the run it judged), its pretended start, each run's log file, the view."""
    db.table("schedules").add_column("state", str)
    db.table("schedules").add_column("state_run", int)
    # A start `run-due --now` pretended: only pretended clocks count from it, never the real one.
    db.table("schedules").add_column("pretend_started_at", str)
    db.table("crawl_runs").add_column("log_file", str)
    db.execute("DROP VIEW IF EXISTS source_status")
    db.create_view("source_status", SOURCE_STATUS.format(more=""))


def add_script_shells(db: sqlite_utils.Database) -> None:
    """How many of a live run's pages look script-rendered (archive/browser/notice.py), in the view too."""
    db.table("crawl_runs").add_column("script_shells", int)
    db.execute("DROP VIEW IF EXISTS source_status")
    db.create_view("source_status", SOURCE_STATUS.format(more=" r.script_shells,"))
