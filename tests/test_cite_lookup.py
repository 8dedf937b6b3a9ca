"""Citing what is in hand: the coalition letter's snapshot link in every spelling, the footnote form,
and the one line naming what was looked for when nothing matches (CLI, lookup page, Memento)."""

from __future__ import annotations

import asyncio
import re
from dataclasses import replace
from pathlib import Path

import pytest

from archive.demo.wayback_demo import REKOGNITION_TIMESTAMP, REKOGNITION_URL, demo_sim
from archive.demo.wayback_sim import start_wayback_sim
from archive.evidence import lookup
from archive.evidence.cite import cite
from archive.evidence.cite_records import cite_request
from archive.index.captures import save_captures
from archive.index.db import open_db
from archive.publish.datasette import datasette_app

from .conftest import db_rows as rows
from .conftest import run_cli
from .test_cite import LIVE_ROW

TITLE = "Amazon Rekognition – Video and Image - AWS"
PUBLIC_SNAPSHOT = f"https://web.archive.org/web/{REKOGNITION_TIMESTAMP}/{REKOGNITION_URL}"
# The coalition letter's footnote form, for the page this archive holds.
LETTERS_LINE = f"{TITLE} (archived on Feb. 25, 2018), {PUBLIC_SNAPSHOT}"

SPELLINGS = [
    # Exactly as the letter prints it: one slash after https:.
    "https://web.archive.org/web/20180225100337/https:/aws.amazon.com/rekognition/",
    "https://web.archive.org/web/20180225100337/https://aws.amazon.com/rekognition/",
    "http://web.archive.org/web/20180225100337/https://aws.amazon.com/rekognition/",
    "https://web.archive.org/web/20180225100337id_/https://aws.amazon.com/rekognition/",
    "https://web.archive.org/web/20180225100337if_/https://aws.amazon.com/rekognition/",
    "https://web.archive.org/web/20180225100337im_/http://aws.amazon.com/rekognition/",
    "https://web.archive.org/web/20180225100337/https://aws.amazon.com/rekognition",
    "https://web.archive.org/web/20180225100337/aws.amazon.com/rekognition/",
    "https://web.archive.org/web/201802251003/https://aws.amazon.com/rekognition/",
    "https://web.archive.org/web/2018/https://aws.amazon.com/rekognition/",
    "  https://web.archive.org/web/20180225100337/https:/aws.amazon.com/rekognition/\n",  # as pasted
    "https://aws.amazon.com/rekognition/",
    "http://aws.amazon.com/rekognition",
]

SOURCES = """
sources:
  - name: aws-rekognition
    kind: vendor
    urls: [https://aws.amazon.com/rekognition/]
    vendor: Amazon Web Services
    product: Amazon Rekognition
    wayback: true
"""


