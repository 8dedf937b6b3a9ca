"""Schedules: `every:` in sources.yml, `spyglass run-due` with a controllable clock, its lock, status."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from archive.errors import ConfigError
from archive.sources.every import parse_every
from archive.sources.load import load_sources

from .conftest import ROOT, db_rows, rows_when_ready, run_cli

T0 = "2030-01-01T00:00:00Z"


def test_every_values():
    assert parse_every("6h").seconds == 6 * 3600 and parse_every("2w").seconds == 14 * 86400
    cron = parse_every("0 3 * * *")
    assert cron.next_after(datetime(2030, 1, 1, 5, tzinfo=UTC)) == datetime(2030, 1, 2, 3, tzinfo=UTC)
    assert parse_every("never").never and parse_every("never").next_after(datetime.now(UTC)) is None


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_file_default_and_per_source_every(tmp_path: Path):
    sources = load_sources(
        _write(
            tmp_path / "s.yml",
            (
                "every: {vendor: 12h, wayback: 30d}\n"
                "sources:\n"
                "  - {name: a, kind: vendor, urls: ['https://a.example/'], wayback: true}\n"
                "  - {name: b, kind: vendor, urls: ['https://b.example/'], every: '0 3 * * 1',\n"
                "     wayback: {every: 1d}}\n"
                "  - {name: c, kind: records, urls: ['https://c.example/']}\n"
            ),
        )
    )
    a, b, c = sources
    assert (a.every, a.wayback.every) == ("12h", "30d")
    assert (b.every, b.wayback.every) == ("0 3 * * 1", "1d")
    assert c.every == "1d"  # records keep the built-in default


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "every: sometimes\nsources: [{name: a, kind: vendor, urls: ['https://a.example/']}]\n",
            "s.yml: field 'every': must be a duration such as 6h, 1d or 7d (m, h, d, w), a five-field cron "
            "expression such as '0 3 * * *', or never; got 'sometimes'",
        ),
        (
            "sources: [{name: a, kind: vendor, urls: ['https://a.example/'], every: 30s}]\n",
            "s.yml: source 'a': field 'every': must be a duration",
        ),
        (
            "sources: [{name: a, kind: vendor, urls: ['https://a.example/'], wayback: {every: '61 * * * *'}}]\n",
            "s.yml: source 'a': field 'wayback.every': must be a duration",
        ),
        (
            "every: {daily: 1d}\nsources: [{name: a, kind: vendor, urls: ['https://a.example/']}]\n",
            "s.yml: field 'every.daily': unknown kind; use vendor, records, wayback",
        ),
    ],
)
def test_bad_every_is_refused_in_one_line(tmp_path: Path, text: str, message: str):
    with pytest.raises(ConfigError) as caught:
        load_sources(_write(tmp_path / "s.yml", text))
    assert str(caught.value).startswith(
        str(tmp_path / message.split(": ", 1)[0]) + ": " + message.split(": ", 1)[1]
    )


def _sources(path: Path, base: str, delay: bool = False) -> Path:
    entry = (
        "kind: vendor, urls: ['{base}/'], allow_private: [127.0.0.1], robots: false, "
        "scope: {{hosts: [127.0.0.1], max_pages: 100, max_depth: 0}}"
    )
    return _write(
        path,
        (
            "sources:\n"
            f"  - {{name: daily, every: 1d, {entry.format(base=base)}}}\n"
            f"  - {{name: weekly, every: 7d, {entry.format(base=base)}}}\n"
            f"  - {{name: manual, every: never, {entry.format(base=base)}}}\n"
        ),
    )


def _runs(data: Path) -> list[str]:
    return [r["source"] for r in db_rows(data, "SELECT source FROM crawl_runs ORDER BY id")]


def test_run_due_runs_exactly_the_due_sources_and_moves_their_next_time(vendor_site, tmp_path: Path):
    data = tmp_path / "data"
    sources = _sources(tmp_path / "sources.yml", vendor_site[0])
    common = ("--sources", str(sources), "--data", str(data))
    first = run_cli("run-due", *common, "--now", T0, check=True)
    assert sorted(_runs(data)) == ["daily", "weekly"], first.stdout
    assert "daily: next due 2030-01-02 00:00 UTC" in first.stdout
    nothing = run_cli("run-due", *common, "--now", "2030-01-01T20:00:00Z", check=True)
    assert "nothing due at 2030-01-01 20:00 UTC; next: daily at 2030-01-02 00:00 UTC" in nothing.stdout
    assert sorted(_runs(data)) == ["daily", "weekly"]
    # A lock left by a process that died is no lock: the next run-due takes it over.
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            (
                "import sys, time; from archive.locks import run_due_lock; "
                f"run_due_lock({str(data)!r}).acquire(); print('locked', flush=True); time.sleep(60)"
            ),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "locked"
    holder.kill()
    holder.wait()
    second = run_cli("run-due", *common, "--now", "2030-01-02T00:01:00Z", check=True)
    assert f"took over the lock left by pid {holder.pid}" in second.stderr
    assert _runs(data)[2:] == ["daily"]
    [row] = db_rows(data, "SELECT * FROM schedules WHERE source = 'daily'")
    assert row["next_due_at"] == "2030-01-03T00:01:00.000000Z"
    ok = run_cli("status", *common, "--now", "2030-01-02T00:02:00Z")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "manual" in ok.stdout
    late = run_cli("status", *common, "--now", "2030-01-05T00:00:00Z")
    assert late.returncode == 1
    assert "1 need attention: daily is overdue" in late.stderr
    assert "OVERDUE" in late.stdout
    # The same in Datasette, judged by the real clock (before 2030: nothing is due yet).
    page = _datasette_rows(data, "/spyglass/source_status.json?_shape=objects")
    assert {r["source"]: (r["state"], r["last_status"]) for r in page} == {
        "daily": ("ok", "finished"),
        "weekly": ("ok", "finished"),
        "manual": ("manual", None),
    }


def _datasette_rows(data: Path, path: str) -> list[dict]:
    import asyncio

    from archive.publish.datasette import datasette_app

    response = asyncio.run(datasette_app(data).client.get(path))
    assert response.status_code == 200, response.text
    return response.json()["rows"]


def test_two_run_due_calls_never_crawl_a_source_twice(vendor_site, tmp_path: Path):
    data = tmp_path / "data"
    sources = _sources(tmp_path / "sources.yml", vendor_site[0])
    args = [
        sys.executable,
        "-m",
        "archive.cli",
        "run-due",
        "--sources",
        str(sources),
        "--data",
        str(data),
        "--now",
        T0,
        "-s",
        "DOWNLOAD_DELAY=1",
        "-s",
        "AUTOTHROTTLE_ENABLED=False",
    ]
    first = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not rows_when_ready(data, "SELECT id FROM crawl_runs"):
        assert first.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    second = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=60)
    out, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    assert second.returncode == 0
    assert "nothing to do: another run-due is running (pid" in second.stdout
    assert sorted(_runs(data)) == ["daily", "weekly"]


def _job_state(tmp_path: Path, every: str, runs: list[dict], now: str, started: str | None = None):
    """The state job_status gives a source with these crawl_runs rows at `now`."""
    from archive.index.db import open_db
    from archive.ops.schedule import Job, job_status, record_started
    from archive.sources.model import Scope, Source

    db = open_db(tmp_path / "spyglass.db")
    source = Source("s", "vendor", ("https://s.example/",), Scope(hosts=("s.example",)), every=every)
    for run in runs:
        db.table("crawl_runs").insert({"source": "s", "spider": "vendor", **run})
    if started:
        record_started(db, [("s", "vendor")], datetime.fromisoformat(started))
    status = job_status(db, tmp_path, Job(source, "vendor"), datetime.fromisoformat(now), 3600, 1800)
    db.close()
    return status


@pytest.mark.parametrize(
    "every, runs, now, state, next_due",
    [
        # Never run: due at once.
        ("1d", [], "2030-01-01T00:00:00+00:00", "due", "2030-01-01T00:00:00+00:00"),
        ("never", [], "2030-01-01T00:00:00+00:00", "manual", None),
        # Finished: due an interval after it started; overdue an hour (the grace) after that.
        (
            "1d",
            [{"status": "finished", "started_at": "2030-01-01T00:00:00Z"}],
            "2030-01-01T12:00:00+00:00",
            "ok",
            "2030-01-02T00:00:00+00:00",
        ),
        (
            "1d",
            [{"status": "finished", "started_at": "2030-01-01T00:00:00Z"}],
            "2030-01-02T01:00:01+00:00",
            "overdue",
            "2030-01-02T00:00:00+00:00",
        ),
        (
            "0 3 * * *",
            [{"status": "finished", "started_at": "2030-01-01T05:00:00Z"}],
            "2030-01-01T12:00:00+00:00",
            "ok",
            "2030-01-02T03:00:00+00:00",
        ),
        # Failed: tried again after the retry delay (30 min here), not a whole interval.
        (
            "1d",
            [{"status": "failed", "started_at": "2030-01-01T00:00:00Z", "ended_at": "2030-01-01T00:10:00Z"}],
            "2030-01-01T00:20:00+00:00",
            "failed",
            "2030-01-01T00:40:00+00:00",
        ),
        # A run still marked running whose crawl lock is free: its process died (stuck); resume it now.
        (
            "1d",
            [{"status": "running", "started_at": "2030-01-01T00:00:00Z"}],
            "2030-01-01T00:20:00+00:00",
            "stuck",
            "2030-01-01T00:00:00+00:00",
        ),
        # Interrupted once: continued at once, not flagged until it is late...
        (
            "1d",
            [{"status": "interrupted", "started_at": "2030-01-01T00:00:00Z"}],
            "2030-01-01T00:20:00+00:00",
            "interrupted",
            "2030-01-01T00:00:00+00:00",
        ),
        (
            "1d",
            [{"status": "interrupted", "started_at": "2030-01-01T00:00:00Z"}],
            "2030-01-01T01:00:01+00:00",
            "overdue",
            "2030-01-01T00:00:00+00:00",
        ),
        # ...interrupted twice in a row: flagged at once.
        (
            "1d",
            [
                {"status": "interrupted", "started_at": "2030-01-01T00:00:00Z"},
                {"status": "interrupted", "started_at": "2030-01-01T00:10:00Z"},
            ],
            "2030-01-01T00:20:00+00:00",
            "interrupted twice",
            "2030-01-01T00:10:00+00:00",
        ),
        # Stopped short by a limit: partial, flagged, due again on its interval.
        (
            "1d",
            [{"status": "partial", "started_at": "2030-01-01T00:00:00Z"}],
            "2030-01-01T12:00:00+00:00",
            "partial",
            "2030-01-02T00:00:00+00:00",
        ),
    ],
)
def test_job_states(tmp_path: Path, every, runs, now, state, next_due):
    from archive.ops.schedule import FLAGGED

    status = _job_state(tmp_path, every, runs, now)
    assert status.state == state
    assert (status.next_due.isoformat() if status.next_due else None) == next_due
    assert status.flagged == (state in FLAGGED)
    assert status.flagged == (state not in ("ok", "due", "manual", "interrupted", "running"))


def test_a_run_far_longer_than_its_sources_runs_is_running_too_long(tmp_path: Path):
    from archive.locks import crawl_lock

    done = {"status": "finished", "started_at": "2030-01-01T00:00:00Z", "seconds": 1500.0}
    runs = [done, {"status": "running", "started_at": "2030-01-02T00:00:00Z"}]
    # Its process holds the crawl lock: running, for up to 3 x its longest run (75 min) or the grace.
    for name, now, state in (("a", "01:00", "running"), ("b", "01:16", "running too long")):
        (tmp_path / name).mkdir()
        lock = crawl_lock(tmp_path / name, "s", "vendor").acquire()
        try:
            status = _job_state(tmp_path / name, "1d", runs, f"2030-01-02T{now}:00+00:00")
        finally:
            lock.release()
        assert (status.state, status.flagged) == (state, state != "running")


def test_the_schedulers_clock_counts_for_the_last_start(tmp_path: Path):
    # run-due --now 2030-01-05 started it: the next run is a day after that, not after the real start.
    status = _job_state(
        tmp_path,
        "1d",
        [{"status": "finished", "started_at": "2026-11-30T00:00:00Z"}],
        "2030-01-05T12:00:00+00:00",
        started="2030-01-05T00:00:00+00:00",
    )
    assert (status.state, status.next_due.isoformat()) == ("ok", "2030-01-06T00:00:00+00:00")


def test_run_due_forever_runs_what_becomes_due_and_stops_on_sigterm(vendor_site, tmp_path: Path):
    data = tmp_path / "data"
    sources = tmp_path / "sources.yml"
    entry = (
        f"kind: vendor, urls: ['{vendor_site[0]}/'], allow_private: [127.0.0.1], robots: false, "
        "scope: {hosts: [127.0.0.1], max_pages: 100, max_depth: 0}"
    )
    sources.write_text(f"sources:\n  - {{name: first, every: 1d, {entry}}}\n")
    args = ["run-due", "--forever", "--sources", str(sources), "--data", str(data)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "archive.cli", *args, "-s", "SPYGLASS_SCHEDULE_CHECK=0.5"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    sql = "SELECT source FROM crawl_runs WHERE status = 'finished' ORDER BY id"
    deadline = time.monotonic() + 120
    try:
        while [r["source"] for r in rows_when_ready(data, sql)] != ["first"]:
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
        # A source added while it sleeps is crawled at its next look; the first is not crawled again.
        sources.write_text(sources.read_text() + f"  - {{name: second, every: 1d, {entry}}}\n")
        while [r["source"] for r in rows_when_ready(data, sql)] != ["first", "second"]:
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        if proc.poll() is None and time.monotonic() >= deadline:
            proc.kill()
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "run-due --forever: stopped by a signal" in err
    assert _runs(data) == ["first", "second"]


def test_dry_run_writes_nothing_and_now_is_no_real_start(vendor_site, tmp_path: Path):
    data = tmp_path / "data"
    sources = _sources(tmp_path / "sources.yml", vendor_site[0])
    common = ("--sources", str(sources), "--data", str(data))
    dry = run_cli("run-due", *common, "--dry-run", check=True)
    assert "due at " in dry.stdout and "daily" in dry.stdout
    assert not data.exists()
    run_cli("run-due", *common, "--now", T0, check=True)

    # A reader of a WAL index may leave its -wal and -shm files: they hold no change.
    def files() -> dict[str, int]:
        return {
            p.name: p.stat().st_mtime_ns for p in data.rglob("*") if p.suffix not in (".db-wal", ".db-shm")
        }

    before = files()
    again = run_cli("run-due", *common, "--now", "2030-01-01T20:00:00Z", "--dry-run", check=True)
    assert "nothing due at 2030-01-01 20:00 UTC" in again.stdout
    assert files() == before
    assert db_rows(data, "SELECT count(*) AS n FROM crawl_runs")[0]["n"] == 2
    # The real clock counts from the real start (today), not from the pretended one in 2030:
    # tomorrow the daily source is due again, whatever run-due --now said.
    real = run_cli("status", *common)
    assert real.returncode == 0, real.stdout + real.stderr
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%d")
    [daily] = [line for line in real.stdout.splitlines() if line.startswith("daily ")]
    assert f"{tomorrow} " in daily and "2030" not in daily, daily
