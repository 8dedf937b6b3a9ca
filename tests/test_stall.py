"""No stranger's request stalls the published archive or answers 500: every route the plugins
register, given hostile parameters, answers 2xx, 3xx, 4xx or 503 within its deadline."""

from __future__ import annotations

import asyncio
import multiprocessing
import re
import shutil
import sqlite3
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from datasette.database import Database, QueryInterrupted
from datasette.plugins import pm

from archive.archive import Archive
from archive.index.captures import save_captures
from archive.index.db import open_index
from archive.publish import pool as work_pool
from archive.publish.datasette import datasette_app
from archive.publish.pool import Busy, PoolLimits, TooCostly, WorkPool
from archive.publish.replay import AS_ARCHIVED_CSP
from scripts.benchlib.heavy import add_big_page, add_heavy_change

HUGE = "9" * 25  # no SQLite integer
# Far above any route's own deadline (the pool's is a few seconds), so a slow
# shared machine cannot fail it, while a stall like the 26 s phrase match would.
DEADLINE = 20.0
LONG_PHRASE = " ".join(["a"] * 1000 + ["b"])
GROUPS = {
    r"(?P<capture_id>\d+)": [HUGE, "0", "1"],
    r"(?P<screenshot_id>\d+)": [HUGE, "0"],
    r"(?P<document_id>\d+)": [HUGE, "0", "1"],
    r"(?P<page>\d+)": [HUGE, "0", "1"],
    r"(?P<kind>vendor|product|agency)": ["vendor", "product", "agency"],
    r"(?P<url>.+)": ["http://x.test/" + "a" * 3000, "https://example.com/", quote("javascript:alert(1)")],
}


def route_paths(ds) -> list[str]:
    """Every path the plugins register, with each named part filled by hostile values."""
    found = []
    for routes in pm.hook.register_routes(datasette=ds):
        for pattern, _ in routes or []:
            paths = [pattern.strip("^$")]
            for group, values in GROUPS.items():
                paths = [p.replace(group, v) for p in paths for v in values] if group in paths[0] else paths
            found.extend(p.replace("\\", "") for p in paths)
    assert not [p for p in found if "(?P" in p], found
    return found


def hostile_queries(equal_version: int) -> list[str]:
    phrase = quote(LONG_PHRASE)
    return [
        "",
        f"?change={HUGE}",
        "?change=-1",
        f"?from={HUGE}&to=1",
        f"?from={equal_version}&to={equal_version}",
        "?from=-1&to=-1",
        f"?url=https://example.com/&phrase={phrase}",
        f"?q={phrase}",
        f"?q={quote('a ' * 3000)}",
        f"?name={'n' * 5000}",
        f"?url=x&at={HUGE}",
        f"?redirected_from={HUGE}",
        "?download=1&view=inline",
    ]


TABLE_QUERIES = [
    f"/spyglass/captures.json?id__gt={HUGE}",
    f"/spyglass/captures?id__gt={HUGE}",
    "/spyglass/captures.json?_through=notjson",
    "/spyglass/captures?_through=notjson",
    "/spyglass/captures.json?_sort=nonexistent",
    "/spyglass/captures?_sort_desc=nonexistent",
    f"/spyglass/captures/{HUGE}.json",
    f"/spyglass/captures.json?id__in={HUGE}",
    f"/spyglass/captures.json?_search={quote('a ' * 500)}",
]


async def timed_get(ds, path: str) -> tuple[int, float]:
    started = time.monotonic()
    response = await asyncio.wait_for(ds.client.get(path), DEADLINE)
    return response.status_code, time.monotonic() - started


def test_every_plugin_route_answers_hostile_parameters_without_500_or_stall(crawled):
    ds = datasette_app(crawled["data"])
    with sqlite3.connect(Path(crawled["data"]) / "spyglass.db") as conn:
        version = conn.execute("SELECT min(id) FROM versions").fetchone()[0]
    paths = route_paths(ds)
    assert any("/-/spyglass/diff" in p for p in paths) and any("/-/spyglass/verify/" in p for p in paths)
    urls = [p + q for p in paths for q in hostile_queries(version)] + TABLE_QUERIES

    async def walk() -> list[tuple[str, int, float]]:
        return [(url, *await timed_get(ds, url)) for url in urls]

    answers = asyncio.run(walk())
    bad = [(url[:120], status) for url, status, _ in answers if status >= 500 and status != 503]
    assert not bad, bad
    slow = [(url[:120], round(took, 1)) for url, _, took in answers if took > DEADLINE]
    assert not slow, slow