@pytest.fixture(scope="module")
def letter(tmp_path_factory: pytest.TempPathFactory):
    """The Rekognition page's Feb. 25, 2018 memento, harvested from the demo's Wayback simulator."""
    server, sim = start_wayback_sim(demo_sim("http://127.0.0.1:9"))
    root = tmp_path_factory.mktemp("letter")
    (root / "sources.yml").write_text(SOURCES)
    data = root / "data"
    env = {"SPYGLASS_WAYBACK_URL": sim.base, "SPYGLASS_WAYBACK_WINDOW": "1"}
    args = ("--sources", str(root / "sources.yml"), "--data", str(data), "--only", "wayback")
    run_cli("crawl", *args, env=env, check=True)
    yield {"data": data, "env": env, "sim": sim}
    server.shutdown()


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_every_spelling_of_the_letter_s_snapshot_prints_its_footnote(letter, spelling):
    result = run_cli(
        "cite", spelling, "--format", "footnote", "--data", str(letter["data"]), env=letter["env"]
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == LETTERS_LINE


def test_the_simulator_s_own_snapshot_link_names_the_memento_too(letter):
    local = f"{letter['sim'].base}/web/{REKOGNITION_TIMESTAMP}id_/{REKOGNITION_URL}"
    result = run_cli("cite", local, "--format", "footnote", "--data", str(letter["data"]), env=letter["env"])
    assert result.stdout.strip() == LETTERS_LINE, result.stderr


def test_a_partial_timestamp_says_how_far_the_memento_is_from_it(letter):
    result = run_cli(
        "cite", SPELLINGS[9], "--format", "footnote", "--data", str(letter["data"]), env=letter["env"]
    )
    assert result.stdout.strip() == LETTERS_LINE
    assert "showing the page as of 2018-02-25 10:03:37 UTC, 55 days 10 hours later." in result.stderr


def test_a_url_that_matches_nothing_names_what_was_looked_for_and_the_nearest_capture(letter):
    for target, what in (
        (
            "https://aws.amazon.com/rekognition/faqs/",
            "no capture of https://aws.amazon.com/rekognition/faqs/",
        ),
        (
            "https://web.archive.org/web/20180225100337/https:/aws.amazon.com/rekognition/faqs/",
            "no Wayback memento of https://aws.amazon.com/rekognition/faqs/",
        ),
    ):
        result = run_cli("cite", target, "--data", str(letter["data"]), env=letter["env"])
        assert result.returncode == 1
        [line] = result.stderr.strip().splitlines()
        assert line.startswith(f"Error: {what} (looked for a capture id, a captured page, a Wayback snapshot")
        assert line.endswith("nearest captured URL: https://aws.amazon.com/rekognition/")


def test_a_snapshot_link_with_an_impossible_time_is_one_line(letter):
    link = "https://web.archive.org/web/20181399000000/https://aws.amazon.com/rekognition/"
    result = run_cli("cite", link, "--data", str(letter["data"]), env=letter["env"])
    assert result.returncode == 1
    assert result.stderr.strip() == f"Error: {link}: its timestamp 20181399000000 is not a date"


def test_the_lookup_page_and_memento_accept_the_letter_s_link(letter):
    ds = datasette_app(letter["data"])
    [capture_id] = [r["id"] for r in rows(letter["data"], "SELECT id FROM captures WHERE via = 'wayback'")]

    async def get(path: str, **params: str):
        return await ds.client.get(path, params=params or None)

    async def run():
        found = await get("/-/spyglass/cite", url=SPELLINGS[0])
        assert found.status_code == 302 and found.headers["location"] == f"/spyglass/captures/{capture_id}"
        missing = await get("/-/spyglass/cite", url="https://aws.amazon.com/ec2/")
        assert missing.status_code == 404
        assert "nearest captured URL: https://aws.amazon.com/rekognition/" in missing.text
        timemap = await get(f"/-/spyglass/timemap/link/{SPELLINGS[0]}")
        assert timemap.status_code == 200
        assert f"/-/spyglass/archived/{capture_id}>" in timemap.text
        page = await get(f"/spyglass/captures/{capture_id}")
        footnote = page.text.index('id="spyglass-footnote"')
        assert 0 < footnote < page.text.index('id="spyglass-citation"')
        assert f'value="{LETTERS_LINE}"' in page.text

    asyncio.run(run())


def test_a_live_capture_s_footnote_gives_the_original_and_the_published_copy():
    live = cite(LIVE_ROW)
    assert live.footnote() == (
        "Northwind Recognize FAQs (captured on Nov. 22, 2026), http://127.0.0.1:8470/products/recognize/faqs/"
    )
    published = replace(live, published_url="https://spyglass.example.org/spyglass/captures/7")
    assert published.footnote().endswith(
        "/products/recognize/faqs/, archived at https://spyglass.example.org/spyglass/captures/7"
    )
    assert published.as_dict()["footnote"] == published.footnote()


def test_the_cli_names_the_published_copy_when_the_public_address_is_set(crawled, tmp_path: Path):
    [faq] = rows(
        crawled["data"],
        "SELECT id, url FROM captures WHERE url LIKE '%/faqs/' AND via = 'live' AND warc_type = 'response' "
        "ORDER BY as_of_at DESC, id DESC LIMIT 1",
    )
    env = {"SPYGLASS_PUBLIC_URL": "https://spyglass.example.org/"}
    result = run_cli("cite", faq["url"], "--format", "footnote", "--data", str(crawled["data"]), env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith(
        f"{faq['url']}, archived at https://spyglass.example.org/spyglass/captures/{faq['id']}"
    ), result.stdout


def test_a_muckrock_request_s_own_page_names_the_release_spyglass_cites_by_its_api_address(tmp_path: Path):
    index = open_db(tmp_path / "spyglass.db")
    save_captures(index, [{**{k: v for k, v in LIVE_ROW.items() if k != "id"}, "warc_type": "response"}])
    [capture_id] = [r["id"] for r in index.query("SELECT id FROM captures")]
    index["sources"].insert({"name": "muckrock-recognize"}, alter=True)
    index["releases"].insert(
        {
            "source": "muckrock-recognize",
            "key": "51001",
            "agency": "Bayview County Sheriff's Office",
            "title": "Rekognition pilot emails",
            "page_url": "https://www.muckrock.com/api_v2/requests/51001/",
            "capture_id": capture_id,
        }
    )
    page = "https://www.muckrock.com/foi/bayview-county-1234/rekognition-pilot-emails-51001/"
    found = lookup.find(index.conn, page)
    assert (found.how, found.release["key"], found.capture["id"]) == ("release page", "51001", capture_id)
    assert cite_request(found.release, found.capture).footnote() == (
        "Bayview County Sheriff's Office, Rekognition pilot emails (date unknown), "
        "https://www.muckrock.com/api_v2/requests/51001/"
    )
    index.close()


def test_the_capture_page_footnote_names_the_public_address_never_the_host_header(crawled, monkeypatch):
    [faq] = rows(
        crawled["data"],
        "SELECT id, url FROM captures WHERE url LIKE '%/faqs/' AND via = 'live' AND warc_type = 'response' LIMIT 1",
    )
    forged = {"Host": "attacker.test"}

    async def footnote(ds) -> str:
        response = await ds.client.get(f"/spyglass/captures/{faq['id']}", headers=forged)
        assert response.status_code == 200
        line = re.search(r'id="spyglass-footnote"[^>]*value="([^"]*)"', response.text)[1]
        assert "attacker.test" not in line  # (Datasette's own JSON link uses the Host header)
        return line

    monkeypatch.setenv("SPYGLASS_PUBLIC_URL", "")
    assert "/spyglass/captures/" not in asyncio.run(footnote(datasette_app(crawled["data"])))
    monkeypatch.setenv("SPYGLASS_PUBLIC_URL", "https://archive.example.org/")
    line = asyncio.run(footnote(datasette_app(crawled["data"])))
    assert f"{faq['url']}, archived at https://archive.example.org/spyglass/captures/{faq['id']}" in line
