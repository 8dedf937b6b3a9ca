"""Archive throughput against baselines a skeptic accepts, all on one nginx-served site.

Bare Scrapy (tuned: its own seen-set, lxml links; at each concurrency tried,
the fastest is the baseline), wget --warc-file and Spyglass at its default
pipeline settings crawl the same pre-generated site, interleaved round by
round so that a noisy neighbour hurts all of them alike; each figure is the
median of the rounds. CPU seconds are reported per process: the crawler and
its writer process apart. Peak memory of a Spyglass crawl is then measured at
a second, larger site size to show it stays flat.
"""

from __future__ import annotations

import shutil
import sqlite3
import statistics
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from scripts.benchlib.procs import Measured, measure
from scripts.benchlib.site import ServedSite, serve_site

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable
BARE_CONCURRENCY = (16, 32)

# Engine settings every Scrapy run shares, so only the work per page differs.
ENGINE = {
    "AUTOTHROTTLE_ENABLED": "False",
    "CONCURRENT_ITEMS": "10",
    "LOG_LEVEL": "WARNING",
    "TELNETCONSOLE_ENABLED": "False",
    "REMOTE_CONTROL_ENABLED": "False",
}


def engine(concurrency: int) -> dict[str, str]:
    return {
        **ENGINE,
        "CONCURRENT_REQUESTS": str(concurrency),
        "CONCURRENT_REQUESTS_PER_DOMAIN": str(concurrency),
    }


def settings_args(settings: dict[str, str]) -> list[str]:
    return [arg for key, value in settings.items() for arg in ("-s", f"{key}={value}")]


def bare_scrapy(site: ServedSite, concurrency: int) -> Measured:
    """The bare spider: fetches and follows the same links, stores nothing."""
    cmd = [
        PY,
        "-m",
        "scrapy",
        "runspider",
        str(ROOT / "scripts/benchlib/bare_spider.py"),
        "-a",
        f"start={site.base}/p/0.html",
        "-s",
        "ROBOTSTXT_OBEY=False",
        "-s",
        "DUPEFILTER_CLASS=scrapy.dupefilters.BaseDupeFilter",
        *settings_args(engine(concurrency)),
    ]
    return measure(cmd, env={"SCRAPY_SETTINGS_MODULE": ""}, cwd=Path(tempfile.gettempdir()))


def write_sources(path: Path, base: str, pages: int, recrawl: str = "all", requisites: bool = False) -> Path:
    """A sources.yml with one source: the whole synthetic site, pages only unless `requisites`
    (the baselines fetch pages only, so by default Spyglass does the same work)."""
    path.write_text(
        "sources:\n  - name: bench\n    kind: vendor\n"
        f"    urls: ['{base}/p/0.html', '{base}/sitemap.xml']\n"
        f"    scope: {{hosts: [127.0.0.1], max_depth: 1000, max_pages: {pages * 2 + 10}}}\n"
        f"    recrawl: {recrawl}\n"
        f"    requisites: {str(requisites).lower()}\n"
        "    allow_private: [127.0.0.1]\n"
        "    vendor: Synthetic\n    product: Synthetic Recognize\n"
    )
    return path


def spyglass_command(
    base: str,
    work: Path,
    pages: int,
    extra: dict[str, str] | None = None,
    recrawl: str = "all",
    concurrency: int = 16,
    requisites: bool = False,
) -> list[str]:
    """`spyglass crawl` of the site into work/data, at its default pipeline settings."""
    work.mkdir(parents=True, exist_ok=True)
    sources = write_sources(work / "bench-sources.yml", base, pages, recrawl, requisites)
    cmd = [PY, "-m", "archive.cli", "crawl", "--sources", str(sources), "--data", str(work / "data")]
    # Every synthetic page is /p/<n>.html: not a crawler trap.
    settings = {
        **engine(concurrency),
        "SPYGLASS_MAX_SIMILAR_URLS": "0",
        "SPYGLASS_PROGRESS": "False",
        # Settling history is part of the full pipeline: done before the command exits, it is
        # counted in the crawl's time and CPU, and never runs into the next round's crawler.
        "SPYGLASS_SETTLE_LATER": "False",
        **(extra or {}),
    }
    return cmd + settings_args(settings)


def spyglass_crawl(
    base: str,
    work: Path,
    pages: int,
    extra: dict[str, str] | None = None,
    recrawl: str = "all",
    concurrency: int = 16,
    requisites: bool = False,
) -> Measured:
    """Run and measure `spyglass_command`."""
    return measure(spyglass_command(base, work, pages, extra, recrawl, concurrency, requisites), cwd=ROOT)


def wget_crawl(site: ServedSite, work: Path) -> Measured | None:
    """wget --recursive --warc-file: the classic archiving crawler, in C."""
    if not shutil.which("wget"):
        return None
    work.mkdir(parents=True, exist_ok=True)
    # Pages only, as the other crawlers: wget's recursion fetches images and CSS too.
    return measure(
        [
            "wget",
            "--recursive",
            "--level=inf",
            "--no-parent",
            "-e",
            "robots=off",
            "--reject",
            "css,js,jpg,png,ico,woff2",
            "--quiet",
            "--warc-file",
            str(work / "bench"),
            "--no-warc-keep-log",
            "--directory-prefix",
            str(work / "files"),
            f"{site.base}/p/0.html",
        ]
    )


def captures_in(data: Path) -> int:
    conn = sqlite3.connect(data / "spyglass.db")
    try:
        return conn.execute("SELECT count(*) FROM captures WHERE requisite IS NULL").fetchone()[0]
    finally:
        conn.close()


