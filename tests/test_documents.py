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
