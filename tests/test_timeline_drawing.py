"""The timeline's drawing: versions from first to last sighting, the phrase marked, every year labelled."""

from __future__ import annotations

import re

from archive.history.pictures import timeline_svg


def version(number: int, first: str, last: str, sightings: int, has_phrase: bool = False) -> dict:
    return {
        "number": number,
        "first_seen_at": first,
        "last_seen_at": last,
        "sightings": sightings,
        "first_capture_id": number * 10,
        "has_phrase": has_phrase,
    }


def draw(versions: list[dict]) -> str:
    sightings = [{"seen_at": v["first_seen_at"], "capture_id": v["first_capture_id"]} for v in versions]
    return str(timeline_svg(versions, [], sightings, lambda cid: f"/c/{cid}", lambda c: "/d"))


def test_a_version_seen_once_is_a_point_and_a_bar_ends_at_its_last_sighting():
    svg = draw(
        [
            version(1, "2018-03-01T00:00:00Z", "2018-03-01T00:00:00Z", 1),
            version(2, "2020-01-01T00:00:00Z", "2021-01-01T00:00:00Z", 4, has_phrase=True),
            version(3, "2026-06-01T00:00:00Z", "2026-07-01T00:00:00Z", 2),
        ]
    )
    assert svg.count("<circle") == 1 and svg.count("<rect") == 2
    widths = [float(w) for w in re.findall(r'<rect x="[\d.]+" y="\d+" width="([\d.]+)"', svg)]
    year_px = (960 - 40) / (8.33 * 1.04)  # the axis spans 2018-03 to 2026-07, padded 2% each side
    # Version 2 runs one year (not to version 3, six years on); version 3 one month.
    assert abs(widths[0] - year_px) < year_px * 0.05 and widths[1] < year_px / 6
    assert re.search(r'class="version has-phrase"><rect[^>]+stroke="#f1c40f"', svg)
    assert "holds the phrase" in svg and svg.count("has-phrase") == 1


def test_every_year_on_the_axis_is_labelled():
    for first, last in (
        ("2018-03-01T00:00:00Z", "2026-07-01T00:00:00Z"),
        ("2020-02-01T00:00:00Z", "2020-09-01T00:00:00Z"),  # inside one year: no 1 January on the axis
        ("2019-12-30T00:00:00Z", "2021-01-02T00:00:00Z"),  # two days of 2019, two of 2021
    ):
        svg = draw([version(1, first, last, 2)])
        years = [int(y) for y in re.findall(r'<text class="year"[^>]*>(\d{4})</text>', svg)]
        assert years == list(range(int(first[:4]), int(last[:4]) + 1)), (first, last)
        xs = [float(x) for x in re.findall(r'<text class="year" x="([\d.]+)"', svg)]
        assert all(b - a >= 26 for a, b in zip(xs, xs[1:]))
