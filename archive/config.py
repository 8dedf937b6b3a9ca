"""One typed configuration, and the Archive a data directory holds.

Every Spyglass setting is a field of `Config`, with its default and its
meaning here and nowhere else. A command builds one Config (environment, then
`-s KEY=VALUE`, then its own options) and passes it down; Scrapy components
rebuild it from the crawler's settings with `Config.from_settings`, which is
how the same values reach them. Nothing else reads `os.environ` or a settings
key, and nothing writes `os.environ`.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from archive import __version__
from archive.errors import ArchiveError, ConfigError
from archive.index.db import open_db
from archive.records.budget import ServiceBudget
from archive.wayback.budget import Budget, FileBudget
from archive.wayback.client import PUBLIC_WAYBACK, Endpoints
from archive.wayback.policy import RatePolicy

DB_NAME = "spyglass.db"
WARC_DIR = "warcs"
CHAIN_DIR = "chain"  # time-stamped heads of the captures hash chain
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


_POLICY = RatePolicy()
_BUDGET = ServiceBudget()


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
    max_similar_urls: int = setting(
        1000,
        "URLs of one source that differ only in their digits "
        "(an endless calendar) before the rest are skipped; 0: off",
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
    # The defaults and their reasons are RatePolicy's (archive/wayback/policy.py).
    wayback_cdx_per_window: int = setting(_POLICY.cdx_per_window, "CDX/TimeMap requests per window")
    wayback_snapshots_per_window: int = setting(_POLICY.snapshots_per_window, "snapshot requests per window")
    wayback_saves_per_window: int = setting(_POLICY.saves_per_window, "Save Page Now submissions per window")
    wayback_budget_file: Path = setting(
        WAYBACK_BUDGET_FILE,
        "the file every process on this machine keeps the one Wayback budget and pause in",
    )
    wayback_window: float = setting(_POLICY.window_seconds, "seconds the Wayback budgets count over")
    wayback_pause_on_429: float = setting(
        _POLICY.pause_on_429, "seconds every Wayback request pauses after a 429"
    )
    wayback_retries: int = setting(_POLICY.retries, "retries of a Wayback 503 or cut body")
    wayback_retry_backoff: float = setting(
        _POLICY.retry_backoff, "seconds before the first such retry, doubling after"
    )
    wayback_cdx_page_size: int = setting(
        _POLICY.cdx_page_size, "rows per CDX request before the resume key is followed"
    )
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
    # The defaults and their reasons are ServiceBudget's (archive/records/budget.py).
    muckrock_per_minute: float = setting(_BUDGET.muckrock, "MuckRock API requests a minute")
    documentcloud_per_minute: float = setting(_BUDGET.documentcloud, "DocumentCloud API requests a minute")
    nextrequest_per_minute: float = setting(_BUDGET.nextrequest, "NextRequest client API requests a minute")
    # Site-wide boilerplate (archive/history/boilerplate.py): text on most of a
    # host's pages never makes a version or a change.
    boilerplate_share: float = setting(
        0.5,
        "share of a host's pages a sentence must be on to be "
        "site-wide boilerplate, left out of versions and changes",
    )
    boilerplate_min_pages: int = setting(3, "pages a sentence must be on, at least, to be boilerplate")
    allow_sql: bool = setting(
        False, "let visitors of `spyglass serve` run their own SQL (see the README's publishing stance)"
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
    def archive(self) -> Archive:
        """The Archive in this configuration's data directory."""
        return Archive(self.data_dir)

    @property
    def endpoints(self) -> Endpoints:
        """Every Wayback Machine URL Spyglass requests, from SPYGLASS_WAYBACK_URL."""
        return Endpoints(self.wayback_url, self.wayback_availability_url)

    @property
    def wayback_budget(self) -> Budget:
        """The budget and pause every request to this Wayback Machine shares: the machine's file,
        or with SPYGLASS_REDIS_URL the cluster's, in Redis."""
        if self.redis_url:
            from archive.wayback.redis_budget import RedisBudget

            return RedisBudget(self.redis_url, self.rate_policy, self.endpoints.base)
        return FileBudget(self.wayback_budget_file, self.rate_policy, self.endpoints.base)

    @property
    def service_budget(self) -> ServiceBudget:
        """The records services' API budgets these settings describe."""
        return ServiceBudget(
            muckrock=self.muckrock_per_minute,
            documentcloud=self.documentcloud_per_minute,
            nextrequest=self.nextrequest_per_minute,
        )

    @property
    def service_tokens(self) -> dict[str, str]:
        """Records services' API tokens (SPYGLASS_<SERVICE>_TOKEN) by service, those set only."""
        tokens = {
            "muckrock": self.muckrock_token,
            "documentcloud": self.documentcloud_token,
            "nextrequest": self.nextrequest_token,
        }
        return {service: token for service, token in tokens.items() if token}

    @property
    def rate_policy(self) -> RatePolicy:
        """The Wayback Machine rate policy these settings describe."""
        return RatePolicy(
            cdx_per_window=self.wayback_cdx_per_window,
            snapshots_per_window=self.wayback_snapshots_per_window,
            saves_per_window=self.wayback_saves_per_window,
            window_seconds=self.wayback_window,
            pause_on_429=self.wayback_pause_on_429,
            retries=self.wayback_retries,
            retry_backoff=self.wayback_retry_backoff,
            cdx_page_size=self.wayback_cdx_page_size,
        )


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


@dataclass(frozen=True)
class Archive:
    """A data directory: its index, its WARC files and its time-stamped chain heads."""

    data_dir: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "data_dir", Path(self.data_dir))

    @property
    def db_path(self) -> Path:
        return self.data_dir / DB_NAME

    @property
    def warc_dir(self) -> Path:
        return self.data_dir / WARC_DIR

    @property
    def chain_dir(self) -> Path:
        return self.data_dir / CHAIN_DIR

    def warc_path(self, filename: str) -> Path:
        """Where a WARC file named in the index lives."""
        return self.warc_dir / filename

    def exists(self) -> bool:
        return self.db_path.exists()

    def open_index(self) -> Any:
        """The index (sqlite_utils.Database), created with its migrations if needed."""
        return open_db(self.db_path)

    def open_existing(self) -> Any:
        """The index of an archive that must already exist, or an ArchiveError saying why not."""
        if not self.exists():
            raise ArchiveError(
                f"{self.db_path}: no archive here (run `spyglass crawl` or `spyglass demo` first)"
            )
        return self.open_index()
