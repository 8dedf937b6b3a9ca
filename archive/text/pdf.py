"""The one PDF reader: each page's text layer and the document's title, never an exception.

The text comes from poppler's `pdftotext` when it is installed (scripts/setup
installs poppler-utils for OCR anyway): 27 ms a PDF against pypdf's 318 ms on
the same files in a profile of the crawl's writer, where pypdf was 11% of its
time for 10 PDFs. pypdf still reads the structure (page count, encryption,
title), which is cheap, and the text when pdftotext is missing or fails.
"""

from __future__ import annotations

import io
import logging
import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

# pypdf logs each oddity of a broken file to stderr; the reason is returned instead.
logging.getLogger("pypdf").setLevel(logging.ERROR)

# A PDF that takes longer than this in pdftotext is read by pypdf instead.
PDFTOTEXT_SECONDS = 60
SPLIT_PAGES = 64  # a PDF this long or longer is read by pdftotext in parallel page ranges


@dataclass(frozen=True)
class PdfText:
    """A PDF's text layer page by page (None: no text on that page), its title, or why it is unreadable."""

    pages: list[str | None]
    title: str | None = None
    error: str | None = None


def read_pdf(body: bytes) -> PdfText:
    """The text layer of every page of a PDF, with its metadata title."""
    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(body), strict=False)
        if reader.is_encrypted:
            return PdfText([], error="encrypted PDF")
        count = len(reader.pages)  # the page tree's /Count: the pages themselves are read below
    except Exception as exc:  # noqa: BLE001 - pypdf raises many types on broken files
        return PdfText([], error=f"unreadable PDF: {type(exc).__name__}: {exc}"[:500])
    # pdftotext reads the text on the other cores (a long PDF in page ranges, one a core)
    # while pypdf reads the structure here.
    ranges = _ranges(count)
    with ThreadPoolExecutor(len(ranges) or 1) as pool:
        layers = [pool.submit(_pdftotext, body, first, last) for first, last in ranges]
        try:
            pages = list(reader.pages)
            title = None
            if reader.metadata is not None and reader.metadata.title:
                title = str(reader.metadata.title).strip() or None
        except Exception as exc:  # noqa: BLE001 - as above
            return PdfText([], error=f"unreadable PDF: {type(exc).__name__}: {exc}"[:500])
        texts = _pages([layer.result() for layer in layers], ranges)
    if texts is None:
        texts = []
        for page in pages:
            try:
                texts.append((page.extract_text() or "").strip() or None)
            except Exception:  # noqa: BLE001 - one broken page leaves the others readable
                texts.append(None)
    return PdfText(texts, title)


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
    if not ranges:
        return None
    pages: list[str | None] = []
    for text, (first, last) in zip(texts, ranges):
        if text is None:
            return None
        mine = text.split("\f")[: last - first + 1]
        if len(mine) < last - first + 1:
            return None
        pages += [page.strip() or None for page in mine]
    return pages
