"""Crawl runs, sources, fetch errors and Save Page Now requests: the index's state beside the evidence."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import sqlite_utils

from archive.sources.model import Source, source_to_dict
from archive.times import iso, utc_now


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


def start_run(db: sqlite_utils.Database, source: str, spider: str) -> int:
    """Open a crawl_runs row in status `running` and return its id."""
    table = db.table("crawl_runs")
    table.insert(
        {
            "source": source, "spider": spider, "started_at": iso(utc_now()),
            "status": "running", "pages": 0, "captures": 0, "revisits": 0,
            "errors": 0, "bytes": 0, "skipped": 0,
        }
    )
    return int(table.last_pk)


def finish_run(
    db: sqlite_utils.Database, run_id: int, *, status: str, reason: str,
    counts: dict[str, int], warc_files: list[str],
) -> None:
    """Close a crawl run with its outcome, counts and the WARC files it wrote."""
    db.table("crawl_runs").update(
        run_id,
        {
            "ended_at": iso(utc_now()),
            "status": status,
            "finish_reason": reason,
            "warc_files": json.dumps(warc_files),
            **counts,
        },
    )


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
