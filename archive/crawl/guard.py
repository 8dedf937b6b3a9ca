"""The address guard: no request reaches a private, loopback or otherwise non-public address.

A page can link or redirect anywhere, including the cloud metadata service at
169.254.169.254 or a router on 10.0.0.1 (server-side request forgery). Two
parts work together:

- `AddressGuardMiddleware` (downloader middleware) resolves each request's
  host, checks every address it resolves to against the source's
  `allow_private` list, and refuses the request, with a readable reason,
  before anything connects. The vendor spider follows redirects through new
  requests, so every hop passes through it.
- `GuardedResolver` (Scrapy's TWISTED_DNS_RESOLVER) is the resolver the
  connection itself uses. It answers each host name once per process and
  keeps the answer, so the address the middleware checked is the address the
  connection goes to (a DNS-rebinding server cannot answer "public" to the
  check and "private" to the connect); and it refuses, at connect time, any
  non-public address no source in the process has allowed.

`SPYGLASS_RESOLVE` (`name=ip,name=ip`, like curl's --resolve) answers for
listed names without asking DNS, so tests can point names at private
addresses without any network.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet import defer
from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.error import DNSLookupError
from twisted.internet.interfaces import (
    IHostnameResolver,
    IHostResolution,
    IResolutionReceiver,
)
from twisted.internet.threads import deferToThreadPool
from zope.interface import implementer

from archive.config import Config
from archive.errors import ConfigError
from archive.wayback.client import Endpoints

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class AddressRefused(IgnoreRequest):
    """A request whose host is (or resolves to) an address the source may not crawl."""


def parse_networks(values: Iterable[str]) -> tuple[IPNetwork, ...]:
    """`['127.0.0.1', '10.0.0.0/8']` as networks; ValueError names the bad one."""
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(str(value).strip(), strict=False))
        except ValueError:
            raise ValueError(
                f"{value!r} is not an IP address or network (e.g. 127.0.0.1 or 10.0.0.0/8)"
            ) from None
    return tuple(networks)


def parse_resolve(text: str) -> dict[str, tuple[str, ...]]:
    """SPYGLASS_RESOLVE `name=ip,name=ip2,other=ip` as {name: (ip, ip2), other: (ip,)}."""
    table: dict[str, list[str]] = {}
    for pair in (text or "").replace(";", ",").split(","):
        if not pair.strip():
            continue
        name, sep, address = pair.partition("=")
        try:
            ip = ipaddress.ip_address(address.strip())
        except ValueError:
            ip = None
        if not sep or not name.strip() or ip is None:
            raise ConfigError(f"SPYGLASS_RESOLVE: {pair.strip()!r} is not name=ip")
        table.setdefault(name.strip().lower(), []).append(str(ip))
    return {name: tuple(ips) for name, ips in table.items()}


def non_public_kind(ip: IPAddress) -> str | None:
    """Why an address is not on the public internet ('link-local', 'private', ...), or None."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return non_public_kind(ip.ipv4_mapped)
    # Order matters: 127.0.0.1 is also "private" to Python; name the most specific kind.
    for kind, test in (
        ("unspecified", ip.is_unspecified),
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("reserved", ip.is_reserved),
        ("private", ip.is_private),
    ):
        if test:
            return kind
    if not ip.is_global:
        return "non-public"  # e.g. 100.64.0.0/10, shared by carriers
    return None


def refusal(
    host: str,
    ip: IPAddress,
    allowed: tuple[IPNetwork, ...],
    opt_in: str = "a source may opt in with allow_private: [{ip}]",
) -> str | None:
    """The one-line reason `ip` (for `host`) may not be fetched, or None if it may.

    `opt_in` says how to allow it where the address is not a source's (`{ip}` is filled in).
    """
    kind = non_public_kind(ip)
    if kind is None or any(ip in net for net in allowed if net.version == ip.version):
        return None
    where = f"{host} resolves to {ip}" if host != str(ip) else f"{ip}"
    return f"{where}, a {kind} address: not fetched ({opt_in.format(ip=ip)})"


class AddressBook:
    """Resolves each host once per process and keeps the answer (the pin against DNS rebinding)."""

    def __init__(self, overrides: dict[str, tuple[str, ...]] | None = None) -> None:
        self.overrides = dict(overrides or {})
        self.pinned: dict[str, tuple[str, ...]] = {}
        # Networks some source in this process opted into; the connect-time check.
        self.allowed_anywhere: set[IPNetwork] = set()

    def _known(self, host: str) -> tuple[str, ...] | None:
        """An address given as the host, a pinned answer, or a SPYGLASS_RESOLVE one (then pinned)."""
        try:
            return (str(ipaddress.ip_address(host)),)
        except ValueError:
            pass
        if host in self.pinned:
            return self.pinned[host]
        if host in self.overrides:
            return self.pinned.setdefault(host, self.overrides[host])
        return None

    def lookup(self, host: str) -> defer.Deferred:
        """A Deferred firing with the host's addresses as text, or failing with DNSLookupError."""
        host = host.lower().strip("[]")
        known = self._known(host)
        if known is not None:
            return defer.succeed(known)
        from twisted.internet import reactor

        d = deferToThreadPool(reactor, reactor.getThreadPool(), _getaddrinfo, host)
        # Two concurrent lookups of one host: the first answer wins for both.
        d.addCallback(lambda found: self.pinned.setdefault(host, found))
        return d

    def lookup_now(self, host: str) -> tuple[str, ...]:
        """The host's addresses, answered and pinned as `lookup` does, in this thread (outside Twisted)."""
        host = host.lower().strip("[]")
        known = self._known(host)
        return known if known is not None else self.pinned.setdefault(host, _getaddrinfo(host))


