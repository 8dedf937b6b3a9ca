"""A real redis-server (Debian's package) on a loopback port with its own directory, for tests and
the benchmark: never a system service."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from archive.demo.server import free_port, wait_for_port


@contextmanager
def redis_server(directory: Path) -> Iterator[str]:
    """Start redis-server in `directory` (AOF on, as the README asks); yields its redis:// URL."""
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    port = free_port()
    directory.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(directory),
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--save",
            "",
            "--daemonize",
            "no",
            "--logfile",
            str(directory / "redis.log"),
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
