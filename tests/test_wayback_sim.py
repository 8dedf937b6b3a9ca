"""The simulated Wayback Machine answers like the real one (tests/data/wayback-recordings)."""

from __future__ import annotations

import gzip
import http.client
import json
import urllib.error
import urllib.request

import pytest

from archive.demo.wayback_demo import REKOGNITION_TIMESTAMP, REKOGNITION_URL, demo_sim
from archive.demo.wayback_sim import Memento, SimConfig, WaybackSim, start_wayback_sim
from archive.wayback.client import Endpoints, parse_cdx
from archive.wayback.closest import closest_snapshot

from .conftest import run_cli

URL = "http://site.test/page"


@pytest.fixture(scope="module")
def sim():
    simulator = WaybackSim()
    simulator.add(
        Memento(URL, "20150101000000", b"one"),
        Memento(URL, "20150601000000", b"one"),
        Memento(URL, "20160101000000", b"two", duplicates=1),
        Memento(URL, "20160301000000", b"two", revisit=True),
        Memento(URL, "20170101000000", b"one"),
        Memento("http://site.test/page/sub", "20160101000000", b"sub", status=404),
        Memento("http://www.site.test/other", "20160101000000", b"other", mimetype="application/pdf"),
        Memento("http://news.site.test/", "20160101000000", b"news"),
        Memento(
            "http://site.test/moved",
            "20160101000000",
            b"",
            status=301,
            headers=[("Location", "/page"), ("Content-Type", "text/html")],
        ),
        Memento(REKOGNITION_URL, REKOGNITION_TIMESTAMP, b"<html><body>rekognition</body></html>"),
    )
    simulator.block("http://blocked.test/")
    simulator.exclude("http://excluded.test/")
    simulator.add(Memento("http://excluded.test/", "20160101000000", b"x"))
    server, simulator = start_wayback_sim(simulator)
    yield simulator
    server.shutdown()


def get(sim, target: str, headers: dict | None = None):
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *a, **k):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        response = opener.open(urllib.request.Request(sim.base + target, headers=headers or {}), timeout=10)
    except urllib.error.HTTPError as exc:
        response = exc
    with response:
        return response.code, {k.lower(): v for k, v in response.headers.items()}, response.read()


def cdx(sim, query: str) -> list[list[str]]:
    status, _, body = get(sim, f"/cdx/search/cdx?{query}")
    assert status == 200, body
    return [line.split(" ") for line in body.decode().split("\n") if line]


def test_cdx_match_types_and_wildcards(sim):
    assert {r[2] for r in cdx(sim, f"url={URL}")} == {URL}
    assert {r[2] for r in cdx(sim, "url=site.test/page&matchType=prefix")} == {URL, URL + "/sub"}
    assert {r[2] for r in cdx(sim, "url=site.test/page*")} == {URL, URL + "/sub"}
    host = {r[2] for r in cdx(sim, "url=site.test&matchType=host")}
    assert "http://news.site.test/" not in host and "http://www.site.test/other" in host
    assert "http://news.site.test/" in {r[2] for r in cdx(sim, "url=*.site.test")}


def test_cdx_from_to_are_inclusive_and_rows_keep_duplicates_and_revisits(sim):
    rows = cdx(sim, f"url={URL}&from=20160101000000&to=2016")
    assert [r[1] for r in rows] == ["20160101000000", "20160101000000", "20160301000000"]
    assert rows[2][3:5] == ["warc/revisit", "-"]
    assert len(rows[0]) == 7


def test_cdx_filters_collapse_fl_limit_and_json(sim):
    assert {r[4] for r in cdx(sim, "url=site.test&matchType=prefix&filter=statuscode:404")} == {"404"}
    assert "-" not in {r[4] for r in cdx(sim, f"url={URL}&filter=!statuscode:-")}
    assert {r[3] for r in cdx(sim, "url=site.test&matchType=domain&filter=mimetype:app.*")} == {
        "application/pdf"
    }
    assert cdx(sim, "url=site.test&matchType=domain&filter=mimetype:app") == []  # whole field
    digests = [r[0] for r in cdx(sim, f"url={URL}&collapse=digest&fl=digest")]
    assert len(digests) == 3 and digests[0] == digests[2] != digests[1]  # adjacent rows only
    assert [r[0] for r in cdx(sim, f"url={URL}&collapse=timestamp:4&fl=timestamp")] == [
        "20150101000000",
        "20160101000000",
        "20170101000000",
    ]
    assert [r[0] for r in cdx(sim, f"url={URL}&limit=-1&fl=timestamp")] == ["20170101000000"]
    _, _, body = get(sim, f"/cdx/search/cdx?url={URL}&output=json&fl=timestamp,statuscode&limit=2")
    assert json.loads(body) == [
        ["timestamp", "statuscode"],
        ["20150101000000", "200"],
        ["20150601000000", "200"],
    ]
    assert get(sim, "/cdx/search/cdx?url=x&filter=nofield:1")[0] == 400


