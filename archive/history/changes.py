"""A change: what was added and removed between two consecutive versions of a page, and proof of it.

Each change names the last capture that showed the old version and the first
that showed the new one, with their citations: the page changed between
those two times. Passages that are the host's site-wide boilerplate are kept
but marked, and left out of the change's text, size and search.
"""

from __future__ import annotations

from typing import Any

from archive.evidence.cite import citation_of
from archive.history.context import Context
from archive.history.notpages import is_page
from archive.history.passages import Passage, diff, has_phrase, sentence_key, sentences
from archive.history.sightings import text_of
from archive.history.sql import insert, insert_many, update
from archive.index import queries
from archive.times import iso, utc_now


def is_boilerplate(passage_sentences: tuple[str, ...] | list[str], boilerplate: set[str]) -> bool:
    """A passage is boilerplate when every sentence of it is."""
    return bool(boilerplate) and all(sentence_key(s) in boilerplate for s in passage_sentences)


def phrase_events(old: str, new: str, watched: list[tuple[str, str]]) -> list[tuple[str, str, str]]:
    """(phrase, term_kind, appeared|disappeared) for each watched phrase whose presence changed.

    A `watch:` phrase matches whatever its case; product names and aliases are
    proper nouns and match case-sensitively (as mentions do).
    """
    events = []
    for phrase, term_kind in watched:
        exact = term_kind != "watch"
        before, after = has_phrase(old, phrase, exact), has_phrase(new, phrase, exact)
        if before != after:
            events.append((phrase, term_kind, "appeared" if after else "disappeared"))
    return events


def aggregate(passages: list[tuple[Passage | str, str, bool]]) -> dict[str, Any]:
    """A change's text, counts and size from its (passage text, side, boilerplate) list."""
    real = [(text, side) for text, side, boiler in passages if not boiler]
    added = [t for t, side in real if side == "added"]
    removed = [t for t, side in real if side == "removed"]
    size = sum(len(t.split()) for t, _ in real)
    return {
        "added": "\n".join(added) or None,
        "removed": "\n".join(removed) or None,
        "added_passages": len(added),
        "removed_passages": len(removed),
        "size": size,
        "boilerplate_passages": len(passages) - len(real),
        "substantive": int(size > 0),
    }


def compute_change(ctx: Context, old: dict[str, Any], new: dict[str, Any]) -> int:
    """Diff two consecutive versions (rows of `versions`), store the change; returns its id."""
    db, conn = ctx.db, ctx.db.conn
    ctx.work.diffs += 1
    old_text, new_text = text_of(conn, old["text_sha256"]), text_of(conn, new["text_sha256"])
    boilerplate = ctx.boilerplate(new["host"])
    found = [(p, is_boilerplate(p.sentences, boilerplate)) for p in diff(old_text, new_text)]
    before = queries.capture(conn, old["last_capture_id"])
    after = queries.capture(conn, new["first_capture_id"])
    row = {
        "page_key": new["page_key"],
        "page_url": new["page_url"],
        "host": new["host"],
        "source": new["source"],
        "vendor": new["vendor"],
        "product": new["product"],
        "title": new["title"],
        "from_version_id": old["id"],
        "to_version_id": new["id"],
        **_ends(conn, old, new, before, after),
        **aggregate([(p.text, p.side, boiler) for p, boiler in found]),
        "computed_at": iso(utc_now()),
    }
    page = is_page(new["page_url"], after.get("content_type"))
    if not page:
        row["substantive"] = 0
    change_id = insert(db, "changes", row)
    insert_many(
        db,
        "change_passages",
        [
            {"change_id": change_id, "side": p.side, "position": n, "text": p.text, "boilerplate": int(b)}
            for n, (p, b) in enumerate(found)
        ],
    )
    insert_many(
        db,
        "change_phrases",
        [
            {
                "change_id": change_id,
                "source": new["source"],
                "phrase": phrase,
                "term_kind": kind,
                "event": event,
            }
            for phrase, kind, event in phrase_events(old_text, new_text, ctx.watched(new["source"]))
            if page
        ],
    )
    return change_id


