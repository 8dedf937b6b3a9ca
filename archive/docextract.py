"""Text of released documents, page by page: the PDF text layer, else OCR; DOCX, HTML, plain text.

This runs after the crawl (`spyglass crawl` calls it, `spyglass documents`
re-runs it), never inside Scrapy: OCR takes seconds a page, and extraction is
the expensive part of archiving (MEASURED.md). It reads each document's bytes
back from its WARC record, so the text indexed is the text of the evidence.
Pages without a text layer are rasterised with poppler's `pdftoppm` and read
by Tesseract; the method is recorded per page. A document that cannot be
parsed keeps its row, with the reason.
"""

from __future__ import annotations

import gzip
import io
import logging
import os
import shutil
import subprocess
import tempfile
import zipfile
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import sqlite_utils
from lxml import etree

from . import documents
from .db import WARC_DIR
from .extract import decode_text, extract_html, kind_of
from .warc import read_record

OCR_DPI = 200
OCR_TIMEOUT = 120  # seconds per page; a pathological page must not stall the run
DOCX_MAIN = "word/document.xml"
W_NS = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


@dataclass(frozen=True)
class DocumentText:
    """A document's pages as (text, method) pairs, how it was read overall, and why not if it wasn't."""

    pages: list[tuple[str | None, str]]
    extraction: str
    error: str | None = None


@dataclass
class ExtractionReport:
    """What one extraction run did, for the CLI's summary line."""

    documents: int = 0
    failed: int = 0
    pages: int = 0
    methods: dict[str, int] = field(default_factory=dict)

    def line(self) -> str:
        by_method = ", ".join(f"{n} {m}" for m, n in sorted(self.methods.items())) or "none"
        return (f"{self.documents} document(s) read, {self.pages} page(s) ({by_method}), "
                f"{self.failed} unreadable")


def read_document(content_type: str | None, body: bytes, file_name: str = "") -> DocumentText:
    """Pages of text from a document's bytes; never raises."""
    try:
        if _is_docx(content_type, body, file_name):
            return _docx(body)
        kind = kind_of(content_type, body)
        if kind == "pdf":
            return _pdf(body)
        if kind == "html":
            found = extract_html(body, content_type)
            return DocumentText([(found.text, "html")], "html", found.error)
        if kind == "text":
            return DocumentText([(decode_text(body, content_type).strip() or None, "text")], "text")
    except Exception as exc:  # hostile files: a reason, never a crash
        return DocumentText([], "failed", f"{type(exc).__name__}: {exc}"[:500])
    return DocumentText([], "none", f"no text extractor for {content_type or 'unknown type'}")


def _pdf(body: bytes) -> DocumentText:
    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(body), strict=False)
        if reader.is_encrypted:
            return DocumentText([], "failed", "encrypted PDF")
        count = len(reader.pages)
    except Exception as exc:  # pypdf raises many types on broken files
        return DocumentText([], "failed", f"unreadable PDF: {type(exc).__name__}: {exc}"[:500])
    layer: list[str | None] = []
    for page in reader.pages:
        try:
            layer.append((page.extract_text() or "").strip() or None)
        except Exception:
            layer.append(None)
    missing = [n for n, text in enumerate(layer, 1) if text is None]
    ocr = ocr_pages(body, missing)
    pages: list[tuple[str | None, str]] = []
    for number, text in enumerate(layer, 1):
        if text is not None:
            pages.append((text, "text-layer"))
        else:
            pages.append(ocr[number])
    methods = sorted({m for _, m in pages})
    error = None
    if not any(text for text, _ in pages):
        error = "no text layer and OCR found no text" if count else "PDF has no pages"
    return DocumentText(pages, "+".join(methods) if methods else "none", error)


def ocr_pages(pdf: bytes, numbers: list[int]) -> dict[int, tuple[str | None, str]]:
    """OCR the given 1-based pages with pdftoppm + Tesseract, two at a time on two cores."""
    if not numbers:
        return {}
    missing = [tool for tool in ("pdftoppm", "tesseract") if shutil.which(tool) is None]
    if missing:
        reason = f"ocr-unavailable ({', '.join(missing)} not installed)"
        return {n: (None, reason) for n in numbers}
    with tempfile.TemporaryDirectory(prefix="spyglass-ocr-") as tmp:
        path = Path(tmp) / "document.pdf"
        path.write_bytes(pdf)
        with ThreadPoolExecutor(max_workers=max(1, min(len(numbers), os.cpu_count() or 1))) as pool:
            results = list(pool.map(lambda n: _ocr_page(path, n), numbers))
    return dict(zip(numbers, results))


