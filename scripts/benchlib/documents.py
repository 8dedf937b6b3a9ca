"""scripts/bench --only documents: `spyglass documents` against Tesseract and pdftotext run directly.

A scanned release (a PDF of page pictures, no text layer, made by
archive/demo/pdfgen.py) and a text-layer release of the same page count are
each served from a plain directory page and crawled into an archive of their
own. The crawl runs with Tesseract off its PATH, so no page is read before the
timed command. Then, each wall-clock from command start to exit:
- `spyglass documents --redo` over the scanned release, against Tesseract run
  directly on the same page images (pdftoppm's greyscale PGM, as Spyglass
  renders them; made untimed), one page per process with both cores busy (xargs -P);
- `spyglass documents --redo` over the text-layer release, against `pdftotext`
  on the same file.
Each pair runs alternately for the rounds asked (at most 3: a full-size scan
takes minutes a run), which one goes first swapped each round; medians are shown.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from scripts.benchlib.procs import Measured, measure

ROOT = Path(__file__).resolve().parents[2]
LINES = [
    "Memorandum on the procurement of face recognition services for the county jail.",
    "The vendor proposes to match booking photographs against a gallery of images.",
    "Duplicate booking photos are to be removed before any upload to the service.",
    "Costs, retention periods and access controls are set out in the attached quote.",
]


def _pages(count: int) -> list[list[str]]:
    return [[f"Page {n} of {count}", *LINES] for n in range(1, count + 1)]


def _archive(work: Path, name: str, pdf: bytes) -> Path:
    """A records source holding one PDF, crawled into work/data with OCR unavailable."""
    from archive.demo.server import Incoming, LoopbackServer, Reply

    def directory(request: Incoming) -> Reply:
        if request.path == "/releases/":
            return Reply(body=f"<html><title>Releases</title><a href='{name}'>{name}</a></html>".encode())
        if request.path == f"/releases/{name}":
            return Reply(body=pdf, content_type="application/pdf")
        return Reply(404, b"not found")

    work.mkdir(parents=True, exist_ok=True)
    tools = work / "tools"  # the crawl's PATH: poppler's tools, not tesseract
    tools.mkdir()
    for tool in ("pdftoppm", "pdftotext"):
        found = shutil.which(tool)
        if found:
            (tools / tool).symlink_to(found)
    with LoopbackServer(directory) as server:
        sources = work / "sources.yml"
        sources.write_text(
            "sources:\n  - name: release\n    kind: records\n"
            f"    urls: ['{server.url}/releases/']\n    allow_private: [127.0.0.1]\n"
            "    robots: false\n    agency: Bench County\n"
        )
        cmd = [
            sys.executable,
            "-m",
            "archive.cli",
            "crawl",
            "--sources",
            str(sources),
            "--data",
            str(work / "data"),
        ]
        done = subprocess.run(
            cmd, cwd=ROOT, capture_output=True, text=True, env={**os.environ, "PATH": str(tools)}
        )
        if done.returncode:
            raise SystemExit(f"crawl of the {name} release failed:\n{done.stderr[-3000:]}")
    return work


def _documents(work: Path, expect: str) -> Measured:
    """`spyglass documents --redo`, which must report `expect` (every page read the way meant)."""
    cmd = [
        sys.executable,
        "-m",
        "archive.cli",
        "documents",
        "--redo",
        "--sources",
        str(work / "sources.yml"),
        "--data",
        str(work / "data"),
    ]
    done = measure(cmd, cwd=ROOT)
    if done.returncode or expect not in done.stdout:
        raise SystemExit(f"spyglass documents did not read {expect}:\n{done.stdout}{done.stderr[-3000:]}")
    return done


def _page_images(pdf: Path, images: Path) -> Path:
    """pdftoppm's greyscale page images of the PDF, as Spyglass renders them (untimed; PGM, as
    Tesseract reads them fastest, 3.7 MB a page: 3.7 GB of the work directory at full size)."""
    from archive.text.ocr import OCR_DPI

    images.mkdir()
    subprocess.run(["pdftoppm", "-r", str(OCR_DPI), "-gray", str(pdf), str(images / "page")], check=True)
    return images


def _tesseract_directly(images: Path) -> Measured:
    """Tesseract on the page images, one page per process, as many at once as there are cores."""
    script = (
        f"ls {images}/*.pgm | OMP_THREAD_LIMIT=1 xargs -P {os.cpu_count() or 1} -I{{}} "
        "tesseract {} stdout -l eng > /dev/null 2>&1"
    )
    return measure(["sh", "-c", script])


def _rounds(
    rounds: int, baseline: Callable[[], Measured], spyglass: Callable[[], Measured]
) -> tuple[float, float]:
    """Median seconds of each, run alternately, which goes first swapped each round (load drifts)."""
    mine: list[float] = []
    theirs: list[float] = []
    for n in range(rounds):
        for run in (baseline, spyglass) if n % 2 == 0 else (spyglass, baseline):
            (theirs if run is baseline else mine).append(run().seconds)
    return statistics.median(theirs), statistics.median(mine)


def documents_section(pages: int, rounds: int, work: Path) -> list[tuple[str, str, str]]:
    """Rows: a scanned release against Tesseract directly, a text-layer release against pdftotext,
    each the median of `rounds` alternating runs."""
    from archive.demo.pdfgen import scanned_pdf, text_pdf

    if not (shutil.which("tesseract") and shutil.which("pdftoppm") and shutil.which("pdftotext")):
        return [("Documents", "skipped: tesseract or poppler-utils is not installed", "")]
    scan = scanned_pdf(_pages(pages))
    text = text_pdf([page * 10 for page in _pages(pages)])
    scanned = _archive(work / "scan", "scan.pdf", scan)
    typed = _archive(work / "text", "text.pdf", text)
    tmp = Path(tempfile.mkdtemp(dir=work))
    (tmp / "scan.pdf").write_bytes(scan)
    (tmp / "text.pdf").write_bytes(text)
    images = _page_images(tmp / "scan.pdf", tmp / "images")
    ocr_directly, ocr = _rounds(
        rounds,
        lambda: _tesseract_directly(images),
        lambda: _documents(scanned, f"{pages} page(s) ({pages} ocr)"),
    )
    text_directly, read = _rounds(
        rounds,
        lambda: measure(["pdftotext", "-enc", "UTF-8", "-q", str(tmp / "text.pdf"), "-"]),
        lambda: _documents(typed, f"{pages} page(s) ({pages} text-layer)"),
    )
    shutil.rmtree(work, ignore_errors=True)
    return [
        (
            f"`spyglass documents` of a scanned release ({pages} pages, OCR)",
            f"{ocr:.1f} s ({pages / ocr:.2f} pages/s); Tesseract directly on the same "
            f"page images, one page per process on {os.cpu_count()} cores, {ocr_directly:.1f} s",
            f"{ocr_directly / ocr:.2f} of Tesseract directly (goal >= 0.90)",
        ),
        (
            f"`spyglass documents` of a text-layer release ({pages} pages)",
            f"{read:.2f} s; `pdftotext` of the same file {text_directly:.2f} s",
            f"{text_directly / read:.2f} of pdftotext (goal >= 0.90)",
        ),
    ]
