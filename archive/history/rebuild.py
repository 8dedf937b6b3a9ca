"""Recompute all history from the captures and the WARC files, when a rule changed.

Text is extracted again from each capture's WARC record with today's
extractor (captures.text keeps what was extracted then; captures never
change). Three passes: sightings, in batches, reading WARC records outside
any transaction; each host's boilerplate; then every page's versions and
changes, each pair of versions diffed once. Derived tables only: nothing in
captures or the WARC files is touched. Run it while no crawl is writing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from archive.archive import Archive
from archive.history.boilerplate import rekey_host, store_boilerplate
from archive.history.context import Context, Rules, Work
from archive.history.phrases import sync_all_watched
from archive.history.sightings import build_sighting, kind_of, save_sighting
from archive.history.versions import regroup_page
from archive.index.db import open_existing, writing
from archive.index.history_schema import HISTORY_TABLES
from archive.index.queries import rows
from archive.text.extract import extract
from archive.warc.read import DecodeError, open_record

BATCH = 500


@dataclass(frozen=True)
class Rebuilt:
    """What a rebuild made."""

    captures: int
    sightings: int
    pages: int
    versions: int
    changes: int
    unreadable: int
    work: Work

    def line(self) -> str:
        return (
            f"{self.captures} captures read: {self.sightings} sightings of {self.pages} pages, "
            f"{self.versions} versions, {self.changes} changes"
            + (
                f"; {self.unreadable} WARC record(s) could not be read (their captures' stored text was used)"
                if self.unreadable
                else ""
            )
        )


def _text(archive: Archive, row: dict[str, Any]) -> tuple[str | None, bool]:
    """Main text of a capture from its WARC record, and whether the record could be read."""
    try:
        record = open_record(archive, row)
    except (OSError, EOFError, ValueError, DecodeError):
        return row.get("text"), False
    return extract(record.content_type, record.body).text, True


def rebuild_history(archive: Archive, rules: Rules) -> Rebuilt:
    """Empty the history tables and compute them again from every capture."""
    db = open_existing(archive)
    work = Work()
    unreadable = 0
    try:
        with writing(db):
            for table in HISTORY_TABLES:
                db.execute(f"DELETE FROM {table}")
            sync_all_watched(Context(db, rules, work))
        ids = [r[0] for r in db.execute("SELECT id FROM captures ORDER BY id").fetchall()]
        for start in range(0, len(ids), BATCH):
            batch = rows(
                db.conn,
                "SELECT * FROM captures WHERE id BETWEEN ? AND ? ORDER BY id",
                [ids[start], ids[min(start + BATCH, len(ids)) - 1]],
            )
            texts: dict[int, str | None] = {}
            for row in batch:
                if (
                    row["warc_type"] != "revisit"
                    and kind_of(row["status"]) == "page"
                    and not row.get("requisite")
                ):
                    texts[row["id"]], ok = _text(archive, row)
                    unreadable += not ok
            with writing(db):
                for row in batch:
                    sighting = build_sighting(db, row, texts.get(row["id"]), lambda host: set())
                    if sighting is not None:
                        save_sighting(db, sighting)
                        work.sightings_added += 1
        hosts = [r[0] for r in db.execute("SELECT DISTINCT host FROM page_sightings ORDER BY host")]
        with writing(db):
            ctx = Context(db, rules, work)
            for host in hosts:
                store_boilerplate(ctx, host)
                rekey_host(ctx, host)
                ctx.keyed.clear()
            db.execute("DELETE FROM history_pending")  # every host was settled just now
        pages = [r[0] for r in db.execute("SELECT DISTINCT page_key FROM page_sightings ORDER BY page_key")]
        for start in range(0, len(pages), BATCH):
            with writing(db):
                ctx = Context(db, rules, work)
                for key in pages[start : start + BATCH]:
                    regroup_page(ctx, key)
        count = {t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("versions", "changes")}
    finally:
        db.close()
    return Rebuilt(
        len(ids), work.sightings_added, len(pages), count["versions"], count["changes"], unreadable, work
    )
