"""Shared fixtures: loopback servers, a CLI runner, and one crawled archive per session."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fixtures.records_portal import RecordsPortal, start_records_portal
from fixtures.vendor_site import VendorSite, start_vendor_site

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    """Block until something accepts connections on 127.0.0.1:port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout} s")


def run_cli(*args: str, env: dict[str, str] | None = None, check: bool = False,
            timeout: float = 180) -> subprocess.CompletedProcess:
    """Run `spyglass ARGS` in a subprocess (Twisted's reactor cannot restart in-process)."""
    full_env = {**os.environ, **(env or {})}
    result = subprocess.run(
        [sys.executable, "-m", "archive.cli", *args],
        cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=timeout,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"spyglass {' '.join(args)} exited {result.returncode}\n"
            f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        )
    return result


@pytest.fixture(scope="session")
def vendor_site() -> Iterator[tuple[str, VendorSite]]:
    server, site = start_vendor_site()
    yield server.url, site
    server.stop()


@pytest.fixture(scope="session")
def crawled(tmp_path_factory: pytest.TempPathFactory, vendor_site) -> dict:
    """The demo sources crawled once into a fresh data directory."""
    base, site = vendor_site
    data = tmp_path_factory.mktemp("archive")
    # The records sources of sources.yml are crawled by tests/test_records.py;
    # their placeholder only needs a value here.
    env = {"SPYGLASS_VENDOR_SITE": base, "SPYGLASS_RECORDS_PORTAL": "http://127.0.0.1:9"}
    result = run_cli("crawl", "--sources", str(ROOT / "sources.yml"), "--data", str(data),
                     "--source", "northwind-recognize",
                     "-s", "SPYGLASS_PROGRESS_INTERVAL=0.2", env=env, check=True)
    hits_after_first = dict(site.hits)
    return {"data": data, "base": base, "site": site, "env": env, "result": result,
            "hits": hits_after_first}


@pytest.fixture(scope="session")
def records_portal() -> Iterator[tuple[str, RecordsPortal]]:
    server, portal = start_records_portal()
    yield server.url, portal
    server.stop()
