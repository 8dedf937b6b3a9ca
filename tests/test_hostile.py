"""The hostile site crawled once through the real CLI: each failure is one recorded reason, and the crawl goes on."""

from __future__ import annotations

import hashlib
import re
import sqlite3
from pathlib import Path

import pytest
from w3lib.url import safe_url_string

from tests.servers.hostile_site import ODD_PATH

from .conftest import db_rows as rows
from .conftest import run_cli

# They send requests toward non-public addresses: only inside a namespace (tests/netns.py).
pytestmark = pytest.mark.network_namespace


def hostile_run(h: dict) -> sqlite3.Row:
    [run] = rows(h["data"], "SELECT * FROM crawl_runs WHERE source = 'hostile'")
    return run


def errors_for(h: dict, url: str) -> list[sqlite3.Row]:
    return rows(h["data"], "SELECT * FROM fetch_errors WHERE source = 'hostile' AND url = ?", (url,))


def capture(h: dict, url: str) -> sqlite3.Row:
    found = rows(h["data"], "SELECT * FROM captures WHERE source = 'hostile' AND url = ?", (url,))
    assert len(found) == 1, f"{url}: {len(found)} captures"
    return found[0]


def test_the_crawl_finishes_with_the_ordinary_pages_archived(hostile_crawl):
    h = hostile_crawl
    assert h["result"].returncode == 0, h["result"].stdout + h["result"].stderr
    run = hostile_run(h)
    # The calendar trap cut it short: it finished, partial, and says which limit did.
    assert (run["status"], run["finish_reason"]) == ("partial", "trap: /calendar/N/N/ after 15 similar URLs")
    for path in ("/", "/ok/1", "/ok/2", "/ok/after-malformed", "/redirect-chain/0"):
        assert capture(h, h["base"] + path)["status"] == 200
    port = h["base"].rsplit(":", 1)[1]
    # A name SPYGLASS_RESOLVE maps to the allowed 127.0.0.1 is crawled like any other.
    assert capture(h, f"http://alias.hostile.test:{port}/ok/alias")["status"] == 200
    # The run's counts are the rows it wrote.
    [(pages,)] = rows(h["data"], "SELECT count(*) FROM captures WHERE crawl_run = ?", (run["id"],))
    [(errors,)] = rows(h["data"], "SELECT count(*) FROM fetch_errors WHERE crawl_run = ?", (run["id"],))
    assert (run["pages"], run["errors"]) == (pages, errors)
    assert (
        f"hostile: partial (trap: /calendar/N/N/ after 15 similar URLs), {pages} pages" in h["result"].stdout
    )
    assert f"{errors} errors" in h["result"].stdout


# (path or absolute URL template, error_type, a regex the reason must match)
FAILURES = [
    ("/slow-body", "timeout", r"^no complete answer within 2 s \(DOWNLOAD_TIMEOUT\)$"),
    ("http://127.0.0.1:{silent}/never-answers", "timeout", r"^no complete answer within 2 s"),
    ("http://127.0.0.1:{refused}/refused", "connection", r"^connection refused"),
    ("/reset-mid-body", "connection", r"^connection closed before the whole body arrived"),
    ("/closes-at-once", "connection", r"^connection closed before any answer arrived$"),
    (
        "/status/500",
        "server-error",
        r"^server answered 500 Internal Server Error 2 time\(s\); gave up \(RETRY_TIMES\)$",
    ),
    (
        "/status/429",
        "rate-limited",
        r"^server answered 429 Too Many Requests 2 time\(s\) \(Retry-After 1 s honoured\)",
    ),
    (
        "/status/503/retry-after-hour",
        "server-error",
        r"asked to wait 3600 s \(Retry-After\), more than SPYGLASS_RETRY_AFTER_MAX \(60 s\); not retried$",
    ),
    (
        "/gzip-bomb",
        "too-large",
        r"^compressed body of \d+ bytes expands past the download size limit of 1000000 bytes",
    ),
    (
        "/huge",
        "too-large",
        r"^server announced 50000000 bytes, over the download size limit of 1000000 bytes",
    ),
    (
        "/huge/streamed",
        "too-large",
        r"^body grew past the download size limit of 1000000 bytes \(DOWNLOAD_MAXSIZE\) while streaming",
    ),
    (
        "/redirect-loop",
        "redirect",
        r"^redirect loop: {base}/redirect-loop/b redirects back to {base}/redirect-loop after 2 hop",
    ),
    (
        "/redirect-chain/30",
        "redirect",
        r"^too many redirects: still redirecting after 5 hops \(REDIRECT_MAX_TIMES\)",
    ),
    ("/private/secret", "robots", r"^disallowed by robots.txt$"),
    (
        "/long/" + "x" * 3000,
        "url-too-long",
        r"^URL is 3\d{3} characters, over the limit of 2083 \(URLLENGTH_LIMIT\); not fetched$",
    ),
]


