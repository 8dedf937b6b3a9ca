"""No request runs past its bound, counted from its arrival: a pool call's wait, start and work
together, and any request's wait for its reply to begin (issue #33: no stranger's request past 10 s)."""

from __future__ import annotations

import asyncio
import time

import pytest
import yaml
from datasette.app import Datasette

from archive.archive import Archive
from archive.index.db import open_index
from archive.publish.datasette import METADATA, SETTINGS
from archive.publish.pool import Busy, PoolLimits, TooCostly, WorkPool
from archive.publish.requests import answer_within
from scripts.benchlib.heavy import add_big_page, add_heavy_change

# What a bound may be passed by on a busy 2-core machine: the event loop and the threads that
# wait for workers being scheduled late. The old pool's queued calls passed their deadline by
# whole deadlines (a queued call waited up to 2 deadlines + 1 s for a worker, then ran one).
MARGIN = 1.0
# Four requests through a whole Datasette at once, on a machine running other tests: one was
# seen answered 1.04 s past its 1 s deadline. The bound it proves is against the pool's minute.
SERVER_MARGIN = 3.0


async def _warm(pool: WorkPool) -> None:
    """Until the pool's workers have started (seconds on a busy machine): the bound under test is
    the one a running server's pool keeps, workers started ahead."""
    pool.start()
    for _ in range(600):
        try:
            await pool.run(len, "x")
            return
        except Busy:
            await asyncio.sleep(0.1)
    raise AssertionError("the pool's workers did not start")


async def _timed(call) -> tuple[str, float]:
    started = time.monotonic()
    try:
        await call
        outcome = "done"
    except (Busy, TooCostly) as exc:
        outcome = type(exc).__name__
    return outcome, time.monotonic() - started


def test_heavy_calls_at_once_against_a_small_pool_each_end_within_their_bound_from_arrival():
    limits = PoolLimits(workers=1, deadline_seconds=1.0, wait_seconds=0.5, queue=4, name="bound-test")

    async def scenario() -> list[tuple[str, float]]:
        pool = WorkPool(limits)
        try:
            await _warm(pool)
            # One runs past its deadline; four wait for the one worker, which never frees in time.
            return await asyncio.gather(*(_timed(pool.run(time.sleep, 600)) for _ in range(5)))
        finally:
            pool.stop()

    answers = asyncio.run(scenario())
    assert sorted(outcome for outcome, _ in answers) == ["Busy"] * 4 + ["TooCostly"], answers
    assert all(took < limits.bound_seconds + MARGIN for _, took in answers), answers


def test_a_reply_not_begun_within_the_deadline_is_a_503_at_it_and_its_work_is_cancelled():
    events: list[dict] = []
    cancelled: list[bool] = []

    async def send(event: dict) -> None:
        events.append(event)

    async def late(send) -> None:
        await send({"type": "http.response.start", "status": 503, "headers": []})
        await send({"type": "http.response.body", "body": b"late"})

    async def stuck(send) -> None:
        try:
            await asyncio.sleep(600)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    async def streaming(send) -> None:  # begins in time, then takes longer than the deadline
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await asyncio.sleep(0.4)
        await send({"type": "http.response.body", "body": b"whole"})

    async def scenario() -> tuple[float, list[int]]:
        started = time.monotonic()
        await answer_within(0.2, stuck, send, late)
        took = time.monotonic() - started
        await answer_within(0.2, streaming, send, late)
        return took, [e.get("status") for e in events if e["type"] == "http.response.start"]

    took, statuses = asyncio.run(scenario())
    assert statuses == [503, 200] and cancelled == [True]
    assert events[-1]["body"] == b"whole"  # a reply begun in time is left to finish
    assert took < 0.2 + MARGIN, took


def test_the_late_answer_is_sent_before_the_cancelled_work_has_unwound():
    """Work that takes its time to stop once cancelled does not hold the 503 back."""
    sent: list[float] = []
    unwound: list[float] = []

    async def send(event: dict) -> None:
        sent.append(time.monotonic())

    async def late(send) -> None:
        await send({"type": "http.response.start", "status": 503, "headers": []})

    async def slow_to_stop(send) -> None:
        try:
            await asyncio.sleep(600)
        finally:
            await asyncio.sleep(1.0)  # as a killed worker reaped, on a busy machine
            unwound.append(time.monotonic())

    asyncio.run(answer_within(0.2, slow_to_stop, send, late))
    assert len(sent) == 1 and len(unwound) == 1
    assert sent[0] < unwound[0], "the 503 waited for the cancelled work to unwind"


@pytest.fixture(scope="module")
def heavy(tmp_path_factory) -> dict:
    """An archive with a change between two texts of 200,000 repeated sentences (seconds of diff)."""
    data = tmp_path_factory.mktemp("deadline") / "data"
    open_index(Archive(data)).close()
    big = add_big_page(data, 100_000)
    return {"data": data, **add_heavy_change(data, 200_000, big)}


def test_heavy_pages_at_once_are_each_answered_within_the_request_deadline(heavy):
    """Four diffs at once against one worker whose deadline is a minute: before, the queued ones
    waited minutes; now each request is answered, or told to retry, within max_request_seconds."""
    deadline = 1.0
    metadata = yaml.safe_load(METADATA.read_text())
    metadata["plugins"]["spyglass"].update(
        pool_workers=1, pool_deadline_seconds=60, max_request_seconds=deadline, max_costly_per_client=10
    )
    ds = Datasette([str(Archive(heavy["data"]).db_path)], metadata=metadata, settings=SETTINGS)
    paths = [
        f"/-/spyglass/diff?change={heavy['change']}",
        f"/-/spyglass/diff?from={heavy['to']}&to={heavy['from']}",
    ] * 2

    async def visit() -> list[tuple[int, str, float]]:
        await ds.client.get("/")  # the server has started (its startup hooks run on a first request)

        async def get(path: str) -> tuple[int, str, float]:
            started = time.monotonic()
            page = await asyncio.wait_for(ds.client.get(path), 60)
            return page.status_code, page.headers.get("retry-after", ""), time.monotonic() - started

        return await asyncio.gather(*(get(path) for path in paths))

    answers = asyncio.run(visit())
    assert all(status in (200, 503) for status, _, _ in answers), answers
    assert all(retry for status, retry, _ in answers if status == 503), answers
    assert any(status == 503 for status, _, _ in answers), answers  # one worker cannot do four
    assert all(took < deadline + SERVER_MARGIN for _, _, took in answers), answers
