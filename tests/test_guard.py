"""The address guard: non-public addresses are refused before connecting, after redirects and behind DNS names."""

from __future__ import annotations

import ipaddress
import re
import sqlite3
from pathlib import Path

import pytest

from archive.crawl.guard import (
    AddressBook,
    GuardedResolver,
    non_public_kind,
    parse_resolve,
)
from archive.errors import ConfigError
from archive.sources.load import parse_sources

from .conftest import hostile_sources, run_cli
from .test_hostile import capture, errors_for

# They send requests toward non-public addresses: only inside a namespace (tests/netns.py).
pytestmark = pytest.mark.network_namespace

OPT_IN = "(a source may opt in with allow_private: [{ip}])"


@pytest.mark.parametrize(
    "address,kind",
    [
        ("169.254.169.254", "link-local"),
        ("10.1.2.3", "private"),
        ("192.168.0.1", "private"),
        ("172.16.5.4", "private"),
        ("127.0.0.1", "loopback"),
        ("127.9.9.9", "loopback"),
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("100.64.0.1", "non-public"),
        ("::1", "loopback"),
        ("fe80::1", "link-local"),
        ("fc00::1", "private"),
        ("::ffff:10.0.0.1", "private"),
        ("::ffff:169.254.169.254", "link-local"),
        ("93.184.216.34", None),
        ("2606:4700::1111", None),
    ],
)
def test_every_kind_of_non_public_address_is_named(address, kind):
    assert non_public_kind(ipaddress.ip_address(address)) == kind


def test_refused_before_connecting_links_and_names_that_resolve_to_private_addresses(hostile_crawl):
    h = hostile_crawl
    port = h["base"].rsplit(":", 1)[1]
    canary = h["site"].canary_port
    cases = {
        "http://169.254.169.254/latest/meta-data/": "169.254.169.254, a link-local address",
        f"http://metadata.hostile.test:{port}/latest/meta-data/": "metadata.hostile.test resolves to 169.254.169.254, a link-local address",
        # One public and one private answer: every answer is checked.
        f"http://mixed.hostile.test:{port}/": "mixed.hostile.test resolves to 10.0.0.7, a private address",
        f"http://[::1]:{port}/ipv6-loopback": "::1, a loopback address",
        f"http://127.0.0.2:{canary}/other-loopback": "127.0.0.2, a loopback address",
    }
    for url, start in cases.items():
        [error] = errors_for(h, url)
        ip = start.split(", a ")[0].split()[-1]
        assert error["error_type"] == "address"
        assert error["reason"] == f"{start}: not fetched {OPT_IN.format(ip=ip)}"
    # The canary on 127.0.0.2 never saw a connection (not even for robots.txt).
    assert h["servers"].canary.held == []


def test_redirects_to_private_addresses_are_refused_at_the_next_hop(hostile_crawl):
    h = hostile_crawl
    base = h["base"]
    canary = h["site"].canary_port
    cases = {
        "/redirect-to/metadata": (
            "http://169.254.169.254/latest/meta-data/iam/",
            "169.254.169.254, a link-local address",
        ),
        "/redirect-to/intranet": (
            f"http://intranet.hostile.test:{base.rsplit(':', 1)[1]}/admin",
            "intranet.hostile.test resolves to 10.20.30.40, a private address",
        ),
        "/redirect-to/rebind": (
            f"http://rebind.hostile.test:{canary}/ok/rebound",
            "rebind.hostile.test resolves to 127.0.0.2, a loopback address",
        ),
    }
    for path, (target, start) in cases.items():
        hop = capture(h, base + path)  # the redirect itself is evidence
        assert (hop["status"], hop["location"]) == (302, target)
        [error] = errors_for(h, target)
        assert (error["error_type"], error["referrer"]) == ("address", base + path)
        assert error["reason"].startswith(start + ": not fetched")
    assert h["servers"].canary.held == []


@pytest.mark.parametrize(
    "host,said",
    [
        ("127.0.0.1", r"127\.0\.0\.1"),
        # A real name, resolved by the system resolver (/etc/hosts), not SPYGLASS_RESOLVE;
        # some systems list ::1 for it first.
        ("localhost", r"localhost resolves to (127\.0\.0\.1|::1)"),
    ],
)
def test_loopback_is_refused_unless_the_source_opts_in(vendor_site, tmp_path: Path, host, said):
    base, site = vendor_site
    base = base.replace("127.0.0.1", host)
    before = dict(site.hits)
    sources = hostile_sources(tmp_path / "sources.yml", base, allow_private="[]")
    result = run_cli("crawl", "--sources", str(sources), "--data", str(tmp_path / "data"))
    # Nothing could be fetched: the source failed entirely, and the crawl says so with its exit status.
    assert result.returncode == 1, result.stderr
    assert "hostile: failed (no page could be fetched (1 errors))" in result.stdout
    assert "1 errors (1 address)" in result.stdout
    assert site.hits == before  # nothing reached the server, not even robots.txt
    conn = sqlite3.connect(tmp_path / "data" / "spyglass.db")
    [(url, error_type, reason)] = conn.execute("SELECT url, error_type, reason FROM fetch_errors")
    conn.close()
    assert (url, error_type) == (base + "/", "address")
    assert re.fullmatch(
        rf"{said}, a loopback address: not fetched "
        r"\(a source may opt in with allow_private: \[(127\.0\.0\.1|::1)\]\)",
        reason,
    ), reason