def test_odd_ids_and_parameters_are_4xx(crawled):
    ds = datasette_app(crawled["data"])
    expected = {
        f"/-/spyglass/verify/{HUGE}": 404,
        f"/-/spyglass/diff?change={HUGE}": 404,
        f"/-/spyglass/diff?from={HUGE}&to=1": 404,
        f"/spyglass/captures.json?id__gt={HUGE}": 400,
        "/spyglass/captures.json?_through=notjson": 400,
        "/spyglass/captures.json?_sort=nonexistent": 400,
    }

    async def statuses() -> dict[str, int]:
        return {path: (await ds.client.get(path)).status_code for path in expected}

    assert asyncio.run(statuses()) == expected


def test_equal_versions_are_an_empty_diff(crawled):
    ds = datasette_app(crawled["data"])
    with sqlite3.connect(Path(crawled["data"]) / "spyglass.db") as conn:
        version = conn.execute("SELECT min(id) FROM versions").fetchone()[0]
    page = asyncio.run(ds.client.get(f"/-/spyglass/diff?from={version}&to={version}"))
    assert page.status_code == 200
    assert not re.search(r'class="[^"]*\b(added|removed)\b', page.text)


def test_the_front_page_degrades_with_a_notice_when_its_queries_are_interrupted(crawled, monkeypatch):
    ds = datasette_app(crawled["data"])
    assert asyncio.run(ds.client.get("/")).status_code == 200

    async def interrupted(self, *args, **kwargs):
        raise QueryInterrupted(sqlite3.OperationalError("interrupted"), "select 1", {})

    monkeypatch.setattr(Database, "execute", interrupted)
    monkeypatch.setattr(Database, "execute_fn", interrupted)
    page = asyncio.run(ds.client.get("/"))
    assert page.status_code == 200
    assert "The archive is busy" in page.text


@pytest.mark.parametrize("q", ["a " * 2000, '"' + "word " * 500])
def test_a_search_uses_only_its_first_words(q):
    from archive.publish.search import MAX_TERMS, match_query

    assert match_query(q).count('"') <= 2 * MAX_TERMS


def test_phrase_matching_is_linear_on_repeated_words():
    from archive.history.passages import has_phrase

    text = " ".join(["a"] * 200_000)
    started = time.process_time()
    assert not has_phrase(text, " ".join(["a"] * 1000 + ["b"]))
    assert has_phrase(text + " b.", " ".join(["A"] * 1000 + ["b"]))
    assert has_phrase("see (person tracking), now", "person tracking")
    assert not has_phrase("see xperson tracking", "person tracking")
    # A regex took seconds here (its backtracking is quadratic in the repeats);
    # the scan takes a small fraction of one. Generous for a loaded machine.
    assert time.process_time() - started < 10


def test_a_diff_of_many_changed_sentences_is_bounded_and_valid():
    from archive.history import passages

    old = [f"Sentence {n % 50} here." for n in range(20_000)]
    new = [f"Sentence {(n * 7) % 51} here." for n in range(20_000)]
    started = time.process_time()
    steps = passages.opcodes(old, new)
    assert time.process_time() - started < 10  # difflib needs minutes for this
    rebuilt, at = [], 0
    for tag, i1, i2, j1, j2 in steps:
        assert i1 == at
        if tag == "equal":
            assert old[i1:i2] == new[j1:j2]
        rebuilt += new[j1:j2]
        at = i2
    assert rebuilt == new and at == len(old)
    assert passages.opcodes(old, old) == [("equal", 0, len(old), 0, len(old))]


@pytest.fixture(scope="module")
def heavy(crawled, tmp_path_factory) -> dict:
    """The demo archive with one change between two texts of millions of characters (repeated
    sentences and words: difflib's and a regex's worst case) and a 6 MB HTML page."""
    data = tmp_path_factory.mktemp("stall") / "data"
    shutil.copytree(crawled["data"], data)
    big = add_big_page(data, 6_000_000)
    return {"data": data, **add_heavy_change(data, 100_000, big), "big": big}


