"""The MuckRock shape both ways a portal lists a communication's files, and a walk that finds none."""

from __future__ import annotations

from pathlib import Path

from tests.servers.records_apis import start_records_apis

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


def crawl_portal(files_by: str, root: Path) -> tuple[str, Path, object]:
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
            env={"SPYGLASS_MUCKROCK_PER_MINUTE": "6000"},
        )
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
    assert "found 3 requests, 3 communications, 0 files" in out
