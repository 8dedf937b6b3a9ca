"""Versions: a page's consecutive sightings with the same content key, oldest first.

A capture that arrives after everything already known of its page (the
usual case: a crawl moves forward in time) extends the page's last version
or starts a new one and computes the one change between them. A capture that
arrives out of order (a Wayback memento of 2018 harvested after today's live
capture) regroups that page's sightings; a change is diffed only for a pair
of versions not diffed before. Either way the work is one page's, never the
archive's (Context.work counts it).
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

from archive.history.changes import compute_change, delete_changes, update_ends
from archive.history.context import Context
from archive.history.sightings import page_sightings
from archive.history.sql import insert, update

_VERSION_FIELDS = (
    "page_url",
    "host",
    "source",
    "vendor",
    "product",
    "kind",
    "title",
    "first_seen_at",
    "last_capture_id",
    "last_seen_at",
    "sightings",
    "text_sha256",
    "number",
    "content_key",
)


def _last_version(ctx: Context, key: str) -> dict[str, Any] | None:
    found = ctx.db.execute(
        "SELECT * FROM versions WHERE page_key = ? ORDER BY first_seen_at DESC, "
        "first_capture_id DESC LIMIT 1",
        [key],
    )
    names = [d[0] for d in found.description]
    row = found.fetchone()
    return dict(zip(names, row)) if row else None


def add_sighting(ctx: Context, sighting: dict[str, Any]) -> None:
    """Fold one new sighting into its page's versions and changes."""
    key = sighting["page_key"]
    last = _last_version(ctx, key)
    ctx.work.sightings_read += 1
    if last is not None and (sighting["seen_at"], sighting["capture_id"]) < (
        last["last_seen_at"],
        last["last_capture_id"],
    ):
        regroup_page(ctx, key)
        return
    if last is not None and last["content_key"] == sighting["content_key"]:
        update(
            ctx.db,
            "versions",
            last["id"],
            {
                "last_capture_id": sighting["capture_id"],
                "last_seen_at": sighting["seen_at"],
                "sightings": last["sightings"] + 1,
                "text_sha256": last["text_sha256"] or sighting["text_sha256"],
            },
        )
        return
    new = _version_row(key, [sighting], (last["number"] + 1) if last else 1)
    new["id"] = insert(ctx.db, "versions", new)
    if last is not None:
        compute_change(ctx, last, new)


def _version_row(key: str, run: list[dict[str, Any]], number: int) -> dict[str, Any]:
    first, last = run[0], run[-1]
    return {
        "page_key": key,
        "page_url": last["page_url"],
        "host": first["host"],
        "source": last["source"],
        "vendor": last["vendor"],
        "product": last["product"],
        "number": number,
        "kind": first["kind"],
        "title": first["title"],
        "first_capture_id": first["capture_id"],
        "first_seen_at": first["seen_at"],
        "last_capture_id": last["capture_id"],
        "last_seen_at": last["seen_at"],
        "sightings": len(run),
        "content_key": first["content_key"],
        "text_sha256": next((s["text_sha256"] for s in run if s["text_sha256"]), None),
    }


def runs(sightings: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Consecutive sightings with the same content key."""
    grouped: list[list[dict[str, Any]]] = []
    for sighting in sightings:
        if grouped and grouped[-1][-1]["content_key"] == sighting["content_key"]:
            grouped[-1].append(sighting)
        else:
            grouped.append([sighting])
    return grouped


def regroup_page(ctx: Context, key: str) -> None:
    """Recompute one page's versions from its sightings; diff only the pairs of versions that are new."""
    db = ctx.db
    ctx.work.pages_regrouped += 1
    sightings = page_sightings(db.conn, key)
    ctx.work.sightings_read += len(sightings)
    # A version is known by its first capture: the same first capture shows the
    # same text, whatever key the current boilerplate gives it.
    known = _rows(ctx, "SELECT * FROM versions WHERE page_key = ?", [key])
    existing = {v["first_capture_id"]: v for v in known}
    keys_before = {v["id"]: v["content_key"] for v in known}
    wanted = []
    for number, run in enumerate(runs(sightings), 1):
        row = _version_row(key, run, number)
        match = existing.pop(row["first_capture_id"], None)
        if match is None:
            row["id"] = insert(db, "versions", row)
        else:
            row["id"] = match["id"]
            if any(match[f] != row[f] for f in _VERSION_FIELDS):
                update(db, "versions", match["id"], {f: row[f] for f in _VERSION_FIELDS})
        wanted.append(row)
    changes = {
        (c["from_version_id"], c["to_version_id"]): c
        for c in _rows(ctx, "SELECT * FROM changes WHERE page_key = ?", [key])
    }
    for old, new in pairwise(wanted):
        change = changes.pop((old["id"], new["id"]), None)
        if change is None:
            # A version split or moved: a change between the same two texts is reused, not diffed.
            pair = (old["content_key"], new["content_key"])
            change = next(
                (
                    c
                    for c in changes.values()
                    if (keys_before.get(c["from_version_id"]), keys_before.get(c["to_version_id"])) == pair
                ),
                None,
            )
            if change is None:
                compute_change(ctx, old, new)
                continue
            del changes[(change["from_version_id"], change["to_version_id"])]
            update(db, "changes", change["id"], {"from_version_id": old["id"], "to_version_id": new["id"]})
            change = {**change, "from_version_id": old["id"], "to_version_id": new["id"]}
        update_ends(ctx, change, old, new)
    delete_changes(ctx, [c["id"] for c in changes.values()])
    for stale in existing.values():
        db.execute("DELETE FROM versions WHERE id = ?", [stale["id"]])


def _rows(ctx: Context, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    cursor = ctx.db.execute(sql, params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, r)) for r in cursor.fetchall()]
