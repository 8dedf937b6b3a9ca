"""What each verify read, kept in the index, so `verify --since` can start where the last clean one ended."""

from __future__ import annotations

from dataclasses import dataclass

import sqlite_utils

from archive.index.db import writing


@dataclass(frozen=True)
class Verified:
    """A verify that found nothing wrong: the rows it saw and how far into each file it read."""

    id: int
    finished_at: str
    captures_to: int
    screenshots_to: int
    observations_to: int
    files: dict[str, tuple[int, int]]  # filename -> (bytes read and found whole, records in them)


def last_clean(db: sqlite_utils.Database) -> Verified | None:
    """The latest verify that found no problem, or None if there has been none."""
    row = db.execute(
        "SELECT id, finished_at, captures_to, screenshots_to, observations_to FROM verify_runs "
        "WHERE problems = 0 ORDER BY id DESC LIMIT 1"
    ).fetchone()
    if row is None:
        return None
    files = {
        name: (to, records)
        for name, to, records in db.execute(
            "SELECT filename, verified_to, records FROM verify_files WHERE verify_run = ?", [row[0]]
        )
    }
    return Verified(row[0], row[1], row[2] or 0, row[3] or 0, row[4] or 0, files)


def record_verify(
    db: sqlite_utils.Database,
    started_at: str,
    finished_at: str,
    since: Verified | None,
    highest: tuple[int, int, int],
    read: tuple[int, int],
    problems: int,
    files: dict[str, tuple[int, int]],
) -> int:
    """Keep one verify: when, what it continued from, the highest row ids it saw, what it read."""
    with writing(db):
        table = db.table("verify_runs")
        table.insert(
            {
                "started_at": started_at,
                "finished_at": finished_at,
                "since_run": since.id if since else None,
                "captures_to": highest[0],
                "screenshots_to": highest[1],
                "observations_to": highest[2],
                "records": read[0],
                "bytes": read[1],
                "problems": problems,
            }
        )
        run = int(table.last_pk)
        db.table("verify_files").insert_all(
            {"verify_run": run, "filename": name, "verified_to": to, "records": records}
            for name, (to, records) in files.items()
        )
    return run
