"""The documents post-pass: read every new released document from its WARC record into document_pages."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import sqlite_utils

from archive.archive import Archive
from archive.index import queries
from archive.progress import Progress
from archive.records import store
from archive.text.documents import DocumentText, read_document
from archive.warc.read import open_record


@dataclass
class ExtractionReport:
    """What one extraction run did, for the CLI's summary line."""

    documents: int = 0
    failed: int = 0
    pages: int = 0
    methods: dict[str, int] = field(default_factory=dict)

    def line(self) -> str:
        by_method = ", ".join(f"{n} {m}" for m, n in sorted(self.methods.items())) or "none"
        return (
            f"{self.documents} document(s) read, {self.pages} page(s) ({by_method}), {self.failed} unreadable"
        )


def extract_documents(
    archive: Archive, db: sqlite_utils.Database, redo: bool = False, progress: Progress | None = None
) -> ExtractionReport:
    """Extract the pages of every document not yet read (or all with `redo`) into document_pages;
    `progress` is told of pages as each document's are known and as each is read."""
    report = ExtractionReport()
    rows = [(row, queries.payload_row(db.conn, row)) for row in store.pending_documents(db, redo=redo)]
    if progress is not None:
        progress.start(0)

    def work(pair: tuple[dict, dict | None]) -> DocumentText:
        row, holder = pair
        try:
            if holder is None:
                raise EOFError("the record this revisit refers to is not in the index")
            body = open_record(archive, holder).body
        except Exception as exc:  # noqa: BLE001 - a document that cannot be read keeps its row, with the reason
            return DocumentText([], "failed", f"cannot read the WARC record: {exc}"[:500])
        return read_document(row["content_type"], body, row["file_name"] or "", progress)

    # Documents in parallel: OCR and pdftoppm run as subprocesses, outside the GIL (as many
    # pages at once as there are cores, whatever the number of documents: archive/text/documents.py).
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        for (row, _), found in zip(rows, pool.map(work, rows)):
            store.save_pages(db, row["id"], found.pages, found.extraction, found.error)
            report.documents += 1
            report.pages += len(found.pages)
            report.failed += 1 if found.extraction == "failed" else 0
            for _, method in found.pages:
                report.methods[method] = report.methods.get(method, 0) + 1
    return report
