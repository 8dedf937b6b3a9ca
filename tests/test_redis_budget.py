"""Redis mode's Wayback budget: slots and the 429 pause shared by every holder, on a real redis-server."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from archive.config import Config
from archive.wayback.budget import wayback_budget
from archive.wayback.client import Endpoints
from archive.wayback.policy import RatePolicy
from archive.wayback.redis_budget import RedisBudget

from .conftest import ROOT
from .servers.redis_server import redis_server

# Prints when its call began and ended and the wait it was given. The budget reads Redis's
# TIME somewhere inside the call (a first call also connects, which can take seconds on a
# loaded machine), so the slot lies between began + wait and ended + wait, however long this
# process took to start.
ACQUIRE_IN_ANOTHER_PROCESS = """
import sys, time
from archive.wayback.policy import RatePolicy
from archive.wayback.redis_budget import RedisBudget
budget = RedisBudget(sys.argv[1], RatePolicy(cdx_per_window=2, window_seconds=10.0), sys.argv[2])
began = time.time()
wait = budget.acquire("cdx")
print(began + wait, time.time() + wait)
"""
# Redis's TIME and time.time() read the same clock; rounding is the only other slack.
SLACK = 0.05


def slot(budget: RedisBudget, bucket: str) -> tuple[float, float]:
    """When the slot `budget` hands out next lies: between the call's start and end, plus the wait."""
    began = time.time()
    wait = budget.acquire(bucket)
    return began + wait, time.time() + wait


def at(window: tuple[float, float], expected: tuple[float, float]) -> bool:
    """Whether two (earliest, latest) windows of the same instant overlap."""
    return window[0] - SLACK <= expected[1] and expected[0] <= window[1] + SLACK


def test_the_redis_budget_hands_out_slots_across_processes_and_keeps_endpoints_apart(tmp_path: Path):
    policy = RatePolicy(cdx_per_window=2, window_seconds=10.0)
    with redis_server(tmp_path / "redis") as url:
        one = RedisBudget(url, policy, "https://web.archive.org")
        elsewhere = RedisBudget(url, policy, "http://127.0.0.1:9")
        began = time.time()
        assert one.acquire("cdx") == 0  # the first slot is at once
        first = (began, time.time())
        other = subprocess.run(
            [sys.executable, "-c", ACQUIRE_IN_ANOTHER_PROCESS, url, "https://web.archive.org"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        # Another process (a worker elsewhere) gets the next slot: 5 s after the first.
        began, ended = (float(v) for v in other.stdout.split())
        assert at((began, ended), (first[0] + 5.0, first[1] + 5.0)), (began, ended, first)
        assert elsewhere.acquire("cdx") == 0  # another endpoint has its own budget
        assert at(slot(one, "cdx"), (first[0] + 10.0, first[1] + 10.0))  # and the one after that
        paused = time.time()
        elsewhere.pause(1)
        one.pause(30)
        now = time.time()
        assert paused + 30 - SLACK < now + one.paused_for() <= now + 30
        assert 0 < elsewhere.paused_for() <= 1
        assert slot(one, "snapshot")[1] > paused + 30 - SLACK  # a pause holds every bucket, for everyone
        one.pause(5)  # a shorter pause never shortens the one in force
        assert time.time() + one.paused_for() > paused + 30 - SLACK


def test_with_a_redis_url_every_wayback_caller_takes_the_redis_budget(tmp_path: Path):
    config = Config.load({}, {"SPYGLASS_REDIS_URL": "redis://127.0.0.1:1/0"})
    assert isinstance(wayback_budget(config), RedisBudget)
    assert wayback_budget(config).key.endswith(Endpoints.from_config(config).base)
    assert not isinstance(wayback_budget(Config.load({})), RedisBudget)