def edges_row(data: Path, crawl: Measured) -> tuple[str, str, str]:
    """Issue #34's measure of a crawl: from the command's start to its first capture, and from
    its last capture to the command's exit (wall clock; captured_at is when a request left)."""
    conn = sqlite3.connect(data / "spyglass.db")
    try:
        first, last = conn.execute("SELECT min(captured_at), max(captured_at) FROM captures").fetchone()
    finally:
        conn.close()
    start_up = datetime.fromisoformat(first).timestamp() - crawl.started
    tail = crawl.ended - datetime.fromisoformat(last).timestamp()
    return (
        "Start-up (command start to first capture) and the work after the last page (to exit), "
        "the last Spyglass round",
        f"{start_up:.2f} s + {tail:.2f} s (the tail settles history: SPYGLASS_SETTLE_LATER=false here)",
        f"{start_up + tail:.2f} s (goal < 1 s for 2,000 pages)",
    )


@dataclass
class Runs:
    """Every round's measurement of one crawler; figures are medians."""

    name: str
    pages: int
    runs: list[Measured] = field(default_factory=list)
    concurrency: int = 16

    def median(self, what: str) -> float:
        return statistics.median(getattr(m, what) for m in self.runs)

    @property
    def rate(self) -> float:
        return statistics.median(self.pages / m.seconds for m in self.runs)

    def cells(self) -> str:
        children = self.median("cpu_children")
        cpu = f"{self.median('cpu_main'):.1f}" + (f" / {children:.1f}" if children >= 0.05 else " / -")
        return (
            f"{self.rate:.0f} pages/s ({self.median('seconds'):.1f} s); CPU-s crawler / writer {cpu}; "
            f"{1000 * self.median('cpu') / self.pages:.1f} ms CPU a page; peak RSS "
            f"{self.median('rss_main_mb'):.0f} MB"
            + (f" + writer {self.median('rss_children_mb'):.0f} MB" if children >= 0.05 else "")
        )


def _check(m: Measured | None, what: str) -> Measured | None:
    if m is not None and m.returncode:
        raise SystemExit(f"{what} failed (exit {m.returncode}):\n{m.stderr[-3000:]}")
    return m


def compare(site: ServedSite, pages: int, rounds: int, work: Path) -> tuple[list[tuple[str, str, str]], Runs]:
    """Interleaved rounds of every crawler on one site: rows for the table, and Spyglass's runs.

    The last Spyglass round's data directory (work/spyglass) is kept for the
    re-crawl measurements that follow.
    """
    bare = {c: Runs(f"bare Scrapy, {c} concurrent", site.count) for c in BARE_CONCURRENCY}
    wget = Runs("wget --warc-file", site.count)
    spyglass = Runs("Spyglass", site.count)
    for _ in range(rounds):
        for c, runs in bare.items():
            runs.runs.append(_check(bare_scrapy(site, c), f"bare Scrapy ({c})"))
        got = _check(wget_crawl(site, work / "wget"), "wget")
        if got is not None:
            wget.runs.append(got)
        shutil.rmtree(work / "wget", ignore_errors=True)
        best = max(bare, key=lambda c: bare[c].rate)
        shutil.rmtree(work / "spyglass", ignore_errors=True)
        spyglass.runs.append(
            _check(spyglass_crawl(site.base, work / "spyglass", pages, concurrency=best), "spyglass crawl")
        )
    archived = captures_in(work / "spyglass" / "data")
    tuned = max(bare.values(), key=lambda r: r.rate)
    rows = []
    for runs in bare.values():
        mark = " (a), the baseline: fastest here" if runs is tuned else ""
        rows.append(
            (
                f"Throughput, {runs.name}: own seen-set, lxml links, stores nothing{mark}",
                runs.cells(),
                "baseline" if runs is tuned else f"{runs.rate / tuned.rate:.2f} of (a)",
            )
        )
    if wget.runs:
        rows.append(("Throughput, wget --recursive --warc-file (c)", wget.cells(), ""))
    ratio_c = f", (b)/(c) = {spyglass.rate / wget.rate:.2f} (goal >= 1)" if wget.runs else ""
    rows.append(
        (
            f"Throughput, Spyglass at its defaults: WARC + SHA-256 + text + SQLite/FTS + chain (b); "
            f"{archived} captures",
            spyglass.cells(),
            f"(b)/(a) = {spyglass.rate / tuned.rate:.2f} (goal >= 0.8){ratio_c}",
        )
    )
    rows.append(edges_row(work / "spyglass" / "data", spyglass.runs[-1]))
    spyglass.concurrency = max(bare, key=lambda c: bare[c].rate)
    return rows, spyglass


def memory_row(small: Runs, large_pages: int, work: Path, concurrency: int) -> tuple[str, str, str]:
    """Peak RSS of a Spyglass crawl at the compared size and at a larger one: flat or not."""
    with serve_site(large_pages, work / "site-large") as site:
        large = _check(
            spyglass_crawl(site.base, work / "large", large_pages, concurrency=concurrency), "spyglass crawl"
        )
    shutil.rmtree(work / "site-large", ignore_errors=True)
    shutil.rmtree(work / "large", ignore_errors=True)
    small_total = small.median("rss_main_mb") + small.median("rss_children_mb")
    large_total = large.rss_main_mb + large.rss_children_mb
    return (
        f"Peak memory of a Spyglass crawl, {small.pages:,} vs {site.count:,} responses",
        f"crawler {small.median('rss_main_mb'):.0f} / {large.rss_main_mb:.0f} MB, writer "
        f"{small.median('rss_children_mb'):.0f} / {large.rss_children_mb:.0f} MB "
        f"({site.count / large.seconds:.0f} pages/s at the larger size)",
        f"{large_total / small_total:.2f}x the memory for {site.count / small.pages:.0f}x the pages "
        "(goal: flat)",
    )
