"""A capture is dated when its request left for the network, not when it joined the queue.

Loopback servers log each request's arrival; a crawl runs under a download
delay (live pages and their requisites), a records service's budget (a
MuckRock walk: API listings, JSON walks and files on a CDN) and the Wayback
budget (snapshots). Every capture's
time, and its WARC-Date, must lie within a second before its request arrived,
never after it.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from archive.demo.server import Incoming, Reply
from archive.demo.vendor_site import start_vendor_site
from archive.demo.wayback_demo import demo_sim
from archive.demo.wayback_sim import start_wayback_sim
from archive.times import parse_when
from tests.servers.records_apis import start_records_apis

from .conftest import db_rows as rows
from .conftest import run_cli

SOURCES = """
sources:
  - name: northwind-recognize
    kind: vendor
    urls: ["{vendor}/"]
    allow_private: [127.0.0.1]
    scope: {{hosts: [127.0.0.1], max_pages: 6}}
    vendor: Northwind Cloud
    product: Northwind Recognize
  - name: muckrock-recognize
    kind: records
    allow_private: [127.0.0.1]
    urls: ["{api}/api_v2/requests/?search=recognize"]
    walk: {{shape: muckrock}}
  - name: aws-rekognition
    kind: vendor
    urls: [https://aws.amazon.com/rekognition/]
    vendor: Amazon Web Services
    wayback: true
"""


class Arrivals:
    """Each request's arrival time at the servers, by URL."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seen: dict[str, list[datetime]] = {}

    def logged(self, base: str, handler):
        def handle(request: Incoming) -> Reply:
            arrived = datetime.now(UTC)
            url = base + request.path + (f"?{request.query}" if request.query else "")
            with self.lock:
                self.seen.setdefault(url, []).append(arrived)
            return handler(request)

        return handle

    def logged_sim(self, sim) -> None:
        """The same for the Wayback simulator, whose handler is its `handle` method."""
        handle = sim.handle

        def logged(method, path, *args):
            with self.lock:
                self.seen.setdefault(sim.base + path, []).append(datetime.now(UTC))
            return handle(method, path, *args)

        sim.handle = logged


@pytest.fixture(scope="module")
def timed(tmp_path_factory: pytest.TempPathFactory):
    arrivals = Arrivals()
    vendor_server, _ = start_vendor_site()
    apis = start_records_apis()
    servers = [vendor_server, apis.server, apis.cdn_server, apis.store_server]
    for server in servers:
        server.handler = arrivals.logged(server.url, server.handler)
    root = tmp_path_factory.mktemp("sent")
    (root / "sources.yml").write_text(SOURCES.format(vendor=vendor_server.url, api=apis.server.url))
    data = root / "data"
    sources = ("--sources", str(root / "sources.yml"), "--data", str(data))
    run_cli(
        "crawl",
        *sources,
        "--source",
        "northwind-recognize",
        "--source",
        "muckrock-recognize",
        "-s",
        "DOWNLOAD_DELAY=0.6",
        "-s",
        "CONCURRENT_REQUESTS_PER_DOMAIN=4",
        # 0.75 s between API calls: requests queue behind the budget, as a real walk's do.
        env={"SPYGLASS_MUCKROCK_PER_MINUTE": "80", "SPYGLASS_MUCKROCK_TOKEN": "t"},
        check=True,
    )
    # Wayback snapshots wait for the machine's Wayback budget (its "minute" shortened to 2 s).
    wayback_server, sim = start_wayback_sim(demo_sim(vendor_server.url))
    arrivals.logged_sim(sim)
    env = {"SPYGLASS_WAYBACK_URL": sim.base, "SPYGLASS_WAYBACK_WINDOW": "2"}
    run_cli("crawl", *sources, "--source", "aws-rekognition", "--only", "wayback", env=env, check=True)
    yield {"data": data, "arrivals": arrivals, "cdn": apis.cdn_server.url}
    wayback_server.shutdown()
    for server in servers:
        server.stop()


def _warc_dates(data: Path) -> dict[tuple[str, int], str]:
    """WARC-Date of every record, by (file, offset)."""
    found = {}
    for path in (data / "warcs").glob("*.warc.gz"):
        with path.open("rb") as stream:
            records = ArchiveIterator(stream)
            for record in records:
                found[(path.name, records.get_record_offset())] = record.rec_headers.get_header("WARC-Date")
    return found


def test_every_capture_is_dated_within_a_second_before_its_request_arrived(timed):
    captures = rows(
        timed["data"],
        "SELECT url, source, captured_at, fetch_ms, warc_filename, warc_offset, requisite FROM captures "
        "WHERE warc_type IN ('response', 'revisit') ORDER BY id",
    )
    kinds = {(c["source"], bool(c["requisite"])) for c in captures}
    # Live pages, their requisites and the records walk's listings and files were all checked.
    assert {
        ("northwind-recognize", False),
        ("northwind-recognize", True),
        ("muckrock-recognize", False),
    } <= kinds
    assert any(c["url"].startswith(timed["cdn"]) for c in captures)  # released files on another host
    dates = _warc_dates(timed["data"])
    early = []
    for capture in captures:
        sent = parse_when(capture["captured_at"])
        arrived = [a for a in timed["arrivals"].seen.get(capture["url"], []) if a >= sent]
        assert arrived, (
            f"{capture['url']} dated {sent} arrived only before it: {timed['arrivals'].seen.get(capture['url'])}"
        )
        gap = arrived[0] - sent
        if gap > timedelta(seconds=1):
            early.append((capture["url"], gap.total_seconds()))
        # The record says the same instant.
        assert parse_when(dates[(capture["warc_filename"], capture["warc_offset"])]) == sent
        assert capture["fetch_ms"] is not None
    assert early == [], f"dated more than a second before their request arrived: {early}"
