"""Site-wide boilerplate: sentences on most pages of a host (a cookie notice, a call to action).

Extraction already drops <nav>, <header>, <footer> and their like; what it
cannot know is furniture written as ordinary paragraphs. A sentence on at
least Rules.boilerplate_share of a host's pages (and on Rules.
boilerplate_min_pages of them) is boilerplate. The set is found after each
crawl run from the pages' texts, not per capture: when it changes, the
host's sightings get new content keys, its pages are regrouped (only new
pairs of versions are diffed) and its changes' passages re-marked.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

from archive.history.changes import remark
from archive.history.context import Context
from archive.history.passages import line_keys, sentence_key, sentences, text_keys
from archive.history.sightings import PAGE, content_key, text_of
from archive.history.sql import insert_many
from archive.history.versions import regroup_page
from archive.times import iso, utc_now


def find_boilerplate(ctx: Context, host: str) -> dict[str, tuple[str, int, int]]:
    """sentence key -> (sentence, pages it is on, pages read) for a host's boilerplate."""
    rules = ctx.rules
    conn = ctx.db.conn
    pages = [
        r[0]
        for r in conn.execute(
            "SELECT page_key FROM page_sightings WHERE host = ? AND text_sha256 IS NOT NULL "
            "GROUP BY page_key ORDER BY max(seen_at) DESC LIMIT ?",
            [host, rules.boilerplate_sample_pages],
        ).fetchall()
    ]
    if len(pages) < rules.boilerplate_min_pages:
        return {}
    counts: Counter[bytes] = Counter()
    texts: list[str] = []  # in the order read
    for key in pages:
        on_page: set[bytes] = set()
        for (digest,) in conn.execute(
            "SELECT DISTINCT text_sha256 FROM page_sightings WHERE page_key = ? AND text_sha256 IS NOT NULL",
            [key],
        ).fetchall():
            if digest in ctx.keyed:  # the same text on another page
                for keys in ctx.keyed[digest].lines:
                    on_page.update(line_keys(keys))
            else:
                ctx.keyed[digest] = text_keys(text_of(conn, digest), on_page)
                texts.append(digest)
        counts.update(on_page)
    threshold = max(rules.boilerplate_min_pages, math.ceil(rules.boilerplate_share * len(pages)))
    found = {k: n for k, n in counts.items() if n >= threshold}
    example = _examples(conn, texts, set(found))
    return {k.hex(): (example[k], n, len(pages)) for k, n in found.items()}


def _examples(conn: Any, texts: list[str], wanted: set[bytes]) -> dict[bytes, str]:
    """A sentence for each key in `wanted`, the first found reading `texts` (SHA-256s) in order.

    Boilerplate is on most pages, so the first few texts hold all of it.
    """
    example: dict[bytes, str] = {}
    for digest in texts:
        if len(example) == len(wanted):
            break
        for sentence in sentences(text_of(conn, digest)):
            key = bytes.fromhex(sentence_key(sentence.text))
            if key in wanted:
                example.setdefault(key, sentence.text)
    return example


def boilerplate_may_change(ctx: Context, host: str) -> bool:
    """Whether finding a host's boilerplate again can give another answer than when it was last found.

    It is found from the distinct texts of the host's most recently seen
    pages. If every page is read (the host has no more pages than that), the
    rules are the same and no page has got a text it did not have, the texts
    read are the same and so is the answer: a re-crawl of an unchanged site
    then does not split and hash every page of it again (a second for 2,000 pages).
    """
    conn = ctx.db.conn
    last = conn.execute(
        "SELECT through_capture_id, rules FROM boilerplate_settled WHERE host = ?", [host]
    ).fetchone()
    if last is None or last[1] != ctx.rules.key():
        return True
    if conn.execute(
        "SELECT 1 FROM page_sightings AS s WHERE s.capture_id > ? AND s.host = ? "
        "AND s.text_sha256 IS NOT NULL AND NOT EXISTS (SELECT 1 FROM page_sightings AS o "
        "WHERE o.page_key = s.page_key AND o.text_sha256 = s.text_sha256 AND o.capture_id <= ?) LIMIT 1",
        [last[0], host, last[0]],
    ).fetchone():
        return True
    read = ctx.rules.boilerplate_sample_pages
    pages = conn.execute(
        "SELECT count(*) FROM (SELECT DISTINCT page_key FROM page_sightings WHERE host = ? "
        "AND text_sha256 IS NOT NULL LIMIT ?)",
        [host, read + 1],
    ).fetchone()[0]
    return pages > read


def settle_host(ctx: Context, host: str) -> bool:
    """Find a host's boilerplate again; if it changed, re-key, regroup and re-mark. True if it changed."""
    before = set(ctx.boilerplate(host))
    ctx.work.hosts_settled += 1
    try:
        store_boilerplate(ctx, host)
        if set(ctx.boilerplate(host)) == before:
            return False
        touched = rekey_host(ctx, host)
    finally:
        ctx.keyed.clear()
    for page in sorted(touched):
        regroup_page(ctx, page)
    remark(ctx, host)
    return True


def store_boilerplate(ctx: Context, host: str) -> None:
    """Find and store a host's boilerplate, without touching its sightings (a rebuild re-keys them next)."""
    found = find_boilerplate(ctx, host)
    ctx.db.execute("DELETE FROM boilerplate WHERE host = ?", [host])
    now = iso(utc_now())
    insert_many(
        ctx.db,
        "boilerplate",
        [
            {
                "host": host,
                "sentence_sha256": k,
                "sentence": s,
                "pages": n,
                "host_pages": total,
                "computed_at": now,
            }
            for k, (s, n, total) in found.items()
        ],
    )
    # What it was found from: every capture so far, by these rules.
    through = ctx.db.execute("SELECT coalesce(max(id), 0) FROM captures").fetchone()[0]
    ctx.db.execute(
        "INSERT OR REPLACE INTO boilerplate_settled (host, through_capture_id, rules, settled_at) "
        "VALUES (?, ?, ?, ?)",
        [host, through, ctx.rules.key(), now],
    )
    ctx.forget_boilerplate(host)


def rekey_host(ctx: Context, host: str) -> set[str]:
    """Give a host's text sightings the content keys the current boilerplate makes; returns the pages changed."""
    db, conn = ctx.db, ctx.db.conn
    boilerplate = ctx.boilerplate(host)
    # Read in order of (text, payload), so each pair's key is computed once while
    # only the last pair's is kept: memory stays flat however many pages the host has.
    last: tuple[tuple[str, str], str] | None = None
    changed: list[tuple[str, int]] = []
    touched: set[str] = set()
    for capture_id, page, digest, old, sha256, status in conn.execute(
        "SELECT s.capture_id, s.page_key, s.text_sha256, s.content_key, c.sha256, c.status "
        "FROM page_sightings s JOIN captures c ON c.id = s.capture_id "
        "WHERE s.host = ? AND s.kind = ? AND s.text_sha256 IS NOT NULL "
        "ORDER BY s.text_sha256, c.sha256",
        [host, PAGE],
    ):
        if last is None or last[0] != (digest, sha256):
            key = content_key(
                PAGE,
                text_of(conn, digest),
                {"sha256": sha256, "status": status},
                boilerplate,
                ctx.keyed.get(digest),
            )
            last = ((digest, sha256), key)
        if last[1] != old:
            changed.append((last[1], capture_id))
            touched.add(page)
    # Written after the read: the SELECT is not walked while its rows change.
    db.conn.executemany("UPDATE page_sightings SET content_key = ? WHERE capture_id = ?", changed)
    return touched
