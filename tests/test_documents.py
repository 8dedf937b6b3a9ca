"""Storage of releases, documents and provenance links; reading documents page by page."""

from __future__ import annotations

import sqlite_utils

from archive.demo.records_portal import build_files
from archive.index.migrations import migrations
from archive.records import store as documents
from archive.records.items import DocumentFile, Release
from archive.text.documents import read_document


def index() -> sqlite_utils.Database:
    db = sqlite_utils.Database(memory=True)
    migrations.apply(db)
    db.table("sources").insert({"name": "portal", "kind": "records"})
    for n in range(1, 5):
        db.table("captures").insert(
            {
                "url": f"u{n}",
                "source": "portal",
                "via": "live",
                "captured_at": "t",
                "sha256": "s",
                "warc_filename": "f",
                "warc_record_id": f"r{n}",
            }
        )
    return db


def release(key: str, files: list[str], record: str = "r1") -> Release:
    return Release("portal", key, key, record, key.upper(), "Agency", None, None, None, files)


def file(url: str, sha: str, record: str) -> DocumentFile:
    return DocumentFile("portal", url, url, url.rsplit("/", 1)[-1], record, sha, 10, "application/pdf")


def links(db: sqlite_utils.Database) -> list[tuple]:
    return [
        tuple(r)
        for r in db.execute(
            "SELECT r.key, l.file_url, l.document_id FROM document_links l "
            "JOIN releases r ON r.id = l.release_id ORDER BY r.key"
        ).fetchall()
    ]


def test_a_file_linked_before_and_after_its_download_is_one_document_with_two_links():
    db = index()
    documents.save_records(
        db,
        [
            release("a", ["http://p/q.pdf"], "r1"),
            file("http://p/q.pdf", "aa", "r2"),
            release("b", ["http://p/q.pdf"], "r3"),
        ],
    )
    [doc] = list(db.table("documents").rows)
    assert (doc["sha256"], doc["capture_id"]) == ("aa", 2)
    assert links(db) == [("a", "http://p/q.pdf", doc["id"]), ("b", "http://p/q.pdf", doc["id"])]


def test_same_bytes_from_two_urls_are_one_document_and_a_failed_download_leaves_the_link_open():
    db = index()
    documents.save_records(
        db,
        [
            release("a", ["http://p/1.pdf", "http://p/missing.pdf"], "r1"),
            release("b", ["http://p/2.pdf"], "r1"),
            file("http://p/1.pdf", "same", "r2"),
            file("http://p/2.pdf", "same", "r3"),
        ],
    )
    assert db.table("documents").count == 1
    assert links(db) == [
        ("a", "http://p/1.pdf", 1),
        ("a", "http://p/missing.pdf", None),
        ("b", "http://p/2.pdf", 1),
    ]
    # Seeing the release again refreshes it instead of adding a second one.
    documents.save_records(db, [release("a", ["http://p/1.pdf"], "r4")])
    assert db.table("releases").count == 2
    assert db.execute("SELECT capture_id FROM releases WHERE key = 'a'").fetchone()[0] == 4


def test_read_document_failures_give_reasons():
    # OCR itself is exercised end to end in test_records.py (it costs seconds a page).
    files = build_files()
    broken = read_document("application/pdf", files["invoice-2017-11.pdf"][0])
    assert broken.pages == [] and broken.extraction == "failed"
    assert broken.error.startswith("unreadable PDF")
    odd = read_document("application/octet-stream", b"\x00\x01binary")
    assert odd.extraction == "none" and "no text extractor" in odd.error
    bad_docx = read_document(
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document", b"PK\x03\x04junk"
    )
    assert bad_docx.extraction == "failed" and "DOCX" in bad_docx.error


def test_progress_hears_of_each_page_as_it_is_read():
    from archive.demo.pdfgen import text_pdf

    class Recorder:
        def __init__(self) -> None:
            self.total = self.done = 0

        def start(self, total: int) -> None:
            self.total = total

        def add(self, more: int) -> None:
            self.total += more

        def advance(self, done: int) -> None:
            self.done += done
            assert self.done <= self.total  # never ahead of the pages it was told of

    heard = Recorder()
    found = read_document("application/pdf", text_pdf([["one"], ["two"], ["three"]]), progress=heard)
    assert [text for text, _ in found.pages] == ["one", "two", "three"]
    read_document("text/html", b"<html><title>t</title><p>four</p></html>", progress=heard)
    assert (heard.total, heard.done) == (4, 4)


def test_a_page_read_again_to_the_same_text_keeps_its_row_and_a_changed_one_is_replaced():
    db = index()
    documents.save_records(db, [release("a", ["http://p/q.pdf"], "r1"), file("http://p/q.pdf", "aa", "r2")])
    [doc] = list(db.table("documents").rows)
    documents.save_pages(db, doc["id"], [("one", "text-layer"), (None, "ocr-failed (x)")], "mixed", None)
    db.execute(
        "INSERT INTO document_pages (document_id, page_number, text, method) VALUES (?, 2, 'hosted', 'service')",
        [doc["id"]],
    )
    first = dict(db.execute("SELECT page_number || method, id FROM document_pages").fetchall())
    documents.save_pages(db, doc["id"], [("one", "text-layer"), ("two", "ocr")], "text-layer+ocr", None)
    again = dict(db.execute("SELECT page_number || method, id FROM document_pages").fetchall())
    assert again["1text-layer"] == first["1text-layer"]  # the id a citation names survives a re-read
    assert again["2service"] == first["2service"]  # a hosting service's text is never Spyglass's to replace
    assert "2ocr-failed (x)" not in again and "2ocr" in again
    found = db.execute(
        "SELECT p.page_number, p.text FROM document_pages_fts f JOIN document_pages p ON p.rowid = f.rowid "
        "WHERE document_pages_fts MATCH 'one OR two' ORDER BY p.page_number"
    ).fetchall()
    assert found == [(1, "one"), (2, "two")]  # the index follows the rows kept and replaced
    row = db.table("documents").get(doc["id"])
    assert (row["page_count"], row["extraction"]) == (2, "text-layer+ocr")


def test_poppler_reads_a_clean_pdf_as_pypdf_would_without_importing_pypdf(monkeypatch):
    import shutil
    import subprocess
    import sys

    from archive.demo.pdfgen import text_pdf
    from archive.text import pdf

    body = text_pdf([["Page one", "of the memo"], [], ["Page three"]] * 30, title="Memo")
    found = pdf.read_pdf(body)
    which = shutil.which
    monkeypatch.setattr(pdf.shutil, "which", lambda tool: None if tool == "pdfinfo" else which(tool))
    assert pdf.read_pdf(body) == found  # pypdf's page tree gives the same pages and title
    assert found.title == "Memo" and len(found.pages) == 90 and found.pages[1] is None
    script = (
        "import sys; from archive.demo.pdfgen import text_pdf; from archive.text.pdf import read_pdf; "
        "found = read_pdf(text_pdf([['one'], ['two']]), title=False); "
        "print(found.pages, 'pypdf' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["['one',", "'two']", "False"]
