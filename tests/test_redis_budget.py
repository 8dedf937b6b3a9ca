"""Redis mode's Wayback budget: slots and the 429 pause shared by every holder, on a real redis-server."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from archive.config import Config
from archive.wayback.budget import wayback_budget
from archive.wayback.client import Endpoints
from archive.wayback.policy import RatePolicy
from archive.wayback.redis_budget import RedisBudget

from .conftest import ROOT
from .servers.redis_server import redis_server

ACQUIRE_IN_ANOTHER_PROCESS = """
import sys
from archive.wayback.policy import RatePolicy
from archive.wayback.redis_budget import RedisBudget
print(RedisBudget(sys.argv[1], RatePolicy(cdx_per_window=2, window_seconds=10.0), sys.argv[2]).acquire("cdx"))
"""


def test_the_redis_budget_hands_out_slots_across_processes_and_keeps_endpoints_apart(tmp_path: Path):
    policy = RatePolicy(cdx_per_window=2, window_seconds=10.0)
    with redis_server(tmp_path / "redis") as url:
        one = RedisBudget(url, policy, "https://web.archive.org")
        elsewhere = RedisBudget(url, policy, "http://127.0.0.1:9")
        assert one.acquire("cdx") == 0
        other = subprocess.run(
            [sys.executable, "-c", ACQUIRE_IN_ANOTHER_PROCESS, url, "https://web.archive.org"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        # Another process (a worker elsewhere) gets the next slot, 5 s after the first, less
        # the second or so it took to start.
        assert 3.0 < float(other.stdout) <= 5.0
        assert elsewhere.acquire("cdx") == 0  # another endpoint has its own budget
        assert 7.0 < one.acquire("cdx") <= 10.0  # and the one after that
        elsewhere.pause(1)
        one.pause(30)
        assert 29 < one.paused_for() <= 30 and 0 < elsewhere.paused_for() <= 1
        assert one.acquire("snapshot") >= 29  # a pause holds every bucket, for everyone
        one.pause(5)  # a shorter pause never shortens the one in force
        assert one.paused_for() > 28


def test_with_a_redis_url_every_wayback_caller_takes_the_redis_budget(tmp_path: Path):
    config = Config.load({}, {"SPYGLASS_REDIS_URL": "redis://127.0.0.1:1/0"})
    assert isinstance(wayback_budget(config), RedisBudget)
    assert wayback_budget(config).key.endswith(Endpoints.from_config(config).base)
    assert not isinstance(wayback_budget(Config.load({})), RedisBudget)
