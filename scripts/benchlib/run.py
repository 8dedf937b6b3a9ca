"""scripts/bench: measure Spyglass against baselines run on the same machine, in the same run.

Prints a markdown table. Every figure that has a goal is shown as a ratio
against a baseline measured in this run; nothing here fails on a timing.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

if TYPE_CHECKING:
    from scripts.benchlib.site import ServedSite
    from scripts.benchlib.throughput import Runs


def dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def count_captures(data: Path, run: int | None = None, requisites: bool = False) -> int:
    """Captures of pages (or, with `requisites`, of page requisites) in the archive or one run."""
    conn = sqlite3.connect(data / "spyglass.db")
    which = "requisite IS NOT NULL" if requisites else "requisite IS NULL"
    try:
        if run is None:
            return conn.execute(f"SELECT count(*) FROM captures WHERE {which}").fetchone()[0]
        return conn.execute(
            f"SELECT count(*) FROM captures WHERE crawl_run = ? AND {which}", (run,)
        ).fetchone()[0]
    finally:
        conn.close()


def last_run_figures(data: Path) -> tuple[int, int]:
    """(payload bytes received, pages seen unchanged through a 304) of the latest run."""
    conn = sqlite3.connect(data / "spyglass.db")
    try:
        received, observed = conn.execute(
            "SELECT bytes, observations FROM crawl_runs ORDER BY id DESC LIMIT 1"
        ).fetchone()
        return received or 0, observed or 0
    finally:
        conn.close()


def throughput_section(pages: int, large_pages: int, rounds: int, work: Path) -> list[tuple[str, str, str]]:
    """Throughput against the baselines, peak memory at two sizes, re-crawls and storage."""
    from scripts.benchlib.site import serve_site
    from scripts.benchlib.throughput import compare, memory_row, spyglass_crawl

    with serve_site(pages, work / "site") as site:
        rows, spyglass = compare(site, pages, rounds, work)
        base, first_data = site.base, work / "spyglass"
        full = spyglass.runs[-1]
        rows.append(requisites_row(site, pages, work / "requisites", spyglass))
        archived = count_captures(first_data / "data")
        first_bytes = dir_bytes(first_data / "data")
        copies = {}
        for name in ("conditional", "all", "nodedupe"):
            copies[name] = work / name
            copies[name].mkdir()
            shutil.copytree(first_data / "data", copies[name] / "data")
        # The same crawl again, nothing changed: the sitemap says so.
        again = spyglass_crawl(base, first_data, pages, recrawl="changed")
        second_bytes = dir_bytes(first_data / "data") - first_bytes
        # The default: every page asked for with its validators; unchanged ones answer 304.
        conditional = spyglass_crawl(base, copies["conditional"], pages)
        conditional_bytes = dir_bytes(copies["conditional"] / "data") - first_bytes
        received, observed = last_run_figures(copies["conditional"] / "data")
        whole = {"SPYGLASS_CONDITIONAL_REQUESTS": "False"}
        # Fetching every page whole again: unchanged payloads become revisit records...
        refetch = spyglass_crawl(base, copies["all"], pages, whole)
        refetch_bytes = dir_bytes(copies["all"] / "data") - first_bytes
        refetch_received, _ = last_run_figures(copies["all"] / "data")
        # ...or, with deduplication off, full copies.
        spyglass_crawl(base, copies["nodedupe"], pages, {**whole, "SPYGLASS_WARC_DEDUPE": "False"})
        nodedupe_bytes = dir_bytes(copies["nodedupe"] / "data") - first_bytes
    for path in (work / "site", first_data, *copies.values()):
        shutil.rmtree(path, ignore_errors=True)
    rows.append(memory_row(spyglass, large_pages, work, spyglass.concurrency))
    rows.append(
        (
            "Re-crawl of the unchanged site, `recrawl: changed` (sitemap lastmod)",
            f"{again.seconds:.1f} s vs {full.seconds:.1f} s; {second_bytes / 1e6:.2f} MB vs {first_bytes / 1e6:.1f} MB written",
            f"time {again.seconds / full.seconds:.2f}, bytes {second_bytes / max(first_bytes, 1):.3f} of the first (goal time <= 0.10)",
        )
    )
    rows.append(
        (
            "Re-crawl of the unchanged site, conditional requests (the default; 304s become observations)",
            f"{conditional.seconds:.1f} s; {received / 1e6:.2f} MB of payload received, "
            f"{conditional_bytes / 1e6:.2f} MB written; {observed} pages answered 304",
            f"time {conditional.seconds / full.seconds:.2f}, bytes {conditional_bytes / max(first_bytes, 1):.3f} of the first",
        )
    )
    rows.append(
        (
            "Re-crawl of the unchanged site, every page fetched whole (`SPYGLASS_CONDITIONAL_REQUESTS=false`)",
            f"{refetch.seconds:.1f} s; {refetch_received / 1e6:.1f} MB of payload received, "
            f"{refetch_bytes / 1e6:.1f} MB written",
            f"time {refetch.seconds / full.seconds:.2f}, bytes {refetch_bytes / max(first_bytes, 1):.3f} of the first",
        )
    )
    rows.append(
        (
            "Storage per capture",
            f"{first_bytes / archived / 1e3:.1f} KB first crawl (WARC + index); unchanged page fetched again: {refetch_bytes / archived / 1e3:.2f} KB as a revisit, {nodedupe_bytes / archived / 1e3:.1f} KB as a full copy",
            f"revisits save {1 - refetch_bytes / max(nodedupe_bytes, 1):.0%}",
        )
    )
    return rows


def recrawl_section(pages: int, work: Path) -> list[tuple[str, str, str]]:
    """An all-304 re-crawl with AutoThrottle on (what users run) against the first crawl, also on."""
    from scripts.benchlib.site import serve_site
    from scripts.benchlib.throughput import spyglass_crawl

    polite = {"AUTOTHROTTLE_ENABLED": "True"}
    with serve_site(pages, work / "site") as site:
        first = spyglass_crawl(site.base, work / "crawl", pages, polite)
        again = spyglass_crawl(site.base, work / "crawl", pages, polite)
        _, observed = last_run_figures(work / "crawl" / "data")
    shutil.rmtree(work, ignore_errors=True)
    return [
        (
            "Re-crawl of the unchanged site, conditional requests, AutoThrottle on (the default)",
            f"{again.seconds:.1f} s vs {first.seconds:.1f} s for the first crawl (also AutoThrottle on); "
            f"{observed} pages answered 304; CPU {again.cpu_main:.1f} + {again.cpu_children:.1f} s "
            f"(crawler + writer) vs {first.cpu_main:.1f} + {first.cpu_children:.1f} s",
            f"time {again.seconds / first.seconds:.2f} of the first (goal <= 0.30), "
            f"CPU {again.cpu / first.cpu:.2f}",
        )
    ]


def requisites_row(site: ServedSite, pages: int, work: Path, pages_only: Runs) -> tuple[str, str, str]:
    """The crawl at its defaults, page requisites archived too, against the pages-only one (b)."""
    from scripts.benchlib.throughput import spyglass_crawl

    drawn = spyglass_crawl(site.base, work, pages, requisites=True)
    if drawn.returncode:
        raise SystemExit(f"spyglass crawl with requisites failed:\n{drawn.stderr[-3000:]}")
    drawn_pages = count_captures(work / "data")
    drawn_requisites = count_captures(work / "data", requisites=True)
    shutil.rmtree(work, ignore_errors=True)
    rate = drawn_pages / drawn.seconds
    return (
        "Archive throughput: Spyglass with page requisites (images, CSS, fonts, scripts), the default",
        f"{rate:.0f} pages/s ({drawn_pages} pages and {drawn_requisites} requisites, "
        f"{(drawn_pages + drawn_requisites) / drawn.seconds:.0f} responses/s), peak RSS "
        f"{drawn.rss_main_mb:.0f} MB",
        f"{rate / pages_only.rate:.2f} of Spyglass pages only: the cost of "
        f"{drawn_requisites / max(drawn_pages, 1):.1f} requisites a page",
    )


def load_section(pages: int, work: Path, seconds: int, quick: bool) -> list[tuple[str, str, str]]:
    """The publishing load test (scripts/benchlib/load.py) over a crawl of the synthetic site."""
    from scripts.benchlib.load import run_load_test
    from scripts.benchlib.site import serve_site
    from scripts.benchlib.throughput import spyglass_command, spyglass_crawl

    with serve_site(pages, work / "site") as site:
        first = spyglass_crawl(site.base, work, pages)
        if first.returncode:
            raise SystemExit(f"spyglass crawl failed:\n{first.stderr[-3000:]}")
        # The crawl that writes while the archive is read: the same site again, every page fetched.
        again = spyglass_command(site.base, work, pages)
        # Full size: 2,000,000 repeated words and a 20 MB page, as issue #33 measured them.
        heavy = (20_000, 2_000_000) if quick else (400_000, 20_000_000)
        return run_load_test(work / "data", again, seconds, 30, work, *heavy)


def search_section(documents: int, work: Path, searches: int) -> list[tuple[str, str, str]]:
    from scripts.benchlib.search import run_search_bench

    return run_search_bench(documents, work, searches)


def _version(cmd: list[str]) -> str:
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
    except OSError:
        return "not installed"
    return ((done.stdout or done.stderr).strip().splitlines() or ["?"])[0]


def describe_machine() -> str:
    """CPU, cores, memory, load and the versions that shape the figures, in one line."""
    from importlib.metadata import version

    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    packages = ", ".join(
        f"{name} {version(name)}" for name in ("Scrapy", "lxml", "warcio", "datasette", "sqlite-utils")
    )
    return (
        f"{platform.machine()} {cpu}, {os.cpu_count()} cores, {memory:.0f} GiB, "
        f"Linux {platform.release()}, load average at start {load}; Python "
        f"{platform.python_version()}, SQLite {sqlite3.sqlite_version}, {packages}; "
        f"{_version(['nginx', '-v'])}; {_version(['wget', '--version'])}"
    )


def table_row(cells: tuple[str, str, str]) -> str:
    """One markdown table row; a `|` in a cell (`zcat | sha256sum`) escaped, or it splits the cell."""
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


class Rows(list):
    """The table's rows, each section's also printed to stderr as it ends: a full run takes most
    of an hour, and a section that fails late must not take the figures already measured with it."""

    def __iadd__(self, rows: list[tuple[str, str, str]]) -> Rows:  # type: ignore[override]
        for row in rows:
            print(table_row(row), file=sys.stderr, flush=True)
        return super().__iadd__(rows)


# Every part of the benchmark, in the order a full run measures them.
SECTIONS = ("throughput", "recrawl", "search", "wayback", "load", "workers", "browser", "verify", "documents")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="scripts/bench", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="small sizes (a smoke test for CI, under 3 minutes)"
    )
    parser.add_argument("--pages", type=int, help="synthetic site size (default 2000; quick 150)")
    parser.add_argument(
        "--large-pages", type=int, help="larger site for peak memory (default 20000; quick 450)"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        help="interleaved rounds of every crawler; medians are shown (default 5; quick 1)",
    )
    parser.add_argument(
        "--documents", type=int, help="captures in the search archive (default 1000000; quick 5000)"
    )
    parser.add_argument(
        "--only",
        choices=SECTIONS,
        action="append",
    )
    parser.add_argument(
        "--browser-pages", type=int, help="pages loaded in Chromium for the browser row (default 40; quick 8)"
    )
    parser.add_argument(
        "--load-seconds", type=int, help="length of the publishing load test (default 60; quick 15)"
    )
    parser.add_argument(
        "--release-pages", type=int, help="pages of the scanned release read by OCR (default 1000; quick 4)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args(argv)
    pages = args.pages or (150 if args.quick else 2000)
    large_pages = args.large_pages or (450 if args.quick else 20_000)
    rounds = args.rounds or (1 if args.quick else 5)
    documents = args.documents or (5000 if args.quick else 1_000_000)
    searches = 200
    work = Path(tempfile.mkdtemp(prefix="spyglass-bench-"))
    browser_pages = args.browser_pages or (8 if args.quick else 40)
    sections = args.only or list(SECTIONS)
    rows = Rows()
    started = time.monotonic()
    machine = describe_machine()
    try:
        for section in sections:
            (work / section).mkdir()
        if "throughput" in sections:
            rows += throughput_section(pages, large_pages, rounds, work / "throughput")
        if "recrawl" in sections:
            rows += recrawl_section(pages, work / "recrawl")
        if "search" in sections:
            rows += search_section(documents, work / "search", searches)
        if "wayback" in sections:
            from scripts.benchlib.wayback import run_wayback_bench

            rows += run_wayback_bench(work / "wayback")
        if "load" in sections:
            rows += load_section(
                pages if args.quick else 1000,
                work / "load",
                args.load_seconds or (15 if args.quick else 60),
                args.quick,
            )
        if "workers" in sections:
            from scripts.benchlib.workers import workers_section

            rows += workers_section(pages, work / "workers")
        if "browser" in sections:
            from scripts.benchlib.browser import browser_section

            rows += browser_section(browser_pages, work / "browser")
        if "verify" in sections:
            from scripts.benchlib.verify import verify_section

            rows += verify_section(pages, rounds, work / "verify")
        if "documents" in sections:
            from scripts.benchlib.documents import documents_section

            rows += documents_section(
                args.release_pages or (4 if args.quick else 1000), min(rounds, 3), work / "documents"
            )
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(
        f"\nSpyglass benchmark, {time.strftime('%Y-%m-%d', time.gmtime())}: {machine}. "
        f"Site of {pages} pages ({rounds} interleaved rounds, medians) and {large_pages} pages; "
        f"{documents} search captures; ran {time.monotonic() - started:.0f} s\n"
    )
    print("| measure | result | against the baseline / goal |")
    print("|---|---|---|")
    for row in rows:
        print(table_row(row))


if __name__ == "__main__":
    main()
