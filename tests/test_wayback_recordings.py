"""Every recorded exchange with the real Wayback Machine, replayed on loopback, handled without a crash.

The recordings (tests/data/wayback-recordings, BSD-3 from EDGI's `wayback`)
are served by tests/servers/wayback_replay.py; the real wayback spider harvests one
source per recording in one `spyglass crawl --only wayback`.
"""

from __future__ import annotations

import gzip
import sqlite3

import pytest
import yaml

from archive.errors import ExcludedError, MementoMismatchError, NotArchivedError
from archive.warc.digests import sha1_base32
from archive.wayback.client import check_memento, parse_cdx, surt
from tests.servers.wayback_replay import load_cassette, start_replay

from .conftest import ROOT, run_cli

RECORDINGS = ROOT / "tests" / "data" / "wayback-recordings"
CASSETTES = sorted(RECORDINGS.glob("*.yaml"))
BIRDS = (RECORDINGS / "fws-gov-birds.txt").read_bytes()
EPA = "https://www.epa.gov/ghgreporting/"
NEW_EPA = EPA + "proposed-rule-fact-sheet-greenhouse-gas-reporting-program-addition-global-warming"

# The memento recordings have no CDX answer: these rows stand in for the index.
CDX_TEXTS = {
    "https://www.fws.gov/birds/": f"gov,fws)/birds 20171124151315 https://www.fws.gov/birds/ text/html 200 "
    f"{sha1_base32(BIRDS)} {len(BIRDS)}\n",
    "https://nationalpost.com/health/": "com,nationalpost)/health 20170929002712 https://nationalpost.com/health/ "
    "text/html 200 AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA 1000\n",
    "https://this-is-not-real-url.whatever/": "whatever,this-is-not-real-url)/ 20170929002712 "
    "https://this-is-not-real-url.whatever/ text/html 200 "
    "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB 1000\n",
    EPA: f"gov,epa)/ghgreporting/san5779-factsheet 20180808094144 {EPA}san5779-factsheet text/html 301 "
    f"CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC 0\n"
    f"gov,epa)/ghgreporting/x 20180808094144 {NEW_EPA} text/html 200 DDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDD 40310\n"
    f"gov,epa)/ghgreporting/x 20180808104500 {NEW_EPA} text/html 200 EEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEE 40310\n",
    "http://recorded.test/malformed": (RECORDINGS / "malformed_cdx.txt").read_text(),
    "http://recorded.test/bad-timestamps": (RECORDINGS / "bad_timestamp_cdx.txt").read_text(),
    "http://recorded.test/no-lengths": (RECORDINGS / "zero_length_cdx.txt").read_text(),
}

SOURCES = [
    {"name": "fws", "urls": ["https://www.fws.gov/birds/"], "wayback": True},
    {"name": "nationalpost", "urls": ["https://nationalpost.com/health/"], "wayback": True},
    {"name": "not-real", "urls": ["https://this-is-not-real-url.whatever/"], "wayback": True},
    {"name": "epa", "urls": [EPA], "wayback": {"match": "prefix"}},
    {"name": "nasa-1996", "urls": ["http://nasa.gov"], "wayback": {"from": 199610, "to": 199702}},
    {"name": "nasa-tz", "urls": ["http://nasa.gov"], "wayback": {"from": 19961231235847}},
    {
        "name": "nasa-prefix",
        "urls": ["http://nasa.gov/"],
        "wayback": {"from": 2022, "to": 2022, "match": "prefix"},
    },
    {"name": "dw", "urls": ["http://dw.com"], "wayback": {"from": 20191001, "to": 20200301}},
    {"name": "malformed", "urls": ["http://recorded.test/malformed"], "wayback": True},
    {"name": "bad-timestamps", "urls": ["http://recorded.test/bad-timestamps"], "wayback": True},
    {"name": "no-lengths", "urls": ["http://recorded.test/no-lengths"], "wayback": True},
    {"name": "empty", "urls": ["http://recorded.test/never-archived"], "wayback": True},
]


def body_of(recorded) -> bytes:
    encoded = dict((k.lower(), v) for k, v in recorded.headers).get("content-encoding") == "gzip"
    return gzip.decompress(recorded.body) if encoded and recorded.body else recorded.body


