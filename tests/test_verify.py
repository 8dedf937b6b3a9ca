"""Tamper evidence: `spyglass verify` names each kind of change, and the hash chain itself."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from archive.index import chain
from archive.index.captures import save_captures
from archive.index.db import open_db
from archive.index.migrations import migrations

from .conftest import db_rows as query
from .conftest import run_cli


@pytest.fixture
def archive_copy(crawled, tmp_path: Path) -> Path:
    data = tmp_path / "data"
    shutil.copytree(crawled["data"], data)
    return data


def tamper(data: Path, *statements: str) -> None:
    """Run SQL through a connection that first drops the append-only triggers."""
    conn = sqlite3.connect(data / "spyglass.db")
    with conn:
        conn.execute("DROP TRIGGER captures_append_only_update")
        conn.execute("DROP TRIGGER captures_append_only_delete")
        for sql in statements:
            conn.execute(sql)
    conn.close()


def failures(data: Path) -> list[str]:
    result = run_cli("verify", "--data", str(data))
    assert result.returncode == 1, result.stdout + result.stderr
    return [line for line in result.stderr.splitlines() if line.startswith("FAIL ")]


def test_untouched_archive_passes_with_chain_and_file_checks(archive_copy: Path):
    result = run_cli("verify", "--data", str(archive_copy))
    assert result.returncode == 0, result.stderr
    assert "hash chain intact" in result.stdout
    assert "WARC files with valid digests" in result.stdout
    rows = [dict(r) for r in query(archive_copy, "SELECT * FROM captures ORDER BY id")]
    assert rows[0]["prev_hash"] == chain.GENESIS
    assert all(b["prev_hash"] == a["row_hash"] for a, b in zip(rows, rows[1:]))


def test_edited_row_text_is_named(archive_copy: Path):
    [faq] = query(archive_copy, "SELECT id, url FROM captures WHERE via = 'live' AND url LIKE '%/faqs/'")
    tamper(archive_copy, f"UPDATE captures SET text = 'nothing about tracking' WHERE id = {faq['id']}")
    [line] = failures(archive_copy)
    assert line.startswith(
        f"FAIL capture {faq['id']} ({faq['url']}) at index row: row was edited after it was written"
    )


def test_deleted_row_is_named_and_its_record_is_orphaned(archive_copy: Path):
    [victim] = query(archive_copy, "SELECT * FROM captures WHERE via = 'live' AND url LIKE '%/pricing/'")
    last = query(archive_copy, "SELECT max(id) AS id FROM captures")[0]["id"]
    assert victim["id"] < last
    tamper(archive_copy, f"DELETE FROM captures WHERE id = {victim['id']}")
    lines = failures(archive_copy)
    assert len(lines) == 2, lines
    assert f"FAIL capture {victim['id'] + 1} " in lines[0]
    assert f": capture(s) {victim['id']} deleted: " in lines[0]
    assert lines[1].startswith(
        f"FAIL archive ({victim['url']}) at {victim['warc_filename']}:{victim['warc_offset']}: "
    )
    assert f"record {victim['warc_record_id']} is in no capture row" in lines[1]


def test_deleting_the_newest_row_still_shows(archive_copy: Path):
    [victim] = query(archive_copy, "SELECT * FROM captures ORDER BY id DESC LIMIT 1")
    tamper(archive_copy, f"DELETE FROM captures WHERE id = {victim['id']}")
    [line] = failures(archive_copy)
    assert f"at {victim['warc_filename']}:{victim['warc_offset']}: " in line
    assert f"{victim['warc_record_id']} is in no capture row" in line


def test_inserted_row_is_named(archive_copy: Path):
    [faq] = query(archive_copy, "SELECT * FROM captures WHERE via = 'live' AND url LIKE '%/faqs/'")
    tamper(
        archive_copy,
        "INSERT INTO captures (url, source, via, captured_at, sha256, warc_filename, "
        "warc_offset, warc_record_id, warc_type, title, prev_hash, row_hash) "
        f"SELECT url, source, via, '2017-01-01T00:00:00.000000Z', sha256, warc_filename, "
        f"warc_offset, '<urn:uuid:forged>', warc_type, 'backdated copy', prev_hash, row_hash "
        f"FROM captures WHERE id = {faq['id']}",
    )
    lines = failures(archive_copy)
    new_id = query(archive_copy, "SELECT max(id) AS id FROM captures")[0]["id"]
    assert any(line.startswith(f"FAIL capture {new_id} ") and "row was edited" in line for line in lines), (
        lines
    )
    assert any(
        line.startswith(f"FAIL capture {new_id} ")
        and "row was inserted after the fact: "
        f"its prev_hash is capture {faq['id'] - 1}'s row_hash, but capture {new_id - 1} "
        "is the row before it"
        in line
        for line in lines
    ), lines


def test_truncated_warc_is_reported_without_touching_earlier_records(archive_copy: Path):
    [last] = query(
        archive_copy,
        "SELECT * FROM captures WHERE warc_type = 'response' "
        "ORDER BY warc_filename DESC, warc_offset DESC LIMIT 1",
    )
    path = archive_copy / "warcs" / last["warc_filename"]
    cut = last["warc_offset"] + last["warc_length"] // 2
    path.write_bytes(path.read_bytes()[:cut])
    before = path.read_bytes()
    lines = failures(archive_copy)
    assert path.read_bytes() == before  # verify reads, never repairs
    [truncated] = [line for line in lines if "WARC file is truncated" in line]
    assert truncated.startswith(
        f"FAIL archive at {last['warc_filename']}:{last['warc_offset']}: WARC file is truncated: "
        f"the last record (from byte {last['warc_offset']}, {cut - last['warc_offset']} bytes "
        f"present) is cut off mid-record, as by a crash while writing; the "
        f"{_records_before(path, last['warc_offset'])} records before it are intact and were "
        "left untouched; the last intact record is <urn:uuid:"
    )
    assert truncated.endswith(f"; captures affected: capture {last['id']} ({last['url']})")
    others = [line for line in lines if line != truncated]
    assert len(others) == 1 and others[0].startswith(f"FAIL capture {last['id']} "), lines
    assert "its WARC record is cut off" in others[0]


def _records_before(path: Path, offset: int) -> int:
    from archive.warc.read import gzip_members

    return sum(1 for m in gzip_members(path) if m.offset < offset)


def test_damaged_block_digest_of_an_unindexed_record_is_reported(archive_copy: Path):
    """A request record (no capture row of its own) is checked too."""
    import zlib

    from archive.warc.read import gzip_members

    [last] = query(
        archive_copy, "SELECT * FROM captures ORDER BY warc_filename DESC, warc_offset DESC LIMIT 1"
    )
    path = archive_copy / "warcs" / last["warc_filename"]
    request = list(gzip_members(path))[-1]  # the last capture's request record
    assert request.offset == last["warc_offset"] + last["warc_length"]
    assert b"WARC-Type: request\r\n" in request.data
    target = b"User-Agent: Spyglass"
    altered = request.data.replace(target, b"User-Agent: Forgery")
    assert altered != request.data
    comp = zlib.compressobj(6, zlib.DEFLATED, 31)
    path.write_bytes(path.read_bytes()[: request.offset] + comp.compress(altered) + comp.flush())
    [line] = failures(archive_copy)
    assert line.startswith(
        f"FAIL archive ({last['url']}) at {last['warc_filename']}:{request.offset}: request record: "
    )
    assert "block digest failed" in line


def _row(i: int) -> dict:
    return {
        "url": f"http://a.test/{i}",
        "source": "s",
        "via": "live",
        "status": "200",
        "captured_at": "2026-11-22T00:00:00.000000Z",
        "sha256": "ab" * 32,
        "warc_filename": "f.warc.gz",
        "warc_offset": i,
        "warc_record_id": f"<urn:{i}>",
    }


def _writer(path: str, start: int, go, results, standalone: bool) -> None:
    """One writer process: batches inside a caller's transaction (as the writer process does) or alone."""
    db = open_db(path)
    go.wait(60)  # all writers start together (a barrier), so they contend for the lock
    try:
        for batch in range(40):
            rows = [{**_row(start + batch * 20 + k), "text": "x" * 2000} for k in range(20)]
            if not standalone:
                with db.atomic():
                    save_captures(db, rows)
                    db.table("fetch_errors").insert_all([{"url": "http://a.test/", "reason": "r"}])
            else:
                save_captures(db, rows)
        results.put("ok")
    except BaseException as exc:  # noqa: BLE001 - reported to the test
        results.put(f"{type(exc).__name__}: {exc}")
    finally:
        db.close()


