"""Which Wayback versions a harvest keeps: archived errors, same-digest fallbacks, duplicate timestamps."""

from __future__ import annotations

import pytest

from archive.demo.wayback_sim import Memento, WaybackSim, start_wayback_sim
from archive.warc.digests import sha1_base32

from .conftest import db_rows as rows
from .test_wayback_harvest import harvest, page


@pytest.fixture
def sim():
    server, simulator = start_wayback_sim(WaybackSim())
    yield simulator
    server.shutdown()


def snapshot_hits(simulator: WaybackSim, url: str) -> list[str]:
    return [h.target for h in simulator.hits("/web/") if h.target.endswith(f"id_/{url}")]


def test_an_archived_429_or_503_is_kept_as_the_evidence_it_is(tmp_path, sim):
    limited, broken = "http://site.test/limited", "http://site.test/broken"
    # The site answered 429 / 503 when the Wayback Machine crawled it: the memento
    # carries Memento-Datetime, the archived status and X-Archive-Orig-* headers.
    sim.add(
        Memento(
            limited,
            "20180101000000",
            page("Slow down"),
            status=429,
            headers=[("Content-Type", "text/html"), ("Retry-After", "3600")],
        ),
        Memento(
            broken, "20180101000000", page("Maintenance"), status=503, headers=[("Content-Type", "text/html")]
        ),
    )
    # A pause on either would take over 30 s: the harvest must not pause at all.
    data, result = harvest(
        tmp_path,
        sim,
        [{"name": "errors", "urls": [limited, broken], "wayback": True}],
        "-s",
        "SPYGLASS_WAYBACK_PAUSE_ON_429=30",
        "-s",
        "SPYGLASS_WAYBACK_RETRY_BACKOFF=30",
    )
    assert result.returncode == 0, result.stderr
    assert len(snapshot_hits(sim, limited)) == 1 and len(snapshot_hits(sim, broken)) == 1
    kept = {r["original_url"]: r for r in rows(data, "SELECT * FROM captures")}
    assert {url: r["status"] for url, r in kept.items()} == {limited: 429, broken: 503}
    assert kept[limited]["memento_at"] == "2018-01-01T00:00:00.000000Z"
    assert kept[limited]["title"] == "Slow down"
    assert rows(data, "SELECT * FROM fetch_errors") == []


def test_an_unplayable_first_capture_falls_back_to_a_later_one_with_the_same_digest(tmp_path, sim):
    url = "http://site.test/page"
    v1, v2 = page("version one"), page("version two")
    # The CDX lists v1 in 2016, but replay cannot play it at that time (it redirects
    # to 2017); the same bytes were captured again, playably, in 2018.
    sim.add_row_without_memento(url, "20160101000000", sha1_base32(v1))
    sim.add(Memento(url, "20170101000000", v2), Memento(url, "20180101000000", v1))
    source = [{"name": "fallback", "urls": [url], "wayback": True}]
    data, result = harvest(tmp_path, sim, source)
    assert result.returncode == 0, result.stderr
    got = sorted(r["wayback_timestamp"] for r in rows(data, "SELECT * FROM captures"))
    assert got == ["20170101000000", "20180101000000"]
    [error] = rows(data, "SELECT * FROM fetch_errors")
    assert error["error_type"] == "wayback-inexact" and "20160101000000" in error["url"]
    # Every version is now archived: a re-run asks for nothing again.
    before = len(sim.hits("/web/"))
    _, again = harvest(tmp_path, sim, source, data=data)
    assert again.returncode == 0, again.stderr
    assert len(sim.hits("/web/")) == before


def test_two_cdx_rows_of_one_timestamp_fetch_the_snapshot_once(tmp_path, sim):
    url = "http://site.test/twice"
    sim.add(Memento(url, "20170101000000", page("the capture")))
    # The index holds a second row for the same URL and second with another digest.
    sim.add_row_without_memento(url, "20170101000000", "SECONDDIGESTFORTHESAMETIME00000")
    data, result = harvest(tmp_path, sim, [{"name": "twice", "urls": [url], "wayback": True}])
    assert result.returncode == 0, result.stderr
    assert snapshot_hits(sim, url) == [f"/web/20170101000000id_/{url}"]
    [capture] = rows(data, "SELECT * FROM captures")
    assert capture["wayback_timestamp"] == "20170101000000"


def test_a_rerun_tries_a_capture_that_failed_before_only_last(tmp_path, sim):
    url = "http://site.test/rerun"
    v1, v2 = page("version one"), page("version two")
    phantom = f"/web/20160101000000id_/{url}"
    sim.add_row_without_memento(url, "20160101000000", sha1_base32(v1))  # cannot be played at that time
    sim.add(Memento(url, "20170101000000", v2), Memento(url, "20180101000000", v1))
    sim.inject("20180101000000id_/", "503", times=3)  # the playable one is busy the first time
    source = [{"name": "rerun", "urls": [url], "wayback": True}]
    data, first = harvest(tmp_path, sim, source)
    assert first.returncode == 0, first.stderr
    assert [r["wayback_timestamp"] for r in rows(data, "SELECT * FROM captures")] == ["20170101000000"]
    assert [h.target for h in sim.hits("/web/")].count(phantom) == 1
    _, second = harvest(tmp_path, sim, source, data=data)
    assert second.returncode == 0, second.stderr
    got = sorted(r["wayback_timestamp"] for r in rows(data, "SELECT * FROM captures"))
    assert got == ["20170101000000", "20180101000000"]
    assert [h.target for h in sim.hits("/web/")].count(phantom) == 1  # not asked again


def test_a_capture_that_failed_before_is_still_tried_when_it_is_the_only_one(tmp_path, sim):
    url = "http://site.test/only"
    sim.add_row_without_memento(url, "20160101000000", "ONLYROWOFTHISDIGEST0000000000000")
    sim.add(Memento(url, "20170101000000", page("elsewhere")))
    source = [{"name": "only", "urls": [url], "wayback": True}]
    data, _ = harvest(tmp_path, sim, source)
    _, again = harvest(tmp_path, sim, source, data=data)
    assert again.returncode == 0, again.stderr
    # Replay may have recovered: the deferred row is asked for once more, when nothing else is left.
    assert len(snapshot_hits(sim, url)) == 3
    assert len(rows(data, "SELECT * FROM fetch_errors WHERE error_type = 'wayback-inexact'")) == 2
