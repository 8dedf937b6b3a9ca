"""Where each mention sits on a document page's image: word boxes from poppler's `pdftotext -bbox`.

Read once per document for the pages a reader is shown (in the pool of
archive/publish/pool.py, under its deadline), and cached beside the page
images as JSON named by the file's SHA-256 (archive/publish/pageimage.py).
The boxes are scaled to the image's pixels (pageimage.WIDTH wide), so a
highlight drawn in an SVG whose viewBox is the image's size lies on the words.
Bounded like the images: PDFs up to pageimage.MAX_PDF bytes, RENDER_TIMEOUT
seconds, MAX_WORDS words a page. No boxes (and plain text marks only) when
poppler is missing or fails, or the document is no archived PDF.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

from archive.archive import Archive
from archive.publish.pageimage import CACHE, RENDER_TIMEOUT, WIDTH, pdf_file, pdf_holder

MAX_WORDS = 5000
_PAGE = re.compile(r'<page width="([\d.]+)" height="([\d.]+)">')
_WORD = re.compile(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>')
_EDGES = "\"'“”‘’()[]{}.,;:!?"


@dataclass(frozen=True)
class Box:
    """A mention's place on the page image, in its pixels: one box per line the mention is on."""

    term: str
    x: float
    y: float
    width: float
    height: float


def drawn_mentions(
    archive: Archive, conn: sqlite3.Connection, document_id: int, terms: dict[int, list[str]]
) -> dict[int, dict]:
    """{page number: {"width", "height", "boxes"}}: where the `terms` of each page (by number) lie on
    its image, in the image's pixels; pages without word boxes are left out."""
    if not terms:
        return {}
    words = page_words(archive, conn, document_id, min(terms), max(terms))
    return {
        n: {"width": WIDTH, "height": words[n]["height"], "boxes": mention_boxes(words[n]["words"], found)}
        for n, found in terms.items()
        if n in words
    }


def page_words(archive: Archive, conn: sqlite3.Connection, document_id: int, first: int, last: int) -> dict:
    """{page number: {"height": image pixels, "words": [[x0, y0, x1, y1, text], ...]}} for pages
    first..last of an archived PDF, read once and cached; {} when there is nothing to read."""
    found = pdf_holder(conn, document_id)
    if found is None or not 1 <= first <= last <= (found[0]["page_count"] or 0):
        return {}
    cached = archive.data_dir / CACHE / f"{found[1]['sha256']}-words-{first}-{last}-{WIDTH}.json"
    if cached.exists():
        return {int(k): v for k, v in json.loads(cached.read_text()).items()}
    pages = _read(archive, found[1], first, last, cached.parent)
    if pages is None:
        return {}
    try:
        partial = cached.with_suffix(".part")
        partial.write_text(json.dumps(pages))
        partial.replace(cached)  # whole or not at all
    except OSError:
        pass  # not kept, still shown: read again next time
    return pages


def _read(archive: Archive, holder: dict, first: int, last: int, beside: Path) -> dict | None:
    if shutil.which("pdftotext") is None:
        return None
    with pdf_file(archive, holder, beside) as pdf:
        if pdf is None:
            return None
        try:
            done = subprocess.run(
                ["pdftotext", "-bbox", "-q", "-f", str(first), "-l", str(last), str(pdf), "-"],
                check=True,
                capture_output=True,
                timeout=RENDER_TIMEOUT,
            )
        except (subprocess.SubprocessError, OSError):
            return None
    out = done.stdout.decode("utf-8", "replace")
    starts = list(_PAGE.finditer(out))
    pages = {}
    for number, (start, end) in enumerate(zip(starts, [*starts[1:], None]), start=first):
        scale = WIDTH / float(start[1])
        words = []
        for word in _WORD.finditer(out, start.end(), end.start() if end else len(out)):
            if len(words) >= MAX_WORDS:
                break
            x0, y0, x1, y1 = (round(float(v) * scale, 1) for v in word.groups()[:4])
            words.append([x0, y0, x1, y1, html.unescape(word[5])])
        pages[number] = {"height": round(float(start[2]) * scale, 1), "words": words}
    return pages


def mention_boxes(words: list[list], terms: list[str]) -> list[Box]:
    """The boxes of every run of words that spells one of `terms` (case and edge punctuation aside)."""
    plain = [str(w[4]).strip(_EDGES).lower() for w in words]
    boxes = []
    for term in {t for t in terms if t.split()}:
        wanted = [part.lower() for part in term.split()]
        for i in range(len(words) - len(wanted) + 1):
            if plain[i : i + len(wanted)] == wanted:
                boxes += _line_boxes(term, words[i : i + len(wanted)])
    return boxes


def _line_boxes(term: str, run: list[list]) -> list[Box]:
    """One box around the words of `run` on each line they are on (a term may break across lines)."""
    lines: list[list[list]] = []
    for word in run:
        if lines and abs(lines[-1][-1][1] - word[1]) < (word[3] - word[1]) / 2:
            lines[-1].append(word)
        else:
            lines.append([word])
    boxes = []
    for line in lines:
        x0, y0 = min(w[0] for w in line), min(w[1] for w in line)
        x1, y1 = max(w[2] for w in line), max(w[3] for w in line)
        boxes.append(Box(term, x0, y0, round(x1 - x0, 1), round(y1 - y0, 1)))
    return boxes
