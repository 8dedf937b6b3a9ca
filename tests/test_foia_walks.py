"""The MuckRock shape both ways a portal lists a communication's files, and a walk that finds none."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from archive.atlas.records_links import records_walk
from archive.demo.muckrock_api import SHERIFF
from tests.servers.records_apis import start_records_apis
from tests.servers.redis_server import redis_server

from .conftest import db_rows as rows
from .conftest import run_cli

SOURCES = """
sources:
  - name: muckrock
    kind: records
    allow_private: [127.0.0.1]
    urls: ["{base}/api_v2/requests/?search=recognize"]
    walk: {{shape: muckrock}}
"""


def crawl_portal(files_by: str, root: Path, *more: str) -> tuple[str, Path, object]:
    """Crawl a MuckRock stand-in whose communications list their files `files_by` one way."""
    servers = start_records_apis(files_by=files_by)
    try:
        sources = root / "sources.yml"
        sources.write_text(SOURCES.format(base=servers.url))
        data = root / "data"
        result = run_cli(
            "crawl",
            "--sources",
            str(sources),
            "--data",
            str(data),
            *more,
            env={"SPYGLASS_MUCKROCK_PER_MINUTE": "6000"},
        )
        assert result.returncode == 0, result.stderr
        return result.stdout + result.stderr, data, servers.url
    finally:
        servers.stop()


def test_files_listed_by_communication_are_found_and_linked_to_it(tmp_path: Path):
    out, data, base = crawl_portal("endpoint", tmp_path)
    delivered = rows(
        data,
        "SELECT c.key, l.cite_url, l.document_id FROM communication_files f "
        "JOIN communications c ON c.id = f.communication_id JOIN document_links l ON l.id = f.link_id "
        "ORDER BY l.cite_url",
    )
    assert [(d["key"], d["cite_url"]) for d in delivered] == [
        ("603", f"{base}/api_v2/files/81/"),
        ("603", f"{base}/api_v2/files/82/"),
    ]
    assert all(d["document_id"] for d in delivered)
    [run] = rows(data, "SELECT status FROM crawl_runs")
    assert run["status"] == "finished", out


def test_a_walk_that_finds_requests_but_no_files_is_partial_and_says_where_it_looked(tmp_path: Path):
    out, data, base = crawl_portal("nowhere", tmp_path)
    [run] = rows(data, "SELECT status, finish_reason FROM crawl_runs")
    reason = f"3 communications led to no files (tried {base}/api_v2/files/?communication=601)"
    assert (run["status"], run["finish_reason"]) == ("partial", reason)
    assert f"muckrock: partial ({reason})" in out
    assert "found 3 requests, 2 releases, 3 communications, 0 files" in out


def test_a_records_walk_in_redis_mode_reports_what_it_found_as_a_local_run_does(tmp_path: Path):
    # Records walks run in the seeding command (archive/cluster/jobs.py SHARED_SPIDERS), beside
    # the ingest of the workers' rows: their run rows and summaries must be those of a local run.
    with redis_server(tmp_path / "redis") as url:
        out, data, base = crawl_portal("nowhere", tmp_path, "--redis", url)
    [run] = rows(data, "SELECT status, finish_reason, found FROM crawl_runs")
    reason = f"3 communications led to no files (tried {base}/api_v2/files/?communication=601)"
    assert (run["status"], run["finish_reason"]) == ("partial", reason)
    assert json.loads(run["found"]) == {"requests": 3, "releases": 2, "communications": 3, "files": 0}
    assert f"muckrock: partial ({reason})" in out
    assert "found 3 requests, 2 releases, 3 communications, 0 files" in out


def test_an_atlas_link_to_one_request_is_walked_from_its_record(tmp_path: Path, records_portal):
    base, _ = records_portal
    walk = records_walk("https://www.muckrock.com/foi/clearwater-county-301/face-search-audit-logs-7001/")
    assert walk is not None and walk["urls"] == ["https://www.muckrock.com/api_v2/requests/7001/"]
    entry = {
        "name": "one-request",
        "kind": "records",
        "allow_private": ["127.0.0.1"],
        "urls": [f"{base}/api_v2/requests/7001/"],  # the same record on the demo's stand-in
        "walk": walk["walk"],
    }
    sources = tmp_path / "sources.yml"
    sources.write_text(yaml.safe_dump({"sources": [entry]}))
    data = tmp_path / "data"
    env = {"SPYGLASS_MUCKROCK_PER_MINUTE": "6000"}
    run_cli("crawl", "--sources", str(sources), "--data", str(data), env=env, check=True)
    [release] = rows(data, "SELECT * FROM releases")
    assert (release["reference"], release["agency"]) == ("CCSO-PRR-2018-0051", SHERIFF)
    assert len(rows(data, "SELECT * FROM communications")) == 3
    assert len(rows(data, "SELECT * FROM communication_files")) == 2
