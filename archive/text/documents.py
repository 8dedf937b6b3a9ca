"""Text of released documents, page by page: the PDF text layer, else OCR; DOCX, HTML, plain text."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tempfile
import threading
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from archive.progress import Progress
from archive.text.extract import decode_text, extract_html, kind_of
from archive.text.pdf import read_pdf

OCR_DPI = 200
OCR_TIMEOUT = 120  # seconds per page; a pathological page must not stall the run
DOCX_MAIN = "word/document.xml"
# One page per process and one process per core, across every document read at once:
# Tesseract's own OpenMP threads would only fight the other pages for the same cores
# (and documents read in parallel each OCR their pages in parallel).
CORES = threading.BoundedSemaphore(os.cpu_count() or 1)
TESSERACT_ENV = {**os.environ, "OMP_THREAD_LIMIT": "1"}
W_NS = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


@dataclass(frozen=True)
class DocumentText:
    """A document's pages as (text, method) pairs, how it was read overall, and why not if it wasn't."""

    pages: list[tuple[str | None, str]]
    extraction: str
    error: str | None = None


def read_document(
    content_type: str | None, body: bytes, file_name: str = "", progress: Progress | None = None
) -> DocumentText:
    """Pages of text from a document's bytes; never raises. `progress` hears of its pages."""
    if progress is not None and kind_of(content_type, body) != "pdf":
        progress.add(1)
        progress.advance(1)  # one page, read at once
    try:
        if _is_docx(content_type, body, file_name):
            return _docx(body)
        kind = kind_of(content_type, body)
        if kind == "pdf":
            return _pdf(body, progress)
        if kind == "html":
            found = extract_html(body, content_type)
            return DocumentText([(found.text, "html")], "html", found.error)
        if kind == "text":
            return DocumentText([(decode_text(body, content_type).strip() or None, "text")], "text")
    except Exception as exc:  # hostile files: a reason, never a crash
        return DocumentText([], "failed", f"{type(exc).__name__}: {exc}"[:500])
    return DocumentText([], "none", f"no text extractor for {content_type or 'unknown type'}")


def _pdf(body: bytes, progress: Progress | None) -> DocumentText:
    found = read_pdf(body)
    if found.error:
        return DocumentText([], "failed", found.error)
    missing = [n for n, text in enumerate(found.pages, 1) if text is None]
    if progress is not None:
        progress.add(len(found.pages))
        progress.advance(len(found.pages) - len(missing))
    ocr = ocr_pages(body, missing, progress)
    pages: list[tuple[str | None, str]] = [
        (text, "text-layer") if text is not None else ocr[number]
        for number, text in enumerate(found.pages, 1)
    ]
    methods = sorted({m for _, m in pages})
    error = None
    if not any(text for text, _ in pages):
        error = "no text layer and OCR found no text" if found.pages else "PDF has no pages"
    return DocumentText(pages, "+".join(methods) if methods else "none", error)


def ocr_pages(
    pdf: bytes, numbers: list[int], progress: Progress | None = None
) -> dict[int, tuple[str | None, str]]:
    """OCR the given 1-based pages with pdftoppm + Tesseract, one page per core at a time."""
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
            results = list(pool.map(lambda n: _ocr_page(path, n, progress), numbers))
    return dict(zip(numbers, results))


def _ocr_page(pdf: Path, number: int, progress: Progress | None) -> tuple[str | None, str]:
    with CORES:
        found = _ocr(pdf, number)
    if progress is not None:
        progress.advance(1)
    return found


def _ocr(pdf: Path, number: int) -> tuple[str | None, str]:
    root = pdf.parent / f"page-{number}"
    try:
        subprocess.run(
            [
                "pdftoppm",
                "-r",
                str(OCR_DPI),
                "-gray",
                "-singlefile",
                "-f",
                str(number),
                "-l",
                str(number),
                str(pdf),
                str(root),
            ],
            check=True,
            capture_output=True,
            timeout=OCR_TIMEOUT,
        )
        done = subprocess.run(
            ["tesseract", str(root) + ".pgm", "stdout", "-l", "eng"],
            check=True,
            capture_output=True,
            timeout=OCR_TIMEOUT,
            env=TESSERACT_ENV,
        )
    except subprocess.TimeoutExpired:
        return None, "ocr-failed (timed out)"
    except subprocess.CalledProcessError as exc:
        detail = exc.stderr.decode("utf-8", "replace").strip().splitlines()
        return None, f"ocr-failed ({detail[-1] if detail else exc.returncode})"
    finally:
        # Uncompressed (no PNG to encode and decode again): megabytes a page, so gone at once.
        Path(str(root) + ".pgm").unlink(missing_ok=True)
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
