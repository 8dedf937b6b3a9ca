"""`spyglass verify --since`: only what was added since the last clean verify is read, yet a
tampered new record and an edited old row are still found; the progress output stays plain
off a terminal; a file walked in stretches on threads reads as it does in one piece."""

from __future__ import annotations

import io
import shutil
import sqlite3
import zlib
from pathlib import Path

import pytest
import yaml

from archive.archive import Archive
from archive.cli.progress import Bar
from archive.demo.server import Incoming, LoopbackServer, Reply
from archive.evidence import walk
from archive.evidence.verify import verify_report
from archive.warc.read import gzip_members

from .conftest import db_rows, run_cli

VERSION = {"n": 1}


def changing_site(request: Incoming) -> Reply:
    if request.path == "/":
        return Reply(body=b"<html><title>Home</title><a href='/page'>p</a></html>")
    if request.path == "/page":
        body = f"<html><title>Page</title><p>version {VERSION['n']} " + "evidence " * 300 + "</p></html>"
        return Reply(body=body.encode())
    return Reply(404, b"not found")


@pytest.fixture(scope="module")
def two_crawls(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, set[str]]:
    """An archive crawled, verified, and crawled again with the page changed: (clean copy
    after the first verify, the archive after the second crawl, the WARC files the first held)."""
    root = tmp_path_factory.mktemp("since")
    data = root / "data"
    with LoopbackServer(changing_site) as server:
        sources = root / "sources.yml"
        source = {"name": "small", "kind": "vendor", "urls": [f"{server.url}/"], "robots": False}
        sources.write_text(yaml.safe_dump({"sources": [{**source, "allow_private": ["127.0.0.1"]}]}))
        crawl = ("crawl", "--sources", str(sources), "--data", str(data))
        run_cli(*crawl, check=True)
        run_cli("verify", "--data", str(data), check=True)
        first = {p.name for p in (data / "warcs").glob("*.warc.gz")}
        VERSION["n"] = 2
        run_cli(*crawl, check=True)
    return data, root, first


@pytest.fixture
def archive(two_crawls: tuple[Path, Path, set[str]], tmp_path: Path) -> tuple[Path, set[str]]:
    data, _, first = two_crawls
    copy = tmp_path / "data"
    shutil.copytree(data, copy)
    return copy, first


def _fails(result) -> list[str]:
    assert result.returncode == 1, result.stdout + result.stderr
    return [line for line in result.stderr.splitlines() if line.startswith("FAIL ")]


def test_since_reads_only_the_new_files(archive: tuple[Path, set[str]]):
    data, first = archive
    new = [p for p in (data / "warcs").glob("*.warc.gz") if p.name not in first]
    assert new, "the second crawl wrote a WARC file of its own"
    new_records = sum(1 for p in new for _ in gzip_members(p))
    result = run_cli("verify", "--data", str(data), "--since")
    assert result.returncode == 0, result.stderr
    assert f"--since: read {new_records} records (" in result.stdout
    assert "the hash chain was checked end to end" in result.stdout
    [last] = db_rows(data, "SELECT * FROM verify_runs ORDER BY id DESC LIMIT 1")
    assert last["since_run"] is not None and last["problems"] == 0
    assert last["bytes"] == sum(p.stat().st_size for p in new)
    # Nothing added since: nothing read, and still every check of the rows and chain.
    again = run_cli("verify", "--data", str(data), "--since")
    assert again.returncode == 0 and "--since: read 0 records (0.0 MB)" in again.stdout


def _tamper_last_response(path: Path) -> None:
    """Change the payload of the last response record in `path`, its digests left as they were;
    stored uncompressed, so the file grows."""
    members = list(gzip_members(path))
    [member] = [m for m in members if b"WARC-Type: response" in m.data and b"evidence" in m.data][-1:]
    altered = member.data.replace(b"evidence", b"EVIDENCE", 1)
    comp = zlib.compressobj(0, zlib.DEFLATED, 31)
    raw = path.read_bytes()
    end = member.offset + member.length
    path.write_bytes(raw[: member.offset] + comp.compress(altered) + comp.flush() + raw[end:])


