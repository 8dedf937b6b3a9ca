"""Crawl runs, sources, fetch errors and Save Page Now requests: the index's state beside the evidence."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterable
from typing import Any

import sqlite_utils

from archive.index.kinds import ErrorType
from archive.sources.model import Source, source_to_dict
from archive.times import iso, parse_when, utc_now
from archive.version import spyglass_version


def upsert_source(db: sqlite_utils.Database, source: Source) -> None:
    """Record the source's current configuration; sources are settings, not evidence."""
    config = source_to_dict(source)
    db.table("sources").upsert(
        {
            "name": source.name,
            "kind": source.kind,
            "vendor": source.vendor,
            "product": source.product,
            "aliases": json.dumps(list(source.aliases)),
            "agency": source.agency,
            "urls": json.dumps(list(source.urls)),
            "notes": source.notes,
            "config": json.dumps(config, sort_keys=True),
            "updated_at": iso(utc_now()),
        },
        pk="name",
    )


def start_run(
    db: sqlite_utils.Database,
    source: str,
    spider: str,
    *,
    pid: int | None = None,
    resumed_from: int | None = None,
) -> int:
    """Open a crawl_runs row in status `running` and return its id.

    `pid` (with this host's name) says which process runs it, `resumed_from`
    which interrupted run it continues.
    """
    table = db.table("crawl_runs")
    table.insert(
        {
            "source": source,
            "spider": spider,
            "started_at": iso(utc_now()),
            "status": "running",
            "pages": 0,
            "captures": 0,
            "revisits": 0,
            "errors": 0,
            "bytes": 0,
            "skipped": 0,
            "requests": 0,
            "observations": 0,
            "pid": pid,
            "hostname": socket.gethostname(),
            "resumed_from": resumed_from,
            "spyglass_version": spyglass_version(),
        }
    )
    return int(table.last_pk)


def resumable_run(db: sqlite_utils.Database, source: str, spider: str) -> dict[str, Any] | None:
    """The latest run of `source` by `spider` if it did not finish: `running` (its process died,
    since the caller holds the crawl lock) or `interrupted`."""
    rows = list(
        db.query(
            "SELECT * FROM crawl_runs WHERE source = ? AND spider = ? ORDER BY id DESC LIMIT 1",
            [source, spider],
        )
    )
    if rows and rows[0]["status"] in ("running", "interrupted"):
        return rows[0]
    return None


def run_chain(db: sqlite_utils.Database, run_id: int) -> list[int]:
    """`run_id` and every run it resumed, newest first."""
    chain: list[int] = []
    current: int | None = run_id
    while current is not None and current not in chain:
        chain.append(current)
        row = db.execute("SELECT resumed_from FROM crawl_runs WHERE id = ?", [current]).fetchone()
        current = row[0] if row else None
    return chain


def finish_run(
    db: sqlite_utils.Database,
    run_id: int,
    *,
    status: str,
    reason: str,
    counts: dict[str, int],
    warc_files: list[str],
    crawled_since: str | None = None,
) -> None:
    """Close a crawl run with its outcome, counts and the WARC files it wrote.

    A run that finished although a limit stopped it short is `partial`, its
    reason naming the limit (partial_reason): it did not archive the whole source.
    Its `seconds` count from `crawled_since` when given (Redis mode: when a worker
    first crawled it), else from its start.
    """
    if status == "finished":
        short = partial_reason(db, run_id)
        if short is not None:
            status, reason = "partial", short
    ended = utc_now()
    started = db.execute("SELECT started_at FROM crawl_runs WHERE id = ?", [run_id]).fetchone()
    since = crawled_since or (started[0] if started else None)
    seconds = (ended - parse_when(since)).total_seconds() if since else None
    db.table("crawl_runs").update(
        run_id,
        {
            "ended_at": iso(ended),
            "seconds": seconds,
            "status": status,
            "finish_reason": reason,
            "warc_files": json.dumps(warc_files),
            **counts,
        },
    )


def partial_reason(db: sqlite_utils.Database, run_id: int) -> str | None:
    """The first limit that stopped run `run_id` (or a run it continues) short, as a short label
    ("trap: /p/N.html after 1,000 similar URLs"); None when no limit did."""
    chain = run_chain(db, run_id)
    marks = ", ".join("?" for _ in chain)
    row = db.execute(
        f"SELECT reason FROM fetch_errors WHERE crawl_run IN ({marks}) AND error_type IN (?, ?) "
        "ORDER BY id LIMIT 1",
        [*chain, ErrorType.TRAP, ErrorType.LIMIT],
    ).fetchone()
    return row[0].split(" (", 1)[0] if row else None


def save_fetch_errors(db: sqlite_utils.Database, rows: Iterable[dict[str, Any]]) -> None:
    """Append fetch errors: requests that produced no response to archive."""
    db.table("fetch_errors").insert_all(rows, batch_size=500)


def save_request(db: sqlite_utils.Database, row: dict[str, Any]) -> int:
    """Insert (no id) or update (with id) a save_requests row; returns its id."""
    row = {**row, "updated_at": iso(utc_now())}
    table = db.table("save_requests")
    if row.get("id"):
        table.update(row["id"], row)
        return int(row["id"])
    table.insert(row)
    return int(table.last_pk)
