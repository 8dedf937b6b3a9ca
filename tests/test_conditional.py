"""Cheap re-crawls with proof: conditional requests, 304s kept in the WARC, observations in the index."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

from .conftest import ROOT, run_cli
from .conftest import db_rows as rows


def test_recrawl_of_an_unchanged_site_writes_no_payload_and_records_observations(crawled, tmp_path: Path):
    data = tmp_path / "data"
    shutil.copytree(crawled["data"], data)
    before = {p.name for p in (data / "warcs").glob("*.warc.gz")}
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
        env=crawled["env"],
        check=True,
    )
    [run] = rows(data, "SELECT * FROM crawl_runs WHERE spider = 'vendor' ORDER BY id DESC LIMIT 1")
    first = {
        r["url"]: r
        for r in rows(data, "SELECT * FROM captures WHERE crawl_run < ? AND via = 'live'", (run["id"],))
    }
    pages = {url for url, r in first.items() if r["status"] == 200 and not url.endswith("/robots.txt")}
    observed = rows(
        data, "SELECT * FROM observations WHERE crawl_run = ? AND kind = 'not-modified'", (run["id"],)
    )
    # Every page that answered 200 before answered 304 now, and each 304 confirms the capture
    # holding its payload: its first capture, or for a requisite stored once under another URL
    # (the icon's second name), the capture it is a revisit of.
    by_record = {r["warc_record_id"]: r for r in first.values()}
    assert {o["url"] for o in observed} == pages
    for o in observed:
        holder = first[o["url"]]
        holder = by_record[holder["refers_to"]] if holder["warc_type"] == "revisit" else holder
        assert (o["kind"], o["status"]) == ("not-modified", 304)
        assert o["capture_id"] == holder["id"] and o["sha256"] == first[o["url"]]["sha256"]
    assert run["observations"] == len(pages) and run["requests"] >= len(pages)
    assert f"{len(pages)} seen unchanged (304)" in result.stdout
    # No payload stored again: the new file holds 304 exchanges and revisits (robots.txt, redirects).
    [new_file] = {p.name for p in (data / "warcs").glob("*.warc.gz")} - before
    with open(data / "warcs" / new_file, "rb") as fh:
        records = [
            (
                r.rec_type,
                r.http_headers.get_statuscode() if r.http_headers else None,
                r.http_headers.get_header("If-None-Match") if r.rec_type == "request" else None,
                r.content_stream().read(),
            )
            for r in ArchiveIterator(fh)
        ]
    responses = [r for r in records if r[0] == "response"]
    assert len(responses) == len(pages) and {r[1] for r in responses} == {"304"}
    assert all(body == b"" for _, _, _, body in responses)
    assert sum(1 for r in records if r[0] == "request" and r[2]) == len(pages)  # validators sent
    new_captures = rows(data, "SELECT * FROM captures WHERE crawl_run = ?", (run["id"],))
    assert {c["warc_type"] for c in new_captures} == {"revisit"}
    # robots.txt is fetched whole (no validators): the same payload is an 'unchanged' observation
    # (the site's own, and its second host's, where a page requisite is).
    both = rows(data, "SELECT * FROM observations WHERE crawl_run = ? AND kind = 'unchanged'", (run["id"],))
    assert len(both) == 2
    for robots in both:
        assert robots["url"].endswith("/robots.txt") and robots["capture_id"] == first[robots["url"]]["id"]
        assert robots["revisit_capture_id"] in {c["id"] for c in new_captures}
    verified = run_cli("verify", "--data", str(data))
    assert verified.returncode == 0, verified.stdout
    # Versions count a 304 as a sighting of the version it confirms, and keep it when rebuilt.
    faq = next(o for o in observed if o["url"].endswith("/products/recognize/faqs/"))

    def last_seen() -> str:
        [version] = rows(
            data, "SELECT * FROM versions WHERE page_url = ? ORDER BY number DESC LIMIT 1", (faq["url"],)
        )
        return version["last_seen_at"]

    assert last_seen() == faq["observed_at"]
    # The citation of the first capture says it was seen unchanged since, with the 304 as proof.
    cited = json.loads(
        run_cli("cite", str(faq["capture_id"]), "--format", "json", "--data", str(data), check=True).stdout
    )
    assert (cited["seen_unchanged"], cited["seen_unchanged_at"]) == (1, faq["observed_at"])
    assert cited["seen_unchanged_proof"] == f"{faq['warc_filename']}, offset {faq['warc_offset']}"
    assert "Seen unchanged 1 time(s) since" in cited["text"]
    run_cli(
        "rebuild-history",
        "--data",
        str(data),
        "--sources",
        str(ROOT / "sources.yml"),
        env=crawled["env"],
        check=True,
    )
    assert last_seen() == faq["observed_at"]
