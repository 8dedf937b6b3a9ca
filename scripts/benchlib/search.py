"""Search benchmark: an archive of N synthetic captures, then a fixed mix of searches.

Captures are loaded through archive.db.bulk_load_captures (Spyglass's bulk
path) into an index created by archive.db.open_db, so the schema, triggers and
FTS configuration are exactly the product's.
"""

from __future__ import annotations

import hashlib
import random
import sqlite3
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

VENDORS = [
    ("Northwind Cloud", "Northwind Recognize"),
    ("Contoso Vision", "FaceTrace"),
    ("Fabrikam Labs", "CrowdScan"),
    ("Litware", "PlateReader"),
    ("Tailspin", "Sentinel"),
]
DOC_WORDS = 300  # ~2 KB of text
ARCHIVE_SEED = 11  # the archive's text; the mix ranks words by the same vocabulary


def build_archive(path: Path, documents: int, seed: int = ARCHIVE_SEED) -> tuple[float, int, list[str]]:
    """Create the archive; returns (seconds, bytes on disk, a sample of document texts)."""
    from archive.index.captures import bulk_load_captures
    from archive.index.db import open_db
    from tests.servers.synthetic_site import ZipfText

    started = time.monotonic()
    index = open_db(path)
    index.table("sources").insert({"name": "bench", "kind": "vendor"})
    text = ZipfText(seed)
    rng = random.Random(seed)
    samples: list[str] = []

    def rows(start: int, stop: int):
        for i in range(start, stop):
            words = text.words_for(rng, DOC_WORDS)
            body = " ".join(words)
            if len(samples) < 400 and i % max(documents // 400, 1) == 0:
                samples.append(body)
            vendor, product = VENDORS[i % len(VENDORS)]
            day = 1 + i % 28
            yield {
                "url": f"https://vendor{i % 97}.example/p/{i}",
                "source": "bench",
                "via": "live",
                "captured_at": f"2024-{1 + i % 12:02d}-{day:02d}T00:00:{i % 60:02d}.000000Z",
                "status": 200,
                "content_type": "text/html",
                "length": len(body),
                "sha256": hashlib.sha256(body.encode()).hexdigest(),
                "warc_filename": "synthetic.warc.gz",
                "warc_offset": i * 1000,
                "warc_length": 1000,
                "warc_record_id": f"<urn:uuid:bench-{i}>",
                "warc_type": "response",
                "title": " ".join(words[:6]).title(),
                "text": body,
                "extraction": "html",
                "vendor": vendor,
                "product": product,
            }

    step = 50_000
    for start in range(0, documents, step):
        bulk_load_captures(index, rows(start, min(start + step, documents)))
    index.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    index.execute("INSERT INTO captures_fts(captures_fts) VALUES('optimize')")
    index.close()
    seconds = time.monotonic() - started
    size = sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
    return seconds, size, samples


def search_mix(samples: list[str], count: int, seed: int = 5) -> list[dict[str, str]]:
    """Common words, rare words, phrases and facet-filtered searches, in a fixed order."""
    from tests.servers.synthetic_site import ZipfText

    # The archive's own vocabulary, so "common" and "rare" are what they say
    # (ranks 20-200 are in 13-76% of captures, ranks 5000+ in under 1%).
    words = ZipfText(ARCHIVE_SEED).words
    rng = random.Random(seed)
    mix: list[dict[str, str]] = []
    for n in range(count):
        kind = n % 4
        if kind == 0:  # common: ranks 20-200, each in a large share of documents
            q = words[rng.randrange(20, 200)]
        elif kind == 1:  # rare
            q = words[rng.randrange(5000, len(words))]
        elif kind == 2:  # a phrase taken from a real document
            doc = rng.choice(samples).split()
            at = rng.randrange(len(doc) - 3)
            q = '"' + " ".join(doc[at : at + 3]) + '"'
        else:  # facet-filtered common word
            q = words[rng.randrange(20, 500)]
            mix.append({"q": q, "vendor": rng.choice(VENDORS)[0]})
            continue
        mix.append({"q": q})
    return mix


def percentiles(values: list[float]) -> str:
    values = sorted(values)
    q = statistics.quantiles(values, n=100, method="inclusive")
    return f"p50 {q[49]:.1f} ms, p95 {q[94]:.1f} ms, p99 {q[98]:.1f} ms"


SEARCH_SQL = """
select captures.id, captures.captured_at, captures.url, captures.title,
  captures.vendor, captures.product, captures.source, captures.via,
  snippet(captures_fts, 1, '[', ']', ' ... ', 16) as snippet
from captures_fts join captures on captures.id = captures_fts.rowid
where captures_fts match :fts and (:vendor = '' or captures.vendor = :vendor)
  and (:product = '' or captures.product = :product) and (:source = '' or captures.source = :source)
order by captures_fts.rowid desc limit 50
"""


def run_search_bench(documents: int, work: Path, count: int) -> list[tuple[str, str, str]]:
    """Build the archive, then time the mix on every search path."""
    db_path = work / "spyglass.db"
    seconds, size, samples = build_archive(db_path, documents)
    rows = [
        (
            f"Search archive build ({documents:,} captures, bulk path)",
            f"{seconds:.0f} s, {size / 1e6:.0f} MB on disk",
            "",
        )
    ]
    return rows + time_searches(db_path, search_mix(samples, count))


def time_searches(db_path: Path, mix: list[dict[str, str]]) -> list[tuple[str, str, str]]:
    """The mix directly in SQLite, through Datasette's canned search, and on the table page a
    reporter reaches first (count and facets included)."""
    from datasette.utils import escape_fts

    from archive.demo.server import free_port, wait_for_port
    from archive.publish.datasette import datasette_command

    conn = sqlite3.connect(db_path)
    direct = []
    for params in mix:
        p = {"fts": escape_fts(params["q"]), "vendor": params.get("vendor", ""), "product": "", "source": ""}
        started = time.perf_counter()
        conn.execute(SEARCH_SQL, p).fetchall()
        direct.append((time.perf_counter() - started) * 1000)
    conn.close()

    port = free_port()
    proc = subprocess.Popen(
        datasette_command(db_path.parent, port), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_for_port(port, timeout=120)
        base = f"http://127.0.0.1:{port}/spyglass"
        canned, front, page, bare_table, timed_out = [], [], [], [], 0
        for params in mix:
            qs = urllib.parse.urlencode(
                {
                    "q": params["q"],
                    "vendor": params.get("vendor", ""),
                    "product": "",
                    "source": "",
                    "_shape": "array",
                }
            )
            canned.append(_timed_get(f"{base}/search.json?{qs}")[0])
        root = base.rsplit("/", 1)[0]
        for params in mix:
            qs = urllib.parse.urlencode({"q": params["q"]})
            front.append(_timed_get(f"{root}/-/spyglass/search?{qs}")[0])
        for params in mix:
            filters = {"_search": params["q"], **({"vendor": params["vendor"]} if "vendor" in params else {})}
            ms, html = _timed_get(f"{base}/captures?{urllib.parse.urlencode(filters)}")
            page.append(ms)
            timed_out += "timed out" in html
            filters.update(
                {"_nocount": "1", "_nofacet": "1", "_nosuggest": "1", "_size": "50", "_sort_desc": "id"}
            )
            bare_table.append(_timed_get(f"{base}/captures.json?{urllib.parse.urlencode(filters)}")[0])
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    return [
        (
            f"Search, {len(mix)} mixed queries, through Datasette's JSON API (canned `search`, newest first, "
            "50 rows with snippets)",
            percentiles(canned),
            "goal p95 < 25 ms",
        ),
        (
            "Search, same mix, the front page's search `/-/spyglass/search?q=` (pages, documents, "
            "releases, changes, Atlas rows; newest first, no counts or facets; the vendor filter left out)",
            percentiles(front),
            "goal p95 < 50 ms",
        ),
        (
            "Search, same mix, the table page with counts and facets: `captures?_search=` HTML "
            "(where a reporter goes for a count and facets; the count from the FTS index, facets of "
            "the newest 1,000 matches, an estimate or a sample labelled as such)",
            percentiles(page) + f"; {timed_out} pages with a facet or count timed out",
            "goal p95 < 300 ms",
        ),
        (
            "Search, same mix, Datasette table API `?_search=` (no count, no facets)",
            percentiles(bare_table),
            "",
        ),
        ("Search, canned SQL directly in SQLite", percentiles(direct), ""),
    ]


def _timed_get(url: str) -> tuple[float, str]:
    """Milliseconds to the last byte and the body; a query stopped by Datasette's time limit
    (HTTP 400 "interrupted") is timed like any other and its body says "timed out"."""
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            body = response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        body = exc.read().decode("utf-8", "replace")
        if exc.code != 400 or "interrupted" not in body.lower():
            raise SystemExit(f"{url}: HTTP {exc.code}: {body[:500]}") from None
        body = "timed out"
    return (time.perf_counter() - started) * 1000, body


if __name__ == "__main__":
    # python -m scripts.benchlib.search DOCUMENTS WORKDIR: build and time, printing the rows.
    for row in run_search_bench(int(sys.argv[1]), Path(sys.argv[2]), 200):
        print(" | ".join(row))
