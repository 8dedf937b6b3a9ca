"""scripts/bench --only verify: `spyglass verify` against `zcat | sha256sum` over the same WARC files.

The synthetic site is crawled once (pages, PDFs and page requisites, so the
archive holds the kinds of record a real one does); then, interleaved round
by round, `spyglass verify` and the shell's own decompress-and-hash of every
WARC file, each timed wall-clock from command start to exit. Verify must
decompress and hash every byte too, so the shell pipeline is its floor.
A second row times `verify --since` after a small second crawl.
"""

from __future__ import annotations

import shlex
import statistics
import sys
from pathlib import Path

from scripts.benchlib.procs import Measured, measure
from scripts.benchlib.site import serve_site
from scripts.benchlib.throughput import spyglass_crawl

ROOT = Path(__file__).resolve().parents[2]


def verify_command(data: Path, since: bool = False) -> list[str]:
    """`spyglass verify` of one archive (all of it, or only what was added since the last verify)."""
    return [
        sys.executable,
        "-m",
        "archive.cli",
        "verify",
        "--data",
        str(data),
        *(["--since"] if since else []),
    ]


def hash_floor_command(data: Path) -> list[str]:
    """Decompress and hash every WARC file in one pipeline, as a skeptic would at the shell."""
    files = " ".join(shlex.quote(str(p)) for p in sorted((data / "warcs").glob("*.warc.gz")))
    return ["sh", "-c", f"zcat {files} | sha256sum"]


def _checked(done: Measured, what: str) -> Measured:
    if done.returncode:
        raise SystemExit(f"{what} failed:\n{done.stderr[-3000:]}")
    return done


def verify_section(pages: int, rounds: int, work: Path) -> list[tuple[str, str, str]]:
    """Rows: verify of the whole archive against the floor, and `verify --since` after a re-crawl."""
    with serve_site(pages, work / "site") as site:
        _checked(spyglass_crawl(site.base, work, pages, requisites=True), "spyglass crawl")
        data = work / "data"
        warc_bytes = sum(p.stat().st_size for p in (data / "warcs").glob("*.warc.gz"))
        spyglass, floor = [], []
        for _ in range(rounds):
            floor.append(_checked(measure(hash_floor_command(data)), "zcat | sha256sum").seconds)
            spyglass.append(_checked(measure(verify_command(data), cwd=ROOT), "spyglass verify").seconds)
        # Fetching every page again adds revisit records: what --since then has to read.
        _checked(
            spyglass_crawl(site.base, work, pages, {"SPYGLASS_CONDITIONAL_REQUESTS": "False"}),
            "spyglass re-crawl",
        )
        since = _checked(measure(verify_command(data, since=True), cwd=ROOT), "spyglass verify --since")
        whole = _checked(measure(verify_command(data), cwd=ROOT), "spyglass verify")
    mine, base = statistics.median(spyglass), statistics.median(floor)
    return [
        (
            f"`spyglass verify` of {warc_bytes / 1e6:.1f} MB of WARC files ({pages} pages with requisites)",
            f"{mine:.2f} s; `zcat | sha256sum` over the same files {base:.2f} s",
            f"{base / mine:.2f} of `zcat | sha256sum` (goal >= 0.50)",
        ),
        (
            "`spyglass verify --since` after a re-crawl (every page fetched again)",
            f"{since.seconds:.2f} s; the whole archive again {whole.seconds:.2f} s",
            f"{since.seconds / whole.seconds:.2f} of verifying everything",
        ),
    ]
