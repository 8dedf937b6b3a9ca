"""Tables a person reads: dates as people write them, hashes shortened, SQL folded; exports exact."""

from __future__ import annotations

import json
import urllib.request

import pytest

from archive.publish.cells import hash_cell, when_text

from .conftest import db_rows, served_archive


@pytest.mark.parametrize(
    "value, shown",
    [
        ("2026-12-07T04:57:21.123456+00:00", "7 Dec 2026, 04:57 UTC"),
        ("2019-09-01T00:00:00.000000Z", "1 Sep 2019, 00:00 UTC"),
        ("2018-03-05", "5 Mar 2018"),
        ("2018-03-05T10:15:00-05:00", "5 Mar 2018, 10:15 -0500"),
        ("2018-13-05", None),
        ("version 2018-03-05", None),
    ],
)
def test_dates_are_written_as_people_write_them(value, shown):
    assert when_text(value) == shown


def test_a_hash_shows_its_first_digits_and_copies_whole():
    sha = "ab" * 32
    cell = str(hash_cell(sha))
    assert (
        "<code>abababababab…</code>" in cell
        and f'data-copy-text="{sha}"' in cell
        and f'title="{sha}"' in cell
    )
    assert hash_cell("not a hash") is None and hash_cell("ab" * 33) is None


def test_table_pages_draw_dates_and_hashes_and_exports_keep_them_exact(demo_archive):
    row = db_rows(
        demo_archive, "SELECT id, captured_at, sha256 FROM captures WHERE sha256 IS NOT NULL LIMIT 1"
    )[0]
    with served_archive(demo_archive) as base:
        with urllib.request.urlopen(
            f"{base}/spyglass/captures?id={row['id']}&_col=captured_at&_col=sha256"
        ) as r:
            html = r.read().decode()
        with urllib.request.urlopen(f"{base}/spyglass/captures.json?id={row['id']}&_shape=array") as r:
            exported = json.loads(r.read())[0]
        with urllib.request.urlopen(f"{base}/spyglass/captures") as r:
            table = r.read().decode()
        with urllib.request.urlopen(f"{base}/-/spyglass/tables.js") as r:
            script = r.read().decode()
    assert f'<time class="when" datetime="{row["captured_at"]}" title="{row["captured_at"]}">' in html
    assert f'data-copy-text="{row["sha256"]}"' in html and f"<code>{row['sha256'][:12]}…</code>" in html
    assert (exported["captured_at"], exported["sha256"]) == (row["captured_at"], row["sha256"])
    assert "/-/spyglass/tables.js" in table and "pre.wrapped-sql" in script and "details" in script
