"""The one PDF reader: each page's text layer and the document's title, never an exception.

The text comes from poppler's `pdftotext` when it is installed (scripts/setup
installs poppler-utils for OCR anyway): 27 ms a PDF against pypdf's 318 ms on
the same files in a profile of the crawl's writer, where pypdf was 11% of its
time for 10 PDFs. The structure (page count, encryption) comes from poppler's
`pdfinfo` too when it reads the file without a complaint (a few ms): importing
pypdf (0.11 CPU-s) and its walk of a 1,000-page tree (0.08) were a sixth of
`spyglass documents` on a 1,000-page text-layer release. pypdf reads the title
(the Info dictionary only, when asked for), and everything when poppler is
missing or finds the file broken, so a broken file gets pypdf's verdict as before.
"""

from __future__ import annotations

import io
import logging
import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pypdf import PdfReader

# pypdf logs each oddity of a broken file to stderr; the reason is returned instead.
logging.getLogger("pypdf").setLevel(logging.ERROR)

# A PDF that takes longer than this in pdftotext is read by pypdf instead.
PDFTOTEXT_SECONDS = 60
PDFINFO_SECONDS = 20
SPLIT_PAGES = 64  # a PDF this long or longer is read by pdftotext in parallel page ranges


@dataclass(frozen=True)
class PdfText:
    """A PDF's text layer page by page (None: no text on that page), its title, or why it is unreadable."""

    pages: list[str | None]
    title: str | None = None
    error: str | None = None


def read_pdf(body: bytes, title: bool = True) -> PdfText:
    """The text layer of every page of a PDF, with its metadata title unless `title` is False."""
    structure = _pdfinfo(body)
    if structure is None:
        return _read_with_pypdf(body)
    count, encrypted = structure
    if encrypted:
        return PdfText([], error="encrypted PDF")
    texts = _layers(body, count)
    if texts is None:
        return _read_with_pypdf(body, pdftotext=False)  # it failed once: not a second time
    if not title:
        return PdfText(texts)
    try:
        return PdfText(texts, _title(_reader(body)))
    except Exception:  # noqa: BLE001 - pypdf raises many types on broken files: its own verdict below
        return _read_with_pypdf(body)


def _read_with_pypdf(body: bytes, pdftotext: bool = True) -> PdfText:
    """pypdf's structure and title, the text from pdftotext (read meanwhile) or else pypdf."""
    try:
        reader = _reader(body)
        if reader.is_encrypted:
            return PdfText([], error="encrypted PDF")
        count = len(reader.pages)  # the page tree's /Count: the pages themselves are read below
    except Exception as exc:  # noqa: BLE001 - pypdf raises many types on broken files
        return PdfText([], error=f"unreadable PDF: {type(exc).__name__}: {exc}"[:500])
    with ThreadPoolExecutor(1) as pool:
        layers = pool.submit(_layers, body, count if pdftotext else 0)
        try:
            pages = list(reader.pages)
            title = _title(reader)
        except Exception as exc:  # noqa: BLE001 - as above
            return PdfText([], error=f"unreadable PDF: {type(exc).__name__}: {exc}"[:500])
        texts = layers.result()
    if texts is None:
        texts = []
        for page in pages:
            try:
                texts.append((page.extract_text() or "").strip() or None)
            except Exception:  # noqa: BLE001 - one broken page leaves the others readable
                texts.append(None)
    return PdfText(texts, title)


def _reader(body: bytes) -> PdfReader:
    """pypdf's lenient reader of the PDF (imported here: 0.11 CPU-s a command may not need)."""
    from pypdf import PdfReader

    return PdfReader(io.BytesIO(body), strict=False)


def _title(reader: PdfReader) -> str | None:
    """The Info dictionary's title, stripped; None when there is none."""
    if reader.metadata is not None and reader.metadata.title:
        return str(reader.metadata.title).strip() or None
    return None


def _pdfinfo(body: bytes) -> tuple[int, bool] | None:
    """Poppler's page count and whether the PDF is encrypted; None if pdfinfo is missing,
    fails, or complains of the file (a broken file gets pypdf's verdict, as before)."""
    command = shutil.which("pdfinfo")
    if command is None or shutil.which("pdftotext") is None:
        return None
    try:
        done = subprocess.run(
            [command, "-"], input=body, capture_output=True, timeout=PDFINFO_SECONDS, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0 or done.stderr.strip():
        return None
    # dict() keeps the last of each name: pdfinfo prints the metadata (which may hold any text,
    # "Pages:" lines included) before its own Pages and Encrypted lines.
    fields = dict(
        line.split(":", 1) for line in done.stdout.decode("utf-8", "replace").splitlines() if ":" in line
    )
    pages, encrypted = fields.get("Pages", "").strip(), fields.get("Encrypted", "").strip()
    if not pages.isdigit() or not encrypted:
        return None
    return int(pages), encrypted != "no"


def _layers(body: bytes, count: int) -> list[str | None] | None:
    """pdftotext's text page by page, a long PDF in page ranges read in parallel (one a core);
    None if pdftotext is missing or fails."""
    ranges = _ranges(count)
    if not ranges:
        return None
    with ThreadPoolExecutor(len(ranges)) as pool:
        texts = list(pool.map(lambda span: _pdftotext(body, *span), ranges))
    return _pages(texts, ranges)


def _ranges(count: int) -> list[tuple[int, int]]:
    """Page ranges for pdftotext: one for a short PDF, one a core for a long one."""
    parts = min(os.cpu_count() or 1, max(1, count // SPLIT_PAGES))
    size = -(-count // parts) if count else 0
    return [(first, min(first + size - 1, count)) for first in range(1, count + 1, size)] if count else []


def _pdftotext(body: bytes, first: int, last: int) -> str | None:
    """Pages first..last from poppler's pdftotext (form feeds end its pages), or None if it cannot."""
    command = shutil.which("pdftotext")
    if command is None:
        return None
    try:
        done = subprocess.run(
            [command, "-enc", "UTF-8", "-q", "-f", str(first), "-l", str(last), "-", "-"],
            input=body,
            capture_output=True,
            timeout=PDFTOTEXT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    return done.stdout.decode("utf-8", "replace")


def _pages(texts: list[str | None], ranges: list[tuple[int, int]]) -> list[str | None] | None:
    """pdftotext's text page by page, or None if a range failed or has fewer pages than asked for."""
    pages: list[str | None] = []
    for text, (first, last) in zip(texts, ranges):
        if text is None:
            return None
        mine = text.split("\f")[: last - first + 1]
        if len(mine) < last - first + 1:
            return None
        pages += [page.strip() or None for page in mine]
    return pages
