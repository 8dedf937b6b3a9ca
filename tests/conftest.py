"""Shared fixtures: loopback servers, a CLI runner, and one crawled archive per session."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from archive.demo.records_portal import RecordsPortal, start_records_portal
from archive.demo.server import free_port, wait_for_port
from archive.demo.vendor_site import VendorSite, start_vendor_site
from archive.demo.wayback_demo import demo_sim
from archive.demo.wayback_sim import WaybackSim, start_wayback_sim

ROOT = Path(__file__).resolve().parent.parent


def pytest_configure(config: pytest.Config) -> None:
    from tests import netns

    netns.configure(config)


def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    from tests import netns

    netns.collection_modifyitems(session, items)


def db_rows(data: Path, sql: str, params: tuple = ()) -> list:
    """Rows (sqlite3.Row) of a query against the archive index in `data`."""
    import sqlite3

    conn = sqlite3.connect(data / "spyglass.db")
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def rows_when_ready(data: Path, sql: str) -> list:
    """db_rows for polling an archive another process is still creating: [] until its tables exist."""
    import sqlite3

    if not (data / "spyglass.db").exists():
        return []
    try:
        return db_rows(data, sql)
    except sqlite3.OperationalError:  # not migrated yet, or locked by the migration
        return []


@contextmanager
def served_archive(data: Path, allow_sql: bool = False, metadata: Path | None = None) -> Iterator[str]:
    """`spyglass serve`'s Datasette command on a free port; yields its base URL."""
    from archive.publish.datasette import METADATA, datasette_command, datasette_environment

    port = free_port()
    proc = subprocess.Popen(
        datasette_command(data, port, metadata=metadata or METADATA),
        env={**os.environ, **datasette_environment(allow_sql)},
        # Not a pipe: a server logging refused queries would fill it and stall.
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def run_cli(
    *args: str, env: dict[str, str] | None = None, check: bool = False, timeout: float = 180
) -> subprocess.CompletedProcess:
    """Run `spyglass ARGS` in a subprocess (Twisted's reactor cannot restart in-process)."""
    full_env = {**os.environ, **(env or {})}
    result = subprocess.run(
        [sys.executable, "-m", "archive.cli", *args],
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
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
def wayback_demo(vendor_site) -> Iterator[WaybackSim]:
    """The simulated Wayback Machine holding the demo site's history (as `spyglass demo` runs it)."""
    server, sim = start_wayback_sim(demo_sim(vendor_site[0]))
    yield sim
    server.shutdown()


@pytest.fixture(scope="session")
def crawled(tmp_path_factory: pytest.TempPathFactory, vendor_site, wayback_demo) -> dict:
    """The demo sources (live pages and Wayback history) crawled once into a fresh data directory."""
    base, site = vendor_site
    data = tmp_path_factory.mktemp("archive")
    # A one-second "minute" keeps the Wayback harvest fast; the budgets stay the real ones.
    env = {
        "SPYGLASS_VENDOR_SITE": base,
        "SPYGLASS_WAYBACK_URL": wayback_demo.base,
        "SPYGLASS_WAYBACK_WINDOW": "1",
    }
    # The site is the session's: a test file that ran earlier in this worker may have crawled
    # it already, so count only what this crawl fetched.
    before = dict(site.hits)
    result = run_cli(
        "crawl",
        "--sources",
        str(ROOT / "sources.yml"),
        "--data",
        str(data),
        "--source",
        "northwind-recognize",
        "-s",
        "SPYGLASS_PROGRESS_INTERVAL=0.2",
        env=env,
        check=True,
    )
    hits_after_first = {
        path: n - before.get(path, 0) for path, n in site.hits.items() if n > before.get(path, 0)
    }
    return {
        "data": data,
        "base": base,
        "site": site,
        "env": env,
        "result": result,
        "hits": hits_after_first,
        "wayback": wayback_demo,
    }


@pytest.fixture(scope="session")
def records_portal() -> Iterator[tuple[str, RecordsPortal]]:
    server, portal = start_records_portal()
    yield server.url, portal
    server.stop()


# Small limits keep the hostile crawl to seconds; each is a setting users can change.
HOSTILE_SETTINGS = {
    "DOWNLOAD_TIMEOUT": "2",
    "RETRY_TIMES": "1",
    "DOWNLOAD_MAXSIZE": "1000000",
    "DOWNLOAD_WARNSIZE": "0",
    "REDIRECT_MAX_TIMES": "5",
    "SPYGLASS_MAX_SIMILAR_URLS": "15",
    "AUTOTHROTTLE_ENABLED": "False",
}


def hostile_sources(path: Path, base: str, allow_private: str = "[127.0.0.1]") -> Path:
    """A sources file with one source crawling the hostile site, every test name in scope."""
    from tests.servers.hostile_site import RESOLVE_NAMES

    hosts = ["127.0.0.1", "127.0.0.2", "localhost", "169.254.169.254", "::1", *RESOLVE_NAMES]
    path.write_text(
        "sources:\n"
        "  - name: hostile\n"
        "    kind: vendor\n"
        f"    urls: ['{base}/']\n"
        f"    scope: {{hosts: [{', '.join(repr(h) for h in hosts)}], max_depth: 50, max_pages: 500}}\n"
        f"    allow_private: {allow_private}\n"
        "    vendor: Hostile Example\n"
    )
    return path


@pytest.fixture(scope="session")
def hostile_crawl(tmp_path_factory: pytest.TempPathFactory, crawled) -> Iterator[dict]:
    """The hostile site crawled once, into a copy of the vendor archive (which must stay intact)."""
    import hashlib
    import shutil
    import sqlite3

    from tests.servers.hostile_site import resolve_setting, start_hostile_site

    servers = start_hostile_site()
    root = tmp_path_factory.mktemp("hostile")
    data = root / "data"
    shutil.copytree(crawled["data"], data)
    conn = sqlite3.connect(data / "spyglass.db")
    before_rows = conn.execute("SELECT * FROM captures ORDER BY id").fetchall()
    conn.close()
    before_files = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in (data / "warcs").iterdir()}
    sources = hostile_sources(root / "sources.yml", servers.url)
    args = [
        "crawl",
        "--sources",
        str(sources),
        "--data",
        str(data),
        "-s",
        f"SPYGLASS_RESOLVE={resolve_setting()}",
    ]
    for key, value in HOSTILE_SETTINGS.items():
        args += ["-s", f"{key}={value}"]
    try:
        result = run_cli(*args, timeout=120)
        yield {
            "data": data,
            "base": servers.url,
            "site": servers.site,
            "servers": servers,
            "result": result,
            "before_rows": before_rows,
            "before_files": before_files,
        }
    finally:
        servers.stop()


@pytest.fixture(scope="session")
def demo_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What `spyglass demo` builds and a reporter meets first: the vendor site and its Wayback
    history, the records portals with their documents, and the demo's Atlas rows."""
    data = tmp_path_factory.mktemp("demo") / "data"
    run_cli("demo", "--no-serve", "--data", str(data), "--fixture-port", "0", check=True, timeout=300)
    return data
