"""The SQLite index: schema as migrations, and the only code that writes rows.

Captures are evidence, so the database itself refuses to change or delete one
(triggers), whatever program holds the connection.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlite_utils
from sqlite_utils.migrations import Migrations

from . import chain
from .errors import ArchiveError
from .sources import Source, source_to_dict
from .warc import Original, iso, utc_now

DB_NAME = "spyglass.db"
WARC_DIR = "warcs"

migrations = Migrations("spyglass")


@migrations()
def m001_initial(db: sqlite_utils.Database) -> None:
    db.table("sources").create(
        {
            "name": str, "kind": str, "vendor": str, "product": str, "aliases": str,
            "agency": str, "urls": str, "notes": str, "config": str, "updated_at": str,
        },
        pk="name",
    )
    db.table("crawl_runs").create(
        {
            "id": int, "source": str, "spider": str, "started_at": str, "ended_at": str,
            "status": str, "finish_reason": str, "pages": int, "captures": int,
            "revisits": int, "errors": int, "bytes": int, "warc_files": str,
        },
        pk="id",
        foreign_keys=[("source", "sources", "name")],
    )
    db.table("captures").create(
        {
            "id": int, "url": str, "source": str, "via": str, "crawl_run": int,
            "captured_at": str, "status": int, "content_type": str, "length": int,
            "sha256": str, "warc_filename": str, "warc_offset": int, "warc_length": int,
            "warc_record_id": str, "warc_type": str, "refers_to": str,
            "title": str, "text": str, "extraction": str, "extraction_error": str,
            "vendor": str, "product": str, "agency": str,
            "depth": int, "referrer": str, "location": str, "fetch_ms": int,
        },
        pk="id",
        foreign_keys=[("source", "sources", "name"), ("crawl_run", "crawl_runs", "id")],
        not_null={"url", "source", "via", "captured_at", "sha256", "warc_filename"},
    )
    db.table("captures").create_index(["url", "captured_at"])
    db.table("captures").create_index(["source"])
    db.table("captures").create_index(["sha256"])
    db.table("captures").create_index(["warc_record_id"], unique=True)
    db.table("captures").enable_fts(["title", "text"], create_triggers=True, tokenize="porter")
    db.table("fetch_errors").create(
        {
            "id": int, "crawl_run": int, "source": str, "url": str, "occurred_at": str,
            "error_type": str, "reason": str, "referrer": str, "depth": int,
        },
        pk="id",
        foreign_keys=[("source", "sources", "name"), ("crawl_run", "crawl_runs", "id")],
    )
    for op in ("UPDATE", "DELETE"):
        db.execute(
            f"""
            CREATE TRIGGER captures_append_only_{op.lower()} BEFORE {op} ON captures
            BEGIN SELECT RAISE(ABORT, 'captures are append-only evidence'); END
            """
        )


@migrations()
def m020_records(db: sqlite_utils.Database) -> None:
    """Records portals: releases, the documents they linked, their pages' text, and mentions."""
    db.table("releases").create(
        {
            "id": int, "source": str, "key": str, "agency": str, "title": str,
            "reference": str, "released_on": str, "released_text": str, "page_url": str,
            "capture_id": int, "first_seen_at": str, "last_seen_at": str,
        },
        pk="id",
        foreign_keys=[("source", "sources", "name"), ("capture_id", "captures", "id")],
        not_null={"source", "key", "page_url"},
    )
    db.table("releases").create_index(["source", "key"], unique=True)
    db.table("releases").create_index(["agency"])
    db.table("documents").create(
        {
            "id": int, "sha256": str, "file_name": str, "file_url": str, "content_type": str,
            "size": int, "page_count": int, "extraction": str, "error": str,
            "capture_id": int, "first_seen_at": str, "extracted_at": str,
        },
        pk="id",
        foreign_keys=[("capture_id", "captures", "id")],
        not_null={"sha256", "file_url"},
    )
    db.table("documents").create_index(["sha256"], unique=True)
    db.table("document_links").create(
        {"id": int, "release_id": int, "document_id": int, "file_url": str, "linked_at": str},
        pk="id",
        foreign_keys=[("release_id", "releases", "id"), ("document_id", "documents", "id")],
        not_null={"release_id", "file_url"},
    )
    db.table("document_links").create_index(["release_id", "file_url"], unique=True)
    db.table("document_links").create_index(["file_url"])
    db.table("document_pages").create(
        {"id": int, "document_id": int, "page_number": int, "text": str, "method": str},
        pk="id",
        foreign_keys=[("document_id", "documents", "id")],
        not_null={"document_id", "page_number"},
    )
    db.table("document_pages").create_index(["document_id", "page_number"], unique=True)
    db.table("document_pages").enable_fts(["text"], create_triggers=True, tokenize="porter")
    db.table("mentions").create(
        {
            "id": int, "agency": str, "vendor": str, "product": str, "term": str,
            "term_kind": str, "snippet": str, "document_page_id": int, "document_id": int,
            "page_number": int, "capture_id": int, "release_id": int, "proof_url": str,
            "found_at": str,
        },
        pk="id",
        foreign_keys=[
            ("document_page_id", "document_pages", "id"), ("document_id", "documents", "id"),
            ("capture_id", "captures", "id"), ("release_id", "releases", "id"),
        ],
    )
    db.table("mentions").create_index(["agency", "product"])
    # One row per agency and product, with the first mention as its proof.
    db.create_view("agency_products", """
        SELECT m.agency, m.vendor, m.product, g.mentions, g.documents,
               m.proof_url, m.document_page_id, m.capture_id, m.snippet
        FROM (
            SELECT agency, vendor, product, count(*) AS mentions,
                   count(DISTINCT coalesce('d' || document_id, 'c' || capture_id)) AS documents,
                   min(id) AS first_id
            FROM mentions
            WHERE agency IS NOT NULL AND product IS NOT NULL
            GROUP BY agency, vendor, product
        ) AS g JOIN mentions AS m ON m.id = g.first_id
        ORDER BY m.agency, m.product
    """)