def test_heavy_diffs_and_phrases_run_in_the_pool_while_other_pages_are_served(heavy):
    ds = datasette_app(heavy["data"])
    phrase = quote(LONG_PHRASE)
    heavy_paths = [
        f"/-/spyglass/diff?change={heavy['change']}",
        f"/-/spyglass/diff?from={heavy['to']}&to={heavy['from']}&view=inline",
        f"/-/spyglass/timeline?url={quote(heavy['url'])}&phrase={phrase}",
    ]

    async def visit() -> tuple[list[tuple[int, float]], list[float]]:
        work = [asyncio.ensure_future(timed_get(ds, path)) for path in heavy_paths]
        await asyncio.sleep(0.2)
        front = []
        while not all(w.done() for w in work):  # a reader keeps reading while the heavy work runs
            status, took = await timed_get(ds, "/")
            assert status == 200
            front.append(took)
            await asyncio.sleep(0.05)
        return [w.result() for w in work], front

    answers, front = asyncio.run(visit())
    # 429: one client (this test) sent more at once than a client may run.
    assert all(status in (200, 429, 503) for status, _ in answers), answers
    assert all(took < DEADLINE for _, took in answers), answers
    # Work holding the GIL stalled every reader for the whole of it (25.8 s for a
    # phrase); from the pool, a reader waits for nothing but its own query.
    assert not front or max(front) < DEADLINE / 2, front


def test_the_same_version_twice_is_an_empty_diff_at_once(heavy):
    ds = datasette_app(heavy["data"])
    status, took = asyncio.run(timed_get(ds, f"/-/spyglass/diff?from={heavy['to']}&to={heavy['to']}"))
    assert status == 200 and took < DEADLINE


def test_a_full_pool_answers_503_with_retry_after(heavy, monkeypatch):
    ds = datasette_app(heavy["data"])

    async def full(self, fn, *args):
        raise Busy(3)

    monkeypatch.setattr(WorkPool, "run", full)
    page = asyncio.run(ds.client.get(f"/-/spyglass/diff?change={heavy['change']}"))
    assert page.status_code == 503 and page.headers["retry-after"] == "3"
    assert "busy" in page.text


def test_the_pool_kills_work_past_its_deadline_or_memory_and_refuses_past_its_queue():
    # A worker killed at its deadline is replaced by one that starts at once; the call waiting
    # for it may wait that long (seconds when the machine is busy).
    limits = PoolLimits(workers=1, deadline_seconds=1.0, memory_mb=300, queue=1, wait_seconds=DEADLINE)

    async def scenario() -> None:
        pool = WorkPool(limits)
        try:
            assert await pool.run(sum, [1, 2, 3]) == 6
            started = time.monotonic()
            with pytest.raises(TooCostly):
                await pool.run(time.sleep, 600)
            # Killed at its deadline; the margin covers starting a worker on a busy machine.
            assert time.monotonic() - started < 1.0 + DEADLINE
            with pytest.raises(TooCostly):
                await pool.run(bytearray, 2_000_000_000)  # past RLIMIT_AS
            assert await pool.run(len, "still here") == 10  # a fresh worker took over
            stuck = asyncio.ensure_future(pool.run(time.sleep, 600))
            await asyncio.sleep(0.1)
            waiting = asyncio.ensure_future(pool.run(len, "x"))
            await asyncio.sleep(0.1)
            with pytest.raises(Busy):
                await pool.run(len, "y")  # one running, one waiting: the queue is full
            with pytest.raises(TooCostly):
                await stuck
            assert await waiting == 1
            # A visitor who leaves takes their work's worker with them.
            left = asyncio.ensure_future(pool.run(time.sleep, 600))
            while not pool._busy:
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.3)
            before = {worker.process.pid for worker in pool._busy}
            left.cancel()
            with pytest.raises(asyncio.CancelledError):
                await left
            for _ in range(int(DEADLINE * 10)):
                if not {p.pid for p in multiprocessing.active_children()} & before:
                    break
                await asyncio.sleep(0.1)
            assert before and not {p.pid for p in multiprocessing.active_children()} & before
        finally:
            pool.close()

    asyncio.run(scenario())
    assert work_pool.shared_pool(limits) is work_pool.shared_pool(limits)


