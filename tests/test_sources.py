"""sources.yml: the bundled files validate; invalid files fail in one line naming source and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from archive.errors import ConfigError
from archive.sources.load import load_sources
from archive.sources.model import select

from .conftest import ROOT, run_cli


def test_example_sources_validate():
    sources = load_sources(ROOT / "sources.example.yml")
    names = [s.name for s in sources]
    assert "aws-rekognition" in names
    faq = next(s for s in sources if s.name == "aws-rekognition-faq")
    assert faq.urls == ("https://aws.amazon.com/rekognition/faqs/",)
    assert faq.product == "Amazon Rekognition" and "Rekognition" in faq.aliases
    assert faq.scope.allows("https://aws.amazon.com/rekognition/faqs/#Video_Analytics")
    assert not faq.scope.allows("https://aws.amazon.com/ec2/")


def test_demo_sources_need_their_placeholder_filled_only_to_be_crawled():
    with pytest.raises(
        ConfigError,
        match=r"sources.yml: source 'northwind-recognize': field 'urls': "
        r"placeholder \$\{SPYGLASS_VENDOR_SITE\} is not set",
    ):
        select(load_sources(ROOT / "sources.yml", variables={}), [])
    partly = load_sources(ROOT / "sources.yml", variables={"SPYGLASS_VENDOR_SITE": "http://127.0.0.1:9"})
    [vendor] = select(partly, ["northwind-recognize"])  # the records portal's is not needed
    assert vendor.urls[0] == "http://127.0.0.1:9/"
    with pytest.raises(ConfigError, match=r"placeholder \$\{SPYGLASS_RECORDS_PORTAL\} is not set"):
        select(partly, ["clearwater-requests"])
    with pytest.raises(ConfigError, match=r"placeholder \$\{SPYGLASS_RECORDS_PORTAL\} is not set"):
        select(partly, [])
    sources = load_sources(
        ROOT / "sources.yml",
        variables={
            "SPYGLASS_VENDOR_SITE": "http://127.0.0.1:9",
            "SPYGLASS_RECORDS_PORTAL": "http://127.0.0.1:8",
        },
    )
    source = sources[0]
    assert source.name == "northwind-recognize"
    assert source.urls[0] == "http://127.0.0.1:9/"
    assert source.scope.hosts == ("127.0.0.1",)


def test_scope_defaults_to_start_hosts_and_honours_prefixes(tmp_path: Path):
    path = tmp_path / "s.yml"
    path.write_text(
        "sources:\n"
        "  - {name: a, kind: vendor, urls: ['https://v.example/x/']}\n"
        "  - {name: b, kind: vendor, urls: ['https://v.example/p/'],"
        " scope: {prefixes: ['https://v.example/p/'], max_depth: 0, max_pages: 3}}\n"
    )
    a, b = load_sources(path)
    assert a.scope.hosts == ("v.example",) and a.scope.allows("https://v.example/other")
    assert not a.scope.allows("https://elsewhere.example/")
    assert not a.scope.allows("ftp://v.example/")
    assert b.scope.allows("https://v.example/p/q") and not b.scope.allows("https://v.example/q")
    assert (b.scope.max_depth, b.scope.max_pages) == (0, 3)


BAD = {
    "scope.max_depth": (
        "  - {name: acme, kind: vendor, urls: ['https://a.example/'], scope: {max_depth: three}}\n",
        "source 'acme': field 'scope.max_depth'",
    ),
    "kind": ("  - {name: acme, kind: blog, urls: ['https://a.example/']}\n", "source 'acme': field 'kind'"),
    "urls": ("  - {name: acme, kind: vendor, urls: ['not a url']}\n", "source 'acme': field 'urls'"),
    "missing urls": ("  - {name: acme, kind: vendor}\n", "source 'acme': field 'urls'"),
    "unknown": (
        "  - {name: acme, kind: vendor, urls: ['https://a.example/'], colour: red}\n",
        "source 'acme': field 'colour': unknown field",
    ),
    "duplicate": (
        "  - {name: acme, kind: vendor, urls: ['https://a.example/']}\n"
        "  - {name: acme, kind: vendor, urls: ['https://b.example/']}\n",
        "source 'acme': field 'name': duplicate",
    ),
    "bad name": (
        "  - {name: 'Acme Inc', kind: vendor, urls: ['https://a.example/']}\n",
        "source 'Acme Inc': field 'name'",
    ),
    "robots": (
        "  - {name: acme, kind: vendor, urls: ['https://a.example/'], robots: maybe}\n",
        "source 'acme': field 'robots'",
    ),
    "unnamed": ("  - {kind: vendor, urls: ['https://a.example/']}\n", "source '#1': field 'name'"),
    "live without wayback": (
        "  - {name: acme, kind: vendor, urls: ['https://a.example/'], live: false}\n",
        "source 'acme': field 'live': is false and wayback is not set: nothing would be crawled",
    ),
    "live": (
        "  - {name: acme, kind: vendor, urls: ['https://a.example/'], live: sometimes}\n",
        "source 'acme': field 'live': must be true",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_invalid_sources_name_file_source_and_field(tmp_path: Path, case: str):
    body, expected = BAD[case]
    path = tmp_path / "sources.yml"
    path.write_text("sources:\n" + body)
    with pytest.raises(ConfigError) as info:
        load_sources(path)
    message = str(info.value)
    assert message.startswith(str(path) + ": ")
    assert expected in message
    assert "\n" not in message


def test_a_source_can_harvest_only_its_wayback_history(tmp_path: Path):
    path = tmp_path / "sources.yml"
    path.write_text(
        "sources:\n  - {name: acme, kind: vendor, urls: ['https://a.example/'], live: false,\n"
        "     wayback: {from: 20180601101500, to: 20180601101500}}\n"
        "  - {name: other, kind: vendor, urls: ['https://b.example/']}\n"
    )
    acme, other = load_sources(path)
    assert not acme.live and acme.wayback.start == acme.wayback.end == "20180601101500"
    assert other.live


def test_unresolved_sources_still_name_their_vendor_and_product():
    sources = {s.name: s for s in load_sources(ROOT / "sources.yml", variables={})}
    vendor = sources["northwind-recognize"]
    assert vendor.unresolved and (vendor.vendor, vendor.product) == ("Northwind Cloud", "Northwind Recognize")
    assert "NW Recognize" in vendor.aliases


def test_yaml_syntax_error_names_the_line(tmp_path: Path):
    path = tmp_path / "sources.yml"
    path.write_text("sources:\n  - name: acme\n    urls: [unclosed\n")
    with pytest.raises(ConfigError, match=r"sources.yml: line \d+: not valid YAML"):
        load_sources(path)


def test_cli_reports_invalid_sources_in_one_line_without_traceback(tmp_path: Path):
    path = tmp_path / "sources.yml"
    path.write_text("sources:\n" + BAD["scope.max_depth"][0])
    result = run_cli("crawl", "--sources", str(path), "--data", str(tmp_path / "data"))
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == [
        f"Error: {path}: source 'acme': field 'scope.max_depth': must be an integer >= 0, got 'three'"
    ]
    assert not (tmp_path / "data" / "spyglass.db").exists()


def test_cli_rejects_unknown_source_name(tmp_path: Path):
    result = run_cli(
        "crawl", "--sources", str(ROOT / "sources.example.yml"), "--data", str(tmp_path), "--source", "nope"
    )
    assert result.returncode == 1
    assert "Error: no source named 'nope'; known: aws-rekognition" in result.stderr
    assert "Traceback" not in result.stderr