@migrations()
def m025_recrawl(db: sqlite_utils.Database) -> None:
    """Runs count the pages they skipped as unchanged (recrawl: changed)."""
    db.table("crawl_runs").add_column("skipped", int)


@migrations()
def m010_wayback(db: sqlite_utils.Database) -> None:
    # The contract columns of Wayback captures (issue 3); NULL on live captures.
    captures = db.table("captures")
    for column, kind in WAYBACK_COLUMNS.items():
        captures.add_column(column, kind)
    captures.create_index(["original_url", "wayback_timestamp"])
    # Save Page Now jobs change state over time, so they live here, never in captures.
    db.table("save_requests").create(
        {
            "id": int, "capture_id": int, "source": str, "url": str, "requested_at": str,
            "method": str, "job_id": str, "state": str, "status_ext": str, "message": str,
            "wayback_timestamp": str, "snapshot_url": str, "confirmed_via_cdx": int,
            "updated_at": str,
        },
        pk="id",
        foreign_keys=[("capture_id", "captures", "id")],
    )
    db.table("save_requests").create_index(["url"])


WAYBACK_COLUMNS = {
    "memento_at": str, "wayback_timestamp": str, "original_url": str,
    "snapshot_url": str, "wayback_digest": str, "wayback_digest_match": int,
}


APPEND_ONLY_TRIGGERS = {
    op: f"""
        CREATE TRIGGER captures_append_only_{op.lower()} BEFORE {op} ON captures
        BEGIN SELECT RAISE(ABORT, 'captures are append-only evidence'); END
    """
    for op in ("UPDATE", "DELETE")
}


@migrations()
def m040_hash_chain(db: sqlite_utils.Database) -> None:
    """Chain every capture row to the one before it (see archive/chain.py).

    Rows written before this migration are chained here, in id order: their
    hashes prove they are unchanged from now on, not before. The append-only
    trigger is dropped and recreated around the back-fill, inside the
    migration's transaction, so no other writer can slip in between.
    """
    table = db.table("captures")
    for column in chain.HASH_COLUMNS:
        if column not in table.columns_dict:
            table.add_column(column, str)
    db.execute("DROP TRIGGER IF EXISTS captures_append_only_update")
    prev = chain.GENESIS
    names = list(table.columns_dict)
    for values in db.execute("SELECT * FROM captures ORDER BY id").fetchall():
        row = dict(zip(names, values))
        row["prev_hash"] = prev
        prev = chain.row_hash(row)
        db.execute("UPDATE captures SET prev_hash = ?, row_hash = ? WHERE id = ?",
                   [row["prev_hash"], prev, row["id"]])
    db.execute(APPEND_ONLY_TRIGGERS["UPDATE"])


@migrations()
def m045_refused_records(db: sqlite_utils.Database) -> None:
    """A fetch error can name the WARC record of the response it refused."""
    db.table("fetch_errors").add_column("warc_record_id", str)


