"""Captures: the one path that appends them (hash-chained), and the queries the crawl makes of them."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import Any

import sqlite_utils

from archive.errors import ArchiveError
from archive.index import chain
from archive.index.db import take_write_lock, writing
from archive.index.kinds import ErrorType
from archive.warc.write import Original


def save_captures(db: sqlite_utils.Database, rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Append capture rows, each hash-chained to the one before (one transaction for the batch).

    Returns the rows as stored, with their ids.

    The chain head is read under SQLite's write lock, so two writers can
    never both chain onto the same row: the second waits for the first.
    """
    rows = list(rows)
    if not rows:
        return []
    if db.conn.in_transaction:
        take_write_lock(db)
        return _append_chained(db, rows)
    with writing(db):
        return _append_chained(db, rows)


def save_screenshots(db: sqlite_utils.Database, rows: Iterable[dict[str, Any]]) -> None:
    """Insert screenshots rows; one naming its capture by record id (`capture_record`, the capture
    saved earlier in the same batch) gets that capture's id."""
    for row in rows:
        row = dict(row)
        record = row.pop("capture_record", None)
        if row.get("capture_id") is None and record is not None:
            found = db.execute("SELECT id FROM captures WHERE warc_record_id = ?", [record]).fetchone()
            row["capture_id"] = found[0] if found else None
        db.table("screenshots").insert(row)