def test_since_catches_a_tampered_new_record(archive: tuple[Path, set[str]]):
    data, first = archive
    [new] = [p for p in (data / "warcs").glob("*.warc.gz") if p.name not in first]
    _tamper_last_response(new)
    lines = _fails(run_cli("verify", "--data", str(data), "--since"))
    assert any(f"at {new.name}:" in line and "payload SHA-256 is" in line for line in lines), lines


def test_since_still_checks_the_whole_hash_chain(archive: tuple[Path, set[str]]):
    data, _ = archive
    conn = sqlite3.connect(data / "spyglass.db")
    with conn:
        conn.execute("DROP TRIGGER captures_append_only_update")
        conn.execute("UPDATE captures SET title = 'forged' WHERE id = 1")
    conn.close()
    lines = _fails(run_cli("verify", "--data", str(data), "--since"))
    assert any(line.startswith("FAIL capture 1 ") and "row was edited" in line for line in lines), lines


def test_since_names_an_old_file_whose_records_moved(archive: tuple[Path, set[str]]):
    """Records a clean verify read are not read again, but a file rewritten before the point it
    stopped at no longer has a record starting there, and --since says so."""
    data, first = archive
    [old] = sorted(first)
    size = (data / "warcs" / old).stat().st_size
    _tamper_last_response(data / "warcs" / old)
    assert (data / "warcs" / old).stat().st_size > size
    lines = _fails(run_cli("verify", "--data", str(data), "--since"))
    assert any(f"at {old}:{size}: no record starts at byte {size}" in line for line in lines), lines
    assert any("payload SHA-256 is" in line for line in _fails(run_cli("verify", "--data", str(data))))


def test_progress_is_one_plain_line_off_a_terminal(archive: tuple[Path, set[str]]):
    data, _ = archive
    result = run_cli("verify", "--data", str(data))
    assert result.returncode == 0, result.stderr
    assert "\r" not in result.stderr and "\r" not in result.stdout
    [line] = result.stderr.splitlines()
    assert line.startswith("verify: WARC files read: ") and line.endswith(" s")
    assert result.stdout.startswith("OK: ")


def test_bar_on_a_terminal_redraws_in_place():
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = Terminal()
    bar = Bar("verify", stream=out)
    bar.start(2_000_000)
    bar.advance(1_000_000)
    bar.finish()
    text = out.getvalue()
    assert text.startswith("\rverify [") and text.endswith("\n")
    assert "100%  2.0/2.0 MB" in text.splitlines()[-1]


def test_stretches_on_threads_read_as_one_piece(archive: tuple[Path, set[str]], monkeypatch):
    data, first = archive
    whole = verify_report(Archive(data))
    assert whole.problems == []
    monkeypatch.setattr(walk, "STRETCH_BYTES", 1)  # as many stretches as the threads allow
    split = verify_report(Archive(data))
    assert (split.records, split.problems) == (whole.records, [])
    _tamper_last_response(data / "warcs" / sorted(first)[0])
    damaged = verify_report(Archive(data))
    assert any("payload SHA-256 is" in p.message for p in damaged.problems)


def test_the_fast_reading_agrees_with_warcio_and_leaves_every_failure_to_it(archive: tuple[Path, set[str]]):
    from archive.warc.checked import checked_record
    from archive.warc.digests import sha256_hex
    from archive.warc.read import record_at

    data, _ = archive
    members = [m for p in sorted((data / "warcs").glob("*.warc.gz")) for m in gzip_members(p)]
    kinds = set()
    for member in members:
        fast, slow = checked_record(member.data), record_at(io.BytesIO(member.data), 0)
        assert fast is not None and slow is not None and not slow.digest_failures
        kinds.add(fast.warc_type)
        assert (fast.warc_type, fast.record_id, fast.url, fast.date) == (
            slow.warc_type,
            slow.record_id,
            slow.url,
            slow.date,
        )
        assert fast.payload == slow.payload and fast.payload_sha256 == sha256_hex(slow.payload)
        if slow.warc_type == "response":
            assert fast.http_status == slow.http_status
        if slow.warc_type != "revisit" and b"evidence" in member.data:
            altered = member.data.replace(b"evidence", b"EVIDENCE", 1)
            assert checked_record(altered) is None
            assert record_at(io.BytesIO(altered), 0).digest_failures
    assert {"warcinfo", "request", "response", "revisit"} <= kinds
