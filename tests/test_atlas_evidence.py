"""The Atlas's links become evidence: sources written, crawled, exact mementos kept, cross-linked in Datasette."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from archive.archive import Archive
from archive.demo.atlas_site import export_csv
from archive.demo.vendor_site import start_vendor_site
from archive.demo.wayback_demo import demo_sim
from archive.demo.wayback_sim import start_wayback_sim
from archive.evidence.verify import verify_report
from archive.publish.datasette import datasette_app

from .conftest import ROOT, db_rows, run_cli

POLICE = "Lakeport Police Department"
SHERIFF = "Clearwater County Sheriff's Office"
SNAPSHOTS = ("20180601101500", "20190315000000")  # both held by the simulator, among others


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[str, str]]:
    """A vendor site and a Wayback simulator of its own (the session's count their hits for other tests)."""
    site, _ = start_vendor_site()
    wayback, sim = start_wayback_sim(demo_sim(site.url))
    yield site.url, sim.base
    wayback.shutdown()
    site.stop()


@pytest.fixture(scope="module")
def linked(tmp_path_factory: pytest.TempPathFactory, servers) -> dict:
    """An export linking the fixture site's pages and their mementos, imported, its sources crawled."""
    base, wayback = servers
    product, faqs = f"{base}/products/recognize/", f"{base}/products/recognize/faqs/"
    data = tmp_path_factory.mktemp("atlas-evidence")
    export = data / "export.csv"
    export.write_bytes(
        export_csv(
            [
                {
                    "AOSNUMBER": "AOS000201",
                    "Agency": POLICE,
                    "State": "CA",
                    "Technology": "Face Recognition",
                    "Vendor": "Northwind Cloud",
                    "Link 1": product,
                    "Link 1 Date": "June 1, 2018",
                    "Link 1 Snapshot": f"https://web.archive.org/web/{SNAPSHOTS[0]}/{product}",
                },
                # The same page at another time, written in a Link column as the public export does.
                {
                    "AOSNUMBER": "AOS000202",
                    "Agency": SHERIFF,
                    "State": "CA",
                    "Technology": "Face Recognition",
                    "Vendor": "Northwind Recognize",
                    "Link 1": f"https://web.archive.org/web/{SNAPSHOTS[1]}/{product}",
                    "Link 2": f"http://web.archive.org/web/20180720000000/{faqs}",
                },
                # Not among the sources written (filtered out by vendor): stays "not yet".
                {
                    "AOSNUMBER": "AOS000203",
                    "Agency": SHERIFF,
                    "State": "CA",
                    "Technology": "Drones",
                    "Vendor": "Orbital Vision",
                    "Link 1": "https://news.example/clearwater-drones",
                },
            ]
        )
    )
    sources = data / "atlas-sources.yml"
    run_cli(
        "import-atlas",
        str(export),
        "--data",
        str(data),
        "--sources",
        str(ROOT / "sources.yml"),
        "--sources-out",
        str(sources),
        "--vendor",
        "Northwind Cloud",
        "--allow-private",
        "127.0.0.1",
        check=True,
    )
    env = {"SPYGLASS_WAYBACK_URL": wayback, "SPYGLASS_WAYBACK_WINDOW": "1"}
    crawl = run_cli("crawl", "--sources", str(sources), "--data", str(data), env=env, check=True)
    return {"data": data, "product": product, "faqs": faqs, "crawl": crawl}


def test_a_snapshot_link_is_harvested_as_the_exact_memento_it_names(linked):
    data = linked["data"]
    mementos = db_rows(
        data,
        "SELECT original_url, wayback_timestamp, snapshot_url FROM captures "
        "WHERE via = 'wayback' ORDER BY original_url, wayback_timestamp",
    )
    # The simulator holds seven captures of the product page and three of the FAQ: only the named ones came.
    assert [(m[0], m[1]) for m in mementos] == [
        (linked["product"], SNAPSHOTS[0]),
        (linked["product"], SNAPSHOTS[1]),
        (linked["faqs"], "20180720000000"),
    ]
    assert mementos[0]["snapshot_url"] == f"https://web.archive.org/web/{SNAPSHOTS[0]}/{linked['product']}"
    live = db_rows(
        data,
        "SELECT url, status FROM captures WHERE via = 'live' AND url NOT LIKE '%robots.txt' "
        "AND requisite IS NULL",
    )  # pages, not what they need to render
    # The product page, linked live, once; the FAQ, linked only as a snapshot, never live.
    assert [(r[0], r[1]) for r in live] == [(linked["product"], 200)]
    assert verify_report(Archive(data)).problems == []


def test_each_atlas_link_names_the_capture_that_holds_it(linked):
    data = linked["data"]
    held = {
        (r["aosnumber"], r["url"]): r["capture_id"]
        for r in db_rows(data, "SELECT * FROM atlas_link_evidence")
    }
    assert held.pop(("AOS000203", "https://news.example/clearwater-drones")) is None
    assert len(held) == 4 and all(held.values())
    for (_, url), capture_id in held.items():
        [capture] = db_rows(data, "SELECT * FROM captures WHERE id = ?", (capture_id,))
        if "web.archive.org" in url:
            assert capture["snapshot_url"] == url.replace("http://web.", "https://web.")
        else:
            assert capture["url"] == url and capture["via"] == "live"
    pairs = {
        (r["agency"], r["vendor"]): r["held"] for r in db_rows(data, "SELECT * FROM atlas_agency_vendors")
    }
    assert pairs == {
        (POLICE, "Northwind Cloud"): "captures",
        (SHERIFF, "Northwind Cloud"): "captures",
        (SHERIFF, "Orbital Vision"): "not yet",
    }
    tagged = db_rows(
        data, "SELECT DISTINCT vendor, agency FROM captures WHERE original_url = ?", (linked["faqs"],)
    )
    assert [tuple(r) for r in tagged] == [("Northwind Cloud", SHERIFF)]


def get(data: Path, path: str, params: dict | None = None) -> tuple[int, str]:
    ds = datasette_app(data)

    async def fetch() -> tuple[int, str]:
        response = await ds.client.get(path, params=params)
        return response.status_code, response.text

    return asyncio.run(fetch())


def test_datasette_links_atlas_rows_pairs_and_agencies_to_their_evidence(linked):
    data = linked["data"]
    status, html = get(data, "/spyglass/atlas_pairs")
    assert status == 200
    assert "not yet" in html and "Orbital Vision" in html
    assert '<a href="/spyglass/about_agency?agency=Lakeport+Police+Department">' in html
    assert '<a href="/spyglass/atlas_agency_vendors?vendor=Northwind+Cloud">Northwind Cloud</a>' in html
    status, html = get(data, "/spyglass/atlas_link_evidence")
    for capture_id in (
        r[0] for r in db_rows(data, "SELECT capture_id FROM atlas_link_evidence WHERE capture_id IS NOT NULL")
    ):
        assert f'<a href="/spyglass/captures/{capture_id}">{capture_id}</a>' in html
    # Any case of the name finds the agency; each item opens its row in the archive.
    status, text = get(
        data,
        "/spyglass/about_agency.json",
        {"agency": "clearwater county sheriff’s office", "_shape": "objects"},
    )
    assert status == 200
    rows = {r["spyglass_row"]: r for r in json.loads(text)["rows"]}
    ids = [r[0] for r in db_rows(data, "SELECT id FROM atlas_rows WHERE agency = ?", (SHERIFF,))]
    assert set(rows) == {f"atlas_rows/{i}" for i in ids}
    status, html = get(data, "/spyglass/about_agency", {"agency": SHERIFF})
    assert f'<a href="/spyglass/atlas_rows/{ids[0]}">atlas_rows/{ids[0]}</a>' in html
    status, html = get(
        data, f"/spyglass/atlas_agencies/{db_rows(data, 'SELECT agency_id FROM atlas_rows')[0][0]}"
    )
    assert status == 200 and "atlas_rows" in html  # the row page lists the agency's Atlas rows
    status, html = get(data, "/spyglass/atlas_rows")
    assert "CC BY 4.0" in html and "Electronic Frontier Foundation" in html
