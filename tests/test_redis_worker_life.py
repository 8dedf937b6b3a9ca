"""A Redis worker's life: it waits for a first run to be published; a clean stop leaves no keys, the
run and the ingest stream none either."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import redis

from archive.cluster import keys
from archive.cluster.reap import dead_workers

from .conftest import ROOT
from .servers.redis_server import redis_server


def _spyglass(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "archive.cli", *args],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _worker_keys(client: redis.Redis) -> list[str]:
    """What any worker left in Redis: its heartbeat, its files, its membership."""
    left = [k.decode() for k in client.keys(keys.alive("*")) + client.keys(keys.files("*"))]
    return left + [f"{keys.WORKERS}:{m.decode()}" for m in client.smembers(keys.WORKERS)]


def _wait_registered(client: redis.Redis, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while not client.keys(keys.alive("*")):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.1)


def test_an_idle_worker_waits_for_the_first_run_and_a_clean_stop_leaves_no_keys(vendor_site, tmp_path: Path):
    data, sources = tmp_path / "data", tmp_path / "sources.yml"
    sources.write_text(
        "sources:\n"
        f"  - {{name: v, kind: vendor, urls: ['{vendor_site[0]}/'], allow_private: [127.0.0.1], "
        "robots: false, scope: {hosts: [127.0.0.1], max_depth: 0}}\n"
    )
    with redis_server(tmp_path / "redis") as url:
        client = redis.Redis.from_url(url)
        # Started before any run is published, it waits (here, several polls) instead of leaving.
        early = _spyglass("worker", "--redis", url, "--data", str(data), "--exit-when-idle")
        _wait_registered(client, early)
        time.sleep(3.0)
        assert early.poll() is None, early.communicate()
        crawl = _spyglass("crawl", "--sources", str(sources), "--data", str(data), "--redis", url)
        out, err = crawl.communicate(timeout=300)
        assert crawl.returncode == 0, out + err
        assert early.wait(timeout=60) == 0
        assert _worker_keys(client) == []
        # Nothing of the run either, nor the ingest stream: only which archive this Redis serves.
        assert [k.decode() for k in client.keys("*")] == [keys.ARCHIVE]
        # A worker stopped by SIGTERM (no run in flight) says goodbye as cleanly.
        idle = _spyglass("worker", "--redis", url, "--data", str(data))
        _wait_registered(client, idle)
        idle.send_signal(signal.SIGTERM)
        idle.wait(timeout=60)
        assert [k.decode() for k in client.keys("*")] == [keys.ARCHIVE]


def test_a_worker_dropped_from_the_list_by_a_passing_reaper_is_listed_again_and_its_death_seen(
    tmp_path: Path,
):
    # Joining the list and beating were two steps: a reaper passing in between saw a
    # listed worker with no heartbeat, took it for dead and dropped it, for good; when
    # that worker really died, nobody handed its leases back and its run never ended.
    with redis_server(tmp_path / "redis") as url:
        client = redis.Redis.from_url(url)
        worker = _spyglass(
            "worker", "--redis", url, "--data", str(tmp_path / "data"), "-s", "SPYGLASS_REDIS_LEASE=3"
        )
        try:
            _wait_registered(client, worker)
            [name] = [m.decode() for m in client.smembers(keys.WORKERS)]
            client.srem(keys.WORKERS, name)  # what the reaper does to a listed worker with no heartbeat
            deadline = time.monotonic() + 30
            while not client.sismember(keys.WORKERS, name):
                assert worker.poll() is None and time.monotonic() < deadline, "never listed again"
                time.sleep(0.1)
        finally:
            worker.send_signal(signal.SIGKILL)
            worker.communicate()
        deadline = time.monotonic() + 30
        while name not in dead_workers(client):  # its heartbeat lapses: the reaper will see it
            assert time.monotonic() < deadline, "a killed worker was never seen dead"
            time.sleep(0.2)
        # Whatever drops a worker from the list, a lease it holds in an active run names it.
        client.srem(keys.WORKERS, name)
        client.hset(keys.run_key(7, "leases"), f"{name}#12", b"request")
        assert name not in dead_workers(client)
        assert name in dead_workers(client, [7])