def test_a_page_over_the_rewrite_cap_is_streamed_as_archived_with_a_notice_and_head_costs_nothing(heavy):
    ds = datasette_app(heavy["data"])
    big = heavy["big"]

    async def visit():
        page = await ds.client.get(f"/-/spyglass/replay/{big}")
        archived = await ds.client.get(f"/-/spyglass/archived/{big}")
        started = time.process_time()
        heads = [
            await ds.client.head(f"/-/spyglass/{route}/{big}") for route in ("archived", "file", "replay")
        ]
        return page, archived, heads, time.process_time() - started

    page, archived, heads, head_cpu = asyncio.run(visit())
    assert page.status_code == 200 and "shown exactly as archived" in page.text
    assert archived.status_code == 200
    assert archived.headers["content-security-policy"] == AS_ARCHIVED_CSP
    assert archived.content.count(b'href="/x"') > 100_000  # as archived: nothing rewritten
    assert all(h.status_code == 200 and h.content == b"" for h in heads)
    # No payload decoded for HEAD: a small fraction of one second of CPU, stated generously.
    assert head_cpu < 5


def test_introspection_and_debug_pages_are_refused_even_with_custom_sql(crawled):
    ds = datasette_app(crawled["data"], allow_sql=True)
    refused = [
        "select sql from sqlite_stmt",
        "select file from pragma_database_list",
        "select * from pragma_database_list()",
        "select * from dbstat",
    ]

    async def visit():
        answers = [await ds.client.get(f"/spyglass.json?sql={quote(q)}") for q in refused]
        allowed = await ds.client.get(f"/spyglass.json?sql={quote('select count(*) from captures')}")
        debug = [await ds.client.get(p) for p in ("/-/threads.json", "/-/versions.json", "/-/messages")]
        database_page = await ds.client.get("/spyglass")
        return answers, allowed, debug, database_page

    answers, allowed, debug, database_page = asyncio.run(visit())
    for query, answer in zip(refused, answers):
        assert 400 <= answer.status_code < 500, (query, answer.text[:200])
        assert "spyglass.db" not in answer.text
    assert allowed.status_code == 200
    assert [d.status_code for d in debug] == [404, 404, 404]
    assert database_page.status_code == 200  # Datasette's own PRAGMA database_list still runs


