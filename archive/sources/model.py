"""What a source is: the dataclasses sources.yml becomes, and choosing which to crawl."""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any
from urllib.parse import urlsplit

from archive.errors import ConfigError
from archive.sources.walk import Walk

KINDS = ("vendor", "records")

DEFAULT_MAX_DEPTH = 3

DEFAULT_MAX_PAGES = 1000

RECRAWL_MODES = ("all", "changed")

WAYBACK_MATCHES = ("exact", "prefix")

# phrases: a watched phrase or product name appeared or disappeared; any: every change of text.
ALERT_MODES = ("phrases", "any")

NETLOC_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://(?:[^/?#@]*@)?([^/?#]*)")


@dataclass(frozen=True)
class Target:
    """One place alerts go: an Apprise URL (mailto://, json://, slack://, ntfy://, ...).

    `url` holds the values of its ${VAR} placeholders (the secrets), so it is
    never stored, logged or shown; `written` is the URL as sources.yml writes it.
    """

    url: str = field(repr=False)
    written: str
    digest: bool = False  # one message per run listing its events, not one per event
    unset: str = ""  # the error for a ${VAR} of it with no value: its alerts wait, the crawl goes on

    @property
    def key(self) -> str:
        """The target's identity in the alerts table: a digest of the URL as written, placeholders unexpanded."""
        return hashlib.sha256(self.written.encode()).hexdigest()[:16]

    @property
    def label(self) -> str:
        """What may be shown of the target: its scheme and host (secrets, paths and queries left out).

        A host that is not a host name (a Slack token, an ntfy topic) is a secret too.
        """
        scheme = self.written.split("://", 1)[0].lower()
        match = NETLOC_RE.match(self.written)
        host = match.group(1) if match else ""
        if not (host.startswith("${") or _is_host_name(host.rsplit(":", 1)[0].strip("[]"))):
            host = "…"
        return f"{scheme}://{host}"


@dataclass(frozen=True)
class Scope:
    """Which URLs a crawl of one source may fetch, and how far it may go."""

    hosts: tuple[str, ...]
    prefixes: tuple[str, ...] = ()
    max_depth: int = DEFAULT_MAX_DEPTH
    max_pages: int = DEFAULT_MAX_PAGES

    def allows(self, url: str) -> bool:
        """True when `url` is on a listed host or under a listed prefix."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            return False
        host = (parts.hostname or "").lower()
        if host in self.hosts:
            return True
        return any(url.startswith(prefix) for prefix in self.prefixes)


@dataclass(frozen=True)
class WaybackWindow:
    """Which Wayback Machine captures of a source's URLs to harvest (years or timestamps, inclusive)."""

    start: str | None = None  # CDX `from`: 4 to 14 digits
    end: str | None = None  # CDX `to`
    match: str = "exact"  # exact: the URL itself; prefix: every URL under it
    every: str = "7d"  # how often to harvest (archive/sources/every.py)


