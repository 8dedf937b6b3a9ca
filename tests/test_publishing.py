"""Strangers cannot stall, crash or probe a published archive: each hostile request gets a refusal
or a bounded answer, never a 500, a traceback, a file path or a memory address."""

from __future__ import annotations

import gc
import gzip
import json
import os
import re
import shutil
import sqlite3
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import pytest
import yaml

from archive.archive import Archive
from archive.index.captures import save_captures
from archive.index.db import open_index
from archive.index.untrusted import harden
from archive.publish.datasette import METADATA, datasette_command, datasette_environment
from archive.publish.safety import closing_cursors, query_limits
from archive.warc.write import Exchange, WarcStore

from .conftest import free_port, run_cli, wait_for_port

BIG = 60_000_000  # decoded bytes of the large archived page (a few dozen KB on disk)
LEAKS = re.compile(r"Traceback|/tmp/|/work/|\.warc\.gz:|0x[0-9a-f]{8,}|OverflowError|\$base64")


@contextmanager
def server(data: Path, allow_sql: bool, metadata: Path = METADATA) -> Iterator[tuple[str, int]]:
    """The published archive on a free port: (base URL, server process id)."""
    port = free_port()
    proc = subprocess.Popen(
        datasette_command(data, port, metadata=metadata),
        env={**os.environ, **datasette_environment(allow_sql)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port)
        yield f"http://127.0.0.1:{port}", proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def get(url: str, method: str = "GET", read: int | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read(read) if read else response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def peak_mb(pid: int) -> float:
    """The process's highest resident memory so far (VmHWM)."""
    found = re.search(r"^VmHWM:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text(), re.M)
    assert found
    return int(found.group(1)) / 1000


def sql(base: str, query: str) -> tuple[int, bytes]:
    return get(f"{base}/spyglass.json?sql={quote(query)}")


def assert_clean(status: int, body: bytes) -> None:
    assert status < 500, body[:300]
    assert not LEAKS.search(body.decode("utf-8", "replace")), body[:500]


@pytest.fixture(scope="module")
def archive(crawled, tmp_path_factory) -> Path:
    """A copy of the demo archive plus one page of 60 MB decoded (gzip'd on the wire and on disk)."""
    data = tmp_path_factory.mktemp("publish") / "data"
    shutil.copytree(crawled["data"], data)
    store = WarcStore(Archive(data).warc_dir, "publish-test")
    payload = gzip.compress(b"<html><body>" + b"<p>zero</p>" * (BIG // 11) + b"</body></html>")
    location = store.write_exchange(
        Exchange(
            url="http://big.test/page",
            method="GET",
            request_headers=[],
            request_body=b"",
            protocol="HTTP/1.1",
            status=200,
            reason="OK",
            payload=payload,
            date=datetime.now(UTC),
            response_headers=[("Content-Type", "text/html"), ("Content-Encoding", "gzip")],
        )
    )
    store.close()
    index = open_index(Archive(data))
    save_captures(
        index,
        [
            {
                "url": "http://big.test/page",
                "source": "northwind-recognize",
                "via": "live",
                "captured_at": location.date,
                "status": 200,
                "content_type": "text/html",
                "length": location.payload_length,
                "sha256": location.sha256,
                "warc_filename": location.filename,
                "warc_offset": location.offset,
                "warc_length": location.length,
                "warc_record_id": location.record_id,
                "warc_type": location.warc_type,
                "title": "Big page",
            }
        ],
    )
    index.close()
    return data


def big_capture(data: Path) -> int:
    conn = sqlite3.connect(data / "spyglass.db")
    [(capture_id,)] = conn.execute("SELECT id FROM captures WHERE url = 'http://big.test/page'").fetchall()
    conn.close()
    return capture_id


def test_custom_sql_is_off_unless_chosen_and_searching_still_works(archive):
    with server(archive, allow_sql=False) as (base, _):
        assert sql(base, "select 1")[0] == 403
        assert get(f"{base}/spyglass/captures.json?_where={quote('1=1')}")[0] == 403
        status, body = get(f"{base}/spyglass/search.json?q=person+tracking&_shape=objects")
        assert status == 200 and json.loads(body)["rows"]
        assert get(f"{base}/spyglass/captures.json?_search=person+tracking")[0] == 200


def test_hostile_sql_is_refused_or_bounded(archive):
    with server(archive, allow_sql=True) as (base, pid):
        assert sql(base, "select count(*) from captures")[0] == 200
        six = ", ".join(["length(randomblob(400000000))"] * 6)
        hostile = [
            f"select {six}",
            "select randomblob(100000000)",
            "select zeroblob(500000000)",
            "select fts3_tokenizer('simple')",
            "select fts3_tokenizer('simple', x'0000000000000000')",
            "attach database '/tmp/spyglass-attack.db' as x",
            "select count(*) from captures where text like '" + "%a" * 300 + "'",
        ]
        for query in hostile:
            status, body = sql(base, query)
            assert status == 400, (query, body[:300])
            assert_clean(status, body)
        assert not Path("/tmp/spyglass-attack.db").exists()
        # A value past the size limit is not built (test_a_value_past_the_size_limit_is_not_built
        # shows the NULL exactly). Served, the answer is that NULL, or on a machine too loaded to
        # run even that within the time limit a refusal (400), or past the request deadline a 503
        # (printf's one step cannot be interrupted); never the value, never a grown server.
        status, body = sql(base, "select length(printf('%.*c', 400000000, 'x')) as n")
        assert (status == 200 and json.loads(body)["rows"] == [[None]]) or status in (400, 503), body[:300]
        assert peak_mb(pid) < 500
        # Small random blobs still work: ordinary SQL is not broken.
        status, body = sql(base, "select length(randomblob(16)) as n")
        assert status == 200 and json.loads(body)["rows"] == [[16]]
        # Many large values: stopped by the memory limit, never grows the server unbounded.
        amplify = (
            "with recursive r(n) as (select 1 union all select n + 1 from r where n < 1000) "
            "select printf('%.*c', 9000000, 'x') from r"
        )
        status, body = sql(base, amplify)
        assert status == 400 and peak_mb(pid) < 500
        # A reply larger than the cap is refused in one line, with what to do instead.
        three = (
            "with recursive r(n) as (select 1 union all select n + 1 from r where n < 3) "
            "select printf('%.*c', 9000000, 'x') from r"
        )
        status, body = sql(base, three)
        assert status == 400 and b"larger than 25 MB" in body


def test_a_value_past_the_size_limit_is_not_built():
    conn = sqlite3.connect(":memory:")
    harden(conn)
    # SQLite's printf stops at SQLITE_LIMIT_LENGTH and gives NULL instead of building 400 MB.
    assert conn.execute("select length(printf('%.*c', 400000000, 'x'))").fetchone() == (None,)
    assert conn.execute("select length(printf('%.*c', 1000, 'x'))").fetchone() == (1000,)
    with pytest.raises(sqlite3.DataError):  # a value that is built past the limit is refused
        conn.execute("select length(replace(printf('%.*c', 6000000, 'x'), 'x', 'xx'))").fetchone()


def test_a_visitors_slow_queries_do_not_stall_other_readers(archive):
    slow = (
        "with recursive r(n) as (select 1 union all select n + 1 from r where n < 100000000) "
        "select count(*) from r"
    )
    with server(archive, allow_sql=True) as (base, _):
        done: list[tuple[int, bytes]] = []
        threads = [threading.Thread(target=lambda: done.append(sql(base, slow))) for _ in range(3)]
        for thread in threads:
            thread.start()
        status, _ = get(f"{base}/spyglass/captures.json?_size=1")
        ordinary_finished_first = len(done) == 0
        for thread in threads:
            thread.join()
        assert status == 200 and ordinary_finished_first
        statuses = sorted(s for s, _ in done)
        # One ran to the time limit; the others were told to come back (Retry-After).
        assert statuses == [400, 429, 429], statuses


COUNT = "with recursive r(n) as (select 1 union all select n + 1 from r where n < {}) select count(*) from r"
NO_MEMORY_LIMIT = 10**15


def test_a_query_is_stopped_at_its_time_limit_and_the_next_one_on_its_connection_runs():
    conn = sqlite3.connect(":memory:")
    started = time.monotonic()
    with pytest.raises(sqlite3.OperationalError, match="interrupted"):
        with query_limits(conn, 200, NO_MEMORY_LIMIT, NO_MEMORY_LIMIT):
            conn.execute(COUNT.format(10**10)).fetchone()
    assert time.monotonic() - started < 2
    with query_limits(conn, 3000, NO_MEMORY_LIMIT, NO_MEMORY_LIMIT):
        assert conn.execute(COUNT.format(1000)).fetchone() == (1000,)


def test_a_query_is_not_held_up_while_the_event_loop_is_busy():
    """Limits are watched from one thread, not by Python called inside the query: a query
    thread never waits for the GIL every few instructions while the server renders pages."""
    conn = sqlite3.connect(":memory:", check_same_thread=False)
    found: list[int] = []

    def query() -> None:
        with query_limits(conn, 10_000, NO_MEMORY_LIMIT, NO_MEMORY_LIMIT):
            found.append(conn.execute(COUNT.format(300_000)).fetchone()[0])

    thread = threading.Thread(target=query)
    thread.start()
    busy_until = time.monotonic() + 3
    while thread.is_alive() and time.monotonic() < busy_until:
        sum(range(1000))  # pure Python, as rendering a page is: it holds the GIL
    finished_while_busy = not thread.is_alive()
    thread.join()
    assert finished_while_busy and found == [300_000]


def test_a_failed_querys_cursor_is_freed_without_waiting_for_its_connection():
    """A failed query's traceback keeps its cursor in a reference cycle; whichever thread collects
    it (usually the event loop's) must not wait while the connection runs someone's slow query."""
    conn = sqlite3.connect(":memory:", check_same_thread=False)
    conn.create_function("refuse", 1, lambda _: 1 / 0)  # as the capped randomblob refuses
    kept: list[BaseException] = []  # as a finished Future keeps its exception

    def query(conn: sqlite3.Connection) -> None:
        cursor = conn.cursor()
        cursor.execute("select refuse(1)")

    def fail() -> None:
        try:
            closing_cursors(query)(conn)  # as Datasette runs it in a query thread
        except sqlite3.OperationalError as exc:
            kept.append(exc)

    def slow() -> None:
        with pytest.raises(sqlite3.OperationalError):
            with query_limits(conn, 1500, NO_MEMORY_LIMIT, NO_MEMORY_LIMIT):
                conn.execute(COUNT.format(10**10)).fetchone()

    gc.disable()  # the collection below is the one that counts
    try:
        thread = threading.Thread(target=fail)
        thread.start()
        thread.join()
        assert kept
        thread = threading.Thread(target=slow)
        thread.start()
        time.sleep(0.2)  # the slow query holds the connection
        kept.clear()
        gc.collect()
        freed_while_busy = thread.is_alive()
        thread.join()
    finally:
        gc.enable()
    assert freed_while_busy


def test_readers_are_served_while_a_query_is_stopped_for_memory(archive):
    amplify = (
        "with recursive r(n) as (select 1 union all select n + 1 from r where n < 1000) "
        "select printf('%.*c', 9000000, 'x') from r"
    )
    with server(archive, allow_sql=True) as (base, pid):
        seen: list[tuple[str, int]] = []
        stop = threading.Event()

        def reader() -> None:
            while not stop.is_set():
                for path in ("/", "/spyglass/captures?_search=person+tracking", "/spyglass/captures/1"):
                    seen.append((path, get(base + path)[0]))

        thread = threading.Thread(target=reader)
        thread.start()
        try:
            stopped = [sql(base, amplify)[0] for _ in range(3)]
        finally:
            stop.set()
            thread.join()
        assert stopped == [400, 400, 400] and peak_mb(pid) < 500
        # The stopped queries' memory is theirs alone: nobody else's page failed meanwhile or after.
        after = [(path, get(base + path)[0]) for path in ("/", "/spyglass/captures")]
        assert seen and all(status == 200 for _, status in seen + after), [
            s for s in seen + after if s[1] != 200
        ]


def test_server_paths_methods_and_errors_do_not_leak(archive):
    with server(archive, allow_sql=True) as (base, _):
        for path in ("/-/databases", "/-/databases.json"):
            status, body = get(base + path)
            assert status == 404 and b"spyglass.db" not in body
        for path in (
            "/-/spyglass/archived/99999999999999999999999",
            "/-/spyglass/replay/99999999999999999999999",
            "/-/spyglass/record/99999999999999999999999.warc.gz",
            "/-/spyglass/archived/0",
        ):
            status, body = get(base + path)
            assert status == 404, (path, body[:200])
            assert_clean(status, body)
        for method in ("POST", "PUT", "DELETE", "PATCH"):
            for path in ("/-/spyglass/replay/1", "/-/spyglass/archived/1", "/spyglass/captures"):
                status, body = get(base + path, method=method)
                assert status == 405, (method, path)
        assert get(base + "/-/spyglass/archived/1", method="HEAD")[0] == 200


def test_a_record_offset_inside_a_record_is_a_plain_404(archive, tmp_path: Path):
    data = tmp_path / "data"
    shutil.copytree(archive, data)
    conn = sqlite3.connect(data / "spyglass.db")  # a damaged index, as an attacker with disk access leaves it
    conn.execute("DROP TRIGGER captures_append_only_update")
    conn.execute("UPDATE captures SET warc_offset = warc_offset + 7 WHERE id = 1")
    conn.commit()
    conn.close()
    with server(data, allow_sql=False) as (base, _):
        status, body = get(base + "/-/spyglass/archived/1")
        assert status == 404 and b"cannot be read" in body
        assert_clean(status, body)


def test_a_capture_is_checked_on_demand_and_a_changed_row_or_payload_fails(archive, tmp_path: Path):
    data = tmp_path / "data"
    shutil.copytree(archive, data)
    conn = sqlite3.connect(data / "spyglass.db")
    [revisit] = conn.execute("SELECT min(id) FROM captures WHERE warc_type = 'revisit'").fetchone()
    [other] = conn.execute("SELECT min(id) FROM captures WHERE warc_type = 'response' AND id > 1").fetchone()
    conn.close()
    with server(data, allow_sql=False) as (base, _):
        status, body = get(f"{base}/-/spyglass/verify/1")
        page = body.decode()
        assert status == 200 and "Capture 1: unaltered" in page, page[:2000]
        assert page.count('class="check-ok"') >= 2  # the record and the chain link
        assert "re-hashed just now is SHA-256" in page and "FAILED" not in page
        if revisit is not None:
            status, body = get(f"{base}/-/spyglass/verify/{revisit}")
            assert status == 200 and 'Original record</dt><dd class="check-ok"' in body.decode()
        assert get(f"{base}/-/spyglass/verify/99999999")[0] == 404
    conn = sqlite3.connect(data / "spyglass.db")
    conn.execute("DROP TRIGGER captures_append_only_update")
    conn.execute("UPDATE captures SET title = 'Rewritten' WHERE id = 1")
    conn.execute("UPDATE captures SET sha256 = ? WHERE id = ?", ["0" * 64, other])
    conn.commit()
    conn.close()
    with server(data, allow_sql=False) as (base, _):
        page = get(f"{base}/-/spyglass/verify/1")[1].decode()
        assert "a check failed" in page and "edited after it was written" in page
        page = get(f"{base}/-/spyglass/verify/{other}")[1].decode()
        assert "FAILED" in page and "index says " + "0" * 64 in page


def test_a_large_archived_page_is_capped_then_streamed_off_the_event_loop(archive, tmp_path: Path):
    capture_id = big_capture(archive)
    with server(archive, allow_sql=False) as (base, _):
        status, body = get(f"{base}/-/spyglass/archived/{capture_id}")
        assert status == 200 and b"too large to show here" in body
        assert f"/-/spyglass/record/{capture_id}.warc.gz".encode() in body
        status, record = get(f"{base}/-/spyglass/record/{capture_id}.warc.gz")
        assert status == 200 and gzip.decompress(record).startswith(b"WARC/1.1\r\n")
    metadata = yaml.safe_load(METADATA.read_text())
    metadata["plugins"]["spyglass"]["max_archived_mb"] = 100
    path = tmp_path / "metadata.yml"
    path.write_text(yaml.safe_dump(metadata))
    with server(archive, allow_sql=False, metadata=path) as (base, pid):
        get(f"{base}/spyglass/captures.json?_size=1")  # warm up
        before = peak_mb(pid)
        request = urllib.request.urlopen(f"{base}/-/spyglass/archived/{capture_id}", timeout=60)
        first = request.read(1 << 20)  # the reply has begun; the rest waits on the reader
        status, _ = get(f"{base}/spyglass/captures.json?_size=1")
        rest = len(first) + len(request.read())
        request.close()
        assert status == 200 and rest > BIG
        # Streamed a piece at a time: the server never held the 60 MB body.
        assert peak_mb(pid) - before < 40


def test_export_query_cannot_attach_or_write(archive, tmp_path: Path):
    target = tmp_path / "attached.db"
    result = run_cli(
        "export",
        "--data",
        str(archive),
        "--out",
        str(tmp_path / "x.wacz"),
        "--query",
        f"attach database '{target}' as y",
    )
    assert result.returncode == 1 and not target.exists()
    assert "ATTACH, writes and file access are refused" in result.stderr
    result = run_cli(
        "export",
        "--data",
        str(archive),
        "--out",
        str(tmp_path / "x.wacz"),
        "--query",
        "delete from captures returning id",
    )
    assert result.returncode == 1 and "--query failed" in result.stderr