def _ocr_page(pdf: Path, number: int) -> tuple[str | None, str]:
    root = pdf.parent / f"page-{number}"
    try:
        subprocess.run(
            ["pdftoppm", "-r", str(OCR_DPI), "-gray", "-png", "-singlefile",
             "-f", str(number), "-l", str(number), str(pdf), str(root)],
            check=True, capture_output=True, timeout=OCR_TIMEOUT,
        )
        done = subprocess.run(
            ["tesseract", str(root) + ".png", "stdout", "-l", "eng"],
            check=True, capture_output=True, timeout=OCR_TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        return None, "ocr-failed (timed out)"
    except subprocess.CalledProcessError as exc:
        detail = exc.stderr.decode("utf-8", "replace").strip().splitlines()
        return None, f"ocr-failed ({detail[-1] if detail else exc.returncode})"
    text = "\n".join(line.strip() for line in done.stdout.decode("utf-8", "replace").splitlines())
    return text.strip() or None, "ocr"


def _is_docx(content_type: str | None, body: bytes, file_name: str) -> bool:
    ctype = (content_type or "").lower()
    if "wordprocessingml" in ctype or file_name.lower().endswith(".docx"):
        return True
    return body[:2] == b"PK" and DOCX_MAIN.encode() in body[:4096]


def _docx(body: bytes) -> DocumentText:
    """Paragraph text of a Word document; it has no fixed pages, so it is one page."""
    try:
        with zipfile.ZipFile(io.BytesIO(body)) as zf:
            xml = zf.read(DOCX_MAIN)
    except (zipfile.BadZipFile, KeyError) as exc:
        return DocumentText([], "failed", f"unreadable DOCX: {exc}"[:500])
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    root = etree.fromstring(xml, parser)
    paragraphs = ["".join(t.text or "" for t in p.iter(f"{W_NS}t")) for p in root.iter(f"{W_NS}p")]
    text = "\n".join(p.strip() for p in paragraphs if p.strip())
    return DocumentText([(text or None, "docx")], "docx", None if text else "empty document")


def payload_of(data_dir: Path, row: dict, db: sqlite_utils.Database) -> bytes:
    """A document's bytes from its WARC record, following a revisit, with Content-Encoding removed."""
    filename, offset = row["warc_filename"], row["warc_offset"]
    if row["warc_type"] == "revisit" and row["refers_to"]:
        filename, offset = db.execute(
            "SELECT warc_filename, warc_offset FROM captures WHERE warc_record_id = ?",
            [row["refers_to"]],
        ).fetchone()
    record = read_record(data_dir / WARC_DIR / filename, offset)
    encoding = next((v for k, v in record.http_headers if k.lower() == "content-encoding"), "")
    encoding = encoding.strip().lower()
    if encoding in ("gzip", "x-gzip"):
        return gzip.decompress(record.payload)
    if encoding == "deflate":
        try:
            return zlib.decompress(record.payload)
        except zlib.error:
            return zlib.decompress(record.payload, -zlib.MAX_WBITS)
    if encoding not in ("", "identity"):
        raise ValueError(f"Content-Encoding {encoding!r} is not supported")
    return record.payload


def extract_documents(db: sqlite_utils.Database, data_dir: Path, redo: bool = False) -> ExtractionReport:
    """Extract the pages of every document not yet read (or all with `redo`) into document_pages."""
    report = ExtractionReport()
    rows = documents.pending_documents(db, redo=redo)

    def work(row: dict) -> DocumentText:
        try:
            body = payload_of(data_dir, row, db_for_thread())
        except Exception as exc:
            return DocumentText([], "failed", f"cannot read the WARC record: {exc}"[:500])
        return read_document(row["content_type"], body, row["file_name"] or "")

    local = _ThreadDatabases(db)
    db_for_thread = local.get
    # pypdf logs each oddity of a broken file; the reason is recorded in the row instead.
    pypdf_log = logging.getLogger("pypdf")
    level = pypdf_log.level
    pypdf_log.setLevel(logging.ERROR)
    try:
        # Documents in parallel: OCR and pdftoppm run as subprocesses, outside the GIL.
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            for row, found in zip(rows, pool.map(work, rows)):
                documents.save_pages(db, row["id"], found.pages, found.extraction, found.error)
                report.documents += 1
                report.pages += len(found.pages)
                report.failed += 1 if found.extraction == "failed" else 0
                for _, method in found.pages:
                    report.methods[method] = report.methods.get(method, 0) + 1
    finally:
        pypdf_log.setLevel(level)
        local.close()
    return report


class _ThreadDatabases:
    """One read connection per worker thread: sqlite3 connections are not shared across threads."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        import threading

        self.path = db.execute("PRAGMA database_list").fetchone()[2]
        self.local = threading.local()
        self.opened: list[sqlite_utils.Database] = []

    def get(self) -> sqlite_utils.Database:
        found = getattr(self.local, "db", None)
        if found is None:
            import sqlite3

            found = sqlite_utils.Database(sqlite3.connect(self.path, check_same_thread=False))
            self.local.db = found
            self.opened.append(found)
        return found

    def close(self) -> None:
        for opened in self.opened:
            opened.close()