def _ends(
    conn: Any, old: dict[str, Any], new: dict[str, Any], before: dict[str, Any], after: dict[str, Any]
) -> dict[str, Any]:
    """The columns that name the two captures either side of a change."""
    return {
        "from_capture_id": old["last_capture_id"],
        "to_capture_id": new["first_capture_id"],
        "before_at": old["last_seen_at"],
        "changed_at": new["first_seen_at"],
        "found_at": max(before["captured_at"], after["captured_at"]),
        "from_citation": citation_of(conn, before).line(),
        "to_citation": citation_of(conn, after).line(),
    }


def update_ends(ctx: Context, change: dict[str, Any], old: dict[str, Any], new: dict[str, Any]) -> None:
    """A version grew at its edge (a capture arrived out of order): the change's captures move, its text stays."""
    if (change["from_capture_id"], change["to_capture_id"]) == (
        old["last_capture_id"],
        new["first_capture_id"],
    ):
        return
    conn = ctx.db.conn
    ends = _ends(
        conn,
        old,
        new,
        queries.capture(conn, old["last_capture_id"]),
        queries.capture(conn, new["first_capture_id"]),
    )
    update(ctx.db, "changes", change["id"], ends)


def delete_changes(ctx: Context, ids: list[int]) -> None:
    for change_id in ids:
        ctx.db.execute("DELETE FROM change_phrases WHERE change_id = ?", [change_id])
        ctx.db.execute("DELETE FROM change_passages WHERE change_id = ?", [change_id])
        ctx.db.execute("DELETE FROM changes WHERE id = ?", [change_id])


def _shows_page(conn: Any, change: dict[str, Any]) -> bool:
    """Whether a stored change is to a page a person reads (not robots.txt, a sitemap, a feed)."""
    found = conn.execute(
        "SELECT content_type FROM captures WHERE id = ?", [change["to_capture_id"]]
    ).fetchone()
    return is_page(change["page_url"], found[0] if found else None)


def remark(ctx: Context, host: str) -> int:
    """Mark each stored passage of a host's changes by the host's current boilerplate; returns changes updated."""
    db = ctx.db
    boilerplate = ctx.boilerplate(host)
    updated = 0
    for (change_id,) in db.execute("SELECT id FROM changes WHERE host = ?", [host]).fetchall():
        stored = db.execute(
            "SELECT id, side, text, boilerplate FROM change_passages WHERE change_id = ? ORDER BY position",
            [change_id],
        ).fetchall()
        marked = []
        for pid, side, text, was in stored:
            now = int(is_boilerplate([s.text for s in sentences(text)], boilerplate))
            if now != was:
                db.execute("UPDATE change_passages SET boilerplate = ? WHERE id = ?", [now, pid])
            marked.append((text, side, bool(now)))
        totals = aggregate(marked)
        current = db.table("changes").get(change_id)
        if not _shows_page(db.conn, current):
            totals["substantive"] = 0
        if any(current[k] != v for k, v in totals.items()):
            update(db, "changes", change_id, totals)
            updated += 1
    return updated


def refresh_phrases(ctx: Context, source: str) -> None:
    """Recompute the phrase events of a source's changes (its watch list changed)."""
    db, conn = ctx.db, ctx.db.conn
    watched = ctx.watched(source)
    for change_id, old_sha, new_sha in db.execute(
        "SELECT c.id, a.text_sha256, b.text_sha256 FROM changes c "
        "JOIN versions a ON a.id = c.from_version_id JOIN versions b ON b.id = c.to_version_id "
        "WHERE c.source = ?",
        [source],
    ).fetchall():
        db.execute("DELETE FROM change_phrases WHERE change_id = ?", [change_id])
        if not _shows_page(conn, db.table("changes").get(change_id)):
            continue
        events = phrase_events(text_of(conn, old_sha), text_of(conn, new_sha), watched)
        insert_many(
            db,
            "change_phrases",
            [
                {"change_id": change_id, "source": source, "phrase": p, "term_kind": k, "event": e}
                for p, k, e in events
            ],
        )
