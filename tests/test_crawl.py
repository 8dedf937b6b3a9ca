"""End to end: `spyglass crawl` against the fixture vendor site, then the archive it built."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from archive.demo.vendor_site import PAGES, REDIRECTS
from archive.warc.digests import sha256_hex

from .conftest import ROOT, run_cli
from .conftest import db_rows as rows

REACHABLE = (
    {p for p in PAGES if p != "/internal/roadmap/"}
    | set(REDIRECTS)
    | {"/docs/recognize-datasheet.pdf", "/sitemap.xml", "/robots.txt"}
)
# What the pages need to render, how they refer to it, and who refers to it
# (None: a page; the hero image and the theme come from the stylesheet).
REQUISITES = {
    "/static/site.css": ("stylesheet", None),
    "/static/theme.css": ("stylesheet", "/static/site.css"),
    "/static/hero.png": ("image", "/static/site.css"),
    "/static/site.js": ("script", None),
    "/favicon.png": ("icon", None),
    "/apple-touch-icon.png": ("icon", None),
    "/img/recognize-480.png": ("image", "/products/recognize/"),
    "other:/img/recognize-960.png": ("image", "/products/recognize/"),
}


def requisite_url(crawled: dict, path: str) -> str:
    """A requisite's URL; `other:` paths are on the site's second host (as on a CDN)."""
    if path.startswith("other:"):
        return crawled["site"].other + path[len("other:") :]
    return crawled["base"] + path


def test_every_reachable_in_scope_page_is_captured_once(crawled):
    base = crawled["base"]
    captured = [
        r["url"]
        for r in rows(crawled["data"], "SELECT url FROM captures WHERE via = 'live' AND requisite IS NULL")
    ]
    # The other host's robots.txt is read before its requisite is fetched.
    robots = crawled["site"].other + "/robots.txt"
    assert sorted(captured) == sorted([base + p for p in REACHABLE] + [robots])
    [run] = rows(crawled["data"], "SELECT * FROM crawl_runs WHERE spider = 'vendor'")
    assert run["status"] == "finished" and run["pages"] == len(REACHABLE) + 1
    assert run["captures"] == len(REACHABLE) + 1 and run["revisits"] == 0
    assert run["requisites"] == len(REQUISITES)


def test_page_requisites_are_archived_once_marked_and_left_out_of_search(crawled):
    found = {r["url"]: r for r in rows(crawled["data"], "SELECT * FROM captures WHERE requisite IS NOT NULL")}
    assert set(found) == {requisite_url(crawled, p) for p in REQUISITES}
    for path, (kind, referrer) in REQUISITES.items():
        row = found[requisite_url(crawled, path)]
        assert (row["requisite"], row["status"]) == (kind, 200)
        if referrer is not None:
            assert row["referrer"] == crawled["base"] + referrer
        # Not what the page says: no title or text, so searches never find a stylesheet.
        assert row["title"] is None and row["text"] is None
        assert crawled["hits"][path.removeprefix("other:")] == 1  # once, though every page needs it
    # One payload, stored once: the icon's second name is a revisit of the first.
    first, second = sorted(
        (found[requisite_url(crawled, p)] for p in ("/favicon.png", "/apple-touch-icon.png")),
        key=lambda r: r["id"],
    )
    assert (first["warc_type"], second["warc_type"]) == ("response", "revisit")
    assert second["refers_to"] == first["warc_record_id"] and second["sha256"] == first["sha256"]
    assert {r["warc_type"] for r in found.values()} == {"response", "revisit"}


def test_out_of_scope_and_robots_disallowed_pages_are_not_fetched(crawled):
    hits = crawled["hits"]
    assert "/internal/roadmap/" not in hits
    assert "/partners/" not in hits  # linked as http://localhost:PORT/, another host
    assert all(count == 1 for path, count in hits.items() if path != "/robots.txt"), hits
    [error] = rows(
        crawled["data"],
        "SELECT f.* FROM fetch_errors f JOIN crawl_runs r ON r.id = f.crawl_run WHERE r.spider = 'vendor'",
    )
    assert error["url"] == crawled["base"] + "/internal/roadmap/"
    assert (error["error_type"], error["reason"]) == ("robots", "disallowed by robots.txt")
    assert error["referrer"] == crawled["base"] + "/about/"


def test_captures_carry_tags_status_text_and_utc_times(crawled):
    base = crawled["base"]
    by_url = {r["url"]: r for r in rows(crawled["data"], "SELECT * FROM captures")}
    faq = by_url[base + "/products/recognize/faqs/"]
    assert faq["via"] == "live" and faq["status"] == 200
    assert (faq["vendor"], faq["product"], faq["source"]) == (
        "Northwind Cloud",
        "Northwind Recognize",
        "northwind-recognize",
    )
    assert faq["title"] == "Northwind Recognize FAQs"
    assert "What is person tracking?" in faq["text"]
    # Main text only: navigation, footer and scripts are left out.
    assert "Partner network" not in faq["text"] and "analytics" not in faq["text"]
    assert faq["captured_at"].endswith("Z") and faq["captured_at"][:2] == "20"
    pdf = by_url[base + "/docs/recognize-datasheet.pdf"]
    assert pdf["extraction"] == "pdf" and "Person tracking" in pdf["text"]
    redirect = by_url[base + "/products/recognise/"]
    assert redirect["status"] == 301 and redirect["location"] == "/products/recognize/"
    hidden = by_url[base + "/customers/clearwater-county-sheriff/"]
    assert hidden["referrer"] == base + "/customers/" and "300,000 booking photos" in hidden["text"]


def test_every_payload_read_back_with_warcio_matches_its_sha256(crawled):
    data = crawled["data"]
    captures = rows(data, "SELECT * FROM captures")
    for capture in captures:
        with open(data / "warcs" / capture["warc_filename"], "rb") as fh:
            fh.seek(capture["warc_offset"])
            record = next(iter(ArchiveIterator(fh)))
            assert record.rec_headers.get_header("WARC-Target-URI") == capture["url"]
            payload = record.raw_stream.read()
        if capture["warc_type"] == "response":  # a revisit's payload is its original's
            assert sha256_hex(payload) == capture["sha256"]
        assert record.rec_headers.get_header("WARC-Payload-Digest") == "sha256:" + capture["sha256"]
    # Every record in every file has valid block and payload digests, and each
    # response has its request record.
    for path in (data / "warcs").glob("*.warc.gz"):
        types = []
        with open(path, "rb") as fh:
            for record in ArchiveIterator(fh, check_digests="raise"):
                types.append(record.rec_type)
                record.raw_stream.read()
        assert types[0] == "warcinfo"
        assert types.count("request") == types.count("response") + types.count("revisit")


def test_second_crawl_of_unchanged_pages_writes_only_revisits(crawled, tmp_path: Path):
    data = tmp_path / "data"
    shutil.copytree(crawled["data"], data)
    # Without conditional requests (tests/test_conditional.py has them) every page comes back whole.
    run_cli(
        "crawl",
        "--sources",
        str(ROOT / "sources.yml"),
        "--data",
        str(data),
        "--source",
        "northwind-recognize",
        "-s",
        "SPYGLASS_CONDITIONAL_REQUESTS=false",
        env=crawled["env"],
        check=True,
    )
    second = rows(
        data,
        "SELECT c.* FROM captures c JOIN crawl_runs r ON r.id = c.crawl_run "
        "WHERE r.spider = 'vendor' AND r.id > 2",
    )
    # Pages, the other host's robots.txt, and the requisites again: all unchanged.
    assert len(second) == len(REACHABLE) + 1 + len(REQUISITES)
    assert {r["warc_type"] for r in second} == {"revisit"}
    first_ids = {r["warc_record_id"] for r in rows(data, "SELECT * FROM captures WHERE crawl_run <= 2")}
    assert {r["refers_to"] for r in second} <= first_ids
    new_files = set(p.name for p in (data / "warcs").glob("*.warc.gz")) - set(
        p.name for p in (crawled["data"] / "warcs").glob("*.warc.gz")
    )
    # The Wayback re-run finds nothing new and opens no file.
    [new_file] = new_files
    with open(data / "warcs" / new_file, "rb") as fh:
        types = [r.rec_type for r in ArchiveIterator(fh)]
    assert "response" not in types  # no payload stored twice
    assert types.count("revisit") == len(second)
    assert run_cli("verify", "--data", str(data)).returncode == 0


def test_datasette_full_text_search_finds_the_faq(crawled):
    import asyncio

    from archive.publish.datasette import datasette_app

    ds = datasette_app(crawled["data"])

    async def search(q: str) -> list[dict]:
        response = await ds.client.get("/spyglass/captures.json", params={"_search": q, "_shape": "objects"})
        assert response.status_code == 200, response.text
        return response.json()["rows"]

    found = asyncio.run(search('"keep persons of interest in view"'))
    assert [r["url"] for r in found] == [crawled["base"] + "/products/recognize/faqs/"]
    assert asyncio.run(search('"phrase that appears nowhere at all"')) == []


def test_verify_passes_then_names_the_capture_whose_byte_was_flipped(crawled, tmp_path: Path):
    data = tmp_path / "data"
    shutil.copytree(crawled["data"], data)
    ok = run_cli("verify", "--data", str(data))
    assert ok.returncode == 0, ok.stderr
    everything = len(rows(data, "SELECT id FROM captures"))
    assert f"OK: {everything} captures verified" in ok.stdout

    [faq] = rows(data, "SELECT * FROM captures WHERE url LIKE '%/faqs/' AND via = 'live'")
    path = data / "warcs" / faq["warc_filename"]
    blob = bytearray(path.read_bytes())
    middle = faq["warc_offset"] + faq["warc_length"] // 2
    blob[middle] ^= 0x01
    path.write_bytes(bytes(blob))

    bad = run_cli("verify", "--data", str(data))
    assert bad.returncode == 1
    failures = [line for line in bad.stderr.splitlines() if line.startswith("FAIL")]
    assert len(failures) == 1, bad.stderr
    assert failures[0].startswith(
        f"FAIL capture {faq['id']} ({faq['url']}) at {faq['warc_filename']}:{faq['warc_offset']}: "
    )
    assert "1 problem(s)" in bad.stderr


def test_captures_are_append_only(crawled, tmp_path: Path):
    data = tmp_path / "data"
    shutil.copytree(crawled["data"], data)
    conn = sqlite3.connect(data / "spyglass.db")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("UPDATE captures SET title = 'changed' WHERE id = 1")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("DELETE FROM captures WHERE id = 1")
    conn.close()


def test_crawl_prints_progress_and_a_summary(crawled):
    result = crawled["result"]
    progress = [line for line in result.stderr.splitlines() if line.startswith("[northwind-recognize] ")]
    assert progress and progress[0].endswith("pages/s"), result.stderr
    assert "Crawled 1 source(s) in" in result.stdout
    pages = len(REACHABLE) + 1  # and the other host's robots.txt
    assert f"{pages} pages archived ({pages} new or changed, 0 unchanged" in result.stdout
    assert f"and stored as revisits), {len(REQUISITES)} page requisites, 1 fetch errors" in result.stdout
    assert "1 fetch errors" in result.stdout
    assert "northwind-recognize: finished" in result.stdout


def test_link_resolution_matches_urljoin():
    from urllib.parse import urljoin

    from spiders.outlinks import absolute_links

    base = "http://127.0.0.1:8000/press/2017/index.html?x=1"
    hrefs = [
        "/a/b",
        "c.html",
        "../up/",
        "//other.example/x",
        "https://v.example/p",
        "/a/./b",
        "?q=2",
        "#frag",
        "  /spaced  ",
        "",
        "http://v.example/../x",
    ]
    assert absolute_links(base, hrefs) == [urljoin(base, h.strip()) for h in hrefs if h.strip()]
