"""Time on the demo archive: versions, changes, boilerplate, phrase history, rebuild, and the commands."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from archive.demo.vendor_site import PAGES
from archive.history.notpages import is_page
from archive.history.passages import (
    line_keys,
    sentence_key,
    sentences,
    split_sentences,
    text_keys,
    without,
    without_keys,
)

from .conftest import db_rows, run_cli

PERSON_TRACKING_PASSAGE = (
    "Person tracking lets agencies follow persons of interest from a street camera or a body camera, "
    "and identify all faces in crowded events and public places."
)
CTA_SENTENCES = {"Questions about Northwind Cloud?", "Talk to our public-sector team."}


def versions(data: Path, url: str) -> list[dict]:
    return [
        dict(r)
        for r in db_rows(
            data,
            "SELECT v.*, c.via, c.wayback_timestamp FROM versions v "
            "JOIN captures c ON c.id = v.first_capture_id WHERE v.page_url = ? ORDER BY number",
            (url,),
        )
    ]


def test_every_page_has_its_versions_in_as_of_order(crawled):
    data, base = crawled["data"], crawled["base"]
    product = versions(data, base + "/products/recognize/")
    # 2016, 2017 (its revisit in 2018 adds nothing), 2018 and the 2019 snapshot that
    # differs only by the site-wide call to action, 2020, then today's live page.
    assert [(v["via"], v["wayback_timestamp"], v["sightings"]) for v in product] == [
        ("wayback", "20161201093000", 1),
        ("wayback", "20171122080000", 1),
        ("wayback", "20180601101500", 2),
        ("wayback", "20200610160000", 1),
        ("live", None, 1),
    ]
    third = product[2]
    [last] = db_rows(
        data, "SELECT wayback_timestamp, memento_at FROM captures WHERE id = ?", (third["last_capture_id"],)
    )
    assert last["wayback_timestamp"] == "20190901000000" and third["last_seen_at"] == last["memento_at"]
    assert third["first_seen_at"] == "2018-06-01T10:15:00.000000Z"
    faqs = versions(data, base + "/products/recognize/faqs/")
    assert [v["wayback_timestamp"] for v in faqs] == [
        "20170615000000",
        "20180720000000",
        "20200701000000",
        None,
    ]
    # The old address: an archived redirect in 2017 and the same redirect live today are one version.
    [moved] = versions(data, base + "/products/recognise/")
    assert moved["kind"] == "redirect" and moved["sightings"] == 2
    # Every live page that only the live crawl saw has exactly one version.
    for path in PAGES:
        if path in ("/products/recognize/", "/products/recognize/faqs/", "/internal/roadmap/"):
            continue
        found = versions(data, base + path)
        assert [v["via"] for v in found] == ["live"], path
    # No two consecutive versions of a page share a content key.
    pairs = db_rows(
        data,
        "SELECT a.content_key = b.content_key AS same FROM versions a JOIN versions b "
        "ON a.page_key = b.page_key AND b.number = a.number + 1",
    )
    assert pairs and not any(r["same"] for r in pairs)


def test_the_removal_of_person_tracking_lists_exactly_that_passage(crawled):
    data, base = crawled["data"], crawled["base"]
    [change] = db_rows(
        data,
        "SELECT * FROM changes WHERE page_url = ? AND changed_at LIKE '2020-%'",
        (base + "/products/recognize/",),
    )
    removed = [
        r["text"]
        for r in db_rows(
            data,
            "SELECT text FROM change_passages WHERE change_id = ? AND side = 'removed' AND boilerplate = 0",
            (change["id"],),
        )
    ]
    assert [p for p in removed if "person tracking" in p.lower()] == [PERSON_TRACKING_PASSAGE]
    assert change["removed"].splitlines() == removed
    assert "Talk to our public-sector team" not in (change["added"] or "")  # boilerplate, left out
    assert change["boilerplate_passages"] == 1
    events = db_rows(data, "SELECT phrase, event FROM change_phrases WHERE change_id = ?", (change["id"],))
    assert [tuple(e) for e in events] == [("person tracking", "disappeared")]
    # It names both captures, with their citations: the 2019 memento still had it, 2020 did not.
    assert change["from_citation"].endswith(
        f"https://web.archive.org/web/20190901000000/{base}/products/recognize/"
    )
    assert "(archived Sept. 1, 2019)" in change["from_citation"]
    assert change["to_citation"].endswith(
        f"https://web.archive.org/web/20200610160000/{base}/products/recognize/"
    )
    assert (change["before_at"], change["changed_at"]) == (
        "2019-09-01T00:00:00.000000Z",
        "2020-06-10T16:00:00.000000Z",
    )
    assert change["size"] == sum(
        len(p.split()) for p in (change["added"] + "\n" + change["removed"]).splitlines()
    )


def test_identical_snapshots_and_boilerplate_never_make_a_change(crawled):
    data = crawled["data"]
    boilerplate = {r["sentence"] for r in db_rows(data, "SELECT sentence FROM boilerplate")}
    assert boilerplate == CTA_SENTENCES
    # The call to action is on every live page, yet no change adds or removes it.
    for change in db_rows(
        data, "SELECT c.*, a.content_type FROM changes c JOIN captures a ON a.id = c.to_capture_id"
    ):
        # robots.txt, sitemaps and feeds are kept but never changes (archive/history/notpages.py).
        assert change["substantive"] == int(is_page(change["page_url"], change["content_type"]))
        for sentence in CTA_SENTENCES:
            assert sentence not in (change["added"] or "") + (change["removed"] or "")
    marked = db_rows(data, "SELECT text FROM change_passages WHERE boilerplate = 1")
    assert marked and all(set(split_sentences(r["text"])) <= CTA_SENTENCES for r in marked)
    # Each change is between versions whose texts differ by more than boilerplate.
    assert all(
        r["n"] == 1
        for r in db_rows(data, "SELECT count(*) AS n FROM changes GROUP BY from_version_id, to_version_id")
    )
    # The byte-identical 2017 snapshot and the 2018 revisit were never fetched, and a
    # revisit of an unchanged page extends its version (see the recrawl test below).
    assert not db_rows(
        data,
        "SELECT 1 FROM changes c JOIN versions a ON a.id = c.from_version_id "
        "JOIN versions b ON b.id = c.to_version_id WHERE a.text_sha256 = b.text_sha256",
    )


def test_a_reporter_filtering_captures_by_date_gets_that_periods_mementos(crawled):
    from .test_wayback_demo import query

    data, base = crawled["data"], crawled["base"]
    found = query(
        data,
        "/spyglass/captures.json",
        {
            "as_of_at__gte": "2018-01-01",
            "as_of_at__lt": "2019-01-01",
            "_col": ["as_of_at", "page_url", "captured_at", "via"],
        },
    )
    assert sorted((r["page_url"], r["as_of_at"][:10]) for r in found) == [
        (base + "/products/recognize/", "2018-06-01"),
        (base + "/products/recognize/faqs/", "2018-07-20"),
        (base + "/sitemap.xml", "2018-08-01"),
    ]
    assert all(r["via"] == "wayback" and r["captured_at"] > "2025" for r in found)
    # The table's default order is as of the page, newest first.
    rows = query(data, "/spyglass/captures.json", {"_col": ["as_of_at"], "_size": "max"})
    assert [r["as_of_at"] for r in rows] == sorted((r["as_of_at"] for r in rows), reverse=True)


def test_history_command_gives_phrase_periods_with_citations(crawled):
    data, base = crawled["data"], crawled["base"]
    product = base + "/products/recognize/"
    result = run_cli(
        "history", product, "--phrase", "Person Tracking", "--data", str(data), "--format", "json", check=True
    )
    [period] = json.loads(result.stdout)["periods"]
    assert (period["first"]["as_of_at"], period["last"]["as_of_at"], period["gone"]["as_of_at"]) == (
        "2018-06-01T10:15:00.000000Z",
        "2019-09-01T00:00:00.000000Z",
        "2020-06-10T16:00:00.000000Z",
    )
    for end, ts in (("first", "20180601101500"), ("last", "20190901000000"), ("gone", "20200610160000")):
        assert period[end]["citation"]["url"] == f"https://web.archive.org/web/{ts}/{product}"
        assert period[end]["citation"]["capture_id"] == period[end]["capture_id"]
    text = run_cli(
        "history",
        product.replace("http://", "https://"),
        "--phrase",
        "person tracking",
        "--data",
        str(data),
        check=True,
    ).stdout
    assert (
        "First seen 2018-06-01 10:15:00 UTC" in text and "Gone: first capture without it 2020-06-10" in text
    )
    # The FAQ lost the claim in 2020 and the live site has it again: two periods.
    faqs = json.loads(
        run_cli(
            "history",
            base + "/products/recognize/faqs/",
            "--phrase",
            "person tracking",
            "--data",
            str(data),
            "--format",
            "json",
            check=True,
        ).stdout
    )["periods"]
    assert [(p["first"]["as_of_at"][:4], p["gone"] and p["gone"]["as_of_at"][:4]) for p in faqs] == [
        ("2018", "2020"),
        (faqs[1]["first"]["as_of_at"][:4], None),
    ]
    listing = run_cli("history", product, "--data", str(data), check=True).stdout
    assert f"- {PERSON_TRACKING_PASSAGE}" in listing and "Version 5:" in listing
    missing = run_cli("history", base + "/nowhere/", "--data", str(data))
    assert missing.returncode == 1 and "no versions of" in missing.stderr


def test_phrase_history_canned_query_matches_the_command(crawled):
    from .test_wayback_demo import query

    data, base = crawled["data"], crawled["base"]
    [row] = query(
        data,
        "/spyglass/phrase_history.json",
        {"url": base + "/products/recognize/", "phrase": "person tracking"},
    )
    assert (row["first_seen_at"], row["last_seen_at"], row["gone_at"]) == (
        "2018-06-01T10:15:00.000000Z",
        "2019-09-01T00:00:00.000000Z",
        "2020-06-10T16:00:00.000000Z",
    )


def test_changes_command_lists_newest_first_and_exits_3_on_a_watched_phrase(crawled):
    data, base = crawled["data"], crawled["base"]
    result = run_cli("changes", "--since", "2019-01-01", "--until", "2021-01-01", "--data", str(data))
    assert result.returncode == 3, result.stderr
    lines = [line for line in result.stdout.splitlines() if line and not line.startswith(" ")]
    assert lines[:2] == [f"{base}/products/recognize/faqs/", f"{base}/products/recognize/"]
    # Each is dated by its window (the last version without it, the first with it), and when
    # Spyglass found it is labelled as that.
    windows = [line for line in result.stdout.splitlines() if line.startswith("  Changed between ")]
    assert windows[1].startswith(
        "  Changed between 2019-09-01 00:00:00 UTC and 2020-06-10 16:00:00 UTC (as of the page); "
        "found by Spyglass on 20"
    )
    assert f"    - {PERSON_TRACKING_PASSAGE}" in result.stdout
    assert '    ! "person tracking" disappeared' in result.stdout
    assert "2 change(s) since 2019-01-01; 2 watched phrase(s) appeared or disappeared." in result.stdout
    quiet = run_cli(
        "changes", "--since", "2017-01-01", "--until", "2018-01-01", "--data", str(data), "--format", "json"
    )
    assert quiet.returncode == 0
    assert [c["changed_at"][:10] for c in json.loads(quiet.stdout)] == ["2017-11-22"]
    asked = json.loads(
        run_cli("changes", "--phrase", "police departments", "--data", str(data), "--format", "json").stdout
    )
    assert {(c["page_url"], c["phrases"][0]["event"]) for c in asked} == {
        (base + "/products/recognize/", "appeared"),
        (base + "/products/recognize/", "disappeared"),
        (base + "/products/recognize/faqs/", "appeared"),
        (base + "/products/recognize/faqs/", "disappeared"),
    }
    assert run_cli("changes", "--source", "nobody", "--data", str(data)).returncode == 0
    bad = run_cli("changes", "--since", "yesterday-ish", "--data", str(data))
    assert bad.returncode == 2 and "'yesterday-ish' is not a date" in bad.stderr


def test_the_front_page_and_the_feed_date_each_change_by_its_window_in_time_order(crawled):
    from archive.publish.front import entry_points
    from archive.times import parse_when

    from .test_wayback_demo import query

    data, base = crawled["data"], crawled["base"]
    conn = sqlite3.connect(data / "spyglass.db")
    conn.row_factory = sqlite3.Row
    try:
        front = entry_points(conn, parse_when("2020-06-15"))
    finally:
        conn.close()
    [claim] = [
        c
        for c in front["claims"]
        if c["page_url"] == base + "/products/recognize/" and c["phrase"] == "person tracking"
    ]
    events = claim["what"].split(", ")
    assert events[-1] == "disappeared between 2019-09-01 and 2020-06-10"
    assert events[0].startswith("appeared between ") and events[0].endswith(" and 2018-06-01")
    [june] = [
        c
        for c in front["changes"]
        if c["page_url"] == base + "/products/recognize/" and c["changed_at"].startswith("2020-06-10")
    ]
    assert (june["before_at"][:10], june["changed_at"][:10]) == ("2019-09-01", "2020-06-10")
    assert june["found_at"][:4] >= "2026"  # found when Spyglass fetched the memento, years later
    feed = query(
        data, "/spyglass/changes_feed.json", {"source": "", "vendor": "", "phrase": "person tracking"}
    )
    entry = next(e for e in feed if e["change_id"] == june["id"])
    assert (
        f"Changed between {june['before_at']} and {june['changed_at']} (as of the page); "
        in entry["atom_content"]
    )
    assert f"found by Spyglass on {june['found_at']}." in entry["atom_content"]


def _history_tables(data: Path) -> dict[str, list]:
    return {
        "versions": [
            tuple(r)
            for r in db_rows(
                data,
                "SELECT page_key, number, first_capture_id, last_capture_id, "
                "sightings, content_key FROM versions ORDER BY page_key, number",
            )
        ],
        "changes": [
            tuple(r)
            for r in db_rows(
                data,
                "SELECT page_key, from_capture_id, to_capture_id, added, "
                "removed, size, substantive FROM changes ORDER BY page_key, changed_at",
            )
        ],
        "phrases": sorted(
            tuple(r)
            for r in db_rows(
                data,
                "SELECT c.from_capture_id, p.phrase, p.event FROM change_phrases p "
                "JOIN changes c ON c.id = p.change_id",
            )
        ),
        "boilerplate": sorted(tuple(r) for r in db_rows(data, "SELECT host, sentence FROM boilerplate")),
    }


def test_rebuild_from_the_warc_files_gives_what_arrival_order_gave(crawled, tmp_path: Path):
    data = tmp_path / "data"
    shutil.copytree(crawled["data"], data)
    before = _history_tables(data)
    captures_before = db_rows(data, "SELECT * FROM captures ORDER BY id")
    result = run_cli("rebuild-history", "--data", str(data), check=True)
    assert "Rebuilt history: " in result.stdout and " changes" in result.stdout
    assert _history_tables(data) == before
    assert [tuple(r) for r in db_rows(data, "SELECT * FROM captures ORDER BY id")] == [
        tuple(r) for r in captures_before
    ]
    assert run_cli("verify", "--data", str(data)).returncode == 0


def test_a_recrawl_of_an_unchanged_site_extends_versions_and_makes_no_change(crawled, tmp_path: Path):
    data = tmp_path / "data"
    shutil.copytree(crawled["data"], data)
    from .conftest import ROOT

    before = db_rows(data, "SELECT count(*) AS n FROM changes")[0]["n"]
    # Pages fetched whole (revisits); tests/test_conditional.py has the 304s of the default.
    run_cli(
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
        "SPYGLASS_CONDITIONAL_REQUESTS=false",
        env=crawled["env"],
        check=True,
    )
    conn = sqlite3.connect(data / "spyglass.db")
    try:
        revisits = conn.execute("SELECT count(*) FROM captures WHERE warc_type = 'revisit'").fetchone()[0]
        seen_twice = conn.execute(
            "SELECT count(*) FROM versions v JOIN captures c ON c.id = v.last_capture_id "
            "WHERE c.warc_type = 'revisit'"
        ).fetchone()[0]
        after = conn.execute("SELECT count(*) FROM changes").fetchone()[0]
    finally:
        conn.close()
    assert revisits >= 15 and seen_twice >= 15
    assert after == before


@pytest.mark.parametrize(
    "value, message",
    [
        ("42", "field 'watch': must be a list of text values"),
        ("['  ']", "field 'watch': phrases must have at least one word"),
        ("['person tracking', 'Person  Tracking']", "field 'watch': lists the same phrase twice"),
    ],
)
def test_watch_is_validated_in_one_line(tmp_path: Path, value: str, message: str):
    from archive.errors import ConfigError
    from archive.sources.load import load_sources

    path = tmp_path / "s.yml"
    path.write_text(
        f"sources:\n  - {{name: a, kind: vendor, urls: ['https://a.example/'], watch: {value}}}\n"
    )
    with pytest.raises(ConfigError) as raised:
        load_sources(path)
    assert str(raised.value) == f"{path}: source 'a': {message}"


def test_the_archived_copy_banner_gives_the_memento_time_first(crawled):
    from .test_feed import get

    data = crawled["data"]
    [row] = db_rows(
        data,
        "SELECT id, memento_at, captured_at FROM captures WHERE wayback_timestamp = ?",
        ("20180601101500",),
    )
    html = get(data, f"/-/spyglass/replay/{row['id']}").text
    memento = html.index(f'<dt>Memento time (as of)</dt><dd class="as-of">{row["memento_at"]}</dd>')
    fetched = html.index(f'<dt>Fetched by Spyglass</dt><dd class="captured-at">{row["captured_at"]}</dd>')
    assert memento < fetched
    assert f'<dd class="original-url">{crawled["base"]}/products/recognize/</dd>' in html


TEXTS = [
    "Track persons across cameras.  Book a demo today! Call Mr. Smith at 5 p.m. now.",
    "PROTECT\u00a0CITIZENS\tin real time.\nJan. 21 update: \u201cRecognize\u201d ships. (See below.) Ask us?",
    "\u0130stanbul pilot. Stra\u00dfe and STRASSE.\n\n  \n\f\fPage two of the PDF.  It ends here.",
    "Book a demo today!\nTrack persons across cameras. Book a demo today!",
    "Tidy lines, as an HTML page's text has them.\nOne sentence.\nTwo sentences here. Book a demo today!",
    "Products\nLearn more\n  Face  Search\u00a0PRO \nLearn more\nSee the demo. Then call us",
    "",
]


@pytest.mark.parametrize("text", TEXTS)
def test_sentence_keys_kept_while_settling_give_what_sentence_key_and_without_give(text: str):
    """Settling keeps each text's sentence keys (text_keys) and re-keys pages from them; the keys
    and the text they leave must be exactly sentence_key's and without's, or every page settled
    would get a new content key and a spurious version."""
    seen: set[bytes] = set()
    keys = text_keys(text, seen)
    assert len(keys.lines) == len(text.splitlines())
    assert keys.tidy == all(line == " ".join(line.split()) for line in text.splitlines())
    flat = [key for line in keys.lines for key in line_keys(line)]
    assert [key.hex() for key in flat] == [sentence_key(s.text) for s in sentences(text)]
    assert seen == set(flat)
    hexes = [key.hex() for key in flat]
    for boilerplate in [{hexes[0]} if hexes else set(), set(hexes[1:3]), set(hexes), {"0" * 64}]:
        digests = {bytes.fromhex(key) for key in boilerplate}
        assert without_keys(text, digests, keys) == without(text, boilerplate)
