"""Text of released documents, page by page: the PDF text layer, else OCR; DOCX, HTML, plain text."""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass

from lxml import etree

from archive.progress import Progress
from archive.text.extract import decode_text, extract_html, kind_of
from archive.text.ocr import ocr_pages
from archive.text.pdf import read_pdf

DOCX_MAIN = "word/document.xml"
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
    found = read_pdf(body, title=False)  # the documents pass keeps no title
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
