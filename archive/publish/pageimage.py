"""A released PDF's page as an image beside its text: rendered from the archived file with poppler.

Rendered once and cached under the data directory (`cache/page-images/`,
named by the file's SHA-256, the page and the width), so a page is drawn
once however often it is read; bounded in size (WIDTH pixels wide, PDFs up
to MAX_PDF bytes, RENDER_TIMEOUT seconds). The archived bytes are read
from their WARC record, never fetched again. None when there is nothing to
draw (no such document or page, not a PDF, too large, poppler missing or
failing), and the page shows its text alone.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from archive.archive import Archive
from archive.index import queries
from archive.warc.read import DecodeError, open_record

WIDTH = 900
MAX_PDF = 50_000_000
RENDER_TIMEOUT = 30
CACHE = "cache/page-images"


def pdf_holder(conn: sqlite3.Connection, document_id: int) -> tuple[dict, dict] | None:
    """(document, the capture row holding its PDF bytes) when the document is an archived PDF small
    enough to draw; None otherwise."""
    found = queries.rows(conn, "SELECT * FROM documents WHERE id = ?", [document_id])
    if not found or found[0].get("capture_id") is None:
        return None
    if "pdf" not in (found[0].get("content_type") or "").lower():
        return None
    capture = queries.rows(conn, "SELECT * FROM captures WHERE id = ?", [found[0]["capture_id"]])
    holder = queries.payload_row(conn, capture[0]) if capture else None
    if holder is None or (holder.get("length") or 0) > MAX_PDF or not holder.get("sha256"):
        return None
    return found[0], holder


@contextmanager
def pdf_file(archive: Archive, holder: dict, beside: Path) -> Iterator[Path | None]:
    """The archived PDF's bytes in a temporary file in `beside`; None if its record cannot be read
    or `beside` cannot be written (a data directory published read-only)."""
    try:
        body = open_record(archive, holder).body
        beside.mkdir(parents=True, exist_ok=True)
        scratch = tempfile.TemporaryDirectory(prefix="spyglass-page-", dir=beside)
    except (DecodeError, OSError, ValueError):
        yield None
        return
    with scratch:
        pdf = Path(scratch.name) / "document.pdf"
        pdf.write_bytes(body)
        yield pdf


def page_image(archive: Archive, conn: sqlite3.Connection, document_id: int, page: int) -> Path | None:
    """The PNG of page `page` (1-based) of document `document_id`, rendered and cached; None if none."""
    found = pdf_holder(conn, document_id)
    if found is None or not 1 <= page <= (found[0]["page_count"] or 0):
        return None
    holder = found[1]
    cached = archive.data_dir / CACHE / f"{holder['sha256']}-{page}-{WIDTH}.png"
    if cached.exists():
        return cached
    return _render(archive, holder, page, cached)


def _render(archive: Archive, holder: dict, page: int, cached: Path) -> Path | None:
    if shutil.which("pdftoppm") is None:
        return None
    with pdf_file(archive, holder, cached.parent) as pdf:
        if pdf is None:
            return None
        root = pdf.with_name("page")
        try:
            subprocess.run(
                ["pdftoppm", "-png", "-singlefile", "-f", str(page), "-l", str(page)]
                + ["-scale-to-x", str(WIDTH), "-scale-to-y", "-1", str(pdf), str(root)],
                check=True,
                capture_output=True,
                timeout=RENDER_TIMEOUT,
            )
        except (subprocess.SubprocessError, OSError):
            return None
        # Renamed into place whole: a reader never sees half a PNG, and two renders agree.
        root.with_suffix(".png").replace(cached)
    return cached
