"""`spyglass verify` on WARC files cut at many offsets: always a report, never a traceback."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from archive.archive import Archive
from archive.demo.server import Incoming, LoopbackServer, Reply
from archive.evidence.verify import verify_report
from archive.warc.read import gzip_members

from .conftest import db_rows, run_cli


def small_site(request: Incoming) -> Reply:
    if request.path == "/":
        return Reply(body=b"<html><title>Home</title><a href='/moved'>m</a><a href='/page'>p</a></html>")
    if request.path == "/moved":
        return Reply(301, headers=[("Location", "/page")], content_type=None)
    if request.path == "/page":
        return Reply(body=b"<html><title>Page</title><p>" + b"evidence " * 200 + b"</p></html>")
    return Reply(404, b"not found")


@pytest.fixture(scope="module")
def small_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cuts")
    with LoopbackServer(small_site) as server:
        sources = root / "sources.yml"
        sources.write_text(
            yaml.safe_dump(
                {
                    "sources": [
                        {
                            "name": "small",
                            "kind": "vendor",
                            "urls": [f"{server.url}/"],
                            "robots": False,
                            "allow_private": ["127.0.0.1"],
                        }
                    ]
                }
            )
        )
        run_cli("crawl", "--sources", str(sources), "--data", str(root / "data"), check=True)
    return root / "data"


def cut_points(path: Path) -> list[int]:
    """Offsets in every record: inside the gzip header, the WARC and HTTP headers, the body, its end."""
    points = set()
    for member in gzip_members(path):
        for inside in (1, 9, 14, 40, 90, 160, member.length // 3, member.length // 2, member.length - 1):
            if 0 < inside < member.length:
                points.add(member.offset + inside)
        points.add(member.offset)  # a cut between records
    return sorted(points)


def test_verify_reports_every_cut_and_names_every_capture_it_affects(small_archive: Path, tmp_path: Path):
    rows = [dict(r) for r in db_rows(small_archive, "SELECT * FROM captures ORDER BY id")]
    assert any(r["status"] == 301 for r in rows)  # a body-less record is among them
    [filename] = {r["warc_filename"] for r in rows}
    original = (small_archive / "warcs" / filename).read_bytes()
    members = list(gzip_members(small_archive / "warcs" / filename))
    data = tmp_path / "data"
    shutil.copytree(small_archive, data)
    path = data / "warcs" / filename
    points = cut_points(path)
    assert len(points) > 40
    for cut in points:
        path.write_bytes(original[:cut])
        report = verify_report(Archive(data))  # an exception here fails the test
        lines = [p.line() for p in report.problems]
        record_start = max(m.offset for m in members if m.offset <= cut)
        named = {p.capture_id for p in report.problems}
        lost = [r for r in rows if r["warc_offset"] >= record_start]
        assert lines or (cut == record_start and not lost), f"cut at {cut}: nothing reported"
        assert {r["id"] for r in lost} <= named, f"cut at {cut}: {lines}"
        if cut == record_start:
            continue  # between records: the later captures' records are missing
        [truncated] = [line for line in lines if "WARC file is truncated" in line]
        assert f"{filename}:{record_start}" in truncated
        before = [m for m in members if m.offset < record_start]
        assert ("the last intact record is " in truncated) == bool(before), truncated
        for row in lost:
            assert f"capture {row['id']} ({row['url']})" in truncated, truncated
    # The command line says the same in readable lines, whatever the cut.
    path.write_bytes(original[: members[1].offset + 14])  # inside a record's gzip header
    result = run_cli("verify", "--data", str(data))
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert "WARC file is truncated" in result.stderr
