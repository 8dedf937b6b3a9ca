"""Wayback harvest efficiency: requests per distinct version for a long, repetitive history.

A page captured 600 times over ten years whose bytes changed only 12 times
(every capture kept, many identical in a row and some repeated later, as the
Wayback Machine's real CDX answers look), harvested from the loopback
simulator through `spyglass crawl --only wayback`. Goal: exactly one snapshot
fetch per distinct version.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CAPTURES = 600
DISTINCT = 12
URL = "http://vendor.example/products/recognize/"


def history() -> list:
    from archive.demo.wayback_sim import Memento

    mementos = []
    for n in range(CAPTURES):
        year = 2014 + n * 10 // CAPTURES
        day_of_year = (n * 97) % 360
        ts = f"{year}{1 + day_of_year // 30:02d}{1 + day_of_year % 28:02d}{n % 24:02d}{n % 60:02d}00"
        # Long runs of the same bytes, and versions that come back later.
        version = (n * DISTINCT // CAPTURES + (3 if n % 97 == 5 else 0)) % DISTINCT
        body = (
            f"<!DOCTYPE html><html><head><title>Recognize v{version}</title></head>"
            f"<body><main><p>Product page, version {version}.</p></main></body></html>"
        ).encode()
        mementos.append(Memento(URL, ts, body))
    return mementos


def run_wayback_bench(work: Path) -> list[tuple[str, str, str]]:
    sys.path.insert(0, str(ROOT))
    from archive.demo.wayback_sim import WaybackSim, start_wayback_sim

    server, sim = start_wayback_sim(WaybackSim())
    try:
        mementos = history()
        sim.add(*mementos)
        distinct = len({m.body for m in mementos})
        sources = work / "sources.yml"
        sources.write_text(
            f"sources:\n  - name: history\n    kind: vendor\n    urls: ['{URL}']\n    wayback: true\n"
        )
        cmd = [
            sys.executable,
            "-m",
            "archive.cli",
            "crawl",
            "--only",
            "wayback",
            "--sources",
            str(sources),
            "--data",
            str(work / "data"),
            # A shorter "minute" so the run takes seconds; budgets per window stay the defaults.
            "-s",
            "SPYGLASS_WAYBACK_WINDOW=0.5",
            "-s",
            f"SPYGLASS_WAYBACK_URL={sim.base}",
        ]
        first = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        if first.returncode:
            raise SystemExit(f"wayback harvest failed:\n{first.stderr[-2000:]}")
        fetches = len(sim.hits("/web/"))
        total = len(sim.log)
        again = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        if again.returncode:
            raise SystemExit(f"wayback re-run failed:\n{again.stderr[-2000:]}")
        refetches = len(sim.hits("/web/")) - fetches
        requests_again = len(sim.log) - total
    finally:
        server.shutdown()
    return [
        (
            f"Wayback harvest: {CAPTURES} captures of one URL, {distinct} distinct versions",
            f"{fetches} snapshot fetches, {total} requests in all ({total - fetches} CDX)",
            f"{fetches / distinct:.2f} fetches per distinct version (goal 1.00)",
        ),
        (
            "Wayback harvest re-run, nothing new",
            f"{refetches} snapshot fetches, {requests_again} requests in all",
            "goal 0 fetches",
        ),
    ]
