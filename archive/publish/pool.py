"""A small pool of worker processes for a visitor's heavy work: a hard deadline, a memory limit
and a bounded queue, so no request can stall the server that answers everyone else.

Python's `re`, `difflib` and any loop over a large text hold the GIL: run in
the server's threads they stop every other visitor, whatever SQLite's time
limit says. Here each call runs in a separate process under RLIMIT_AS; one
that passes its deadline is killed and its worker replaced (a
concurrent.futures.ProcessPoolExecutor cannot kill a stuck worker), and when
every worker is busy and `queue` requests already wait, the next is refused
at once with `Busy` (the plugin answers 503 with Retry-After).

Every call is bounded from its arrival: it waits for a ready worker at most
`wait_seconds` (then `Busy`), and its work runs at most `deadline_seconds`
(then the worker is killed, without waiting for it to exit), so no call
takes longer than `bound_seconds`. Workers are started ahead of need, and a
killed one is replaced at once, so a call does not wait for an interpreter
to start and import its modules.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import multiprocessing
import os
import resource
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

# A fresh interpreter, not a fork of a server that runs threads (a fork can
# inherit a lock some other thread held, and the server's memory).
_CONTEXT = multiprocessing.get_context("spawn")


class Busy(Exception):
    """Every worker is busy and the queue is full: try again in `retry_after` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__("busy")
        self.retry_after = retry_after


class TooCostly(Exception):
    """The work passed its deadline or its memory limit; its worker was replaced."""


@dataclass(frozen=True)
class PoolLimits:
    """How much of the machine a visitor's heavy work may use."""

    workers: int = 2
    # How long the work may run once a worker has it.
    deadline_seconds: float = 5.0
    memory_mb: int = 500
    queue: int = 4
    # How long a call may wait for a ready worker before it is refused with Busy.
    wait_seconds: float = 2.0
    # Pools of one server are told apart by name, so one kind of work cannot take another's workers.
    name: str = "heavy"
    # Modules a new worker imports before it counts as started, so the first call's deadline
    # is spent on the work, not on imports (a second or more on a busy machine).
    preload: tuple[str, ...] = ()
    # The workers' niceness: above 0, the server's own threads (every other visitor's pages)
    # come first for the CPU, and the work takes what they leave.
    nice: int = 0

    @property
    def bound_seconds(self) -> float:
        """The longest a call takes from its arrival: waiting for a worker, then the work."""
        return self.wait_seconds + self.deadline_seconds


def _serve(conn: Connection, memory_bytes: int, preload: tuple[str, ...], nice: int) -> None:
    """A worker's loop: run each (function, arguments) sent, answer ("ok", result) or why not."""
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    os.nice(nice)
    for module in preload:
        importlib.import_module(module)
    try:
        conn.send("ready")
    except OSError:  # the pool let this worker go while it started
        return
    while True:
        try:
            fn, args = conn.recv()
        except (EOFError, OSError):
            return
        try:
            answer: tuple[str, Any] = ("ok", fn(*args))
        except MemoryError:
            answer = ("memory", None)
        except Exception as exc:  # the caller re-raises it; a worker survives its callers' errors
            answer = ("error", exc)
        del fn, args
        conn.send(answer)


class _Worker:
    def __init__(self, limits: PoolLimits) -> None:
        self.conn, child = _CONTEXT.Pipe()
        self.process = _CONTEXT.Process(
            target=_serve,
            args=(child, limits.memory_mb * 1024 * 1024, limits.preload, limits.nice),
            name="spyglass-pool-worker",
            daemon=True,
        )
        self.process.start()
        child.close()
        self.ready = False
        # The server's start-up and a first call may both wait for the same worker's word.
        self._reading = threading.Lock()

    def wait_ready(self, timeout: float) -> bool:
        """Whether the worker has imported its preload and waits for work, waiting up to `timeout`."""
        until = time.monotonic() + max(timeout, 0.0)
        if not self._reading.acquire(timeout=max(timeout, 0.0)):
            return self.ready
        try:
            if not self.ready:
                self.ready = (
                    self.conn.poll(max(until - time.monotonic(), 0.0)) and self.conn.recv() == "ready"
                )
        except (EOFError, OSError):  # killed while starting
            return False
        finally:
            self._reading.release()
        return self.ready

    def call(self, fn: Callable[..., Any], args: tuple, deadline: float) -> tuple[str, Any]:
        """Send the work to this (ready) worker and wait for its answer; ("deadline", None) when it
        does not come in time."""
        self.conn.send((fn, args))
        if not self.conn.poll(deadline):
            return "deadline", None
        try:
            return self.conn.recv()
        except (EOFError, OSError):  # killed by the kernel (the memory limit) mid-answer
            return "memory", None

    def kill(self) -> None:
        """SIGKILL now; the exit is reaped in a thread, so no caller waits for it."""
        with contextlib.suppress(OSError, ValueError):
            self.process.kill()
        threading.Thread(target=self._reap, name="spyglass-pool-reap", daemon=True).start()

    def _reap(self) -> None:
        self.process.join(5)
        self.conn.close()


