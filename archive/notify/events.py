"""Events worth a message, found in the index between two marks.

Each kind of event is one function over the index. A page's first sighting
makes no change, so it is never an event; a records source's first crawl is
its baseline, so only documents after it are. Events are looked for among
captures and runs newer than the last look (`alert_marks`), and each has a
key built from what is permanent (capture ids, a document's digest), so a
history rebuild or a second look never makes it new again.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from archive.index.queries import rows
from archive.notify.messages import (
    Event,
    change_message,
    document_message,
    phrase_message,
    when,
)
from archive.publish.paths import Paths

if TYPE_CHECKING:
    from archive.evidence.verify import Problem

LISTED_PROBLEMS = 50  # a message lists this many of verify's problems, then says how many more

# A change alerts only when its newer capture is a live one taken since the last
# look: a Wayback harvest writes a page's past, which is history, not news.
NEW_CHANGES = """
    SELECT c.* FROM changes c JOIN captures a ON a.id = c.to_capture_id
    WHERE c.to_capture_id > :after AND c.to_capture_id <= :through AND a.via = 'live'
      AND c.source IN ({sources})
    ORDER BY c.to_capture_id, c.id
"""


def _marks(names: Iterable[str]) -> str:
    return ", ".join(f":s{n}" for n, _ in enumerate(names))


def _named(names: list[str]) -> dict[str, str]:
    return {f"s{n}": name for n, name in enumerate(names)}


def _passages(conn: sqlite3.Connection, change_id: int) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for row in rows(
        conn, "SELECT side, text FROM change_passages WHERE change_id = ? ORDER BY position", [change_id]
    ):
        found.setdefault(row["side"], []).append(row["text"])
    return found


def change_events(
    conn: sqlite3.Connection, after: int, through: int, alerting: dict[str, str], paths: Paths | None
) -> list[Event]:
    """Watched phrases that appeared or disappeared, and any change where a source says `alert: any`.

    `alerting` maps each source with targets to its `alert:` mode.
    """
    names = sorted(alerting)
    if not names:
        return []
    sql = NEW_CHANGES.format(sources=_marks(names))
    events = []
    for change in rows(conn, sql, {"after": after, "through": through, **_named(names)}):
        phrases = rows(
            conn,
            "SELECT phrase, term_kind, event FROM change_phrases WHERE change_id = ? ORDER BY id",
            [change["id"]],
        )
        if alerting[change["source"]] == "any":
            if not change["substantive"] and not phrases:
                continue  # only site-wide boilerplate moved
            subject, message = change_message(
                change, [(p["phrase"], p["event"]) for p in phrases], _passages(conn, change["id"]), paths
            )
            key = f"change:{change['to_capture_id']}"
            events.append(Event(key, "change", change["source"], subject, message, change["changed_at"]))
            continue
        passages = _passages(conn, change["id"]) if phrases else {}
        for p in phrases:
            subject, message = phrase_message(
                change, p["phrase"], p["term_kind"], p["event"], passages, paths
            )
            key = f"phrase:{change['to_capture_id']}:{p['event']}:{p['phrase']}"
            events.append(Event(key, "phrase", change["source"], subject, message, change["changed_at"]))
    return events


def document_events(
    conn: sqlite3.Connection, after: int, through: int, sources: list[str], paths: Paths | None
) -> list[Event]:
    """New documents on records sources that name vendor terms, with the agency and the release's title.

    A source's first crawl is its baseline: a document counts only when the
    source had captures before the last look.
    """
    if not sources:
        return []
    sql = f"""
        SELECT d.id, d.sha256, d.file_name, d.file_url, d.first_seen_at,
               r.source, r.agency, r.title, r.page_url
        FROM documents d
        JOIN releases r ON r.id = (
            SELECT min(l.release_id) FROM document_links l WHERE l.document_id = d.id)
        WHERE d.capture_id > :after AND d.capture_id <= :through AND r.source IN ({_marks(sources)})
          AND EXISTS (SELECT 1 FROM captures WHERE source = r.source AND id <= :after)
        ORDER BY d.id
    """
    events = []
    for doc in rows(conn, sql, {"after": after, "through": through, **_named(sources)}):
        terms = [
            r["term"]
            for r in rows(
                conn,
                "SELECT DISTINCT coalesce(product, term) AS term FROM mentions WHERE document_id = ? ORDER BY 1",
                [doc["id"]],
            )
        ]
        if not terms:
            continue
        subject, message = document_message(doc, terms, paths)
        events.append(
            Event(
                f"document:{doc['sha256']}", "document", doc["source"], subject, message, doc["first_seen_at"]
            )
        )
    return events


def failed_run_events(conn: sqlite3.Connection, after: int, through: int, sources: list[str]) -> list[Event]:
    """Runs that failed (a crash, a refused start), each once."""
    if not sources:
        return []
    sql = f"""
        SELECT * FROM crawl_runs WHERE id > :after AND id <= :through AND status = 'failed'
          AND source IN ({_marks(sources)}) ORDER BY id
    """
    events = []
    for run in rows(conn, sql, {"after": after, "through": through, **_named(sources)}):
        subject = f"Crawl of {run['source']} ({run['spider']}) failed"
        message = (
            f"Run #{run['id']} of {run['source']} ({run['spider']}) started {when(run['started_at'])} "
            f"and failed: {run['finish_reason'] or 'no reason recorded'}. "
            f"{run['pages'] or 0} pages, {run['errors'] or 0} fetch errors. See `spyglass status`."
        )
        events.append(
            Event(
                f"run:{run['id']}",
                "run",
                run["source"],
                subject,
                message,
                run["ended_at"] or run["started_at"],
            )
        )
    return events


def overdue_events(statuses: Iterable[Any]) -> list[Event]:
    """Sources whose crawl is overdue (archive/ops/schedule.py JobStatus), once per time it fell due."""
    events = []
    for status in statuses:
        if status.state != "overdue" or status.overdue_at is None:
            continue
        job = status.job
        since = status.overdue_at.strftime("%Y-%m-%dT%H:%M:%SZ")
        subject = f"{job.label} is overdue"
        message = (
            f"{job.label} (every {job.every.text}) was due by {when(since)} and has not run. "
            "Is cron or the timer calling `spyglass run-due`? See `spyglass status`."
        )
        events.append(
            Event(
                f"overdue:{job.source.name}:{job.spider}:{since}",
                "overdue",
                job.source.name,
                subject,
                message,
                since,
            )
        )
    return events


def altered_events(problems: Iterable[Problem], checked_at: str) -> list[Event]:
    """What `spyglass verify` found altered or missing: one event per set of problems, told once.

    One message, not one per problem: a damaged WARC file can hold thousands of records.
    """
    lines = sorted({problem.line() for problem in problems})
    if not lines:
        return []
    key = "altered:" + hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16]
    shown = lines[:LISTED_PROBLEMS]
    more = (
        [f"... and {len(lines) - len(shown)} more (run `spyglass verify`)"] if len(lines) > len(shown) else []
    )
    message = "\n".join(
        [
            f"`spyglass verify` found {len(lines)} problem(s): the archive's copy no longer matches what was recorded.",
            "",
            *shown,
            *more,
        ]
    )
    subject = f"spyglass verify found {len(lines)} altered or missing record(s)"
    return [Event(key, "altered", None, subject, message, checked_at)]