def test_concurrent_writers_never_fork_the_chain(tmp_path: Path):
    """Writer processes (one per source in a crawl) wait for each other instead of forking or failing."""
    import multiprocessing

    path = tmp_path / "spyglass.db"
    setup = open_db(path)
    setup.table("sources").insert({"name": "s"})
    setup.close()
    context = multiprocessing.get_context("spawn")
    results, go = context.Queue(), context.Barrier(4)
    workers = [
        context.Process(target=_writer, args=(str(path), n * 1000, go, results, n == 3)) for n in range(4)
    ]
    for worker in workers:
        worker.start()
    outcomes = sorted(results.get(timeout=120) for _ in workers)
    for worker in workers:
        worker.join(timeout=30)
    assert outcomes == ["ok"] * 4
    db = open_db(path)
    cursor = db.execute("SELECT * FROM captures ORDER BY id")
    names = [d[0] for d in cursor.description]
    rows = [dict(zip(names, r)) for r in cursor.fetchall()]
    assert len(rows) == 3200 and [r["id"] for r in rows] == list(range(1, 3201))
    assert chain.check_chain(rows) == []
    assert all(r["status"] == 200 for r in rows)  # hashed as stored, not as passed


def test_migration_chains_rows_written_before_it(tmp_path: Path):
    import sqlite_utils

    db = sqlite_utils.Database(tmp_path / "old.db")
    migrations.apply(db, stop_before="m040_hash_chain")
    db.table("sources").insert({"name": "s"})
    db.table("captures").insert_all([_row(i) for i in range(3)])
    db.close()
    db = open_db(tmp_path / "old.db")
    cursor = db.execute("SELECT * FROM captures ORDER BY id")
    names = [d[0] for d in cursor.description]
    rows = [dict(zip(names, r)) for r in cursor.fetchall()]
    assert rows[0]["prev_hash"] == chain.GENESIS and chain.check_chain(rows) == []
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        db.execute("UPDATE captures SET title = 'x' WHERE id = 1")


