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

# Prints the time of the slot it was given (when it asked, plus its wait), so the test compares
# slots on the budget's own clock however long this process took to start.
ACQUIRE_IN_ANOTHER_PROCESS = """
import sys, time
from archive.wayback.policy import RatePolicy
from archive.wayback.redis_budget import RedisBudget
budget = RedisBudget(sys.argv[1], RatePolicy(cdx_per_window=2, window_seconds=10.0), sys.argv[2])
asked = time.time()
print(asked + budget.acquire("cdx"))
"""
# Redis's TIME and time.time() read the same clock; a call's own duration is the only slack.
SLACK = 0.5


def slot(budget: RedisBudget, bucket: str) -> float:
    """The time of the slot `budget` hands out next: when it was asked plus the wait."""
    asked = time.time()
    return asked + budget.acquire(bucket)


def test_the_redis_budget_hands_out_slots_across_processes_and_keeps_endpoints_apart(tmp_path: Path):
    policy = RatePolicy(cdx_per_window=2, window_seconds=10.0)
    with redis_server(tmp_path / "redis") as url:
        one = RedisBudget(url, policy, "https://web.archive.org")
        elsewhere = RedisBudget(url, policy, "http://127.0.0.1:9")
        first = time.time()
        assert one.acquire("cdx") == 0
        other = subprocess.run(
            [sys.executable, "-c", ACQUIRE_IN_ANOTHER_PROCESS, url, "https://web.archive.org"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        # Another process (a worker elsewhere) gets the next slot: 5 s after the first.
        assert abs(float(other.stdout) - (first + 5.0)) < SLACK
        assert elsewhere.acquire("cdx") == 0  # another endpoint has its own budget
        assert abs(slot(one, "cdx") - (first + 10.0)) < SLACK  # and the one after that
        paused = time.time()
        elsewhere.pause(1)
        one.pause(30)
        now = time.time()
        assert paused + 30 - SLACK < now + one.paused_for() <= now + 30
        assert 0 < elsewhere.paused_for() <= 1
        assert slot(one, "snapshot") > paused + 30 - SLACK  # a pause holds every bucket, for everyone
        one.pause(5)  # a shorter pause never shortens the one in force
        assert time.time() + one.paused_for() > paused + 30 - SLACK


def test_with_a_redis_url_every_wayback_caller_takes_the_redis_budget(tmp_path: Path):
    config = Config.load({}, {"SPYGLASS_REDIS_URL": "redis://127.0.0.1:1/0"})
    assert isinstance(wayback_budget(config), RedisBudget)
    assert wayback_budget(config).key.endswith(Endpoints.from_config(config).base)
    assert not isinstance(wayback_budget(Config.load({})), RedisBudget)