def open_db(path: str | Path) -> sqlite_utils.Database:
    """Open (creating if needed) the index at `path`, in WAL mode, with migrations applied."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite_utils.Database(path)
        db.execute("PRAGMA busy_timeout = 30000")
        db.enable_wal()
        # WAL + NORMAL: durable at each checkpoint, not each commit; a crash can
        # lose the last batch of rows but never corrupt the file (and the WARCs
        # already hold those bytes).
        db.execute("PRAGMA synchronous = NORMAL")
        migrations.apply(db)
    except Exception as exc:  # sqlite3.DatabaseError and friends
        if isinstance(exc, ArchiveError):
            raise
        raise ArchiveError(f"{path}: cannot open the Spyglass index: {exc}") from exc
    return db


@contextmanager
def writing(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """A write transaction that takes the write lock up front (BEGIN IMMEDIATE).

    Several writer processes share one index (one per source crawled). A
    deferred transaction that reads first and writes later fails at once with
    "database is locked" when another process wrote in between; an immediate
    one waits its turn under busy_timeout instead.
    """
    if db.conn.in_transaction:
        with db.atomic():
            yield db
        return
    db.conn.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        if db.conn.in_transaction:
            db.conn.execute("ROLLBACK")
        raise
    db.conn.execute("COMMIT")


def open_existing(data_dir: str | Path) -> sqlite_utils.Database:
    """Open the index of an existing data directory, or explain why there is none."""
    path = Path(data_dir) / DB_NAME
    if not path.exists():
        raise ArchiveError(f"{path}: no archive here (run `spyglass crawl` or `spyglass demo` first)")
    return open_db(path)


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


def save_captures(db: sqlite_utils.Database, rows: Iterable[dict[str, Any]]) -> None:
    """Append capture rows, each hash-chained to the one before (one transaction for the batch).

    The chain head is read under SQLite's write lock, so two writers can
    never both chain onto the same row: the second waits for the first.
    """
    rows = list(rows)
    if not rows:
        return
    if db.conn.in_transaction:
        take_write_lock(db)
        _append_chained(db, rows)
    else:
        with writing(db):
            _append_chained(db, rows)


def take_write_lock(db: sqlite_utils.Database) -> None:
    """Take SQLite's write lock now, inside the caller's transaction (a no-op under `writing`).

    A write that changes nothing does it, waiting out other writers (busy
    timeout) before anything is read. It must not touch captures: a statement
    on a table with FTS5 triggers reads the FTS tables first, and a
    transaction that has read cannot wait for the lock, it fails at once
    ("database is locked") when another writer holds it.
    """
    db.execute("DELETE FROM sources WHERE 0")


def _append_chained(db: sqlite_utils.Database, rows: list[dict[str, Any]]) -> None:
    info = db.execute("PRAGMA table_info(captures)").fetchall()
    columns = {name: chain.affinity(declared) for _, name, declared, *_ in info}
    # A column left out gets its declared default, which must be hashed too.
    defaults = {name: db.execute(f"SELECT {default}").fetchone()[0]
                for _, name, _, _, default, _ in info if default is not None}
    unknown = sorted({key for row in rows for key in row} - set(columns))
    if unknown:
        raise ArchiveError(f"captures has no column(s) {', '.join(unknown)}")
    head = db.execute("SELECT id, row_hash FROM captures ORDER BY id DESC LIMIT 1").fetchone()
    next_id, prev = (head[0] + 1, head[1]) if head else (1, chain.GENESIS)
    chained = []
    for row in rows:
        full = {name: chain.as_stored(row.get(name, defaults.get(name)), kind)
                for name, kind in columns.items()}
        full["id"] = next_id
        full["prev_hash"] = prev
        full["row_hash"] = prev = chain.row_hash(full)
        chained.append(full)
        next_id += 1
    db.table("captures").insert_all(chained, batch_size=500)
    # What SQLite stored must hash as computed, or verify would fail later.
    names = list(columns)
    stored = db.execute(
        "SELECT * FROM captures WHERE id >= ? ORDER BY id", [chained[0]["id"]]
    ).fetchall()
    for values in stored:
        row = dict(zip(names, values))
        if chain.row_hash(row) != row["row_hash"]:
            raise ArchiveError(f"capture {row['id']}: stored values do not hash as computed")


def save_fetch_errors(db: sqlite_utils.Database, rows: Iterable[dict[str, Any]]) -> None:
    """Append fetch errors: requests that produced no response to archive."""
    db.table("fetch_errors").insert_all(rows, batch_size=500)


def last_capture_times(db: sqlite_utils.Database, source: str) -> list[tuple[str, str, int]]:
    """(url, latest captured_at, least depth) of each page `source` captured with status 200.

    Used by recrawl: changed. robots.txt is left out: Scrapy fetches it itself.
    """
    return db.execute(
        "SELECT url, max(captured_at), min(coalesce(depth, 0)) FROM captures "
        "WHERE source = ? AND status = 200 AND via = 'live' AND url NOT LIKE '%/robots.txt' "
        "GROUP BY url",
        [source],
    ).fetchall()


def load_originals(db: sqlite_utils.Database, source: str | None = None) -> dict[tuple[str, str], Original]:
    """(url, sha256) -> first full record, so repeat payloads become revisit records."""
    if not db.table("captures").exists():
        return {}
    sql = (
        "SELECT url, sha256, warc_record_id, captured_at FROM captures "
        "WHERE warc_type = 'response'"
    )
    params: list[Any] = []
    if source:
        sql += " AND source = ?"
        params.append(source)
    sql += " ORDER BY id"
    originals: dict[tuple[str, str], Original] = {}
    for url, sha256, record_id, captured_at in db.execute(sql, params).fetchall():
        originals.setdefault((url, sha256), Original(record_id, url, captured_at))
    return originals


def bulk_load_captures(db: sqlite_utils.Database, rows: Iterable[dict[str, Any]], batch_size: int = 5000) -> int:
    """Append many captures fast: rows first, then their full-text index in one pass.

    Per MEASURED.md the per-row FTS5 trigger costs ~1.3 ms a row; indexing the
    new rows in one INSERT ... SELECT afterwards costs a fraction of that. It
    all happens in one transaction, so no reader or writer ever sees rows
    without their index entries. Rows are hash-chained as in save_captures.
    """
    with db.atomic():
        take_write_lock(db)
        trigger_sql = db.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = 'captures_ai'"
        ).fetchone()[0]
        before = db.execute("SELECT coalesce(max(id), 0) FROM captures").fetchone()[0]
        db.execute("DROP TRIGGER captures_ai")
        rows = list(rows)
        for start in range(0, len(rows), batch_size):
            _append_chained(db, rows[start:start + batch_size])
        db.execute(
            "INSERT INTO captures_fts (rowid, title, text) "
            "SELECT id, title, text FROM captures WHERE id > ?", [before]
        )
        db.execute(trigger_sql)
        added = db.execute("SELECT count(*) FROM captures WHERE id > ?", [before]).fetchone()[0]
    return added
def archived_wayback_versions(db: sqlite_utils.Database, source: str) -> set[tuple[str, str]]:
    """(original_url, wayback_digest) of every Wayback capture of a source, so re-runs skip them."""
    if "original_url" not in db.table("captures").columns_dict:
        return set()
    rows = db.execute(
        "SELECT original_url, wayback_digest FROM captures WHERE source = ? AND via = 'wayback'",
        [source],
    ).fetchall()
    return {(url, digest) for url, digest in rows}


def save_request(db: sqlite_utils.Database, row: dict[str, Any]) -> int:
    """Insert (no id) or update (with id) a save_requests row; returns its id."""
    row = {**row, "updated_at": iso(utc_now())}
    table = db.table("save_requests")
    if row.get("id"):
        table.update(row["id"], row)
        return int(row["id"])
    table.insert(row)
    return int(table.last_pk)


def changed_captures(db: sqlite_utils.Database, run_id: int) -> list[dict[str, Any]]:
    """Live captures of a run whose payload differs from the previous capture of the same URL."""
    sql = """
        SELECT c.id, c.url, c.source FROM captures c
        WHERE c.crawl_run = ? AND c.via = 'live' AND c.warc_type = 'response' AND c.status = 200
          AND (SELECT p.sha256 FROM captures p WHERE p.url = c.url AND p.via = 'live'
               AND p.id < c.id ORDER BY p.id DESC LIMIT 1) IS NOT c.sha256
          AND EXISTS (SELECT 1 FROM captures p WHERE p.url = c.url AND p.via = 'live' AND p.id < c.id)
        ORDER BY c.id
    """
    return [dict(zip(("id", "url", "source"), row)) for row in db.execute(sql, [run_id]).fetchall()]
