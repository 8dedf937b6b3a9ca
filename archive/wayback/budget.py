"""One Wayback Machine budget and one pause for every request this machine sends.

The Wayback Machine limits by IP, so the budget cannot live in one crawler:
several sources crawled at once, a `spyglass save` and a scheduled run share
it. `Budget` is the small interface every Wayback caller uses (the rate
middleware, Save Page Now, closest); `FileBudget` keeps its state in one
fcntl-locked file (SPYGLASS_WAYBACK_BUDGET_FILE), which every process on the
machine opens. A Redis implementation for many machines only needs the same
three methods.

Slots are reserved, not polled: `acquire` hands out the next free moment of a
bucket and moves it on by the policy's interval, so callers in different
processes never pick the same moment. Times are wall-clock seconds
(`time.time()`), the only clock processes share.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import time
from pathlib import Path
from typing import Protocol

from archive.config import Config
from archive.errors import ConfigError
from archive.wayback.client import Endpoints
from archive.wayback.policy import RatePolicy


class Budget(Protocol):
    """What every Wayback caller asks of the machine's (or the cluster's) shared budget."""

    def acquire(self, bucket: str) -> float:
        """Reserve the next request slot of `bucket` ('cdx', 'snapshot', 'save'); seconds to wait for it."""
        ...

    def pause(self, seconds: float) -> None:
        """Hold every bucket for everyone for at least `seconds` from now (after a 429)."""
        ...

    def paused_for(self) -> float:
        """Seconds left of the current pause (0 when none): a slot taken before a pause is void."""
        ...


def wayback_budget(config: Config) -> Budget:
    """The budget and pause every request to this Wayback Machine shares: the machine's file,
    or with SPYGLASS_REDIS_URL the cluster's, in Redis."""
    policy, base = RatePolicy.from_config(config), Endpoints.from_config(config).base
    if config.redis_url:
        from archive.wayback.redis_budget import RedisBudget  # needs the redis package only then

        return RedisBudget(config.redis_url, policy, base)
    return FileBudget(config.wayback_budget_file, policy, base)


class FileBudget:
    """A Budget kept in a JSON file under an exclusive fcntl lock, shared by every process that opens it.

    One file can hold budgets for several Wayback endpoints (`key`: the base URL),
    so the demo's simulator never spends the real service's budget.
    """

    def __init__(self, path: Path, policy: RatePolicy, key: str) -> None:
        self.path = Path(path)
        self.policy = policy
        self.key = key

    def acquire(self, bucket: str) -> float:
        now = time.time()
        with self._state() as state:
            slots = state.setdefault("next", {})
            slot = max(now, slots.get(bucket, 0.0), state.get("paused_until", 0.0))
            slots[bucket] = slot + self.policy.interval(bucket)
        return slot - now

    def pause(self, seconds: float) -> None:
        with self._state() as state:
            state["paused_until"] = max(state.get("paused_until", 0.0), time.time() + seconds)

    def paused_for(self) -> float:
        with self._state(write=False) as state:
            return max(0.0, state.get("paused_until", 0.0) - time.time())

    def _state(self, write: bool = True) -> _LockedState:
        return _LockedState(self.path, self.key, write)


class _LockedState:
    """The budget file's entry for one key, read and written under one exclusive lock."""

    def __init__(self, path: Path, key: str, write: bool) -> None:
        self.path, self.key, self.write = path, key, write

    def __enter__(self) -> dict:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as exc:
            raise ConfigError(
                f"setting SPYGLASS_WAYBACK_BUDGET_FILE: cannot open {self.path}: {exc.strerror}"
            ) from None
        self.file = os.fdopen(fd, "r+")
        fcntl.flock(self.file, fcntl.LOCK_EX)
        try:
            # Every user's crawls share the IP, so every user may write the file.
            os.fchmod(fd, 0o666)
        except OSError:
            pass  # another user's file: it is already shared
        try:
            self.all = json.loads(self.file.read() or "{}")
        except ValueError:
            self.all = {}  # a damaged file only loses slots, which are seconds long
        if not isinstance(self.all, dict):
            self.all = {}
        self.entry = self.all.setdefault(self.key, {})
        return self.entry

    def __exit__(self, *exc: object) -> None:
        try:
            if self.write and not exc[0]:
                self._forget_stale()
                self.file.seek(0)
                self.file.truncate()
                self.file.write(json.dumps(self.all, sort_keys=True))
                self.file.flush()
        finally:
            self.file.close()  # closing releases the lock

    def _forget_stale(self) -> None:
        """Drop other endpoints' entries whose slots and pauses have all passed (the file stays small)."""
        now = time.time()
        for key in [k for k in self.all if k != self.key]:
            entry = self.all[key]
            times = (
                [entry.get("paused_until", 0.0), *entry.get("next", {}).values()]
                if isinstance(entry, dict)
                else []
            )
            if max(times, default=0.0) < now:
                del self.all[key]


def wait_sync(budget: Budget, bucket: str) -> None:
    """Block until a slot of `bucket` is ours and no pause holds (for synchronous callers)."""
    while True:
        delay = budget.acquire(bucket)
        if delay > 0:
            time.sleep(delay)
        if budget.paused_for() <= 0:
            return


async def wait_async(budget: Budget, bucket: str) -> None:
    """The same wait inside an asyncio event loop (the Scrapy middleware)."""
    while True:
        delay = budget.acquire(bucket)
        if delay > 0:
            await asyncio.sleep(delay)
        if budget.paused_for() <= 0:
            return