def _append_chained(db: sqlite_utils.Database, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    info = db.execute("PRAGMA table_info(captures)").fetchall()
    columns = {name: chain.affinity(declared) for _, name, declared, *_ in info}
    # A column left out gets its declared default, which must be hashed too.
    defaults = {
        name: db.execute(f"SELECT {default}").fetchone()[0]
        for _, name, _, _, default, _ in info
        if default is not None
    }
    unknown = sorted({key for row in rows for key in row} - set(columns))
    if unknown:
        raise ArchiveError(f"captures has no column(s) {', '.join(unknown)}")
    head = db.execute("SELECT id, row_hash FROM captures ORDER BY id DESC LIMIT 1").fetchone()
    next_id, prev = (head[0] + 1, head[1]) if head else (1, chain.GENESIS)
    chained = []
    for row in rows:
        full = {
            name: chain.as_stored(row.get(name, defaults.get(name)), kind) for name, kind in columns.items()
        }
        full["id"] = next_id
        full["prev_hash"] = prev
        full["row_hash"] = prev = chain.row_hash(full)
        chained.append(full)
        next_id += 1
    _insert(db, chained)
    # What SQLite stored must hash as computed, or verify would fail later.
    names = list(columns)
    stored = db.execute(
        f"SELECT {', '.join(f'[{n}]' for n in names)} FROM captures WHERE id >= ? ORDER BY id",
        [chained[0]["id"]],
    ).fetchall()
    if len(stored) != len(chained):
        raise ArchiveError(
            f"captures {chained[0]['id']}-{chained[-1]['id']}: {len(stored)} rows stored, "
            f"{len(chained)} written"
        )
    for values, hashed in zip(stored, chained):
        row = dict(zip(names, values))
        # Values identical in type and value hash identically: re-hashing every
        # row (JSON + SHA-256) cost 4% of the writer's CPU; it is done only for
        # a row that differs.
        if not chain.stored_as_hashed(row, hashed) and chain.row_hash(row) != row["row_hash"]:
            raise ArchiveError(f"capture {row['id']}: stored values do not hash as computed")
    return chained


def _insert(db: sqlite_utils.Database, rows: list[dict[str, Any]]) -> None:
    """INSERT `rows` (same columns, same order) in as few statements as SQLite's variable limit allows.

    FTS5 writes the terms its trigger gathered at the start of each statement,
    so a batch in one statement flushes them once, not once per ~27 rows as
    sqlite-utils' insert_all (999 variables a statement) did; it also skips
    insert_all's per-value conversions, which these values never need.
    """
    names = list(rows[0])
    per_statement = max(1, db.conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // len(names))
    head = f"INSERT INTO captures ({', '.join(f'[{name}]' for name in names)}) VALUES "
    one = f"({', '.join('?' * len(names))})"
    for start in range(0, len(rows), per_statement):
        chunk = rows[start : start + per_statement]
        db.conn.execute(head + ", ".join([one] * len(chunk)), [row[name] for row in chunk for name in names])


def bulk_load_captures(
    db: sqlite_utils.Database, rows: Iterable[dict[str, Any]], batch_size: int = 5000
) -> int:
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
            _append_chained(db, rows[start : start + batch_size])
        db.execute(
            "INSERT INTO captures_fts (rowid, title, text) SELECT id, title, text FROM captures_search WHERE id > ?",
            [before],
        )
        db.execute(trigger_sql)
        added = db.execute("SELECT count(*) FROM captures WHERE id > ?", [before]).fetchone()[0]
    return added


def last_capture_times(db: sqlite_utils.Database, source: str) -> list[tuple[str, str, int]]:
    """(url, latest captured_at, least depth) of each page `source` captured with status 200.

    Used by recrawl: changed. robots.txt is left out: Scrapy fetches it itself; requisites
    too: each page fetches its own.
    """
    return db.execute(
        "SELECT url, max(captured_at), min(coalesce(depth, 0)) FROM captures "
        "WHERE source = ? AND status = 200 AND via = 'live' AND url NOT LIKE '%/robots.txt' "
        "AND requisite IS NULL "
        "GROUP BY url",
        [source],
    ).fetchall()


def load_originals(db: sqlite_utils.Database, source: str | None = None) -> dict[tuple[str, str], Original]:
    """(url, sha256) -> first full record, so repeat payloads become revisit records."""
    if not db.table("captures").exists():
        return {}
    sql = "SELECT url, sha256, warc_record_id, captured_at FROM captures WHERE warc_type = 'response'"
    params: list[Any] = []
    if source:
        sql += " AND source = ?"
        params.append(source)
    sql += " ORDER BY id"
    originals: dict[tuple[str, str], Original] = {}
    for url, sha256, record_id, captured_at in db.execute(sql, params).fetchall():
        originals.setdefault((url, sha256), Original(record_id, url, captured_at))
    return originals


class IndexedOriginals:
    """The first full record of each (URL, payload) of `source`, looked up in the index as needed.

    What load_originals gives, without holding every record of the source in
    memory (20,500 of them took 11.5 MB of the writer): a lookup is one query on
    the captures' SHA-256 index. Records written since their rows were
    committed are kept in memory, the newest RECENT of them: a row is committed
    within a batch of its record (archive/crawl/writer.py), far fewer records.
    """

    RECENT = 8192
    _SQL = (
        "SELECT warc_record_id, url, captured_at FROM captures WHERE sha256 = ? "
        "AND warc_type = 'response' AND source = ?"
    )

    def __init__(self, db: sqlite_utils.Database, source: str) -> None:
        self.db = db
        self.source = source
        self.recent: dict[tuple[str, str], Original] = {}
        self.recent_payloads: dict[str, Original] = {}

    def get(self, key: tuple[str, str]) -> Original | None:
        """The first full record of payload `key[1]` at URL `key[0]`, or None."""
        found = self.recent.get(key)
        if found is None:
            row = self.db.execute(
                self._SQL + " AND url = ? ORDER BY id LIMIT 1", [key[1], self.source, key[0]]
            )
            found = _original(row.fetchone())
        return found

    def payload(self, digest: str) -> Original | None:
        """The first full record of payload `digest` under any URL, or None."""
        found = self.recent_payloads.get(digest)
        if found is None:
            found = _original(
                self.db.execute(self._SQL + " ORDER BY id LIMIT 1", [digest, self.source]).fetchone()
            )
        return found

    def add(self, key: tuple[str, str], original: Original, any_url: bool) -> None:
        """A full record just written; `any_url`: it may stand for the payload under other URLs too."""
        _keep(self.recent, key, original, self.RECENT)
        if any_url:
            _keep(self.recent_payloads, key[1], original, self.RECENT)


def _keep(recent: dict[Any, Original], key: Any, original: Original, most: int) -> None:
    recent.setdefault(key, original)
    if len(recent) > most:
        del recent[next(iter(recent))]


def _original(row: tuple[str, str, str] | None) -> Original | None:
    return Original(*row) if row is not None else None


def archived_wayback_versions(db: sqlite_utils.Database, source: str) -> set[tuple[str, str]]:
    """(original_url, wayback_digest) of every Wayback capture of a source, so re-runs skip them."""
    if "original_url" not in db.table("captures").columns_dict:
        return set()
    rows = db.execute(
        "SELECT original_url, wayback_digest FROM captures WHERE source = ? AND via = 'wayback'",
        [source],
    ).fetchall()
    return {(url, digest) for url, digest in rows}


def inexact_wayback_fetches(db: sqlite_utils.Database, source: str) -> list[str]:
    """The snapshot URLs an earlier harvest of a source fetched but could not archive as asked
    (replay gave another time or a rewritten page), so a re-run tries them last."""
    rows = db.execute(
        "SELECT url FROM fetch_errors WHERE source = ? AND error_type = ?",
        [source, ErrorType.WAYBACK_INEXACT],
    ).fetchall()
    return [url for (url,) in rows if url]


def changed_captures(db: sqlite_utils.Database, run_id: int) -> list[dict[str, Any]]:
    """Live captures of a run whose payload differs from the previous capture of the same URL."""
    sql = """
        SELECT c.id, c.url, c.source FROM captures c
        WHERE c.crawl_run = ? AND c.via = 'live' AND c.warc_type = 'response' AND c.status = 200
          AND c.requisite IS NULL
          AND (SELECT p.sha256 FROM captures p WHERE p.url = c.url AND p.via = 'live'
               AND p.id < c.id ORDER BY p.id DESC LIMIT 1) IS NOT c.sha256
          AND EXISTS (SELECT 1 FROM captures p WHERE p.url = c.url AND p.via = 'live' AND p.id < c.id)
        ORDER BY c.id
    """
    return [dict(zip(("id", "url", "source"), row)) for row in db.execute(sql, [run_id]).fetchall()]
