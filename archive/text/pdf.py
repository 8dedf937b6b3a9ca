"""The one PDF reader: each page's text layer and the document's title, never an exception."""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass

# pypdf logs each oddity of a broken file to stderr; the reason is returned instead.
logging.getLogger("pypdf").setLevel(logging.ERROR)


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
        pages = list(reader.pages)
        title = None
        if reader.metadata is not None and reader.metadata.title:
            title = str(reader.metadata.title).strip() or None
    except Exception as exc:  # noqa: BLE001 - pypdf raises many types on broken files
        return PdfText([], error=f"unreadable PDF: {type(exc).__name__}: {exc}"[:500])
    texts: list[str | None] = []
    for page in pages:
        try:
            texts.append((page.extract_text() or "").strip() or None)
        except Exception:  # noqa: BLE001 - one broken page leaves the others readable
            texts.append(None)
    return PdfText(texts, title)