def test_allow_private_is_validated_in_one_line():
    entry = {
        "name": "x",
        "kind": "vendor",
        "urls": ["http://a.example/"],
        "allow_private": ["127.0.0.1", "10.0.0.0/8", "localhost"],
    }
    with pytest.raises(ConfigError) as err:
        parse_sources({"sources": [entry]}, Path("s.yml"), {})
    assert str(err.value) == (
        "s.yml: source 'x': field 'allow_private': 'localhost' is not an IP address "
        "or network (e.g. 127.0.0.1 or 10.0.0.0/8)"
    )
    entry["allow_private"] = ["127.0.0.1", "10.0.0.0/8"]
    [source] = parse_sources({"sources": [entry]}, Path("s.yml"), {})
    assert source.allow_private == ("127.0.0.1", "10.0.0.0/8")


def test_spyglass_resolve_is_validated():
    assert parse_resolve("a.test=10.0.0.1, a.test=::1,b.test=127.0.0.1") == {
        "a.test": ("10.0.0.1", "::1"),
        "b.test": ("127.0.0.1",),
    }
    with pytest.raises(ConfigError, match=r"^SPYGLASS_RESOLVE: 'a.test=nope' is not name=ip$"):
        parse_resolve("a.test=nope")


class Receiver:
    """Collects what a resolver reports, as Twisted's HostnameEndpoint would."""

    def __init__(self) -> None:
        self.addresses: list[str] = []
        self.complete = False

    def resolutionBegan(self, resolution) -> None:
        pass

    def addressResolved(self, address) -> None:
        self.addresses.append(address.host)

    def resolutionComplete(self) -> None:
        self.complete = True


def test_the_connection_resolver_answers_with_the_pinned_checked_address():
    book = AddressBook(parse_resolve("site.test=127.0.0.1,evil.test=10.0.0.1"))
    resolver = GuardedResolver(reactor=None, book=book)
    book.allowed_anywhere.add(ipaddress.ip_network("127.0.0.1/32"))
    first = Receiver()
    resolver.resolveHostName(first, "site.test", 80)
    assert (first.addresses, first.complete) == (["127.0.0.1"], True)
    # DNS rebinding: a later answer for the same name is never used in this process.
    book.overrides["site.test"] = ("10.9.9.9",)
    again = Receiver()
    resolver.resolveHostName(again, "site.test", 80)
    assert again.addresses == ["127.0.0.1"]
    # A non-public answer no source allowed gives the connection no address at all.
    refused = Receiver()
    resolver.resolveHostName(refused, "evil.test", 80)
    assert (refused.addresses, refused.complete) == ([], True)


def test_retry_after_is_read_as_seconds_or_an_http_date():
    from datetime import timedelta
    from email.utils import format_datetime

    from archive.crawl.retry import retry_after_seconds
    from archive.times import utc_now

    assert retry_after_seconds(b"120") == 120.0
    assert retry_after_seconds(None) is None and retry_after_seconds(b"soon") is None
    later = retry_after_seconds(format_datetime(utc_now() + timedelta(seconds=600), usegmt=True))
    assert 500 < later <= 600
    assert retry_after_seconds("Thu, 01 Jan 1970 00:00:00 GMT") == 0.0


def test_calendar_months_share_one_url_pattern_and_ordinary_pages_do_not():
    from spiders.traps import url_pattern

    assert url_pattern("http://a.test/calendar/2026/11/") == url_pattern("http://a.test/calendar/1999/01/")
    assert url_pattern("http://a.test/events?month=2026-11&x=1") == "a.test/events?month&x"
    assert url_pattern("http://a.test/press/") != url_pattern("http://a.test/products/")


def test_these_tests_run_where_only_loopback_exists():
    """A regression of the guard can fail these tests but reach nothing."""
    import os
    import socket

    from tests.netns import INSIDE

    assert os.environ.get(INSIDE) == "1"
    assert [name for _, name in socket.if_nameindex()] == ["lo"]
    with pytest.raises(OSError):  # no route leaves this namespace
        socket.create_connection(("10.255.255.1", 9), timeout=1)
