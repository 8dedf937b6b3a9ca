"""archive/wayback.py and the `wayback:` source settings: pure functions, no network."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs

import pytest
from scrapy.settings import Settings

from archive.config import Config
from archive.crawl.runner import crawl_settings
from archive.errors import ConfigError, SpyglassError, WaybackError
from archive.sources.load import parse_sources
from archive.sources.model import WaybackWindow, source_to_dict
from archive.wayback.client import (
    Endpoints,
    cdx_query,
    citation_url,
    parse_cdx,
    window_bound,
)
from archive.wayback.policy import DEFAULT_POLICY, RatePolicy

from .conftest import ROOT

RECORDINGS = ROOT / "tests" / "data" / "wayback-recordings"


def source(**extra):
    return parse_sources(
        {"sources": [{"name": "s", "kind": "vendor", "urls": ["https://a.test/"], **extra}]},
        Path("sources.yml"),
        {},
    )[0]


def test_wayback_settings_in_sources_yml():
    assert source().wayback is None and source(wayback=True).wayback == WaybackWindow()
    window = source(wayback={"from": 2016, "to": "20200301", "match": "prefix"}, save_on_change=True)
    assert window.wayback == WaybackWindow("2016", "20200301", "prefix") and window.save_on_change
    stored = source_to_dict(window)  # what the sources table keeps
    assert stored["wayback"] == {"from": "2016", "to": "20200301", "match": "prefix", "every": "7d"}
    assert stored["save_on_change"] is True


@pytest.mark.parametrize(
    "value,message",
    [
        ("yes", "field 'wayback': must be true, false or a mapping"),
        ({"from": "sixteen"}, "field 'wayback.from': must be a year or a timestamp"),
        ({"to": 2016, "from": 2020}, "field 'wayback.to': 2016 is before wayback.from 2020"),
        ({"match": "host"}, "field 'wayback.match': must be one of exact, prefix; got 'host'"),
        ({"since": 2016}, "field 'wayback.since': unknown field"),
    ],
)
def test_bad_wayback_settings_are_one_line_errors(value, message):
    with pytest.raises(ConfigError) as info:
        source(wayback=value)
    assert str(info.value).startswith("sources.yml: source 's': ") and message in str(info.value)
    assert "\n" not in str(info.value)
    with pytest.raises(ConfigError, match="field 'save_on_change'"):
        source(save_on_change="sometimes")


def test_every_request_derives_from_the_configured_base_and_citations_do_not():
    local = Endpoints("http://127.0.0.1:9/")
    assert local.cdx == "http://127.0.0.1:9/cdx/search/cdx"
    assert (
        local.snapshot("20180225100337", "https://aws.amazon.com/rekognition/")
        == "http://127.0.0.1:9/web/20180225100337id_/https://aws.amazon.com/rekognition/"
    )
    assert local.availability == "http://127.0.0.1:9/wayback/available"
    assert local.save_status("spn2-a/b") == "http://127.0.0.1:9/save/status/spn2-a%2Fb"
    assert Endpoints().cdx == "https://web.archive.org/cdx/search/cdx"
    assert (
        citation_url("20180225100337", "https://aws.amazon.com/rekognition/")
        == "https://web.archive.org/web/20180225100337/https://aws.amazon.com/rekognition/"
    )
    settings = Settings(
        {
            "SPYGLASS_WAYBACK_URL": "http://127.0.0.1:9",
            "SPYGLASS_WAYBACK_AVAILABILITY_URL": "http://127.0.0.1:8/available",
        }
    )
    assert (
        Endpoints.from_config(Config.from_settings(settings)).availability == "http://127.0.0.1:8/available"
    )


def test_cdx_query_and_inclusive_windows():
    params = parse_qs(
        cdx_query(
            "https://a.test/",
            match="prefix",
            start=window_bound(2016, False),
            end=window_bound(2020, True),
            limit=100,
            resume_key="k%2C+1",
        )
    )
    assert params["from"] == ["20160101000000"] and params["to"] == ["20201231235959"]
    assert params["filter"] == ["!statuscode:-"] and params["collapse"] == ["digest"]
    assert params["resumeKey"] == ["k%2C+1"] and params["showResumeKey"] == ["true"]


def test_default_policy_respects_the_real_limits():
    assert DEFAULT_POLICY.cdx_per_window <= 0.8 * 30 and DEFAULT_POLICY.snapshots_per_window <= 0.8 * 600
    assert DEFAULT_POLICY.window_seconds == 60 and DEFAULT_POLICY.pause_on_429 >= 60
    assert DEFAULT_POLICY.retry_backoff > 0
    assert RatePolicy.from_config(Config.from_settings(crawl_settings(Config()))) == DEFAULT_POLICY


def test_recorded_raw_cdx_texts_parse_without_crashing():
    malformed = parse_cdx((RECORDINGS / "malformed_cdx.txt").read_text())
    assert len(malformed.records) == 4 and len(malformed.problems) == 1
    bad = parse_cdx((RECORDINGS / "bad_timestamp_cdx.txt").read_text())
    assert [r.timestamp for r in bad.records] == ["20011120210446", "20000125210430", "20000311052312"]
    assert all(p.startswith("CDX line ") for p in bad.problems) and len(bad.problems) == 2
    lengths = parse_cdx((RECORDINGS / "zero_length_cdx.txt").read_text())
    assert len(lengths.records) == 5 and lengths.records[-1].length is None
    assert parse_cdx("").records == () and parse_cdx("only three fields").problems


def test_errors_are_spyglass_errors_with_docstrings():
    import archive.errors as errors

    for name in dir(errors):
        cls = getattr(errors, name)
        if isinstance(cls, type) and issubclass(cls, SpyglassError):
            assert cls.__doc__
    assert issubclass(WaybackError, SpyglassError)
