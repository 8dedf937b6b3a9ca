"""An Atlas export into the index: the import, row versions, agencies, technologies, links and vendors.

Re-importing is safe: a row whose content is unchanged stays as it is; a
changed row becomes a new version, and the old one is marked superseded (by
the import, and by the version that replaced it); a row no longer listed is
marked superseded by nothing. Versions are never updated otherwise nor
deleted (the schema's triggers refuse it). Vendor matches are derived from
sources.yml and rebuilt on every import.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import sqlite_utils
from w3lib.url import safe_url_string

from archive.atlas.export import AtlasExport, ExportRow
from archive.atlas.vendors import VendorNames
from archive.times import iso_date_of
from archive.wayback.client import parse_snapshot_url

# URLs inside a cell (a cell may hold several, or prose around one); a bare
# www. address counts too. Closing punctuation of the prose is not the URL's.
URL_RE = re.compile(r"(?:https?://|www\.)[^\s<>\"']+", re.IGNORECASE)
TRAILING = ".,;:)]}"


@dataclass
class ImportReport:
    """What one import did."""

    import_id: int
    outcome: str  # imported, or not-modified (a conditional fetch answered 304)
    source: str  # the file or URL
    rows: int = 0
    added: int = 0
    changed: int = 0
    unchanged: int = 0
    removed: int = 0
    duplicates: int = 0
    skipped: int = 0
    capture_id: int | None = None
    sha256: str | None = None

    def line(self) -> str:
        """One line for the terminal."""
        if self.outcome == "not-modified":
            return (
                f"{self.source}: not modified since the last import (HTTP 304): nothing new "
                f"(import {self.import_id})."
            )
        parts = [f"{self.added} new", f"{self.changed} changed", f"{self.unchanged} unchanged"]
        if self.removed:
            parts.append(f"{self.removed} no longer listed")
        if self.duplicates:
            parts.append(f"{self.duplicates} duplicate row(s) counted once")
        if self.skipped:
            parts.append(f"{self.skipped} skipped (see atlas_imports.skipped_rows)")
        return (
            f"Imported {self.source}: {self.rows} Atlas rows, {', '.join(parts)} "
            f"(import {self.import_id}); the file is capture {self.capture_id}, "
            f"SHA-256 {self.sha256}."
        )


def save_import(
    db: sqlite_utils.Database, export: AtlasExport, names: VendorNames, meta: dict[str, Any]
) -> ImportReport:
    """Record an import and its rows, inside the caller's transaction; `meta` fills atlas_imports."""
    now = meta["imported_at"]
    imports = db.table("atlas_imports")
    imports.insert(
        {
            **meta,
            "outcome": "imported",
            "rows": len(export.rows),
            "duplicates": export.duplicates,
            "skipped": len(export.skipped),
            "skipped_rows": json.dumps([s.__dict__ for s in export.skipped]) if export.skipped else None,
            "extra_columns": json.dumps(export.extra_columns) if export.extra_columns else None,
        }
    )
    import_id = int(imports.last_pk)
    report = ImportReport(
        import_id,
        "imported",
        meta.get("url") or meta.get("file_path") or "",
        rows=len(export.rows),
        duplicates=export.duplicates,
        skipped=len(export.skipped),
        capture_id=meta.get("capture_id"),
        sha256=meta.get("sha256"),
    )
    current = {
        aos: (rid, digest)
        for aos, rid, digest in db.execute(
            "SELECT aosnumber, id, row_sha256 FROM atlas_rows WHERE superseded_at IS NULL"
        )
    }
    agencies = _upsert_agencies(db, export, import_id)
    technologies = _upsert_technologies(db, export, import_id)
    next_id = db.execute("SELECT coalesce(max(id), 0) + 1 FROM atlas_rows").fetchone()[0]
    versions, links, ended = [], [], []
    for row in export.rows:
        old = current.pop(row.aosnumber, None)
        if old is not None and old[1] == row.sha256:
            report.unchanged += 1
            continue
        versions.append(
            {
                "id": next_id,
                **row.values,
                "extra": json.dumps(row.extra, ensure_ascii=False) if row.extra else None,
                "agency_id": agencies[_agency_key(row)],
                "technology_id": technologies.get(row.values["technology"].strip()),
                "row_sha256": row.sha256,
                "line": row.line,
                "import_id": import_id,
                "imported_at": now,
            }
        )
        links.extend(links_of(row, next_id))
        if old is None:
            report.added += 1
        else:
            report.changed += 1
            ended.append((now, import_id, next_id, old[0]))
        next_id += 1
    if not meta.get("partial"):
        ended.extend((now, import_id, None, rid) for rid, _ in current.values())
        report.removed = len(current)
    # Old versions end first: one current version per AOSNUMBER (a unique index).
    db.conn.executemany(
        "UPDATE atlas_rows SET superseded_at = ?, superseded_import_id = ?, superseded_by = ? WHERE id = ?",
        ended,
    )
    db.table("atlas_rows").insert_all(versions, batch_size=500)
    db.table("atlas_links").insert_all(links, batch_size=500)
    rebuild_vendors(db, names)
    imports.update(
        import_id,
        {
            "added": report.added,
            "changed": report.changed,
            "unchanged": report.unchanged,
            "removed": report.removed,
        },
    )
    return report


