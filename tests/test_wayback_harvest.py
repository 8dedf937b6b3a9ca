"""`spyglass crawl --only wayback` against the simulated Wayback Machine: what it asks, fetches and keeps."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml
from warcio.archiveiterator import ArchiveIterator

from archive.demo.wayback_sim import Memento, SimConfig, WaybackSim, start_wayback_sim
from archive.warc.digests import sha1_base32

from .conftest import db_rows as rows
from .conftest import run_cli

# Shrinks the Wayback "minute" and the pauses; the budgets per window stay the defaults.
FAST = [
    "-s",
    "SPYGLASS_WAYBACK_WINDOW=0.05",
    "-s",
    "SPYGLASS_WAYBACK_PAUSE_ON_429=1.0",
    "-s",
    "SPYGLASS_WAYBACK_RETRY_BACKOFF=0.05",
]


def page(text: str) -> bytes:
    return f"<!DOCTYPE html><html><head><title>{text}</title></head><body><main><p>{text}</p></main></body></html>".encode()


@pytest.fixture
def sim():
    server, simulator = start_wayback_sim(WaybackSim(SimConfig()))
    yield simulator
    server.shutdown()


def harvest(tmp_path: Path, sim: WaybackSim, sources: list[dict], *extra: str, data: Path | None = None):
    path = tmp_path / "sources.yml"
    path.write_text(yaml.safe_dump({"sources": [{"kind": "vendor", **s} for s in sources]}))
    data = data or tmp_path / "data"
    result = run_cli(
        "crawl",
        "--only",
        "wayback",
        "--sources",
        str(path),
        "--data",
        str(data),
        "-s",
        f"SPYGLASS_WAYBACK_URL={sim.base}",
        *FAST,
        *extra,
    )
    return data, result


def cdx_params(sim: WaybackSim) -> list[dict[str, list[str]]]:
    return [parse_qs(urlsplit(hit.target).query) for hit in sim.hits("/cdx/")]


def test_cdx_queries_follow_each_source_setting(tmp_path, sim):
    sim.add(
        Memento("http://site.test/a", "20100101000000", page("a")),
        Memento("http://site.test/b/", "20160101000000", page("b first second of 2016")),
        Memento("http://site.test/b/x", "20181231235959", page("b last second of 2018")),
        Memento("http://site.test/b/y", "20190101000000", page("b 2019, outside")),
        Memento("http://site.test/b/z", "20151231235959", page("b 2015, outside")),
    )
    data, result = harvest(
        tmp_path,
        sim,
        [
            {"name": "exact", "urls": ["http://site.test/a"], "wayback": True},
            {
                "name": "window",
                "urls": ["http://site.test/b/"],
                "wayback": {"from": 2016, "to": 2018, "match": "prefix"},
            },
        ],
    )
    assert result.returncode == 0, result.stderr
    by_url = {p["url"][0]: p for p in cdx_params(sim)}
    assert by_url["http://site.test/a"]["matchType"] == ["exact"]
    assert "from" not in by_url["http://site.test/a"] and "to" not in by_url["http://site.test/a"]
    window = by_url["http://site.test/b/"]
    assert window["matchType"] == ["prefix"]
    assert (window["from"], window["to"]) == (["20160101000000"], ["20181231235959"])
    for params in by_url.values():
        assert params["filter"] == ["!statuscode:-"] and params["collapse"] == ["digest"]
    got = {(r["source"], r["original_url"]) for r in rows(data, "SELECT * FROM captures")}
    assert got == {
        ("exact", "http://site.test/a"),
        ("window", "http://site.test/b/"),
        ("window", "http://site.test/b/x"),
    }  # from/to are inclusive
    assert "Wayback history of 2 source(s): 3 archived versions fetched" in result.stdout


def test_each_distinct_version_is_fetched_once_and_a_rerun_fetches_nothing(tmp_path, sim):
    url = "http://site.test/page"
    v1, v2, v3 = page("version one"), page("version two"), page("version three")
    sim.add(
        Memento(url, "20160101000000", v1),
        Memento(url, "20160601000000", v1),  # identical snapshot
        Memento(url, "20170101000000", v2, duplicates=2),  # duplicate rows
        Memento(url, "20170601000000", v2, revisit=True),  # revisit row
        Memento(url, "20180101000000", v1),  # same digest again, not adjacent
        Memento(url, "20190101000000", v3),
    )
    assert len(sim.rows) == 8  # N rows, K = 3 distinct digests
    source = [{"name": "history", "urls": [url], "wayback": True, "vendor": "Site"}]
    data, result = harvest(tmp_path, sim, source)
    assert result.returncode == 0, result.stderr
    fetched = sim.hits("/web/")
    assert sorted(h.target for h in fetched) == [
        f"/web/{ts}id_/{url}" for ts in ("20160101000000", "20170101000000", "20190101000000")
    ]
    captures = rows(data, "SELECT * FROM captures ORDER BY wayback_timestamp")
    assert [c["wayback_timestamp"] for c in captures] == [
        "20160101000000",
        "20170101000000",
        "20190101000000",
    ]
    first = captures[0]
    assert first["via"] == "wayback" and first["vendor"] == "Site" and first["status"] == 200
    assert first["memento_at"] == "2016-01-01T00:00:00.000000Z"
    assert first["original_url"] == url
    assert first["url"] == f"{sim.base}/web/20160101000000id_/{url}"
    # Cited from stored values on the public host, never the URL we fetched.
    assert first["snapshot_url"] == f"https://web.archive.org/web/20160101000000/{url}"
    assert first["wayback_digest"] == sha1_base32(v1) and first["wayback_digest_match"] == 1
    assert first["title"] == "version one"
    # The WARC record is our exchange with the Wayback Machine, dated when we fetched it.
    with open(data / "warcs" / first["warc_filename"], "rb") as fh:
        fh.seek(first["warc_offset"])
        record = next(iter(ArchiveIterator(fh)))
        assert record.rec_headers.get_header("WARC-Target-URI") == first["url"]
        assert record.rec_headers.get_header("WARC-Date") == first["captured_at"]
        assert record.rec_headers.get_header("WARC-Spyglass-Original-URI") == url
        assert record.http_headers.get_header("Memento-Datetime") == "Fri, 01 Jan 2016 00:00:00 GMT"
        assert record.raw_stream.read() == v1
    assert first["captured_at"] > "2020"

    again, result = harvest(tmp_path, sim, source, data=data)
    assert result.returncode == 0, result.stderr
    assert len(sim.hits("/web/")) == 3  # nothing fetched a second time
    [second_run] = rows(data, "SELECT * FROM crawl_runs WHERE id = 2")
    assert (second_run["spider"], second_run["status"], second_run["pages"]) == ("wayback", "finished", 0)
    assert run_cli("verify", "--data", str(data)).returncode == 0


def test_resume_keys_are_followed_to_the_end_without_loss_or_duplicates(tmp_path, sim):
    expected = set()
    for n, path in enumerate(["/p/a", "/p/b", "/p/c"]):
        for year in (2015, 2016, 2017):
            url = f"http://site.test{path}"
            ts = f"{year}0{n + 1}01000000"
            sim.add(Memento(url, ts, page(f"{path} {year}")))
            expected.add((url, ts))
    data, result = harvest(
        tmp_path,
        sim,
        [{"name": "paged", "urls": ["http://site.test/p/"], "wayback": {"match": "prefix"}}],
        "-s",
        "SPYGLASS_WAYBACK_CDX_PAGE_SIZE=2",
    )
    assert result.returncode == 0, result.stderr
    queries = cdx_params(sim)
    assert len(queries) == 5 and "resumeKey" not in queries[0]
    assert all("resumeKey" in q for q in queries[1:])
    got = [(r["original_url"], r["wayback_timestamp"]) for r in rows(data, "SELECT * FROM captures")]
    assert len(got) == len(expected) and set(got) == expected


PAUSE, ON_THE_WIRE = 3.0, 1.0


def test_a_429_pauses_the_harvest_which_then_completes(tmp_path):
    server, sim = start_wayback_sim(WaybackSim(SimConfig(window_seconds=1.0, cdx_per_window=2)))
    try:
        urls = [f"http://site.test/r{n}" for n in range(4)]
        for n, url in enumerate(urls):
            sim.add(Memento(url, f"2018010{n + 1}000000", page(url)))
        # Our budget (5 a second) is above the simulator's (2 a second): it answers 429.
        data, result = harvest(
            tmp_path,
            sim,
            [{"name": "limited", "urls": urls, "wayback": True}],
            "-s",
            "SPYGLASS_WAYBACK_CDX_PER_WINDOW=5",
            "-s",
            "SPYGLASS_WAYBACK_WINDOW=1",
            "-s",
            "CONCURRENT_REQUESTS_PER_DOMAIN=1",
            "-s",
            f"SPYGLASS_WAYBACK_PAUSE_ON_429={PAUSE}",
        )
    finally:
        server.shutdown()
    assert result.returncode == 0, result.stderr
    log = sim.log
    limited = [entry for entry in log if entry.status == 429]
    assert limited, "the simulator never answered 429"
    first = limited[0].at
    # A request already on the wire when the 429 was sent may land just after it: on a 2-core
    # machine at load average 20 one landed within the second after it. Nothing is sent in the rest.
    during = [e for e in log if first + ON_THE_WIRE < e.at < first + PAUSE]
    assert not during, f"a request was sent during the pause: {during}"
    assert {r["original_url"] for r in rows(data, "SELECT * FROM captures")} == set(urls)
    assert rows(data, "SELECT * FROM fetch_errors") == []


def test_failures_and_the_banner_page_become_recorded_errors_and_fetched_versions_are_kept(tmp_path, sim):
    good, storm, cut = "http://site.test/good", "http://site.test/storm", "http://site.test/cut"
    bannered = "http://site.test/bannered"
    blocked, excluded, moved = (
        "http://site.test/blocked",
        "http://site.test/excluded",
        "http://site.test/moved",
    )
    sim.add(
        Memento(good, "20170101000000", page("good 1")),
        Memento(good, "20180101000000", page("good 2")),
        Memento(storm, "20170101000000", page("storm")),
        Memento(cut, "20170101000000", page("cut")),
        Memento(blocked, "20170101000000", page("blocked")),
        Memento(excluded, "20170101000000", page("excluded")),
        Memento(bannered, "20170101000000", page("original bytes")),
        # An archived redirect with a scheme-less Location: kept as the 302 it was, not followed.
        Memento(moved, "20170101000000", b"", status=302, headers=[("Location", "//elsewhere.test/new")]),
    )
    sim.add_row_without_memento(good, "20190101000000", "PHANTOMDIGEST")  # replay redirects elsewhere
    sim.inject(f"id_/{storm}", "503", times=100)
    sim.inject(f"id_/{cut}", "truncate", times=100)
    sim.block(blocked)
    sim.exclude(excluded)
    sim.serve_banner(bannered)  # a replay that ignores id_ and rewrites the page
    urls = [good, storm, cut, blocked, excluded, moved, bannered]
    data, result = harvest(tmp_path, sim, [{"name": "trouble", "wayback": True, "urls": urls}])
    assert result.returncode == 0, result.stderr
    kept = {
        (r["original_url"], r["wayback_timestamp"], r["status"]) for r in rows(data, "SELECT * FROM captures")
    }
    assert kept == {
        (good, "20170101000000", 200),
        (good, "20180101000000", 200),
        (moved, "20170101000000", 302),
    }
    [redirect] = rows(data, "SELECT * FROM captures WHERE original_url = ?", (moved,))
    assert redirect["location"] == "//elsewhere.test/new"
    assert not [h for h in sim.log if "elsewhere" in h.target]
    errors = {
        (r["url"].split("id_/")[-1] if "id_/" in r["url"] else r["url"], r["error_type"]): r["reason"]
        for r in rows(data, "SELECT * FROM fetch_errors")
    }
    assert set(errors) == {
        (storm, "wayback-503"),
        (cut, "wayback-truncated"),
        (blocked, "wayback-blocked"),
        (excluded, "wayback-excluded"),
        (good, "wayback-inexact"),
        (bannered, "wayback-inexact"),
    }
    assert errors[(storm, "wayback-503")] == "the Wayback Machine answered HTTP 503 3 times; gave up"
    assert "no capture at 20190101000000" in errors[(good, "wayback-inexact")]
    assert "found capture at 2018" in errors[(good, "wayback-inexact")]
    # The banner page is never archived as the original.
    assert "banner" in errors[(bannered, "wayback-inexact")]
    assert len([h for h in sim.log if f"id_/{storm}" in h.target]) == 3  # 1 try + 2 slow retries
    # The inexact timestamp is never stored as the memento asked for.
    assert not rows(data, "SELECT * FROM captures WHERE wayback_timestamp = '20190101000000'")

    # Once the service recovers, a re-run fetches only what is still missing.
    sim.injections.clear()
    sim.banner_for_id_.clear()
    before = len(sim.hits("/web/"))
    harvest(tmp_path, sim, [{"name": "trouble", "wayback": True, "urls": urls}], data=data)
    again = {h.target.split("id_/")[-1] for h in sim.hits("/web/")[before:]}
    assert again == {storm, cut, excluded, good, bannered}  # good: only its inexact row is retried
    assert len(rows(data, "SELECT * FROM captures")) == 6
    [original] = rows(data, "SELECT * FROM captures WHERE original_url = ?", (bannered,))
    assert original["text"] == "original bytes" and original["wayback_digest_match"] == 1