def test_search_indexes_and_snippets_only_the_start_of_a_long_text(tmp_path):
    from archive.index.migrations import SEARCH_TEXT_CHARS

    index = open_index(Archive(tmp_path))
    text = "earlyword " + "filler " * (SEARCH_TEXT_CHARS // 7) + "lateword"
    save_captures(
        index,
        [
            {
                "url": "http://long.test/",
                "source": "s",
                "via": "live",
                "captured_at": "2026-01-01T00:00:00Z",
                "status": 200,
                "content_type": "text/html",
                "length": len(text),
                "sha256": "0" * 64,
                "warc_filename": "x.warc.gz",
                "warc_offset": 0,
                "warc_length": 1,
                "warc_record_id": "<urn:uuid:1>",
                "warc_type": "response",
                "title": "Long",
                "text": text,
            }
        ],
    )

    def found(word: str) -> list:
        return index.execute(
            "SELECT snippet(captures_fts, 1, '[', ']', '...', 8) FROM captures_fts WHERE captures_fts MATCH ?",
            [word],
        ).fetchall()

    assert found("earlyword") and not found("lateword")
    assert index.execute("SELECT length(text) FROM captures").fetchone()[0] == len(text)  # kept whole


def test_one_client_runs_only_so_many_searches_at_once():
    from archive.publish.requests import ClientGate, canned_paths, is_costly

    async def scenario() -> list[bool]:
        gate = ClientGate(limit=1, wait=0.1)
        async with gate.enter("10.0.0.1") as first:
            async with gate.enter("10.0.0.1") as second, gate.enter("10.0.0.2") as other:
                admitted = [first, second, other]
        return [*admitted, gate._gates == {}]  # idle clients are forgotten

    assert asyncio.run(scenario()) == [True, False, True, True]
    canned = canned_paths({"databases": {"spyglass": {"queries": {"search": {}}}}})
    assert is_costly({"path": "/spyglass/search.json", "query_string": b"q=x"}, canned)
    assert is_costly({"path": "/spyglass/captures", "query_string": b"_search=x"}, canned)
    assert not is_costly({"path": "/spyglass/captures", "query_string": b"id=1"}, canned)


def test_past_the_memory_limit_only_the_query_that_grew_is_stopped():
    from archive.publish.safety import _Watched, stops

    mb = 1_000_000
    running = {
        1: _Watched(None, deadline=100.0, start=100 * mb, max_memory=500 * mb, max_growth=1000 * mb),
        2: _Watched(None, deadline=100.0, start=550 * mb, max_memory=500 * mb, max_growth=1000 * mb),
        3: _Watched(None, deadline=5.0, start=590 * mb, max_memory=500 * mb, max_growth=1000 * mb),
    }
    # The server holds 600 MB: query 1 grew it by 500 MB, the others started late.
    assert stops(running, now=10.0, resident=600 * mb) == {1: True, 3: False}
    # Memory held by no running query (say a stopped one's, not yet returned): nobody is punished.
    late = {2: running[2]}
    assert stops(late, now=10.0, resident=540 * mb) == {}


def test_every_page_has_a_csp_with_frame_ancestors_and_history_pages_no_inline_script_but_by_hash(crawled):
    import base64
    import hashlib

    ds = datasette_app(crawled["data"])
    with sqlite3.connect(Path(crawled["data"]) / "spyglass.db") as conn:
        version, url = conn.execute("SELECT id, page_url FROM versions ORDER BY id LIMIT 1").fetchone()
    pages = ["/", "/spyglass", "/spyglass/captures", "/spyglass/captures/1", "/-/spyglass/search?q=x"]
    history = [f"/-/spyglass/timeline?url={quote(url)}", f"/-/spyglass/diff?from={version}&to={version}"]

    async def visit():
        return [await ds.client.get(p) for p in pages + history]

    answers = asyncio.run(visit())
    for path, answer in zip(pages + history, answers):
        assert answer.status_code == 200, path
        assert "frame-ancestors 'self'" in answer.headers["content-security-policy"], path
    for answer in answers[len(pages) :]:
        csp = answer.headers["content-security-policy"]
        script_src = next(d for d in csp.split(";") if d.strip().startswith("script-src"))
        assert "'unsafe-inline'" not in script_src
        for body in re.findall(r"<script>(.*?)</script>", answer.text, re.S):
            digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
            assert f"'sha256-{digest}'" in script_src


def test_the_timegate_names_the_configured_public_url_never_the_host_header(crawled, monkeypatch):
    with sqlite3.connect(Path(crawled["data"]) / "spyglass.db") as conn:
        url = conn.execute("SELECT page_url FROM page_sightings ORDER BY capture_id LIMIT 1").fetchone()[0]
    forged = {"Host": "attacker.test"}

    async def ask(ds):
        gate = await ds.client.get(f"/-/spyglass/timegate/{url}", headers=forged)
        timemap = await ds.client.get(f"/-/spyglass/timemap/link/{url}", headers=forged)
        return gate, timemap

    monkeypatch.setenv("SPYGLASS_PUBLIC_URL", "")
    gate, timemap = asyncio.run(ask(datasette_app(crawled["data"])))
    assert gate.status_code == 302 and gate.headers["location"].startswith("/-/spyglass/archived/")
    assert "attacker.test" not in gate.headers["link"] + timemap.text
    monkeypatch.setenv("SPYGLASS_PUBLIC_URL", "https://archive.example.org/")
    gate, timemap = asyncio.run(ask(datasette_app(crawled["data"])))
    assert gate.headers["location"].startswith("https://archive.example.org/-/spyglass/archived/")
    assert "attacker.test" not in gate.headers["link"] + timemap.text
    assert "<https://archive.example.org/-/spyglass/timegate/" in timemap.text