def test_columns_added_later_keep_old_hashes_and_defaults_are_hashed_as_stored(tmp_path: Path):
    """Other branches' migrations add captures columns: NULL in old rows, so old hashes hold."""
    db = open_db(tmp_path / "spyglass.db")
    db.table("sources").insert({"name": "s"})
    save_captures(db, [_row(1)])
    db.execute("ALTER TABLE captures ADD COLUMN later_score INTEGER")
    save_captures(db, [_row(2), {**_row(3), "later_score": "1"}])
    # A column with a default is hashed with the value SQLite fills in. (Adding
    # one to a table that already has rows would change what those rows read
    # as, so migrations add nullable columns without defaults.)
    db.execute("ALTER TABLE captures ADD COLUMN kind TEXT DEFAULT NULL")
    save_captures(db, [_row(4)])
    cursor = db.execute("SELECT * FROM captures ORDER BY id")
    names = [d[0] for d in cursor.description]
    rows = [dict(zip(names, r)) for r in cursor.fetchall()]
    assert [r["later_score"] for r in rows] == [None, None, 1, None]
    assert chain.check_chain(rows) == []

    fresh = open_db(tmp_path / "fresh.db")
    fresh.table("sources").insert({"name": "s"})
    fresh.execute("ALTER TABLE captures ADD COLUMN kind TEXT NOT NULL DEFAULT 'page'")
    save_captures(fresh, [_row(1), {**_row(2), "kind": "document"}])
    cursor = fresh.execute("SELECT * FROM captures ORDER BY id")
    names = [d[0] for d in cursor.description]
    rows = [dict(zip(names, r)) for r in cursor.fetchall()]
    assert [r["kind"] for r in rows] == ["page", "document"]
    assert chain.check_chain(rows) == []


def test_generated_as_of_columns_are_outside_the_hash_chain(tmp_path: Path):
    """as_of_at and page_url come back from SELECT *, are computed by SQLite, and never change a hash."""
    import hashlib
    import json

    import sqlite_utils

    db = sqlite_utils.Database(tmp_path / "old.db")
    migrations.apply(db, stop_before="m100_as_of")
    db.table("sources").insert({"name": "s"})
    memento = {
        **_row(2),
        "via": "wayback",
        "memento_at": "2018-06-01T10:15:00.000000Z",
        "original_url": "https://vendor.example/page",
        "wayback_timestamp": "20180601101500",
    }
    save_captures(db, [_row(1), memento])
    before = [dict(r) for r in db.query("SELECT * FROM captures ORDER BY id")]
    db.close()
    db = open_db(tmp_path / "old.db")  # applies m100 to rows written before it
    cursor = db.execute("SELECT * FROM captures ORDER BY id")
    names = [d[0] for d in cursor.description]
    rows = [dict(zip(names, r)) for r in cursor.fetchall()]
    assert [r["as_of_at"] for r in rows] == [_row(1)["captured_at"], "2018-06-01T10:15:00.000000Z"]
    assert [r["page_url"] for r in rows] == [_row(1)["url"], "https://vendor.example/page"]
    assert [r["row_hash"] for r in rows] == [r["row_hash"] for r in before]
    assert chain.check_chain(rows) == []
    # Recomputed by hand, as the README tells anyone to: every non-NULL column but
    # row_hash and the two generated ones.
    for row in rows:
        kept = {
            k: v for k, v in row.items() if v is not None and k not in ("row_hash", "as_of_at", "page_url")
        }
        text = json.dumps(kept, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert hashlib.sha256(text.encode()).hexdigest() == row["row_hash"]
    save_captures(db, [_row(3)])  # new rows chain on as before
    cursor = db.execute("SELECT * FROM captures ORDER BY id")
    assert chain.check_chain([dict(zip(names, r)) for r in cursor.fetchall()]) == []
    with pytest.raises(sqlite3.OperationalError, match="cannot UPDATE generated column"):
        db.execute("UPDATE captures SET as_of_at = '1999-01-01' WHERE id = 1")