@dataclass(frozen=True)
class Source:
    """One entry of sources.yml: what to crawl and what it is evidence about."""

    name: str
    kind: str
    urls: tuple[str, ...]
    scope: Scope
    robots: bool = True
    vendor: str | None = None
    product: str | None = None
    aliases: tuple[str, ...] = ()
    agency: str | None = None
    notes: str | None = None
    walk: Walk | None = None  # records sources only
    # "all": fetch every page each crawl (unchanged payloads become revisits);
    # "changed": skip pages whose sitemap <lastmod> predates their last capture.
    recrawl: str = "all"
    # Non-public addresses (or networks) this source may fetch; see archive/guard.py.
    allow_private: tuple[str, ...] = ()
    # Errors for ${VAR} placeholders with no value: only a source that is
    # crawled needs them, so `select` reports them, not `load_sources`.
    unresolved: tuple[str, ...] = ()
    wayback: WaybackWindow | None = None  # None: no Wayback harvest
    # False: only the Wayback history of the URLs is harvested, not the live pages
    # (a link to one snapshot names that memento, not whatever the page says today).
    live: bool = True
    save_on_change: bool = False  # ask Save Page Now for a snapshot when a page changes
    # How often `spyglass run-due` crawls it (archive/sources/every.py); the
    # file-wide default already applied.
    every: str = "1d"
    # Phrases whose appearance or disappearance is news (product and aliases are watched anyway).
    watch: tuple[str, ...] = ()
    # Archive what each page needs to render (stylesheets, images, fonts,
    # scripts), from any public host; load_sources turns it on for vendor sources.
    requisites: bool = False
    screenshot: bool = False  # a headless Chromium screenshot of each page after the crawl
    # Where its alerts go (the file-wide `notify:` unless it has its own) and which changes alert.
    notify: tuple[Target, ...] = ()
    alert: str = "phrases"
    # "browser": its pages are loaded in Chromium after the crawl (archive/browser/), those
    # matching `render_urls` (shell-style patterns) if any are given, else every page.
    render: str | None = None
    render_urls: tuple[str, ...] = ()

    def renders(self, url: str) -> bool:
        """True when `url` is one of this source's pages loaded in a browser (`render: browser`)."""
        return rendered_in_browser(source_to_dict(self), url)

    @property
    def terms(self) -> tuple[str, ...]:
        """Names this source's product is known by: product, aliases, vendor."""
        return tuple(t for t in (self.product, *self.aliases, self.vendor) if t)


def select(sources: list[Source], names: tuple[str, ...] | list[str]) -> list[Source]:
    """The sources named (all when none are), ready to crawl, or a ConfigError saying why not."""
    by_name = {s.name: s for s in sources}
    missing = [n for n in names if n not in by_name]
    if missing:
        raise ConfigError(f"no source named {missing[0]!r}; known: {', '.join(sorted(by_name))}")
    chosen = [by_name[n] for n in names] if names else list(sources)
    for source in chosen:
        if source.unresolved:
            raise ConfigError(source.unresolved[0])
    return chosen


def source_to_dict(source: Source) -> dict[str, Any]:
    """A JSON-friendly dict, for the `sources` table and for passing to spiders."""
    return {
        "name": source.name,
        "kind": source.kind,
        "urls": list(source.urls),
        "scope": {
            "hosts": list(source.scope.hosts),
            "prefixes": list(source.scope.prefixes),
            "max_depth": source.scope.max_depth,
            "max_pages": source.scope.max_pages,
        },
        "robots": source.robots,
        "vendor": source.vendor,
        "product": source.product,
        "aliases": list(source.aliases),
        "agency": source.agency,
        "notes": source.notes,
        "walk": source.walk.to_dict() if source.walk else None,
        "recrawl": source.recrawl,
        "allow_private": list(source.allow_private),
        "wayback": None
        if source.wayback is None
        else {
            "from": source.wayback.start,
            "to": source.wayback.end,
            "match": source.wayback.match,
            "every": source.wayback.every,
        },
        "save_on_change": source.save_on_change,
        "every": source.every,
        "watch": list(source.watch),
        "live": source.live,
        "requisites": source.requisites,
        "screenshot": source.screenshot,
        # Labels only: a target's URL holds its secrets.
        "notify": [target.label for target in source.notify],
        "alert": source.alert,
        "render": source.render,
        "render_urls": list(source.render_urls),
    }


def rendered_in_browser(config: Mapping[str, Any], url: str) -> bool:
    """Whether a source's stored configuration (`source_to_dict`) has `url` loaded in a browser.

    Read from the dict, not the Source, so history can apply it to the
    configuration the index recorded (the `sources` table).
    """
    if config.get("render") != "browser":
        return False
    patterns = config.get("render_urls") or ()
    return not patterns or any(fnmatchcase(url, pattern) for pattern in patterns)


def _is_host_name(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return host == "localhost" or ("." in host and all(part for part in host.split(".")))
