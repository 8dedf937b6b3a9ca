"""After a crash: make the index and the WARC files of an interrupted run agree again.

The writer process writes (and flushes) each exchange's records before the
rows that point at them, and commits rows in batches (archive/crawl/writer.py).
A crawl killed at any moment can therefore leave records whose rows were
never committed, and at most one record cut short at the end of a file. Rows
without records cannot happen. Before a run is resumed, its files are read:

- a response or revisit record of a live crawl with no row becomes a capture
  (a 304 an observation), built from the record itself: the exchange happened
  and is evidence, so it is indexed, not fetched again;
- such a record of a Wayback harvest (whose rows need the spider's memento
  checks) becomes a `fetch_errors` row of type `interrupted` naming it, and
  the harvest fetches that version again;
- a browser pass's rendered DOM (a `resource` record, archive/index/rendered.py)
  with no row becomes its capture, text and all, as the pass would have made it,
  and the page is not loaded again; its screenshot (a `resource` record too,
  whose row would have come in the same batch) becomes an `interrupted` row
  naming it;
- a record cut short is named in `warc_cuts` (file, offset, length, SHA-256 of
  the bytes) and left where it is: evidence files are never edited, and
  `spyglass verify` accepts exactly that cut, no other.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import replace
from typing import Any

import sqlite_utils
from warcio.exceptions import ArchiveLoadFailed

from archive.archive import Archive
from archive.history.ingest import HistoryWriter
from archive.index.capture_row import CaptureRow, record_columns, stored_location
from archive.index.captures import save_captures
from archive.index.db import writing
from archive.index.kinds import ErrorType, ObservationKind
from archive.index.observations import save_newer_validators, save_observations
from archive.index.rendered import LOADED_FOR, VIA, is_rendered, recorded_status, rendered_row
from archive.index.runs import save_fetch_errors
from archive.sources.model import Source
from archive.text.extract import text_columns
from archive.times import iso, utc_now
from archive.warc.read import StoredRecord, decode_body, gzip_members, record_at
from archive.warc.write import RecordLocation

INDEXED_TYPES = ("response", "revisit")
FETCH_LOST = "archived, but the crawl was killed before indexing it; fetched again on resume"
# A browser load's screenshot written, its row never sent (its page's rendered DOM is indexed
# from its record; the picture's size and the guard's note are not in the record).
SHOT_LOST = "a screenshot taken, but the browser pass was killed before indexing it; its page has none"
# A rendered DOM of a run whose source is not known here (a Redis job gone): named, not indexed.
RENDER_LOST = "rendered, but the browser pass was killed before indexing it"
BROWSER = "browser"  # the browser pass's runs (archive/browser/run.py SPIDER)


def _known_record_ids(db: sqlite_utils.Database, run_id: int) -> set[str]:
    known: set[str] = set()
    for sql in (
        "SELECT warc_record_id FROM captures WHERE crawl_run = ?",
        "SELECT warc_record_id FROM observations WHERE crawl_run = ?",
        "SELECT warc_record_id FROM fetch_errors WHERE crawl_run = ? AND warc_record_id IS NOT NULL",
        "SELECT warc_record_id FROM screenshots WHERE crawl_run = ? AND warc_record_id IS NOT NULL",
    ):
        known.update(row[0] for row in db.execute(sql, [run_id]).fetchall())
    return known


def reconcile_run(
    archive: Archive,
    db: sqlite_utils.Database,
    run: dict[str, Any],
    source: Source | None,
    history: HistoryWriter | None = None,
) -> dict[str, int]:
    """Index what run `run` archived but did not index, name any cut record, close the run's row.

    `history` (the writer's) folds the new captures and 304s into versions, as
    the writer does for every batch. Returns counts of what was done, for the log.
    """
    files = [
        row[0]
        for row in db.execute(
            "SELECT filename FROM warc_files WHERE crawl_run = ? ORDER BY filename", [run["id"]]
        ).fetchall()
    ]
    return reconcile_files(archive, db, run, source, files, history, close=True)


def reconcile_files(
    archive: Archive,
    db: sqlite_utils.Database,
    run: dict[str, Any],
    source: Source | None,
    files: list[str],
    history: HistoryWriter | None = None,
    close: bool = False,
) -> dict[str, int]:
    """Index the records of `files` (of run `run`) that have no row, and name any cut record.

    With `close`, also mark the run interrupted (reconcile_run); Redis mode calls
    it without for the files of a worker that died while the run goes on.
    """
    run_id = run["id"]
    known = _known_record_ids(db, run_id)
    validators = {
        row[0]: row[1]
        for row in db.execute(
            "SELECT url, warc_record_id FROM page_validators WHERE source = ?", [run["source"]]
        ).fetchall()
    }
    kept: list[dict[str, Any]] = []  # validators of the 200s found here, for the next crawl
    captures: list[dict[str, Any]] = []
    observations: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    cuts: list[dict[str, Any]] = []
    last_date = run["started_at"]
    for filename in files:
        path = archive.warc_path(filename)
        if not path.exists():
            continue
        for member in gzip_members(path):
            if member.data is None:
                if member.truncated:
                    cuts.append(_cut(path, member.offset, member.length, run_id))
                break
            try:
                record = record_at(io.BytesIO(member.data), 0)
            except (ArchiveLoadFailed, ValueError, EOFError):
                continue  # a damaged record is verify's to report, not ours to index
            if record is None:
                continue
            last_date = max(last_date, record.date)
            if record.record_id in known:
                continue
            browser_resource = run["spider"] == BROWSER and record.warc_type == "resource"
            rendered = browser_resource and is_rendered(record)
            if browser_resource and not rendered:
                errors.append(_interrupted_error(record, run, SHOT_LOST))
                continue
            if record.warc_type not in INDEXED_TYPES and not rendered:
                continue
            where = stored_location(record, filename, member.offset, member.length)
            if run["spider"] == "wayback" or source is None:
                errors.append(_interrupted_error(record, run, RENDER_LOST if rendered else FETCH_LOST))
            elif rendered:
                captures.append(_rendered(record, run, where, source, captures, db))
            elif record.http_status == 304 and record.url in validators:
                observations.append(_observation(record, run, where, validators[record.url], db))
            else:
                captures.append(_capture(record, run, where, source, db))
                # What a browser received leaves no validators: the pass keeps none (archive/browser/run.py).
                if record.http_status == 200 and run["spider"] != BROWSER:
                    kept.append(_validators(record, captures[-1]))
    with writing(db):
        saved = save_captures(db, captures)
        save_newer_validators(db, kept)
        seen = save_observations(db, observations)
        if history is not None:
            history.add(saved)
            history.observe([(o["capture_id"], o["observed_at"]) for o in seen if o["capture_id"]])
        save_fetch_errors(db, errors)
        db.table("warc_cuts").insert_all(cuts, ignore=True)
        if close:
            _close(db, run, last_date, files)
    return {
        "captures": len(captures),
        "observations": len(observations),
        "errors": len(errors),
        "cuts": len(cuts),
    }


def _close(db: sqlite_utils.Database, run: dict[str, Any], last_date: str, files: list[str]) -> None:
    """Mark an unfinished run interrupted, ended at its last archived record."""
    db.table("crawl_runs").update(
        run["id"],
        {
            "status": "interrupted",
            "ended_at": run["ended_at"] or last_date,
            "finish_reason": run["finish_reason"]
            or (
                f"the crawl process stopped without closing its run (killed?); found by the next "
                f"crawl of the source at {iso(utc_now())}; ended_at is its last archived record"
            ),
            "warc_files": json.dumps(files),
        },
    )


def _cut(path: Any, offset: int, length: int, run_id: int) -> dict[str, Any]:
    with open(path, "rb") as fh:
        fh.seek(offset)
        tail = fh.read(length)
    return {
        "filename": path.name,
        "offset": offset,
        "length": len(tail),
        "sha256": hashlib.sha256(tail).hexdigest(),
        "crawl_run": run_id,
        "found_at": iso(utc_now()),
    }


def _interrupted_error(record: StoredRecord, run: dict[str, Any], reason: str) -> dict[str, Any]:
    return {
        "crawl_run": run["id"],
        "source": run["source"],
        "url": record.url,
        "occurred_at": record.date,
        "error_type": ErrorType.INTERRUPTED,
        "reason": reason,
        "warc_record_id": record.record_id,
    }


def _observation(
    record: StoredRecord,
    run: dict[str, Any],
    where: RecordLocation,
    confirms: str,
    db: sqlite_utils.Database,
) -> dict[str, Any]:
    found = db.execute("SELECT sha256 FROM captures WHERE warc_record_id = ?", [confirms]).fetchone()
    return {
        "url": record.url,
        "source": run["source"],
        "crawl_run": run["id"],
        "observed_at": record.date,
        "kind": ObservationKind.NOT_MODIFIED,
        "status": 304,
        "sha256": found[0] if found else "",
        "confirms_record_id": confirms,
        **record_columns(where),
    }


def _validators(record: StoredRecord, row: dict[str, Any]) -> dict[str, Any]:
    """The page_validators row a live 200 leaves (as the crawl's pipeline writes it), from its record."""
    headers = {k.lower(): v for k, v in record.http_headers}
    return {
        "source": row["source"],
        "url": row["url"],
        "etag": headers.get("etag"),
        "last_modified": headers.get("last-modified"),
        "sha256": row["sha256"],
        "warc_record_id": row.get("refers_to") or row["warc_record_id"],
        "captured_at": row["captured_at"],
    }


def _capture(
    record: StoredRecord,
    run: dict[str, Any],
    where: RecordLocation,
    source: Source,
    db: sqlite_utils.Database,
) -> dict[str, Any]:
    row = CaptureRow.from_record(
        record,
        where,
        source=source.name,
        # The browser pass (archive/browser/run.py) records what Chromium received.
        via=VIA if run["spider"] == BROWSER else "live",
        crawl_run=run["id"],
        referrer=record.headers.get(LOADED_FOR),  # a browser requisite's page; live records name none
        vendor=source.vendor,
        product=source.product,
        agency=source.agency,
    )
    if record.warc_type == "revisit":
        original = db.execute(
            "SELECT length FROM captures WHERE warc_record_id = ?", [row.refers_to]
        ).fetchone()
        row = replace(row, length=original[0] if original else None)
    elif run["spider"] != BROWSER:  # what a browser received has no text: its rendered capture has
        headers = {k.lower(): v for k, v in record.http_headers}
        try:
            body = decode_body(record.payload, headers.get("content-encoding"))
        except ValueError as exc:
            row = replace(row, extraction_error=str(exc))
        else:
            row = replace(row, **text_columns(row.content_type, body))
    return row.columns()


def _rendered(
    record: StoredRecord,
    run: dict[str, Any],
    where: RecordLocation,
    source: Source,
    found: list[dict[str, Any]],
    db: sqlite_utils.Database,
) -> dict[str, Any]:
    """The capture row of a browser's rendered DOM record, as the pass would have indexed it."""
    refers_to = record.headers.get("WARC-Refers-To")
    status = recorded_status(record)
    if status is None and refers_to:  # a record from before the status was kept in it
        status = next((row["status"] for row in found if row["warc_record_id"] == refers_to), None)
        if status is None:
            indexed = db.execute(
                "SELECT status FROM captures WHERE warc_record_id = ?", [refers_to]
            ).fetchone()
            status = indexed[0] if indexed else None
    return rendered_row(
        where,
        record.payload,
        url=record.url,
        source=source.name,
        crawl_run=run["id"],
        captured_at=record.date,
        status=status,
        refers_to=refers_to,
        vendor=source.vendor,
        product=source.product,
        agency=source.agency,
    )
