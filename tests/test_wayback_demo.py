"""`spyglass demo` includes the demo pages' Wayback history, and Datasette shows it."""

from __future__ import annotations

import asyncio
import sqlite3

from archive.publish.datasette import datasette_app

from .conftest import run_cli


def query(data, path: str, params: dict) -> list[dict]:
    """Rows of a Datasette JSON page, from the app `spyglass serve` runs (metadata and plugins)."""
    ds = datasette_app(data)

    async def get():
        response = await ds.client.get(path, params={**params, "_shape": "objects"})
        assert response.status_code == 200, response.text
        return response.json()["rows"]

    return asyncio.run(get())


def test_versions_of_a_page_over_time_in_datasette(crawled):
    faqs = crawled["base"] + "/products/recognize/faqs/"
    versions = query(crawled["data"], "/spyglass/page_versions.json", {"url": faqs})
    assert [v["via"] for v in versions] == ["wayback", "wayback", "wayback", "live"]
    assert [v["as_of"][:4] for v in versions[:3]] == ["2017", "2018", "2020"]
    # The 2019 snapshot differs from 2018 only by the site-wide call to action.
    assert [v["sightings"] for v in versions] == [1, 2, 1, 1]
    assert versions[1]["cite_url"] == f"https://web.archive.org/web/20180720000000/{faqs}"
    assert all(v["wayback_digest_match"] == 1 for v in versions[:3])
    # The https form of the address names the same page.
    assert (
        query(crawled["data"], "/spyglass/page_versions.json", {"url": faqs.replace("http://", "https://")})
        == versions
    )


def test_a_claim_that_appeared_and_was_removed_is_searchable(crawled):
    product = crawled["base"] + "/products/recognize/"
    found = query(
        crawled["data"],
        "/spyglass/captures.json",
        {"_search": '"identify all faces in crowded events"', "via": "wayback"},
    )
    # Newest as of the page first: the 2019 snapshot (the same claim, plus the call to action), then 2018.
    assert [(r["original_url"], r["wayback_timestamp"]) for r in found] == [
        (product, "20190901000000"),
        (product, "20180601101500"),
    ]
    conn = sqlite3.connect(crawled["data"] / "spyglass.db")
    try:
        versions = conn.execute(
            "SELECT wayback_timestamp FROM captures WHERE original_url = ? ORDER BY wayback_timestamp",
            (product,),
        ).fetchall()
    finally:
        conn.close()
    # Identical snapshots (2017-03, 2019-03) and the revisit were not fetched again.
    assert [v[0] for v in versions] == [
        "20161201093000",
        "20171122080000",
        "20180601101500",
        "20190901000000",
        "20200610160000",
    ]


def test_spyglass_demo_harvests_the_wayback_history(tmp_path):
    # A one-second Wayback "minute" keeps it quick; the budgets stay the defaults.
    result = run_cli(
        "demo",
        "--no-serve",
        "--data",
        str(tmp_path),
        "--fixture-port",
        "0",
        env={"SPYGLASS_WAYBACK_WINDOW": "1"},
        timeout=240,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Simulated Wayback Machine: http://127.0.0.1:" in result.stderr
    assert "Wayback history of 1 source(s): 11 archived versions fetched, 0 versions" in result.stdout
    conn = sqlite3.connect(tmp_path / "spyglass.db")
    try:
        assert conn.execute("SELECT count(*) FROM captures WHERE via = 'wayback'").fetchone() == (11,)
    finally:
        conn.close()
