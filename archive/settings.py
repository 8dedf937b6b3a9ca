"""Scrapy settings for every Spyglass spider.

Each SPYGLASS_* setting can be overridden with `-s KEY=VALUE` or an environment
variable of the same name (read in `archive.crawl.crawl_settings`).
"""

from archive import __version__

BOT_NAME = "spyglass"
SPIDER_MODULES = ["spiders"]
NEWSPIDER_MODULE = "spiders"

# Names the project; archivists crawling the real web should add a contact
# address with `-s USER_AGENT=...` or the USER_AGENT environment variable.
USER_AGENT = f"Spyglass/{__version__} (public-interest web archiving; Scrapy)"

# Polite by default: archivists crawl other people's servers unattended.
ROBOTSTXT_OBEY = True
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 0.5
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 4.0
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 8
# Scrapy's default of 100 spawns that many tasks per callback result; 10 was
# markedly faster in MEASURED.md.
CONCURRENT_ITEMS = 10
# Limits against hostile servers (README, "Settings"): time per request, bytes
# per response (also after gzip decoding: a gzip bomb stops at the same limit),
# redirect hops the spider follows, URL length.
DOWNLOAD_TIMEOUT = 30
DOWNLOAD_MAXSIZE = 50 * 1024 * 1024
DOWNLOAD_WARNSIZE = 10 * 1024 * 1024
REDIRECT_MAX_TIMES = 10
URLLENGTH_LIMIT = 2083
RETRY_TIMES = 2
DNS_TIMEOUT = 20
COOKIES_ENABLED = False

# Spiders see every response, including 3xx/4xx/5xx: each is evidence of what
# the server said, and the spider follows redirects itself so each hop is a capture.
REDIRECT_ENABLED = False
HTTPERROR_ALLOW_ALL = True
# Spiders keep their own seen-set (canonical URLs); the dupefilter's
# fingerprinting of every link was the main cost of link following in MEASURED.md.
DUPEFILTER_CLASS = "scrapy.dupefilters.BaseDupeFilter"

# Off: both open a local control port that runs code sent to it (MEASURED.md).
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False

DOWNLOADER_MIDDLEWARES = {
    # First of all: refuse non-public addresses before robots.txt or anything else connects.
    "archive.guard.AddressGuardMiddleware": 50,
    # Replaces Scrapy's retry (550) with one that honours Retry-After.
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "archive.retry.PoliteRetryMiddleware": 550,
    # Above HttpCompressionMiddleware (590): records raw bytes and headers.
    "archive.capture.WarcCaptureMiddleware": 950,
}
ITEM_PIPELINES = {
    "archive.pipelines.IndexPipeline": 300,
}
EXTENSIONS = {
    "archive.progress.Progress": 500,
}

TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
# Pins each host's addresses for the process and refuses non-public ones at
# connect time (archive/guard.py): what the guard checked is what we connect to.
TWISTED_DNS_RESOLVER = "archive.guard.GuardedResolver"
FEED_EXPORT_ENCODING = "utf-8"
LOG_LEVEL = "INFO"

# Spyglass's own settings.
SPYGLASS_DATA_DIR = "data"
SPYGLASS_SOURCES_FILE = "sources.yml"
SPYGLASS_WARC_MAX_SIZE = 1_000_000_000
SPYGLASS_WARC_GZIP_LEVEL = 6
# Write an unchanged payload as a revisit record (True) or as a full copy.
SPYGLASS_WARC_DEDUPE = True
SPYGLASS_PROGRESS = False
SPYGLASS_PROGRESS_INTERVAL = 5.0
# Caps over every source's scope (a typo in sources.yml cannot start an endless crawl).
SPYGLASS_MAX_DEPTH = 20
SPYGLASS_MAX_PAGES = 100_000
# Crawler traps (endless calendars): URLs that differ only in their digits.
# 1000: a vendor's press archive or product catalogue can hold hundreds of URLs
# that differ only in their digits; an endless calendar passes any cap.
SPYGLASS_MAX_SIMILAR_URLS = 1000
# Longest Retry-After (seconds) a retry waits for; a longer one gives up at once.
SPYGLASS_RETRY_AFTER_MAX = 60
# `name=ip,name=ip`: answers for these names without DNS (tests, split-horizon setups).
SPYGLASS_RESOLVE = ""

# The Wayback Machine: every request is derived from this base URL (tests and
# the demo point it at the loopback simulator); citations always use the
# public https://web.archive.org. Budgets and pauses: see RatePolicy in
# archive/wayback.py, whose defaults are about 80% of the real limits.
SPYGLASS_WAYBACK_URL = "https://web.archive.org"
SPYGLASS_WAYBACK_AVAILABILITY_URL = ""  # default: <SPYGLASS_WAYBACK_URL>/wayback/available
SPYGLASS_WAYBACK_CDX_PER_WINDOW = 24
SPYGLASS_WAYBACK_SNAPSHOTS_PER_WINDOW = 480
SPYGLASS_WAYBACK_WINDOW = 60.0
SPYGLASS_WAYBACK_PAUSE_ON_429 = 60.0
SPYGLASS_WAYBACK_RETRIES = 2
SPYGLASS_WAYBACK_RETRY_BACKOFF = 10.0
SPYGLASS_WAYBACK_CDX_PAGE_SIZE = 5000
# Save Page Now: seconds between status polls, and how long to poll a job.
# Credentials come only from the environment (SPYGLASS_SPN_ACCESS_KEY and
# SPYGLASS_SPN_SECRET_KEY), never from settings or files.
SPYGLASS_SPN_POLL_INTERVAL = 5.0
SPYGLASS_SPN_TIMEOUT = 300.0
# RFC 3161 time-stamping of closed WARC files (`spyglass timestamp`); with
# SPYGLASS_TIMESTAMP_AFTER_CRAWL on, `spyglass crawl` does it after each run.
SPYGLASS_TSA_URL = ""
SPYGLASS_TSA_CA_FILE = ""
SPYGLASS_TIMESTAMP_AFTER_CRAWL = False
