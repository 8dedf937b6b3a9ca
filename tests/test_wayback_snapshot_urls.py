"""The one snapshot-URL parser: every common spelling of a Wayback snapshot URL, and what is not one."""

from __future__ import annotations

import pytest

from archive.wayback.client import Endpoints, Snapshot, citation_url, parse_snapshot_url

PAGE = "https://aws.amazon.com/rekognition/"
LETTER = Snapshot("20180225100337", PAGE, "")


@pytest.mark.parametrize(
    "url, expected",
    [
        # As the coalition letter prints it, and its variants.
        (f"https://web.archive.org/web/20180225100337/{PAGE}", LETTER),
        (f"http://web.archive.org/web/20180225100337/{PAGE}", LETTER),
        (f"https://www.web.archive.org/web/20180225100337/{PAGE}", LETTER),
        (f"https://wayback.archive.org/web/20180225100337/{PAGE}", LETTER),
        (f"https://archive.org/web/20180225100337/{PAGE}", LETTER),
        (f"  https://web.archive.org/web/20180225100337/{PAGE}\n", LETTER),
        # Replay flags.
        (f"https://web.archive.org/web/20180225100337id_/{PAGE}", LETTER._replace(flag="id_")),
        (f"https://web.archive.org/web/20180225100337if_/{PAGE}", LETTER._replace(flag="if_")),
        (f"https://web.archive.org/web/20180225100337im_/{PAGE}", LETTER._replace(flag="im_")),
        (f"https://web.archive.org/web/20180225100337js_/{PAGE}", LETTER._replace(flag="js_")),
        (f"https://web.archive.org/web/20180225100337cs_/{PAGE}", LETTER._replace(flag="cs_")),
        (f"https://web.archive.org/web/20180225100337ID_/{PAGE}", LETTER._replace(flag="id_")),
        # 4- to 14-digit timestamps, kept as given.
        (f"https://web.archive.org/web/2018/{PAGE}", Snapshot("2018", PAGE)),
        (f"https://web.archive.org/web/201802/{PAGE}", Snapshot("201802", PAGE)),
        (f"https://web.archive.org/web/2018022/{PAGE}", Snapshot("2018022", PAGE)),
        (f"https://web.archive.org/web/20180225/{PAGE}", Snapshot("20180225", PAGE)),
        (f"https://web.archive.org/web/2018022510id_/{PAGE}", Snapshot("2018022510", PAGE, "id_")),
        # The original: one slash after the scheme (as printed in letters), or no scheme at all.
        ("https://web.archive.org/web/20180225100337/https:/aws.amazon.com/rekognition/", LETTER),
        (
            "https://web.archive.org/web/20180225100337/aws.amazon.com/rekognition/",
            LETTER._replace(original="http://aws.amazon.com/rekognition/"),
        ),
        (
            "https://web.archive.org/web/20180225100337/HTTPS:/aws.amazon.com/rekognition/",
            LETTER._replace(original="HTTPS://aws.amazon.com/rekognition/"),
        ),
        # Trailing slash or not, and the original's own query string.
        (
            "https://web.archive.org/web/20180225100337/https://aws.amazon.com/rekognition",
            LETTER._replace(original="https://aws.amazon.com/rekognition"),
        ),
        (
            "https://web.archive.org/web/20180225100337/aws.amazon.com",
            LETTER._replace(original="http://aws.amazon.com"),
        ),
        (
            "https://web.archive.org/web/20180225100337/https://example.com/p?id=7&x=1",
            LETTER._replace(original="https://example.com/p?id=7&x=1"),
        ),
    ],
)
def test_every_common_spelling_names_its_memento(url, expected):
    assert parse_snapshot_url(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        f"https://example.com/web/20180225100337/{PAGE}",  # not a Wayback host
        f"https://web.archive.org.example.com/web/20180225100337/{PAGE}",
        f"ftp://web.archive.org/web/20180225100337/{PAGE}",
        f"https://web.archive.org/web/*/{PAGE}",  # a calendar, not a memento
        f"https://web.archive.org/web/201/{PAGE}",  # three digits
        f"https://web.archive.org/web/201802251003371/{PAGE}",  # fifteen digits
        "https://web.archive.org/web/20180225100337/",  # no original
        "https://web.archive.org/web/20180225100337/https:///",  # an original without a host
        PAGE,
        "",
    ],
)
def test_what_is_not_a_snapshot_url_gives_none(url):
    assert parse_snapshot_url(url) is None


def test_the_configured_loopback_base_is_a_wayback_host():
    endpoints = Endpoints("http://127.0.0.1:8471/")
    fetched = endpoints.snapshot("20180225100337", PAGE)
    assert parse_snapshot_url(fetched) is None  # a loopback address is no Wayback host by itself
    assert parse_snapshot_url(fetched, endpoints.base) == LETTER._replace(flag="id_")
    prefixed = Endpoints("http://127.0.0.1:8471/wayback")
    assert parse_snapshot_url(prefixed.snapshot("2018", PAGE), prefixed.base) == Snapshot("2018", PAGE, "id_")
    # The public host is still one when a base is configured.
    assert parse_snapshot_url(f"https://web.archive.org/web/20180225100337/{PAGE}", endpoints.base) == LETTER


def test_parsing_the_citation_url_gives_back_what_built_it():
    cited = citation_url("20180225100337", PAGE)
    found = parse_snapshot_url(cited)
    assert found is not None and citation_url(found.timestamp, found.original) == cited
