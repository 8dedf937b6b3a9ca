"""Which agencies' records mention which products: vendor terms matched in documents and release pages.

Terms come from the vendor sources of sources.yml (product, aliases, vendor).
They are matched as whole words and case-sensitively: product names are
proper nouns, and many aliases ("Recognize", "Rekognition") are ordinary words
or near-words in lower case. Line breaks inside a term (common in OCR text)
still match. The `mentions` table is derived data, rebuilt on every run.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from archive.records.store import SERVICE_METHODS
from archive.sources.model import Source
from archive.times import iso, utc_now

SNIPPET_CHARS = 80
_SERVICE = ", ".join(f"'{method}'" for method in SERVICE_METHODS)


@dataclass(frozen=True)
class Term:
    """A name to look for, and what it names."""

    text: str
    kind: str  # product, alias or vendor
    vendor: str | None
    product: str | None  # None for a vendor's own name: it names no one product


def terms_of(sources: Iterable[Source]) -> list[Term]:
    """Every distinct (term, vendor, product) named by the vendor sources."""
    found: dict[tuple[str, str | None, str | None], Term] = {}
    for source in sources:
        if source.kind != "vendor":
            continue
        named = [(source.product, "product")] + [(a, "alias") for a in source.aliases]
        for text, kind in named:
            if text:
                found.setdefault(
                    (text, source.vendor, source.product), Term(text, kind, source.vendor, source.product)
                )
        if source.vendor:
            found.setdefault(
                (source.vendor, source.vendor, None), Term(source.vendor, "vendor", source.vendor, None)
            )
    return list(found.values())


def _pattern(terms: list[Term]) -> re.Pattern[str] | None:
    texts = sorted({t.text for t in terms}, key=len, reverse=True)  # longest first
    if not texts:
        return None
    parts = [r"\s+".join(re.escape(word) for word in text.split()) for text in texts]
    return re.compile(r"(?<!\w)(" + "|".join(parts) + r")(?!\w)")


_SPACE = re.compile(r"\s")


def snippet_around(text: str, start: int, end: int, chars: int = SNIPPET_CHARS) -> str:
    """The text around [start, end), cut at whole words, with an ellipsis where it was cut."""
    left, right = max(0, start - chars), min(len(text), end + chars)
    if left > 0 and (space := _SPACE.search(text, left, start)):
        left = space.end()
    if right < len(text):
        space = max(text.rfind(c, end, right) for c in " \n\t")
        right = space if space != -1 else right
    snippet = " ".join(text[left:right].split())
    return ("… " if left > 0 else "") + snippet + (" …" if right < len(text) else "")


def find(text: str, terms: list[Term], pattern: re.Pattern[str]) -> Iterator[tuple[Term, str]]:
    """(term, snippet) for each occurrence of a term in `text`."""
    by_text: dict[str, list[Term]] = {}
    for term in terms:
        by_text.setdefault(" ".join(term.text.split()), []).append(term)
    for match in pattern.finditer(text):
        start, end = match.span()
        snippet = snippet_around(text, start, end)
        for term in by_text.get(" ".join(match.group(1).split()), []):
            yield term, snippet


def rebuild_mentions(db: sqlite_utils.Database, sources: Iterable[Source]) -> int:
    """Recompute the mentions table from document pages and release-page captures; returns its size."""
    terms = terms_of(sources)
    pattern = _pattern(terms)
    now = iso(utc_now())
    rows: list[dict[str, Any]] = []
    if pattern is not None:
        rows.extend(_document_rows(db, terms, pattern, now))
        rows.extend(_capture_rows(db, terms, pattern, now))
    with db.atomic():
        db.execute("DELETE FROM mentions")
        db.table("mentions").insert_all(rows, batch_size=500)
    return len(rows)


def _agencies_of_documents(db: sqlite_utils.Database) -> dict[int, list[tuple[int, str | None]]]:
    linked: dict[int, list[tuple[int, str | None]]] = {}
    for document_id, release_id, agency in db.execute(
        "SELECT DISTINCT l.document_id, r.id, r.agency FROM document_links l "
        "JOIN releases r ON r.id = l.release_id WHERE l.document_id IS NOT NULL ORDER BY r.id"
    ).fetchall():
        linked.setdefault(document_id, []).append((release_id, agency))
    return linked


def _mention(
    term: Term, snippet: str, agency: str | None, release_id: int | None, proof_url: str, now: str
) -> dict[str, Any]:
    """A mentions row: `term` found in a released file's page or a portal's page (the caller
    names which, over the None of the other)."""
    return {
        "agency": agency,
        "vendor": term.vendor,
        "product": term.product,
        "term": term.text,
        "term_kind": term.kind,
        "snippet": snippet,
        "document_page_id": None,
        "document_id": None,
        "page_number": None,
        "capture_id": None,
        "release_id": release_id,
        "proof_url": proof_url,
        "found_at": now,
    }


def _document_rows(
    db: sqlite_utils.Database, terms: list[Term], pattern: re.Pattern[str], now: str
) -> Iterator[dict[str, Any]]:
    linked = _agencies_of_documents(db)
    # A hosting service's text of a page (DocumentCloud's) counts only where our own
    # reading of that page found no text: the same words read twice are one mention.
    cursor = db.execute(
        "SELECT p.id, p.document_id, p.page_number, p.text, coalesce(d.cite_url, d.file_url), "
        "d.content_type, d.cite_url IS NOT NULL AND d.cite_url != d.file_url "
        "FROM document_pages p JOIN documents d ON d.id = p.document_id "
        f"WHERE p.text IS NOT NULL AND NOT (p.method IN ({_SERVICE}) AND EXISTS ("
        "SELECT 1 FROM document_pages o WHERE o.document_id = p.document_id "
        f"AND o.page_number = p.page_number AND o.method NOT IN ({_SERVICE}) AND o.text IS NOT NULL)) "
        "ORDER BY p.document_id, p.page_number, p.id"
    )
    for page_id, document_id, number, text, file_url, ctype, cited in cursor.fetchall():
        is_pdf = "pdf" in (ctype or "") or file_url.lower().endswith(".pdf")
        # PDF open parameters: viewers jump to the page that proves the mention. A file
        # fetched by an expiring URL is proved by its stable page instead, as it is.
        proof = f"{file_url}#page={number}" if is_pdf and not cited else file_url
        # One row per agency that released the document: each is a separate fact.
        agencies: dict[str | None, int] = {}
        for release_id, agency in linked.get(document_id, [(None, None)]):
            agencies.setdefault(agency, release_id)
        for term, snippet in find(text, terms, pattern):
            for agency, release_id in agencies.items():
                yield _mention(term, snippet, agency, release_id, proof, now) | {
                    "document_page_id": page_id,
                    "document_id": document_id,
                    "page_number": number,
                }


def _capture_rows(
    db: sqlite_utils.Database, terms: list[Term], pattern: re.Pattern[str], now: str
) -> Iterator[dict[str, Any]]:
    """What a portal's pages say about each release: its own page's text, or on a page that lists
    it with others, its own entry's. A listing's words belong to no release but the one whose
    entry holds them: a page carrying two agencies' releases credits neither with the other's."""
    for capture_id, url, text, release_id, agency, entry, title, listed in db.execute(
        # A revisit (the page unchanged since) has no text of its own: use its original's.
        "SELECT c.id, c.url, coalesce(c.text, (SELECT o.text FROM captures o "
        "WHERE o.warc_record_id = c.refers_to)) AS text, r.id, r.agency, r.entry_text, r.title, "
        "(SELECT count(*) FROM releases o WHERE o.capture_id = r.capture_id) > 1 "
        "OR r.page_url != c.url AS listed FROM releases r "
        "JOIN captures c ON c.id = r.capture_id ORDER BY r.id"
    ).fetchall():
        # A listing without stored entries (archived before they were kept) vouches for a
        # release's title only.
        own = entry if entry is not None else (title if listed else text)
        if not own:
            continue
        for term, snippet in find(own, terms, pattern):
            yield _mention(term, snippet, agency, release_id, url, now) | {"capture_id": capture_id}
