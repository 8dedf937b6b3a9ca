"""One typed configuration: every setting's default and meaning, once.

Every Spyglass setting is a field of `Config`, with its default and its
meaning here and nowhere else. A command builds one Config (environment, then
`-s KEY=VALUE`, then its own options) and passes it down; Scrapy components
rebuild it from the crawler's settings with `Config.from_settings`, which is
how the same values reach them. Nothing else reads `os.environ` or a settings
key, and nothing writes `os.environ`.

A leaf: it imports no other room. Each room builds its own settings from a
Config (`RatePolicy.from_config`, `Endpoints.from_config`, ...), reading the
defaults from here, so a default and its reason are written once.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from archive import __version__
from archive.errors import ConfigError

# Citations always name the public Wayback Machine, whatever SPYGLASS_WAYBACK_URL says.
PUBLIC_WAYBACK = "https://web.archive.org"
SPN_ACCESS_KEY_ENV = "SPYGLASS_SPN_ACCESS_KEY"
SPN_SECRET_KEY_ENV = "SPYGLASS_SPN_SECRET_KEY"
# Machine-wide, so every user's and every process's Wayback requests share one budget.
WAYBACK_BUDGET_FILE = Path(tempfile.gettempdir()) / "spyglass-wayback-budget.json"
MUCKROCK_TOKEN_ENV = "SPYGLASS_MUCKROCK_TOKEN"
DOCUMENTCLOUD_TOKEN_ENV = "SPYGLASS_DOCUMENTCLOUD_TOKEN"
NEXTREQUEST_TOKEN_ENV = "SPYGLASS_NEXTREQUEST_TOKEN"
USER_AGENT = f"Spyglass/{__version__} (public-interest web archiving; Scrapy)"


def setting(default: Any, meaning: str, name: str | None = None) -> Any:
    """A Config field: its default, what it means, and its setting name if not SPYGLASS_<FIELD>."""
    return field(default=default, metadata={"meaning": meaning, "setting": name})


@dataclass(frozen=True)
class Config:
    """Every Spyglass setting, typed. Setting names are SPYGLASS_<FIELD> unless given."""

    data_dir: Path = setting(Path("data"), "data directory: holds spyglass.db and warcs/")
    sources_file: Path = setting(Path("sources.yml"), "the sources file to read")
    user_agent: str = setting(
        USER_AGENT,
        "names the project; archivists crawling the real web should add a contact address",
        name="USER_AGENT",
    )
    warc_max_size: int = setting(1_000_000_000, "bytes after which a WARC file is closed and a new one begun")
    warc_gzip_level: int = setting(
        6,
        "gzip level of each WARC record's gzip member, written by "
        "zlib-ng (2 is 5% larger for 60% of level 6's CPU on the bench pages)",
    )
    warc_dedupe: bool = setting(True, "write an unchanged payload as a revisit record, not a full copy")
    progress: bool = setting(False, "print a progress line while crawling")
    progress_interval: float = setting(5.0, "seconds between progress lines")
    max_depth: int = setting(
        20, "cap on every source's scope.max_depth (a typo in sources.yml cannot start an endless crawl)"
    )
    max_pages: int = setting(100_000, "cap on every source's scope.max_pages")
    # 1000: a vendor's press archive or product catalogue can hold hundreds of
    # URLs that differ only in their digits; an endless calendar passes any cap.
    # URLs a sitemap lists are vouched for and never counted (spiders/vendor.py).
    max_similar_urls: int = setting(
        1000,
        "URLs of one source that differ only in their digits "
        "(an endless calendar) before the rest are held back until a sitemap or "
        "5 different pages vouch for them; 0: off",
    )
    # 200: real product pages need 20-100 files; a gallery of thousands stops here.
    max_requisites: int = setting(
        200,
        "page requisites (stylesheets, images, fonts, scripts) fetched for one page or stylesheet at most",
    )
    chromium: str = setting("", "the Chromium that takes screenshots (default: Debian's chromium on PATH)")
    screenshot_timeout: float = setting(
        30.0, "seconds a page may take to load for its screenshot before it is recorded as a timeout"
    )
    screenshot_max_height: int = setting(
        10_000, "tallest screenshot in pixels; a longer page is cut there (and its row says so)"
    )
    # Settling a page loaded with `render: browser` (archive/browser/load.py), as a reader would.
    browser_page_timeout: float = setting(
        45.0, "seconds one page may take to load, settle and be drawn in the browser; then a fetch error"
    )
    browser_idle_wait: float = setting(
        10.0, "longest wait in seconds for a page's network to go quiet (no request for 0.5 s)"
    )
    browser_late_timers: float = setting(
        1.0, "seconds a settled page's late timers may run before its DOM is taken"
    )
    browser_scroll_max_height: int = setting(
        20_000, "pixels of a page at most brought into view by scrolling, to trigger lazy loading"
    )
    browser_restart_after: int = setting(
        50, "pages one Chromium loads before it is restarted (bounds its memory)"
    )
    retry_after_max: float = setting(
        60.0, "longest Retry-After (seconds) a retry waits for; a longer one gives up at once"
    )
    resolve: str = setting(
        "", "`name=ip,name=ip`: answers for these names without DNS (tests, split-horizon setups)"
    )
    # Every Wayback request is derived from this base URL (tests and the demo
    # point it at the loopback simulator); citations always use the public one.
    wayback_url: str = setting(PUBLIC_WAYBACK, "the Wayback Machine every request goes to")
    wayback_availability_url: str = setting(
        "", "the availability API (default: <SPYGLASS_WAYBACK_URL>/wayback/available)"
    )
    # The Wayback rate policy (archive/wayback/policy.py RatePolicy), one rule per setting.
    # CDX and TimeMap share one budget of 30 requests a minute per IP; 80% of
    # it leaves room for a person using the same IP in a browser.
    wayback_cdx_per_window: int = setting(24, "CDX/TimeMap requests per window")
    # Snapshot (id_) fetches are allowed about 600 a minute; 80% again.
    wayback_snapshots_per_window: int = setting(480, "snapshot requests per window")
    # Save Page Now takes 6 URLs a minute from an account and 3 anonymously
    # (its changelog, 2023); more are queued as "overloaded", not refused.
    # Status polls are ordinary requests and count as snapshots.
    wayback_saves_per_window: int = setting(3, "Save Page Now submissions per window")
    wayback_budget_file: Path = setting(
        WAYBACK_BUDGET_FILE,
        "the file every process on this machine keeps the one Wayback budget and pause in",
    )
    # The "minute" the budgets count over. Only tests shrink it.
    wayback_window: float = setting(60.0, "seconds the Wayback budgets count over")
    # 429s carry no Retry-After, and an IP that keeps sending after 429s for
    # over a minute is firewalled for an hour (doubling each time): stop
    # everything for at least a minute.
    wayback_pause_on_429: float = setting(60.0, "seconds every Wayback request pauses after a 429")
    # A 503 or a cut body is usually a busy node: retry a few times, slowly,
    # never at once ("never retry hot").
    wayback_retries: int = setting(2, "retries of a Wayback 503 or cut body")
    wayback_retry_backoff: float = setting(10.0, "seconds before the first such retry, doubling after")
    wayback_cdx_page_size: int = setting(5000, "rows per CDX request before the resume key is followed")
    spn_poll_interval: float = setting(5.0, "seconds between Save Page Now status polls")
    spn_timeout: float = setting(300.0, "how long to poll a Save Page Now job")
    tsa_url: str = setting("", "RFC 3161 time-stamp authority for `spyglass timestamp`")
    tsa_ca_file: str = setting(
        "", "CA certificate(s) the time-stamp authority chains to (default: the system's)"
    )
    timestamp_after_crawl: bool = setting(False, "time-stamp closed WARC files after each crawl")
    conditional_requests: bool = setting(
        True,
        "re-crawls send If-None-Match / If-Modified-Since from "
        "a page's last capture; a 304 is recorded as an observation",
    )
    resume_within: float = setting(
        86400.0,
        "seconds after its start an unfinished run (killed, "
        "interrupted) is continued by the next crawl of its source instead "
        "of started afresh; 0: never continue",
    )
    schedule_grace: float = setting(
        3600.0, "seconds past its due time before `spyglass status` calls a source overdue"
    )
    schedule_retry: float = setting(
        3600.0,
        "seconds after a failed run before `spyglass run-due` "
        "tries it again (never later than its own interval)",
    )
    schedule_check: float = setting(
        300.0,
        "longest `spyglass run-due --forever` sleeps before it looks again at what is due "
        "(edits to the sources file are seen then)",
    )
    schedule_crontab: str = setting(
        "",
        "the crontab file `spyglass schedule --install` edits; empty: the user's crontab, through `crontab`",
    )
    schedule_unit_dir: str = setting(
        "",
        "where `spyglass schedule --install --via systemd` writes its units; "
        "empty: ~/.config/systemd/user, then enabled with systemctl --user",
    )
    # The records services' API budgets (archive/records/budget.py ServiceBudget).
    # MuckRock's API v2 allows 15 requests a minute (burst 100) on requests/,
    # communications/, files/ and agencies/, for anonymous and signed-in users
    # alike (the limits python-muckrock, MuckRock's own client, enforces). The
    # steady rate is what we keep to; we never rely on the burst.
    muckrock_per_minute: float = setting(15.0, "MuckRock API requests a minute")
    # DocumentCloud's API allows 10 requests a second (python-documentcloud's
    # RATE_LIMIT / RATE_PERIOD); 80% of it leaves room for a person using the
    # same IP in a browser.
    documentcloud_per_minute: float = setting(480.0, "DocumentCloud API requests a minute")
    # NextRequest publishes no limit. Public scrapers of its client API
    # (Big Local News, foiatool) wait 2 seconds between calls: so do we.
    nextrequest_per_minute: float = setting(30.0, "NextRequest client API requests a minute")
    # Site-wide boilerplate (archive/history/boilerplate.py): text on most of a
    # host's pages never makes a version or a change.
    boilerplate_share: float = setting(
        0.5,
        "share of a host's pages a sentence must be on to be "
        "site-wide boilerplate, left out of versions and changes",
    )
    boilerplate_min_pages: int = setting(3, "pages a sentence must be on, at least, to be boilerplate")
    settle_later: bool = setting(
        True,
        "find the crawled hosts' boilerplate again in a background process after the crawl has "
        "reported and exited (`spyglass status` says while it is pending); false: before the crawl exits",
    )
    allow_sql: bool = setting(
        False, "let visitors of `spyglass serve` run their own SQL (see the README's publishing stance)"
    )
    public_url: str = setting(
        "",
        "the archive's public address (https://archive.example.org): `spyglass serve` names it in "
        "Memento links and TimeGate redirects, alerts link to the diff and the capture page there, "
        "a live capture's footnote (`spyglass cite --format footnote`) names its page there; "
        "empty: relative links, and alerts carry citations only",
    )
    # An alert whose target stays down is retried by every crawl, run-due and
    # `spyglass notify`; after this long `spyglass status` flags it.
    notify_overdue: float = setting(
        86400.0, "seconds an alert may stay unsent before `spyglass status` exits non-zero"
    )
    atlas_timeout: float = setting(
        300.0, "seconds `import-atlas --url` may take to download the Atlas of Surveillance export"
    )
    # Redis mode (archive/cluster/): many crawl workers, on any machine, share one frontier.
    redis_url: str = setting(
        "",
        "Redis server of the shared frontier, seen-set, leases, ingest "
        "stream and Wayback budget (redis://host:6379/0); empty: one machine, no Redis",
    )
    # 30 s: a worker renews its heartbeat every third of it, so only a dead or
    # frozen worker misses it; its requests then wait at most this long to go back.
    redis_lease: float = setting(
        30.0,
        "seconds after a worker's last heartbeat before its in-flight "
        "requests go back to the queue and its WARC files are reconciled",
    )
    # Credentials are read from the environment only, never from settings or files.
    spn_access_key: str = field(default="", repr=False, metadata={"environment": SPN_ACCESS_KEY_ENV})
    spn_secret_key: str = field(default="", repr=False, metadata={"environment": SPN_SECRET_KEY_ENV})
    muckrock_token: str = field(default="", repr=False, metadata={"environment": MUCKROCK_TOKEN_ENV})
    documentcloud_token: str = field(
        default="", repr=False, metadata={"environment": DOCUMENTCLOUD_TOKEN_ENV}
    )
    nextrequest_token: str = field(default="", repr=False, metadata={"environment": NEXTREQUEST_TOKEN_ENV})

    @classmethod
    def setting_names(cls) -> dict[str, str]:
        """Setting name -> field name, for every setting."""
        return {_setting_name(f): f.name for f in fields(cls) if "meaning" in f.metadata}

    @classmethod
    def from_settings(cls, settings: Any) -> Config:
        """The Config a crawler's settings (or any mapping of setting names) hold."""
        values: dict[str, Any] = {}
        for name, attr in cls.setting_names().items():
            raw = settings.get(name)
            if raw is not None:
                values[attr] = raw
        env = {f.name: f.metadata["environment"] for f in fields(cls) if "environment" in f.metadata}
        for attr, variable in env.items():
            raw = settings.get(variable)
            if raw:
                values[attr] = raw
        return cls.build(values)

    @classmethod
    def load(
        cls,
        environ: Mapping[str, str] | None = None,
        overrides: Mapping[str, str] | None = None,
        **options: Any,
    ) -> Config:
        """A command's Config: the environment, then `-s` overrides, then its own options (if not None)."""
        environ = os.environ if environ is None else environ
        names = cls.setting_names()
        values: dict[str, Any] = {attr: environ[name] for name, attr in names.items() if name in environ}
        for f in fields(cls):
            variable = f.metadata.get("environment")
            if variable and environ.get(variable):
                values[f.name] = environ[variable]
        for key, value in (overrides or {}).items():
            if key in names:
                values[names[key]] = value
            elif key.startswith("SPYGLASS_"):
                raise ConfigError(f"-s {key}: no such setting (see the README's settings table)")
        values.update({k: v for k, v in options.items() if v is not None})
        return cls.build(values)

    @classmethod
    def build(cls, values: Mapping[str, Any]) -> Config:
        """A Config from field values as text or typed values; ConfigError names a bad one."""
        typed: dict[str, Any] = {}
        for f in fields(cls):
            if f.name in values:
                typed[f.name] = _convert(f, values[f.name])
        return cls(**typed)

    def as_settings(self) -> dict[str, Any]:
        """Every setting by name, for a Scrapy Settings object (credentials left out)."""
        return {
            name: getattr(self, attr)
            if not isinstance(getattr(self, attr), Path)
            else str(getattr(self, attr))
            for name, attr in self.setting_names().items()
        }

    @property
    def service_tokens(self) -> dict[str, str]:
        """Records services' API tokens (SPYGLASS_<SERVICE>_TOKEN) by service, those set only."""
        tokens = {
            "muckrock": self.muckrock_token,
            "documentcloud": self.documentcloud_token,
            "nextrequest": self.nextrequest_token,
        }
        return {service: token for service, token in tokens.items() if token}


def _setting_name(f: Any) -> str:
    return f.metadata.get("setting") or f"SPYGLASS_{f.name.upper()}"


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")


def _convert(f: Any, value: Any) -> Any:
    kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
    name = _setting_name(f) if "meaning" in f.metadata else f.metadata.get("environment", f.name)
    try:
        if kind == "bool":
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in _TRUE or text in _FALSE:
                return text in _TRUE
            raise ValueError
        if kind == "int":
            if isinstance(value, bool):
                raise ValueError
            return int(value)
        if kind == "float":
            return float(value)
        if kind == "Path":
            return Path(value)
        return str(value)
    except (TypeError, ValueError):
        wanted = {"bool": "true or false", "int": "an integer", "float": "a number"}.get(kind, kind)
        raise ConfigError(f"setting {name}: must be {wanted}, got {value!r}") from None
