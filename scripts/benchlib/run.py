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
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

PY = sys.executable


@dataclass
class Measured:
    seconds: float
    max_rss_mb: float
    returncode: int
    stdout: str
    stderr: str


def measure(cmd: list[str], env: dict[str, str] | None = None, cwd: Path = ROOT) -> Measured:
    """Run a command; wall time and peak RSS of the process (from wait4's rusage)."""
    started = time.monotonic()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, cwd=cwd, env={**os.environ, **(env or {})},
                                stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.monotonic() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Measured(seconds, usage.ru_maxrss / 1024, proc.returncode,
                        out.read().decode(errors="replace"), err.read().decode(errors="replace"))


def start_site(pages: int) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([PY, "-m", "tests.servers.synthetic_site", "--pages", str(pages)],
                            cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    port = int(proc.stdout.readline())
    return proc, f"http://127.0.0.1:{port}"


def dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


COMMON_SETTINGS = {
    # The same engine settings for every Scrapy run, so only the work differs.
    "AUTOTHROTTLE_ENABLED": "False",
    "CONCURRENT_REQUESTS": "16",
    "CONCURRENT_REQUESTS_PER_DOMAIN": "16",
    "CONCURRENT_ITEMS": "10",
    "LOG_LEVEL": "WARNING",
    "TELNETCONSOLE_ENABLED": "False",
}


def bare_scrapy(base: str) -> Measured:
    cmd = [PY, "-m", "scrapy", "runspider", str(ROOT / "scripts/benchlib/bare_spider.py"),
           "-a", f"start={base}/p/0.html", "-s", "ROBOTSTXT_OBEY=False",
           "-s", "REMOTE_CONTROL_ENABLED=False", "-s", "DUPEFILTER_CLASS=scrapy.dupefilters.BaseDupeFilter"]
    for key, value in COMMON_SETTINGS.items():
        cmd += ["-s", f"{key}={value}"]
    return measure(cmd, env={"SCRAPY_SETTINGS_MODULE": ""}, cwd=Path(tempfile.gettempdir()))


def spyglass_crawl(base: str, work: Path, pages: int, extra: dict[str, str] | None = None,
                   recrawl: str = "all", requisites: bool = False) -> Measured:
    """A Spyglass crawl of the synthetic site; pages only unless `requisites` (so the baselines,
    which fetch pages only, do the same work)."""
    return measure(spyglass_command(base, work, pages, extra, recrawl, requisites))


def spyglass_command(base: str, work: Path, pages: int, extra: dict[str, str] | None = None,
                     recrawl: str = "all", requisites: bool = False) -> list[str]:
    """The `spyglass crawl` of the synthetic site into `work`/data."""
    work.mkdir(parents=True, exist_ok=True)
    sources = work / "bench-sources.yml"
    sources.write_text(
        "sources:\n  - name: bench\n    kind: vendor\n"
        f"    urls: ['{base}/p/0.html', '{base}/sitemap.xml']\n"
        f"    scope: {{hosts: [127.0.0.1], max_depth: 1000, max_pages: {pages * 2 + 10}}}\n"
        f"    recrawl: {recrawl}\n"
        f"    requisites: {str(requisites).lower()}\n"
        "    allow_private: [127.0.0.1]\n"
        "    vendor: Synthetic\n    product: Synthetic Recognize\n"
    )
    cmd = [PY, "-m", "archive.cli", "crawl", "--sources", str(sources), "--data", str(work / "data")]
    # Every synthetic page is /p/<n>.html: not a crawler trap.
    for key, value in {**COMMON_SETTINGS, "SPYGLASS_MAX_SIMILAR_URLS": "0", **(extra or {})}.items():
        cmd += ["-s", f"{key}={value}"]
    return cmd


def wget_crawl(base: str, work: Path) -> Measured | None:
    if not shutil.which("wget"):
        return None
    target = work / "wget"
    target.mkdir()
    # Pages only, as the other baselines: wget's recursion would fetch images and CSS too.
    return measure(["wget", "--recursive", "--level=inf", "--no-parent", "-e", "robots=off",
                    "--reject", "css,js,jpg,png,ico,woff2",
                    "--quiet", "--warc-file", str(target / "bench"), "--no-warc-keep-log",
                    "--directory-prefix", str(target / "files"), f"{base}/p/0.html"])


def count_captures(data: Path, run: int | None = None, requisites: bool = False) -> int:
    """Captures of pages (or, with `requisites`, of page requisites) in the archive or one run."""
    conn = sqlite3.connect(data / "spyglass.db")
    which = "requisite IS NOT NULL" if requisites else "requisite IS NULL"
    try:
        if run is None:
            return conn.execute(f"SELECT count(*) FROM captures WHERE {which}").fetchone()[0]
        return conn.execute(f"SELECT count(*) FROM captures WHERE crawl_run = ? AND {which}",
                            (run,)).fetchone()[0]
    finally:
        conn.close()


def last_run_figures(data: Path) -> tuple[int, int]:
    """(payload bytes received, pages seen unchanged through a 304) of the latest run."""
    conn = sqlite3.connect(data / "spyglass.db")
    try:
        received, observed = conn.execute(
            "SELECT bytes, observations FROM crawl_runs ORDER BY id DESC LIMIT 1").fetchone()
        return received or 0, observed or 0
    finally:
        conn.close()


def throughput_section(pages: int, work: Path) -> list[tuple[str, str, str]]:
    site, base = start_site(pages)
    rows: list[tuple[str, str, str]] = []
    try:
        bare = bare_scrapy(base)
        if bare.returncode:
            raise SystemExit(f"bare Scrapy failed:\n{bare.stderr[-2000:]}")
        # Pages the bare spider fetched: the whole site plus robots-free PDFs.
        from tests.servers.synthetic_site import SyntheticSite
        total = SyntheticSite(pages).count()
        full = spyglass_crawl(base, work, pages)
        if full.returncode:
            raise SystemExit(f"spyglass crawl failed:\n{full.stderr[-3000:]}")
        archived = count_captures(work / "data")
        first_bytes = dir_bytes(work / "data")
        # The same crawl drawing each page as a reader sees it: its requisites archived too.
        drawn = spyglass_crawl(base, work / "requisites", pages, requisites=True)
        if drawn.returncode:
            raise SystemExit(f"spyglass crawl with requisites failed:\n{drawn.stderr[-3000:]}")
        drawn_pages = count_captures(work / "requisites" / "data")
        drawn_requisites = count_captures(work / "requisites" / "data", requisites=True)
        wget = wget_crawl(base, work)
        copies = {}
        for name in ("conditional", "all", "nodedupe"):
            copies[name] = work / name
            copies[name].mkdir()
            shutil.copytree(work / "data", copies[name] / "data")
        # The same crawl again, nothing changed: the sitemap says so.
        again = spyglass_crawl(base, work, pages, recrawl="changed")
        second_bytes = dir_bytes(work / "data") - first_bytes
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
    finally:
        site.stdin.close()
        site.wait()
    bare_rate = total / bare.seconds
    full_rate = archived / full.seconds
    rows.append(("Archive throughput: bare Scrapy, same links, stores nothing (a)",
                 f"{bare_rate:.0f} pages/s, peak {bare.max_rss_mb:.0f} MB", "baseline"))
    rows.append(("Archive throughput: Spyglass full pipeline, WARC + SQLite + FTS + text, pages only (b)",
                 f"{full_rate:.0f} pages/s ({archived} captures), peak {full.max_rss_mb:.0f} MB",
                 f"(b)/(a) = {full_rate / bare_rate:.2f} (goal >= 0.8)"))
    drawn_rate = drawn_pages / drawn.seconds
    rows.append(("Archive throughput: the same with page requisites, the default (d)",
                 f"{drawn_rate:.0f} pages/s ({drawn_pages} pages and {drawn_requisites} requisites, "
                 f"{(drawn_pages + drawn_requisites) / drawn.seconds:.0f} responses/s), "
                 f"peak {drawn.max_rss_mb:.0f} MB",
                 f"(d)/(b) = {drawn_rate / full_rate:.2f}: the cost of requisites "
                 f"({SyntheticSite(pages).requisites() / max(total, 1):.1f} requisites a page)"))
    if wget is not None:
        wget_rate = total / wget.seconds
        rows.append(("Archive throughput: wget --recursive --warc-file (c)",
                     f"{wget_rate:.0f} pages/s, peak {wget.max_rss_mb:.0f} MB",
                     f"(b)/(c) = {full_rate / wget_rate:.2f} (goal > 1)"))
    rows.append(("Re-crawl of the unchanged site, `recrawl: changed` (sitemap lastmod)",
                 f"{again.seconds:.1f} s vs {full.seconds:.1f} s; {second_bytes / 1e6:.2f} MB vs {first_bytes / 1e6:.1f} MB written",
                 f"time {again.seconds / full.seconds:.2f}, bytes {second_bytes / max(first_bytes, 1):.3f} of the first (goal time <= 0.10)"))
    rows.append(("Re-crawl of the unchanged site, conditional requests (the default; 304s become observations)",
                 f"{conditional.seconds:.1f} s; {received / 1e6:.2f} MB of payload received, "
                 f"{conditional_bytes / 1e6:.2f} MB written; {observed} pages answered 304",
                 f"time {conditional.seconds / full.seconds:.2f}, bytes {conditional_bytes / max(first_bytes, 1):.3f} of the first"))
    rows.append(("Re-crawl of the unchanged site, every page fetched whole (`SPYGLASS_CONDITIONAL_REQUESTS=false`)",
                 f"{refetch.seconds:.1f} s; {refetch_received / 1e6:.1f} MB of payload received, "
                 f"{refetch_bytes / 1e6:.1f} MB written",
                 f"time {refetch.seconds / full.seconds:.2f}, bytes {refetch_bytes / max(first_bytes, 1):.3f} of the first"))
    rows.append(("Storage per capture",
                 f"{first_bytes / archived / 1e3:.1f} KB first crawl (WARC + index); unchanged page fetched again: {refetch_bytes / archived / 1e3:.2f} KB as a revisit, {nodedupe_bytes / archived / 1e3:.1f} KB as a full copy",
                 f"revisits save {1 - refetch_bytes / max(nodedupe_bytes, 1):.0%}"))
    return rows


def load_section(pages: int, work: Path, seconds: int) -> list[tuple[str, str, str]]:
    """The publishing load test (scripts/benchlib/load.py) over a crawl of the synthetic site."""
    from scripts.benchlib.load import run_load_test

    site, base = start_site(pages)
    try:
        first = spyglass_crawl(base, work, pages)
        if first.returncode:
            raise SystemExit(f"spyglass crawl failed:\n{first.stderr[-3000:]}")
        # The crawl that writes while the archive is read: the same site again, every page fetched.
        again = spyglass_command(base, work, pages)
        return run_load_test(work / "data", again, seconds, users=30, work=work)
    finally:
        site.stdin.close()
        site.wait()


def search_section(documents: int, work: Path, searches: int) -> list[tuple[str, str, str]]:
    from scripts.benchlib.search import run_search_bench

    return run_search_bench(documents, work, searches)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="scripts/bench", description=__doc__)
    parser.add_argument("--quick", action="store_true",
                        help="small sizes (a smoke test for CI, under 3 minutes)")
    parser.add_argument("--pages", type=int, help="synthetic site size (default 5000; quick 150)")
    parser.add_argument("--documents", type=int,
                        help="captures in the search archive (default 1000000; quick 5000)")
    parser.add_argument("--only", choices=["throughput", "search", "wayback", "load", "workers"],
                        action="append")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args(argv)
    pages = args.pages or (150 if args.quick else 5000)
    documents = args.documents or (5000 if args.quick else 1_000_000)
    searches = 200
    work = Path(tempfile.mkdtemp(prefix="spyglass-bench-"))
    sections = args.only or ["throughput", "search", "wayback", "load", "workers"]
    rows: list[tuple[str, str, str]] = []
    started = time.monotonic()
    try:
        for section in sections:
            (work / section).mkdir()
        if "throughput" in sections:
            rows += throughput_section(pages, work / "throughput")
        if "search" in sections:
            rows += search_section(documents, work / "search", searches)
        if "wayback" in sections:
            from scripts.benchlib.wayback import run_wayback_bench

            rows += run_wayback_bench(work / "wayback")
        if "load" in sections:
            rows += load_section(pages if args.quick else 1000, work / "load", 15 if args.quick else 60)
        if "workers" in sections:
            from scripts.benchlib.workers import workers_section

            rows += workers_section(pages, work / "workers")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(f"\nSpyglass benchmark, {time.strftime('%Y-%m-%d', time.gmtime())}: "
          f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"SQLite {sqlite3.sqlite_version}; {pages} synthetic pages, {documents} search captures; "
          f"ran {time.monotonic() - started:.0f} s\n")
    print("| measure | result | against the baseline / goal |")
    print("|---|---|---|")
    for name, result, ratio in rows:
        print(f"| {name} | {result} | {ratio} |")


if __name__ == "__main__":
    main()