class WorkPool:
    """Run picklable module-level functions in killable worker processes, a few at a time."""

    def __init__(self, limits: PoolLimits) -> None:
        self.limits = limits
        self._idle: list[_Worker] = []
        self._busy: set[_Worker] = set()
        self._slots: asyncio.Semaphore | None = None
        self._waiting = 0
        self._stopped = False

    def start(self) -> None:
        """Start the workers now, so the first calls do not wait for them to start."""
        while not self._stopped and len(self._idle) + len(self._busy) < self.limits.workers:
            self._idle.append(_Worker(self.limits))

    def wait_started(self, timeout: float) -> bool:
        """Wait up to `timeout` for the workers started so far to be ready; whether they all are."""
        until = time.monotonic() + timeout
        return all(worker.wait_ready(until - time.monotonic()) for worker in list(self._idle))

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        """fn(*args) in a worker: its result, or Busy / TooCostly / the exception it raised.

        Within `limits.bound_seconds` of the call: Busy when no worker is ready within
        `wait_seconds`, TooCostly when the work passes `deadline_seconds`."""
        ready_by = time.monotonic() + self.limits.wait_seconds
        if self._slots is None:  # created inside the server's event loop
            self._slots = asyncio.Semaphore(self.limits.workers)
        retry = max(1, round(self.limits.bound_seconds))
        if self._stopped or (self._slots.locked() and self._waiting >= self.limits.queue):
            raise Busy(retry)
        self._waiting += 1
        try:
            await asyncio.wait_for(self._slots.acquire(), self.limits.wait_seconds)
        except TimeoutError:
            raise Busy(retry) from None
        finally:
            self._waiting -= 1
        try:
            worker = None if self._stopped else await self._ready_worker(ready_by)
            if worker is None:
                raise Busy(retry)
            return await self._call(worker, fn, args)
        finally:
            self._slots.release()

    async def _ready_worker(self, ready_by: float) -> _Worker | None:
        """An idle worker that has started, waiting for one until `ready_by`; None past it."""
        worker = self._idle.pop() if self._idle else None
        if worker is None or not worker.process.is_alive():
            if worker is not None:
                worker.kill()
            worker = await asyncio.to_thread(_Worker, self.limits)
        self._busy.add(worker)  # stop() kills it, started or not
        try:
            ready = await asyncio.to_thread(worker.wait_ready, ready_by - time.monotonic())
        except asyncio.CancelledError:  # its thread still reads the pipe: no later call may
            self._replace(worker)
            raise
        finally:
            self._busy.discard(worker)
        if ready and not self._stopped:
            return worker
        if worker.process.is_alive() and not self._stopped:
            self._idle.append(worker)  # still starting: it serves a later call
        else:
            worker.kill()
        return None

    async def _call(self, worker: _Worker, fn: Callable[..., Any], args: tuple) -> Any:
        self._busy.add(worker)
        try:
            outcome, value = await asyncio.to_thread(worker.call, fn, args, self.limits.deadline_seconds)
        except asyncio.CancelledError:  # the visitor left: their work, and its worker, go too
            self._replace(worker)
            raise
        finally:
            self._busy.discard(worker)
        if outcome in ("deadline", "memory"):
            self._replace(worker)
            raise TooCostly(outcome)
        self._idle.append(worker)
        if outcome == "error":
            raise value
        return value

    def _replace(self, worker: _Worker) -> None:
        """Kill `worker` and start the one that takes its place, so no later call waits for it."""
        self._busy.discard(worker)
        worker.kill()
        if not self._stopped:
            threading.Thread(target=self.start, name="spyglass-pool-start", daemon=True).start()

    def close(self) -> None:
        """Stop every idle worker (a busy one is a daemon and ends with the server)."""
        while self._idle:
            self._idle.pop().kill()

    def stop(self) -> None:
        """End all work now, busy workers too, and refuse what comes after: the server is stopping.

        Safe from a signal handler: it only sends SIGKILL. A call in flight sees its
        worker's pipe close and answers TooCostly at once, so the server's graceful
        shutdown, which waits for every request in flight, is not held for a deadline.
        """
        self._stopped = True
        for worker in [*self._busy, *self._idle]:
            with contextlib.suppress(OSError, ValueError):
                worker.process.kill()


_SHARED: dict[PoolLimits, WorkPool] = {}


def stop_shared_pools() -> None:
    """Stop every shared pool of this process (WorkPool.stop)."""
    for pool in list(_SHARED.values()):
        pool.stop()


def shared_pool(limits: PoolLimits) -> WorkPool:
    """The one pool of this server process for these limits (every plugin's routes share it)."""
    if limits not in _SHARED:
        _SHARED[limits] = WorkPool(limits)
    return _SHARED[limits]
