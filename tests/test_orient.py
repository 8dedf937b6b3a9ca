"""Where a replayed capture stands: how far a followed link jumped, and the page's neighbouring versions."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

import pytest

from archive.history.sightings import page_key
from archive.publish.orient import nearest_on_site, time_jump, versions_around

from .conftest import db_rows

AT = datetime(2018, 3, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    "landed, said",
    [
        (datetime(2026, 2, 1, tzinfo=UTC), "8 years later"),
        (datetime(2017, 12, 1, tzinfo=UTC), "3 months earlier"),
        (datetime(2019, 3, 20, tzinfo=UTC), "a year later"),
        (datetime(2018, 3, 20, tzinfo=UTC), None),  # within a month: no notice
    ],
)
def test_a_jump_is_said_as_people_say_it(landed, said):
    assert time_jump(AT, landed) == said


def test_a_version_knows_its_neighbours_and_a_missing_page_its_nearest_kin(demo_archive):
    page = db_rows(
        demo_archive, "SELECT page_url FROM page_sightings WHERE page_url LIKE '%/products/recognize/'"
    )
    key = page_key(page[0]["page_url"])
    versions = db_rows(
        demo_archive, "SELECT * FROM versions WHERE page_key = ? ORDER BY first_seen_at", (key,)
    )
    conn = sqlite3.connect(demo_archive / "spyglass.db")
    try:
        first = versions_around(conn, versions[0]["first_capture_id"])
        second = versions_around(conn, versions[1]["last_capture_id"])
        kin = nearest_on_site(conn, page[0]["page_url"] + "never-archived/", AT)
    finally:
        conn.close()
    assert first["previous"] is None and first["next"]["capture_id"] == versions[1]["first_capture_id"]
    assert second["previous"]["capture_id"] == versions[0]["last_capture_id"]
    assert (second["number"], second["total"]) == (versions[1]["number"], len(versions))
    assert kin["page_url"] == page[0]["page_url"]