@pytest.fixture(scope="module")
def harvested(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("recordings")
    server, replay = start_replay(CASSETTES, {k: v.encode() for k, v in CDX_TEXTS.items()})
    sources = tmp / "sources.yml"
    sources.write_text(yaml.safe_dump({"sources": [{"kind": "vendor", **s} for s in SOURCES]}))
    try:
        result = run_cli(
            "crawl",
            "--only",
            "wayback",
            "--sources",
            str(sources),
            "--data",
            str(tmp / "data"),
            "-s",
            f"SPYGLASS_WAYBACK_URL={server.url}",
            "-s",
            "SPYGLASS_WAYBACK_WINDOW=0.05",
            "-s",
            "SPYGLASS_WAYBACK_RETRY_BACKOFF=0.05",
        )
    finally:
        server.stop()
    conn = sqlite3.connect(tmp / "data" / "spyglass.db")
    conn.row_factory = sqlite3.Row
    yield result, conn, replay
    conn.close()


def by_source(conn, table: str, source: str) -> list[sqlite3.Row]:
    return conn.execute(f"SELECT * FROM {table} WHERE source = ? ORDER BY id", (source,)).fetchall()


def test_every_run_finishes(harvested):
    result, conn, _ = harvested
    assert result.returncode == 0, result.stdout + result.stderr
    runs = conn.execute("SELECT source, status FROM crawl_runs").fetchall()
    assert sorted(r["source"] for r in runs) == sorted(s["name"] for s in SOURCES)
    assert {r["status"] for r in runs} == {"finished"}


def test_recorded_mementos_become_captures_or_named_errors(harvested):
    _, conn, _ = harvested
    [birds] = by_source(conn, "captures", "fws")
    assert birds["memento_at"] == "2017-11-24T15:13:15.000000Z" and birds["status"] == 200
    assert birds["wayback_digest_match"] == 1 and birds["original_url"] == "https://www.fws.gov/birds/"
    assert birds["snapshot_url"] == "https://web.archive.org/web/20171124151315/https://www.fws.gov/birds/"
    assert [e["error_type"] for e in by_source(conn, "fetch_errors", "nationalpost")] == ["wayback-excluded"]
    assert [e["error_type"] for e in by_source(conn, "fetch_errors", "not-real")] == ["wayback-not-archived"]
    epa = {
        (c["original_url"], c["wayback_timestamp"], c["status"]) for c in by_source(conn, "captures", "epa")
    }
    assert epa == {(EPA + "san5779-factsheet", "20180808094144", 301), (NEW_EPA, "20180808104500", 200)}
    [inexact] = by_source(conn, "fetch_errors", "epa")
    assert (
        inexact["error_type"] == "wayback-inexact" and "found capture at 20180808104500" in inexact["reason"]
    )


@pytest.mark.parametrize(
    "source,cassette",
    [
        ("nasa-1996", "test_search.yaml"),
        ("nasa-tz", "test_search_with_timezone.yaml"),
        ("nasa-prefix", "test_search_with_filter.yaml"),
        ("dw", "test_search_with_date.yaml"),
    ],
)
def test_recorded_cdx_answers_give_one_fetch_per_distinct_version(harvested, source, cassette):
    _, conn, replay = harvested
    # Pages the spider walks: the first recorded answer, then each resume key's.
    pages = [r for r in load_cassette(RECORDINGS / cassette) if r.path.startswith("/cdx/")]
    spec = next(s for s in SOURCES if s["name"] == source)
    if source != "dw":
        pages = [r for r in pages if "resumeKey" not in r.params][:1]
        if source == "nasa-tz":
            pages = [r for r in pages if r.params["from"] == ["19961231235847"]]
    versions: set[tuple[str, str]] = set()
    snapshots: set[tuple[str, str]] = set()
    for record in (r for p in pages for r in parse_cdx(body_of(p).decode()).records if not r.is_revisit):
        # The real index lists some snapshots twice, one timestamp with two digests: one fetch.
        version, snapshot = (surt(record.original), record.digest), (surt(record.original), record.timestamp)
        if version not in versions and snapshot not in snapshots:
            versions.add(version)
            snapshots.add(snapshot)
    errors = by_source(conn, "fetch_errors", source)
    # These snapshots were not recorded: each distinct version was asked for once, and said so.
    assert len(errors) == len(snapshots) > 0
    assert {e["error_type"] for e in errors} == {"wayback-not-archived"}
    assert by_source(conn, "captures", source) == []
    assert spec["urls"]


def test_resume_keys_of_the_recording_are_followed_verbatim(harvested):
    _, _, replay = harvested
    recorded = [
        r.params["resumeKey"][0]
        for r in load_cassette(RECORDINGS / "test_search_with_date.yaml")
        if "resumeKey" in r.params
    ]
    sent = [
        req for req in replay.requests if req.startswith("/cdx/") and "dw.com" in req and "resumeKey" in req
    ]
    assert len(sent) == len(recorded) == 2
    from urllib.parse import parse_qs, urlsplit

    assert [parse_qs(urlsplit(s).query)["resumeKey"][0] for s in sent] == recorded


def test_malformed_cdx_lines_are_recorded_and_the_rest_harvested(harvested):
    _, conn, _ = harvested
    malformed = by_source(conn, "fetch_errors", "malformed")
    assert [e["error_type"] for e in malformed].count("cdx-malformed") == 1
    assert "some/not/even/url/thing" in next(
        e["reason"] for e in malformed if e["error_type"] == "cdx-malformed"
    )
    bad = [e for e in by_source(conn, "fetch_errors", "bad-timestamps") if e["error_type"] == "cdx-malformed"]
    assert len(bad) == 2 and all("impossible timestamp" in e["reason"] for e in bad)
    lengths = by_source(conn, "fetch_errors", "no-lengths")
    assert len(lengths) == 5 and {e["error_type"] for e in lengths} == {"wayback-not-archived"}
    [empty] = by_source(conn, "fetch_errors", "empty")
    assert empty["error_type"] == "wayback-none" and "empty" in empty["reason"]


@pytest.mark.parametrize("cassette", [c.name for c in CASSETTES])
def test_every_recorded_answer_is_understood_by_the_client(cassette):
    for recorded in load_cassette(RECORDINGS / cassette):
        body = body_of(recorded)
        if recorded.path.startswith("/cdx/"):
            page = parse_cdx(body.decode("utf-8"))
            lines = [line for line in body.decode().split("\n\n")[0].split("\n") if line]
            assert len(page.records) + len(page.problems) == len(lines)
            continue
        headers = {k.lower(): v for k, v in recorded.headers}
        stamp = recorded.path.split("/")[2].rstrip("id_")
        try:
            moment = check_memento(recorded.status, headers, body, stamp)
        except ExcludedError:
            assert "blocked" in cassette
        except NotArchivedError:
            assert "no_memento" in cassette
        except MementoMismatchError as exc:
            # The rewritten page (banner) and the 302 to another time are never mementos.
            assert "id_" not in recorded.path or recorded.status == 302, exc
        else:
            assert "id_" in recorded.path and moment.strftime("%Y%m%d%H%M%S") == stamp
