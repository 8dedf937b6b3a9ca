"""Run a command and measure it per process: wall time, CPU seconds and peak RSS of the
main process and of its child processes (Spyglass's writer) separately.

The total CPU is exact (wait4's rusage covers the process and every child it
reaped). The children's share is read from /proc every 20 ms: live children's
utime + stime, plus the main process's cutime + cstime once it has reaped them,
so at most the last 20 ms of a child's work is counted as the main process's.
Polling two small files 50 times a second costs the benchmark ~1% of a core.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")
POLL_SECONDS = 0.02


@dataclass
class Measured:
    """One run of a command."""

    seconds: float
    cpu_main: float  # CPU seconds of the process itself
    cpu_children: float  # CPU seconds of its child processes (the writer)
    rss_main_mb: float  # peak resident memory of the process itself
    rss_children_mb: float  # peak resident memory of its largest child
    returncode: int
    stdout: str
    stderr: str
    started: float = 0.0  # wall clock (time.time()) as the command started, and as it exited
    ended: float = 0.0

    @property
    def cpu(self) -> float:
        return self.cpu_main + self.cpu_children


def _stat(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rindex(")") + 2 :].split()  # fields from 3 (state) on


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for tid in tasks:
        try:
            found += [int(c) for c in Path(f"/proc/{pid}/task/{tid}/children").read_text().split()]
        except OSError:
            continue
    return found


def _hwm_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class _Poller(threading.Thread):
    """Samples the children's CPU and peak RSS until told to stop."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.children_cpu = 0.0
        self.children_rss = 0.0
        self.done = threading.Event()
        self.live: dict[int, float] = {}

    def run(self) -> None:
        while not self.done.wait(POLL_SECONDS):
            self.sample()

    def sample(self) -> None:
        me = _stat(self.pid)
        if me is None:
            return
        reaped = (int(me[13]) + int(me[14])) / TICK  # cutime + cstime
        descendants, todo = [], _children(self.pid)
        while todo:
            pid = todo.pop()
            descendants.append(pid)
            todo += _children(pid)
        live = 0.0
        for pid in descendants:
            st = _stat(pid)
            if st is not None and st[0] != "Z":
                live += (int(st[11]) + int(st[12])) / TICK
                self.children_rss = max(self.children_rss, _hwm_mb(pid))
        self.children_cpu = max(self.children_cpu, reaped + live)


def measure(cmd: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> Measured:
    """Run `cmd` to its end; wall time, CPU and peak RSS of it and of its children."""
    started, wall_start = time.monotonic(), time.time()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, cwd=cwd, env={**os.environ, **(env or {})}, stdout=out, stderr=err)
        poller = _Poller(proc.pid)
        poller.start()
        main_rss = 0.0
        # Not proc.poll(): reaping the process would lose its rusage; it stays a zombie until wait4.
        while not _zombie(proc.pid):
            main_rss = max(main_rss, _hwm_mb(proc.pid))
            time.sleep(POLL_SECONDS)
        wall_end = time.time()
        poller.sample()
        poller.done.set()
        poller.join()
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.monotonic() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        total = usage.ru_utime + usage.ru_stime
        children = min(poller.children_cpu, total)
        out.seek(0)
        err.seek(0)
        return Measured(
            seconds,
            total - children,
            children,
            main_rss or usage.ru_maxrss / 1024,
            poller.children_rss,
            proc.returncode,
            out.read().decode(errors="replace"),
            err.read().decode(errors="replace"),
            wall_start,
            wall_end,
        )


def _zombie(pid: int) -> bool:
    st = _stat(pid)
    return st is None or st[0] == "Z"