def _getaddrinfo(host: str) -> tuple[str, ...]:
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise DNSLookupError(f"{host}: {exc}") from None
    found = tuple(dict.fromkeys(info[4][0].split("%")[0] for info in infos))
    if not found:
        raise DNSLookupError(f"{host}: no addresses")
    return found


# One per process, like the reactor whose connections it answers for.
_BOOK: AddressBook | None = None


def address_book(config: Config) -> AddressBook:
    """The process's AddressBook, created from SPYGLASS_RESOLVE on first use."""
    global _BOOK
    if _BOOK is None:
        _BOOK = AddressBook(parse_resolve(config.resolve))
    return _BOOK


class AddressGuardMiddleware:
    """Refuses requests whose host resolves to any address the source has not allowed."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        config = Config.from_settings(crawler.settings)
        self.book = address_book(config)
        # The Wayback Machine endpoints are the operator's configuration, not
        # something a page chose: their hosts may be anywhere (the tests and the
        # demo run the simulator on loopback), so their own addresses pass.
        endpoints = Endpoints.from_config(config)
        self.endpoints = {urlsplit(url).hostname for url in (endpoints.base, endpoints.availability)}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> AddressGuardMiddleware:
        return cls(crawler)

    def _allowed(self) -> tuple[IPNetwork, ...]:
        source = getattr(self.crawler.spider, "source", None)
        allowed = parse_networks(getattr(source, "allow_private", ()) or ())
        self.book.allowed_anywhere.update(allowed)
        return allowed

    async def process_request(self, request: Request) -> None:
        host = urlsplit(request.url).hostname
        if not host:
            raise AddressRefused(f"no host name in {request.url}")
        allowed = self._allowed()
        addresses = await maybe_deferred_to_future(self.book.lookup(host))
        if host in self.endpoints:
            endpoint = parse_networks(addresses)
            self.book.allowed_anywhere.update(endpoint)
            allowed = allowed + endpoint
        for address in addresses:
            reason = refusal(host, ipaddress.ip_address(address), allowed)
            if reason:
                self.crawler.stats.inc_value("spyglass/address_refused")
                raise AddressRefused(reason)
        return None

    def process_response(self, request: Request, response: Response) -> Response:
        # Belt and braces: the peer actually connected to must pass the same test.
        if response.ip_address is not None:
            host = urlsplit(request.url).hostname or ""
            if host in self.endpoints:
                return response
            reason = refusal(host, ipaddress.ip_address(str(response.ip_address)), self._allowed())
            if reason:
                raise AddressRefused(f"connected to {reason}")
        return response


@implementer(IHostnameResolver)
class GuardedResolver:
    """TWISTED_DNS_RESOLVER: pinned answers from the AddressBook; refuses unallowed non-public ones."""

    def __init__(self, reactor: Any, book: AddressBook) -> None:
        self.reactor = reactor
        self.book = book

    @classmethod
    def from_crawler(cls, crawler: Any, reactor: Any) -> GuardedResolver:
        return cls(reactor, address_book(Config.from_settings(crawler.settings)))

    def install_on_reactor(self) -> None:
        self.reactor.installNameResolver(self)

    def resolveHostName(
        self,
        resolutionReceiver: IResolutionReceiver,
        hostName: str,
        portNumber: int = 0,
        addressTypes: Any = None,
        transportSemantics: str = "TCP",
    ) -> Any:
        resolution = _Resolution(hostName)
        resolutionReceiver.resolutionBegan(resolution)

        def deliver(addresses: tuple[str, ...]) -> None:
            allowed = tuple(self.book.allowed_anywhere)
            ips = [ipaddress.ip_address(text) for text in addresses]
            if any(refusal(hostName, ip, allowed) for ip in ips):
                return  # no address at all: the connection fails as unresolvable
            for ip in ips:
                cls = IPv6Address if ip.version == 6 else IPv4Address
                resolutionReceiver.addressResolved(cls("TCP", str(ip), portNumber))

        d = self.book.lookup(hostName)
        d.addCallback(deliver)
        d.addErrback(lambda failure: failure.trap(DNSLookupError) and None)
        d.addBoth(lambda _: resolutionReceiver.resolutionComplete())
        return resolution


@implementer(IHostResolution)
class _Resolution:
    def __init__(self, name: str) -> None:
        self.name = name

    def cancel(self) -> None:
        pass
