"""Opening the SQLite index, and its write transactions."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlite_utils

from archive.archive import Archive
from archive.errors import ArchiveError
from archive.index.migrations import migrations


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


def open_index(archive: Archive) -> sqlite_utils.Database:
    """An archive's index, created with its migrations if needed."""
    return open_db(archive.db_path)


def open_existing(archive: Archive) -> sqlite_utils.Database:
    """The index of an archive that must already exist, or an ArchiveError saying why not."""
    if not archive.exists():
        raise ArchiveError(
            f"{archive.db_path}: no archive here (run `spyglass crawl` or `spyglass demo` first)"
        )
    return open_index(archive)


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


def take_write_lock(db: sqlite_utils.Database) -> None:
    """Take SQLite's write lock now, inside the caller's transaction (a no-op under `writing`).

    A write that changes nothing does it, waiting out other writers (busy
    timeout) before anything is read. It must not touch captures: a statement
    on a table with FTS5 triggers reads the FTS tables first, and a
    transaction that has read cannot wait for the lock, it fails at once
    ("database is locked") when another writer holds it.
    """
    db.execute("DELETE FROM sources WHERE 0")