def save_not_modified(db: sqlite_utils.Database, meta: dict[str, Any]) -> ImportReport:
    """Record a conditional fetch that found nothing new."""
    imports = db.table("atlas_imports")
    imports.insert({**meta, "outcome": "not-modified"})
    return ImportReport(int(imports.last_pk), "not-modified", meta.get("url") or "")


def last_fetch(db: sqlite_utils.Database, url: str) -> tuple[str | None, str | None]:
    """(ETag, Last-Modified) of the last export fetched whole from `url`, for a conditional request."""
    found = db.execute(
        "SELECT etag, last_modified FROM atlas_imports WHERE url = ? AND "
        "http_status = 200 ORDER BY id DESC LIMIT 1",
        [url],
    ).fetchone()
    return (found[0], found[1]) if found else (None, None)


def rebuild_vendors(db: sqlite_utils.Database, names: VendorNames) -> int:
    """Match every row version's Vendor cell against the sources' names again; returns the matches."""
    rows: list[dict[str, Any]] = []
    cache: dict[str, list] = {}
    for row_id, cell in db.execute("SELECT id, vendor FROM atlas_rows ORDER BY id").fetchall():
        matches = cache.setdefault(cell or "", names.match(cell or ""))
        rows.extend(
            {
                "row_id": row_id,
                "position": n,
                "vendor_text": m.text,
                "vendor": m.vendor,
                "product": m.product,
                "matched_by": m.matched_by,
            }
            for n, m in enumerate(matches, start=1)
        )
    db.execute("DELETE FROM atlas_row_vendors")
    db.table("atlas_row_vendors").insert_all(rows, batch_size=1000)
    return len(rows)


def links_of(row: ExportRow, row_id: int) -> list[dict[str, Any]]:
    """The links a row version gives, each URL once per field, Wayback snapshots split into their parts."""
    values = row.values
    cells: list[tuple[str, str, str | None, str | None, str | None]] = []
    for n in (1, 2, 3):
        source, kind, date = (values[f"link_{n}_{part}"] for part in ("source", "type", "date"))
        cells.append((f"Link {n}", values[f"link_{n}"], source, kind, date))
        cells.append((f"Link {n} Snapshot", values[f"link_{n}_snapshot"], source, kind, date))
    cells.append(("Other Links", values["other_links"], None, None, None))
    links: dict[tuple[str, str], dict[str, Any]] = {}
    for field_name, cell, source, kind, date in cells:
        for url in urls_in(cell):
            snapshot = parse_snapshot_url(url)
            links.setdefault(
                (field_name, url),
                {
                    "row_id": row_id,
                    "field": field_name,
                    "url": url,
                    "original_url": snapshot.original if snapshot else safe_url_string(url),
                    "wayback_timestamp": snapshot.timestamp if snapshot else None,
                    "link_source": (source or "").strip() or None,
                    "link_type": (kind or "").strip() or None,
                    "date_text": (date or "").strip() or None,
                    "date": iso_date_of(date),
                },
            )
    return list(links.values())


def urls_in(cell: str) -> Iterator[str]:
    """Every URL written in a cell, in order."""
    for found in URL_RE.finditer(cell or ""):
        url = found.group(0).rstrip(TRAILING)
        yield url if "://" in url else f"http://{url}"


def _agency_key(row: ExportRow) -> tuple[str, str]:
    return row.values["agency"].strip(), row.values["state"].strip()


def _upsert_agencies(
    db: sqlite_utils.Database, export: AtlasExport, import_id: int
) -> dict[tuple[str, str], int]:
    """Each agency the export lists, with its latest place and type; (agency, state) -> id."""
    ids = {(a, s): i for i, a, s in db.execute("SELECT id, agency, state FROM atlas_agencies")}
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for row in export.rows:
        latest[_agency_key(row)] = {
            field_name: row.values[field_name].strip() or None
            for field_name in ("city", "county", "type_of_lea", "type_of_juris")
        }
    table = db.table("atlas_agencies")
    for key, values in latest.items():
        if key in ids:
            table.update(ids[key], {**values, "last_import_id": import_id})
        else:
            table.insert(
                {
                    "agency": key[0],
                    "state": key[1],
                    **values,
                    "first_import_id": import_id,
                    "last_import_id": import_id,
                }
            )
            ids[key] = int(table.last_pk)
    return ids


def _upsert_technologies(db: sqlite_utils.Database, export: AtlasExport, import_id: int) -> dict[str, int]:
    """Each technology the export names; name -> id (a blank Technology has none)."""
    ids = {t: i for i, t in db.execute("SELECT id, technology FROM atlas_technologies")}
    table = db.table("atlas_technologies")
    for name in dict.fromkeys(row.values["technology"].strip() for row in export.rows):
        if name and name not in ids:
            table.insert({"technology": name, "first_import_id": import_id})
            ids[name] = int(table.last_pk)
    return ids