@pytest.mark.parametrize("target,error_type,reason", FAILURES, ids=[f[0][:30] for f in FAILURES])
def test_each_failure_is_one_row_with_a_readable_reason(hostile_crawl, target, error_type, reason):
    h = hostile_crawl
    site = h["site"]
    base = h["base"]
    url = target.format(silent=site.silent_port, refused=site.refused_port)
    url = url if url.startswith("http") else base + url
    found = errors_for(h, url)
    assert len(found) == 1, [dict(r) for r in rows(h["data"], "SELECT url, reason FROM fetch_errors")]
    [error] = found
    assert error["error_type"] == error_type
    assert re.search(reason.replace("{base}", re.escape(base)), error["reason"]), error["reason"]
    assert error["crawl_run"] == hostile_run(h)["id"]
    assert error["referrer"] == base + "/"


def test_never_fetched_what_robots_or_the_url_limit_refused(hostile_crawl):
    hits = hostile_crawl["site"].hits
    assert "/private/secret" not in hits
    assert not any(path.startswith("/long/") for path in hits)


def attempts(h: dict, url: str) -> list[sqlite3.Row]:
    return rows(h["data"], "SELECT * FROM captures WHERE url = ? ORDER BY id", (url,))


def test_servers_that_refuse_are_still_archived_as_evidence(hostile_crawl):
    h = hostile_crawl
    # Every attempt is a capture; the identical second answer is a revisit of the first.
    for path, status in (("/status/500", 500), ("/status/429", 429)):
        tries = attempts(h, h["base"] + path)
        assert [(r["status"], r["warc_type"]) for r in tries] == [(status, "response"), (status, "revisit")]
        assert tries[1]["refers_to"] == tries[0]["warc_record_id"]
    assert capture(h, h["base"] + "/status/503/retry-after-hour")["status"] == 503
    assert h["site"].hits["/status/503/retry-after-hour"] == 1  # told to wait an hour: no retry


def test_a_flapping_500_is_retried_and_the_good_answer_archived(hostile_crawl):
    h = hostile_crawl
    first, row = attempts(h, h["base"] + "/status/500/flap")
    assert first["status"] == 500
    assert (row["status"], row["title"]) == (200, "Recovered")
    assert h["site"].hits["/status/500/flap"] == 2
    assert errors_for(h, h["base"] + "/status/500/flap") == []


def test_a_429_retry_waits_for_retry_after(hostile_crawl):
    h = hostile_crawl
    first, row = attempts(h, h["base"] + "/status/429/once")
    assert first["status"] == 429
    assert (row["status"], row["title"]) == (200, "Served after waiting")
    first, second = h["site"].times["/status/429/once"]
    assert second - first >= 0.95  # Retry-After: 1 (a lower bound, not a speed)
    assert errors_for(h, h["base"] + "/status/429/once") == []


def test_a_redirect_chain_within_the_limit_is_followed_hop_by_hop(hostile_crawl):
    h = hostile_crawl
    for n in (3, 2, 1):
        row = capture(h, f"{h['base']}/redirect-chain/{n}")
        assert (row["status"], row["location"]) == (302, f"/redirect-chain/{n - 1}")
    assert capture(h, h["base"] + "/redirect-chain/0")["title"] == "End of the chain"
    # The loop's two hops are archived once each; the loop is not followed again.
    assert h["site"].hits["/redirect-loop"] == 1 and h["site"].hits["/redirect-loop/b"] == 1