def test_cdx_resume_key_follows_a_blank_line_and_answers_are_gzipped(sim):
    status, headers, body = get(
        sim, f"/cdx/search/cdx?url={URL}&limit=2&showResumeKey=true", {"Accept-Encoding": "gzip"}
    )
    assert headers["content-encoding"] == "gzip"
    text = gzip.decompress(body).decode()
    assert text.endswith("\n\ntest%2Csite%29%2Fpage+20150601000001\n")
    page = parse_cdx(text)
    seen = [r.timestamp for r in page.records]
    while page.resume_key:
        from urllib.parse import quote

        _, _, body = get(
            sim, f"/cdx/search/cdx?url={URL}&limit=2&showResumeKey=true&resumeKey={quote(page.resume_key)}"
        )
        page = parse_cdx(body.decode())
        seen += [r.timestamp for r in page.records]
    assert seen == [r[1] for r in cdx(sim, f"url={URL}")]


def test_snapshots_redirects_and_refusals(sim):
    status, headers, body = get(sim, f"/web/20150101000000id_/{URL}")
    assert (status, body) == (200, b"one")
    assert headers["memento-datetime"] == "Thu, 01 Jan 2015 00:00:00 GMT"
    assert 'rel="original"' in headers["link"] and headers["x-archive-src"]
    status, headers, _ = get(sim, f"/web/20150102id_/{URL}")
    assert status == 302 and "memento-datetime" not in headers
    assert headers["location"].endswith(f"/web/20150101000000id_/{URL}")
    assert headers["x-archive-redirect-reason"] == "found capture at 20150101000000"
    status, headers, _ = get(sim, "/web/20160101000000id_/http://site.test/moved")
    assert (status, headers["location"], headers["x-archive-orig-content-type"]) == (
        301,
        "/page",
        "text/html",
    )
    assert get(sim, "/web/2016id_/http://never.test/")[0] == 404
    status, _, body = get(sim, "/web/20160101000000id_/http://excluded.test/")
    assert status == 200 and b"This URL has been excluded" in body
    status, headers, _ = get(sim, "/web/2016id_/http://blocked.test/")
    assert status == 403 and "Blocked Site Error" in headers["x-archive-wayback-runtime-error"]
    assert get(sim, "/cdx/search/cdx?url=blocked.test/")[0] == 403
    status, _, body = get(sim, f"/web/20150101000000/{URL}")
    assert status == 200 and b"BEGIN WAYBACK TOOLBAR INSERT" in body  # the rewritten page


def test_timemap_and_availability_through_waybackpy(sim):
    status, _, body = get(sim, f"/web/timemap/link/{URL}")
    assert status == 200 and body.count(b'rel="memento"') == 4  # revisits are not listed
    found = closest_snapshot(REKOGNITION_URL, Endpoints(sim.base), "20180301")
    assert found is not None and found.timestamp == REKOGNITION_TIMESTAMP
    assert (
        found.snapshot_url == "https://web.archive.org/web/20180225100337/https://aws.amazon.com/rekognition/"
    )
    assert closest_snapshot("http://never.test/", Endpoints(sim.base)) is None
    result = run_cli("closest", REKOGNITION_URL, "--at", "2018", env={"SPYGLASS_WAYBACK_URL": sim.base})
    assert result.stdout.strip() == f"{found.snapshot_url} (captured {REKOGNITION_TIMESTAMP})"
    missing = run_cli("closest", "http://never.test/", env={"SPYGLASS_WAYBACK_URL": sim.base})
    assert missing.returncode == 1 and "names no snapshot" in missing.stderr


def test_rate_limit_answers_429_then_blocks_an_ip_that_keeps_sending():
    server, sim = start_wayback_sim(
        WaybackSim(SimConfig(window_seconds=0.5, cdx_per_window=2, block_seconds=60))
    )
    try:
        statuses = [get(sim, "/cdx/search/cdx?url=a.test")[0] for _ in range(3)]
        assert statuses == [200, 200, 429]
        _, headers, _ = get(sim, "/cdx/search/cdx?url=a.test")
        assert "retry-after" not in headers
        # Keep sending past the window after the first 429: the IP is dropped.
        import time

        deadline = time.monotonic() + 5
        dropped = False
        while time.monotonic() < deadline and not dropped:
            try:
                get(sim, "/cdx/search/cdx?url=a.test")
            except (urllib.error.URLError, ConnectionError, OSError):
                dropped = True
        assert dropped
        with pytest.raises((urllib.error.URLError, ConnectionError, OSError)):
            get(sim, "/web/2016id_/http://a.test/")  # everything, for the block's duration
    finally:
        server.shutdown()


def test_injected_503_and_truncated_bodies():
    server, sim = start_wayback_sim(demo_sim("http://vendor.test"))
    try:
        sim.inject("rekognition", "503", times=1)
        assert get(sim, f"/web/{REKOGNITION_TIMESTAMP}id_/{REKOGNITION_URL}")[0] == 503
        assert get(sim, f"/web/{REKOGNITION_TIMESTAMP}id_/{REKOGNITION_URL}")[0] == 200
        sim.inject("rekognition", "truncate", times=1)
        with pytest.raises(http.client.IncompleteRead):  # the body is cut short
            get(sim, f"/web/{REKOGNITION_TIMESTAMP}id_/{REKOGNITION_URL}")
    finally:
        server.shutdown()
