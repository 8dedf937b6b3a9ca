"""Save Page Now end to end against the simulator: `spyglass save` and `save_on_change`."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import yaml

from archive.demo.server import Incoming, LoopbackServer, Reply
from archive.demo.wayback_sim import SimConfig, WaybackSim, start_wayback_sim
from archive.wayback.client import surt

from .conftest import run_cli

CREDS = {"SPYGLASS_SPN_ACCESS_KEY": "sim-access", "SPYGLASS_SPN_SECRET_KEY": "sim-secret"}
NO_CREDS = {"SPYGLASS_SPN_ACCESS_KEY": "", "SPYGLASS_SPN_SECRET_KEY": ""}
# Two seconds for a job to finish: long enough for a few polls on a busy machine (0.3 s let a
# failing job time out as pending under the parallel test run), short for the one never done.
QUICK = [
    "-s",
    "SPYGLASS_SPN_POLL_INTERVAL=0.01",
    "-s",
    "SPYGLASS_SPN_TIMEOUT=2",
    # A tenth of a second for the Wayback "minute": the budgets stay the defaults.
    "-s",
    "SPYGLASS_WAYBACK_WINDOW=0.1",
    "-s",
    "SPYGLASS_WAYBACK_PAUSE_ON_429=0.5",
    "-s",
    "SPYGLASS_WAYBACK_RETRY_BACKOFF=0.05",
]


@pytest.fixture
def sim():
    server, simulator = start_wayback_sim(WaybackSim(SimConfig(spn_pending_polls=2)))
    yield simulator
    server.shutdown()


def requests_of(data: Path) -> dict[str, sqlite3.Row]:
    conn = sqlite3.connect(data / "spyglass.db")
    conn.row_factory = sqlite3.Row
    try:
        return {r["url"]: r for r in conn.execute("SELECT * FROM save_requests")}
    finally:
        conn.close()


def save(sim, data: Path, *urls: str, env: dict[str, str], extra: tuple[str, ...] = ()):
    return run_cli(
        "save", *urls, "--data", str(data), "-s", f"SPYGLASS_WAYBACK_URL={sim.base}", *QUICK, *extra, env=env
    )


def test_spn2_jobs_are_recorded_honestly(tmp_path, sim):
    ok, failing, liar, slow = (f"https://example.org/{name}" for name in ("ok", "failing", "liar", "slow"))
    sim.spn.outcomes.update({failing: "error", liar: "error-but-saved", slow: "pending"})
    result = save(sim, tmp_path, ok, failing, liar, slow, env=CREDS)
    assert result.returncode == 1  # not every URL was saved
    rows = requests_of(tmp_path)
    assert {url: r["state"] for url, r in rows.items()} == {
        ok: "saved",
        failing: "failed",
        liar: "saved",
        slow: "pending",
    }
    assert all(r["method"] == "spn2" and r["job_id"].startswith("spn2-") for r in rows.values())
    saved = rows[ok]
    assert saved["confirmed_via_cdx"] == 1 and len(saved["wayback_timestamp"]) == 14
    assert saved["snapshot_url"] == f"https://web.archive.org/web/{saved['wayback_timestamp']}/{ok}"
    assert f"{ok}: saved {saved['snapshot_url']}" in result.stdout
    # An error report is never turned into a success unless the CDX shows the capture...
    assert (
        rows[failing]["snapshot_url"] is None and rows[failing]["status_ext"] == "error:service-unavailable"
    )
    # ...and when it does, both facts are kept.
    assert rows[liar]["confirmed_via_cdx"] == 1 and "but the CDX shows a capture" in rows[liar]["message"]
    assert rows[slow]["snapshot_url"] is None and "still pending" in rows[slow]["message"]
    submitted = [h for h in sim.log if h.method == "POST" and h.target == "/save"]
    polls = [h for h in sim.log if h.target.startswith("/save/status/")]
    assert len(submitted) == 4 and len(polls) >= 3 * 3
    assert [h for h in sim.log if h.target.startswith("/cdx/")]  # every finished job was checked


def test_bad_credentials_and_anonymous_saves(tmp_path, sim):
    url = "https://example.org/anonymous"
    refused = save(
        sim, tmp_path / "a", url, env={"SPYGLASS_SPN_ACCESS_KEY": "wrong", "SPYGLASS_SPN_SECRET_KEY": "x"}
    )
    assert refused.returncode == 1
    row = requests_of(tmp_path / "a")[url]
    assert row["state"] == "failed" and "HTTP 401" in row["message"] and row["job_id"] is None
    anonymous = save(sim, tmp_path / "b", url, env=NO_CREDS)
    assert anonymous.returncode == 0, anonymous.stdout + anonymous.stderr
    row = requests_of(tmp_path / "b")[url]
    assert (row["method"], row["state"], row["confirmed_via_cdx"]) == ("anonymous", "saved", 1)
    assert [h.target for h in sim.log if h.target.startswith("/save/")][-1] == f"/save/{url}"
    bad = run_cli("save", "not-a-url", "--data", str(tmp_path / "c"))
    assert bad.returncode == 2 and "is not an http(s) URL" in bad.stderr


def stable_site(request: Incoming) -> Reply:
    if request.path == "/down":
        return Reply(503, b"<html><title>Down for maintenance</title></html>")
    return Reply(body=b"<html><title>Stable</title><p>Never changes.</p></html>")


def test_only_a_capture_of_the_page_counts_as_saved(tmp_path, sim):
    with LoopbackServer(stable_site) as server:
        down, stable = f"{server.url}/down", f"{server.url}/"
        failing = save(sim, tmp_path, down, env=NO_CREDS)
        first = save(sim, tmp_path / "first", stable, env=NO_CREDS)
        # Unchanged: the Wayback Machine indexes the new capture as a revisit row.
        again = save(sim, tmp_path / "again", stable, env=NO_CREDS)
    assert failing.returncode == 1
    row = requests_of(tmp_path)[down]
    assert (row["state"], row["wayback_status"], row["snapshot_url"]) == ("failed", 503, None)
    assert "the site answering HTTP 503, not the page" in row["message"]
    assert first.returncode == 0 and again.returncode == 0, again.stdout + again.stderr
    row = requests_of(tmp_path / "again")[stable]
    assert (row["state"], row["confirmed_via_cdx"], row["wayback_status"]) == ("saved", 1, None)
    assert "revisit" in row["message"]
    assert row["wayback_timestamp"] != requests_of(tmp_path / "first")[stable]["wayback_timestamp"]


def test_a_page_the_wayback_machine_cannot_fetch_is_an_error_never_a_capture(tmp_path, sim):
    with LoopbackServer(stable_site) as server:
        gone = f"{server.url}/gone"  # closed below: the simulator's fetch of it is refused
    anonymous = save(sim, tmp_path / "a", gone, env=NO_CREDS)
    spn2 = save(sim, tmp_path / "b", gone, env=CREDS)
    assert anonymous.returncode == 1 and spn2.returncode == 1
    row = requests_of(tmp_path / "a")[gone]
    assert (row["state"], row["wayback_timestamp"], row["snapshot_url"]) == ("failed", None, None)
    assert "HTTP 520 (Live page is not available: " in row["message"] and "\n" not in row["message"]
    row = requests_of(tmp_path / "b")[gone]
    assert (row["state"], row["status_ext"], row["snapshot_url"]) == ("failed", "error:bad-gateway", None)
    assert row["message"].startswith(f"Live page is not available: {gone} (")
    assert f"{gone}: failed (Live page is not available" in spn2.stdout
    assert not sim.mementos.get(surt(gone))  # nothing archived: a later save of the page is no revisit


def test_a_429_or_503_from_the_status_endpoint_pauses_and_retries(tmp_path, sim):
    url = "https://example.org/busy"
    sim.inject("/save/status/", "429", times=1)
    sim.inject("/save/status/", "503", times=1)
    result = save(sim, tmp_path, url, env=CREDS, extra=("-s", "SPYGLASS_SPN_TIMEOUT=10"))
    assert result.returncode == 0, result.stdout + result.stderr
    row = requests_of(tmp_path)[url]
    assert (row["state"], row["confirmed_via_cdx"]) == ("saved", 1)
    [limited] = [h for h in sim.log if h.status == 429]
    # The 429 paused every Wayback request for SPYGLASS_WAYBACK_PAUSE_ON_429 (0.5 s).
    later = [h for h in sim.log if h.at > limited.at]
    assert later and min(h.at for h in later) - limited.at >= 0.45
    assert [h.status for h in sim.log if h.target.startswith("/save/status/")][:3] == [429, 503, 200]


class ChangingSite:
    """A two-page site whose home page changes between crawls."""

    def __init__(self) -> None:
        self.version = 1

    def __call__(self, request: Incoming) -> Reply:
        if request.path == "/":
            return Reply(
                body=f"<html><title>Home v{self.version}</title><a href='/same'>same</a></html>".encode()
            )
        if request.path == "/same":
            return Reply(body=b"<html><title>Same</title><p>Never changes.</p></html>")
        return Reply(404, b"not found")


def test_save_on_change_saves_only_changed_pages_and_records_it_on_the_capture(tmp_path, sim):
    site = ChangingSite()
    with LoopbackServer(site) as server:
        sources = tmp_path / "sources.yml"
        sources.write_text(
            yaml.safe_dump(
                {
                    "sources": [
                        {
                            "name": "changing",
                            "kind": "vendor",
                            "urls": [f"{server.url}/"],
                            "robots": False,
                            "save_on_change": True,
                        }
                    ]
                }
            )
        )
        args = (
            "crawl",
            "--sources",
            str(sources),
            "--data",
            str(tmp_path / "data"),
            "-s",
            f"SPYGLASS_WAYBACK_URL={sim.base}",
            *QUICK,
        )
        first = run_cli(*args, env=CREDS)
        assert first.returncode == 0, first.stderr
        assert not [h for h in sim.log if h.target.startswith("/save")]  # nothing had changed yet
        site.version = 2
        second = run_cli(*args, env=CREDS)
        assert second.returncode == 0, second.stderr
    rows = requests_of(tmp_path / "data")
    assert list(rows) == [f"{server.url}/"]
    row = rows[f"{server.url}/"]
    assert row["state"] == "saved" and row["source"] == "changing" and row["method"] == "spn2"
    conn = sqlite3.connect(tmp_path / "data" / "spyglass.db")
    capture = conn.execute(
        "SELECT title, crawl_run FROM captures WHERE id = ?", (row["capture_id"],)
    ).fetchone()
    conn.close()
    assert capture == ("Home v2", 2)
    # The simulator archived the changed page itself (it fetches loopback URLs).
    assert b"Home v2" in sim.nearest(f"{server.url}/", "99991231235959").body


def test_a_save_is_dated_when_it_was_sent_after_the_budget_s_wait(tmp_path, sim):
    from datetime import UTC, datetime, timedelta

    from archive.times import parse_when

    arrived: dict[str, datetime] = {}
    handle = sim.handle

    def logged(method, path, *args):
        if path.startswith("/save/"):
            arrived.setdefault(path.removeprefix("/save/"), datetime.now(UTC))
        return handle(method, path, *args)

    sim.handle = logged
    urls = [f"https://example.org/queued-{n}" for n in range(3)]
    # One save a second and a half: the second and third wait in the budget before they are sent.
    spaced = (
        "-s",
        "SPYGLASS_WAYBACK_SAVES_PER_WINDOW=1",
        "-s",
        "SPYGLASS_WAYBACK_BUDGET_FILE=" + str(tmp_path / "b.json"),
    )
    result = save(sim, tmp_path, *urls, env=NO_CREDS, extra=(*spaced, "-s", "SPYGLASS_WAYBACK_WINDOW=1.5"))
    assert result.returncode == 0, result.stderr
    rows = requests_of(tmp_path)
    for url in urls:
        sent = parse_when(rows[url]["requested_at"])
        assert timedelta(0) <= arrived[url] - sent < timedelta(seconds=1), (url, sent, arrived[url])