def test_the_calendar_trap_stops_at_the_similar_url_limit(hostile_crawl):
    h = hostile_crawl
    months = rows(h["data"], "SELECT url FROM captures WHERE url LIKE '%/calendar/%'")
    assert len(months) == 15
    [trap] = rows(h["data"], "SELECT * FROM fetch_errors WHERE error_type = 'trap'")
    assert "/calendar/" in trap["url"]
    assert trap["reason"] == (
        "trap: /calendar/N/N/ after 15 similar URLs (SPYGLASS_MAX_SIMILAR_URLS: a crawler trap?); "
        "2 such URLs, each linked from fewer than 5 pages and listed in no sitemap, were not followed"
    )


def test_odd_pages_are_archived_with_text_or_a_reason(hostile_crawl):
    h = hostile_crawl
    base = h["base"]
    for path in ("/charset/wrong", "/charset/missing", "/charset/invalid-utf8"):
        row = capture(h, base + path)
        assert row["status"] == 200 and row["title"] and row["extraction_error"] is None, dict(row)
    assert capture(h, base + "/charset/wrong")["title"].startswith("Caf")
    assert "valid start" in capture(h, base + "/charset/invalid-utf8")["text"]
    malformed = capture(h, base + "/malformed")
    # <title> holds raw text: the "<b>" is part of the title, not markup.
    assert malformed["title"] == "Malformed <b>page" and "link inside the mess" in malformed["text"]
    empty = capture(h, base + "/empty")
    assert (empty["length"], empty["sha256"], empty["extraction_error"]) == (
        0,
        hashlib.sha256(b"").hexdigest(),
        "empty document",
    )
    assert capture(h, base + "/docs/malformed.pdf")["extraction_error"].startswith("unreadable PDF: ")
    assert capture(h, base + "/docs/encrypted.pdf")["extraction_error"] == "encrypted PDF"
    odd = capture(h, safe_url_string(base + ODD_PATH))
    assert odd["title"] == "Odd URL"
    assert " " not in odd["url"] and '"' not in odd["url"] and "<" not in odd["url"]


def test_nothing_already_archived_was_touched(hostile_crawl):
    h = hostile_crawl
    conn = sqlite3.connect(h["data"] / "spyglass.db")
    after = conn.execute(
        "SELECT * FROM captures WHERE id <= ? ORDER BY id", (len(h["before_rows"]),)
    ).fetchall()
    conn.close()
    assert after == h["before_rows"]
    for name, digest in h["before_files"].items():
        path = h["data"] / "warcs" / name
        assert hashlib.sha256(path.read_bytes()).hexdigest() == digest, name
    verified = run_cli("verify", "--data", str(h["data"]))
    assert verified.returncode == 0, verified.stderr


@pytest.mark.parametrize(
    "setting,expected_paths,limit_rows",
    [
        ("SPYGLASS_MAX_DEPTH=0", {"/", "/sitemap.xml"}, 0),
        ("SPYGLASS_MAX_PAGES=1", {"/"}, 1),
    ],
)
def test_caps_over_every_source_hold_and_a_page_limit_is_recorded_once(
    vendor_site, tmp_path: Path, setting, expected_paths, limit_rows
):
    from .conftest import ROOT

    base, _ = vendor_site
    data = tmp_path / "data"
    result = run_cli(
        "crawl",
        "--sources",
        str(ROOT / "sources.yml"),
        "--data",
        str(data),
        "--source",
        "northwind-recognize",
        "--only",
        "live",
        "-s",
        setting,
        env={"SPYGLASS_VENDOR_SITE": base},
    )
    assert result.returncode == 0, result.stderr
    # Page requisites do not count as pages (README, "Page requisites").
    pages = {r["url"][len(base) :] for r in rows(data, "SELECT url FROM captures WHERE requisite IS NULL")}
    assert pages == expected_paths | {"/robots.txt"}
    limits = rows(data, "SELECT * FROM fetch_errors WHERE error_type = 'limit'")
    assert len(limits) == limit_rows
    if limits:
        assert limits[0]["reason"] == (
            "max_pages: 1 URLs (scope.max_pages, SPYGLASS_MAX_PAGES); this and further links were not followed"
        )
        [run] = rows(data, "SELECT status, finish_reason FROM crawl_runs")
        assert tuple(run) == ("partial", "max_pages: 1 URLs")
