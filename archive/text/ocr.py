"""OCR of a PDF's pages with poppler's pdftoppm and Tesseract, as fast as Tesseract itself allows.

Pages are read in batches, one batch per core at a time across every document
read at once: pdftoppm renders a batch's pages in one process and Tesseract
reads them from one list in one process, so each loads its model (and the PDF)
once a batch rather than once a page, which is a quarter of Tesseract's time on
a page. Tesseract runs single-threaded (OMP_THREAD_LIMIT=1): its own threads would
only fight the other batches for the same cores. A batch that fails is read
again page by page, so each page gets its own text or its own reason.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from archive.progress import Progress

OCR_DPI = 200
OCR_TIMEOUT = 120  # seconds per page; a pathological page must not stall the run
BATCH_PAGES = 10  # pages a process reads: its model loaded once for them all
CORES = threading.BoundedSemaphore(os.cpu_count() or 1)
TESSERACT_ENV = {**os.environ, "OMP_THREAD_LIMIT": "1"}

Page = tuple[str | None, str]  # (text, method)


def ocr_pages(pdf: bytes, numbers: list[int], progress: Progress | None = None) -> dict[int, Page]:
    """OCR the given 1-based pages, a batch per core at a time; each page's text and method."""
    if not numbers:
        return {}
    missing = [tool for tool in ("pdftoppm", "tesseract") if shutil.which(tool) is None]
    if missing:
        reason = f"ocr-unavailable ({', '.join(missing)} not installed)"
        return {n: (None, reason) for n in numbers}
    cores = os.cpu_count() or 1
    count = max(min(cores, len(numbers)), -(-len(numbers) // BATCH_PAGES))
    size = -(-len(numbers) // count)
    batches = [numbers[i : i + size] for i in range(0, len(numbers), size)]
    found: dict[int, Page] = {}
    with tempfile.TemporaryDirectory(prefix="spyglass-ocr-") as tmp:
        path = Path(tmp) / "document.pdf"
        path.write_bytes(pdf)
        with ThreadPoolExecutor(max_workers=min(cores, len(batches))) as pool:
            for done in pool.map(lambda batch: _batch(path, batch, progress), batches):
                found.update(done)
    return found


def _batch(pdf: Path, numbers: list[int], progress: Progress | None) -> dict[int, Page]:
    with CORES:
        read = _read(pdf, numbers)
    if read is None:  # one page spoiled the batch: each page on its own, with its own reason
        read = {}
        for number in numbers:
            with CORES:
                read.update(_read(pdf, [number]) or {number: _failed(pdf, number)})
    if progress is not None:
        progress.advance(len(numbers))
    return read


def _read(pdf: Path, numbers: list[int]) -> dict[int, Page] | None:
    """Render and read a batch of pages (consecutive or not); None if any step failed."""
    folder = Path(tempfile.mkdtemp(dir=pdf.parent))
    try:
        for first, last in _runs(numbers):
            _render(pdf, first, last, folder / f"run{first}")
        images = sorted(folder.glob("*.pgm"), key=_page_of)
        if [_page_of(p) for p in images] != numbers:
            return None
        listing = folder / "pages.txt"
        listing.write_text("".join(f"{p}\n" for p in images))
        done = subprocess.run(
            ["tesseract", str(listing), "stdout", "-l", "eng"],
            check=True,
            capture_output=True,
            timeout=OCR_TIMEOUT * len(numbers),
            env=TESSERACT_ENV,
        )
    except (subprocess.TimeoutExpired, subprocess.CalledProcessError, OSError):
        return None
    finally:
        # Uncompressed page images (no PNG to encode and decode again): megabytes each, so gone at once.
        shutil.rmtree(folder, ignore_errors=True)
    texts = done.stdout.decode("utf-8", "replace").split("\f")
    if len(texts) < len(numbers):
        return None
    return {n: _page(text) for n, text in zip(numbers, texts)}


def _render(pdf: Path, first: int, last: int, root: Path) -> None:
    """pdftoppm's greyscale PGM of pages first..last: root-<page>.pgm each."""
    subprocess.run(
        ["pdftoppm", "-r", str(OCR_DPI), "-gray", "-f", str(first), "-l", str(last), str(pdf), str(root)],
        check=True,
        capture_output=True,
        timeout=OCR_TIMEOUT * (last - first + 1),
    )


def _runs(numbers: list[int]) -> list[tuple[int, int]]:
    """Consecutive page numbers as (first, last) runs."""
    runs: list[tuple[int, int]] = []
    for n in numbers:
        if runs and runs[-1][1] == n - 1:
            runs[-1] = (runs[-1][0], n)
        else:
            runs.append((n, n))
    return runs


def _page_of(image: Path) -> int:
    return int(image.stem.rsplit("-", 1)[1])


def _page(text: str) -> Page:
    lines = "\n".join(line.strip() for line in text.splitlines())
    return lines.strip() or None, "ocr"


def _failed(pdf: Path, number: int) -> Page:
    """Why one page cannot be read: the last line either tool wrote, or that it took too long."""
    folder = Path(tempfile.mkdtemp(dir=pdf.parent))
    try:
        _render(pdf, number, number, folder / "page")
        [image] = folder.glob("*.pgm")
        subprocess.run(
            ["tesseract", str(image), "stdout", "-l", "eng"],
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
    except ValueError:
        return None, "ocr-failed (pdftoppm rendered no image of the page)"
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return None, "ocr-failed (Tesseract read the page alone but not in its batch)"
