"""Scrapy settings for every Spyglass spider (Spyglass's own are in archive.config.Config)."""

from archive.config import USER_AGENT as DEFAULT_USER_AGENT

BOT_NAME = "spyglass"
SPIDER_MODULES = ["spiders"]
NEWSPIDER_MODULE = "spiders"

# Names the project; archivists crawling the real web should add a contact
# address with `-s USER_AGENT=...` or the USER_AGENT environment variable.
USER_AGENT = DEFAULT_USER_AGENT

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

# Requests waiting to be fetched are kept on disk, not in memory, so a crawl's
# memory does not grow with the site (archive/crawl/scheduler.py).
SCHEDULER = "archive.crawl.scheduler.DiskQueueScheduler"
SCHEDULER_DISK_QUEUE = "archive.crawl.scheduler.LifoRequestFiles"
SCHEDULER_START_DISK_QUEUE = "archive.crawl.scheduler.FifoRequestFiles"

# Off: both open a local control port that runs code sent to it (MEASURED.md).
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False

DOWNLOADER_MIDDLEWARES = {
    # A resumed run answers what the interrupted run archived from the archive (archive/crawl/resume.py).
    "archive.crawl.resume.ResumeMiddleware": 45,
    # First of all: refuse non-public addresses before robots.txt or anything else connects.
    "archive.crawl.guard.AddressGuardMiddleware": 50,
    # Replaces Scrapy's retry (550) with one that honours Retry-After.
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "archive.crawl.retry.PoliteRetryMiddleware": 550,
    # Scrapy's redirects, keeping a page whose redirect target is no URL (javascript:).
    "scrapy.downloadermiddlewares.redirect.MetaRefreshMiddleware": None,
    "archive.crawl.redirects.SafeMetaRefreshMiddleware": 580,
    "scrapy.downloadermiddlewares.redirect.RedirectMiddleware": None,
    "archive.crawl.redirects.SafeRedirectMiddleware": 600,
    # Conditional re-crawls: validators out, a 304 in as the archived page (archive/crawl/conditional.py).
    "archive.crawl.conditional.ConditionalRequestMiddleware": 900,
    # Above HttpCompressionMiddleware (590): records raw bytes and headers.
    "archive.crawl.capture.WarcCaptureMiddleware": 950,
}
# Each request's time is taken as it leaves for the network, after the slot's delay,
# AutoThrottle and a service budget have held it (archive/crawl/sent.py).
DOWNLOAD_HANDLERS = {
    "http": "archive.crawl.sent.TimedDownloadHandler",
    "https": "archive.crawl.sent.TimedDownloadHandler",
}
ITEM_PIPELINES = {
    "archive.crawl.pipelines.IndexPipeline": 300,
}
EXTENSIONS = {
    "archive.crawl.progress.Progress": 500,
    # Scrapy's AutoThrottle, with a 304 counted as a good answer (archive/crawl/throttle.py).
    "scrapy.extensions.throttle.AutoThrottle": None,
    "archive.crawl.throttle.AnswerThrottle": 0,
}

TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
# Pins each host's addresses for the process and refuses non-public ones at
# connect time (archive/guard.py): what the guard checked is what we connect to.
TWISTED_DNS_RESOLVER = "archive.crawl.guard.GuardedResolver"
FEED_EXPORT_ENCODING = "utf-8"
LOG_LEVEL = "INFO"

# Spyglass's own settings (SPYGLASS_*) are the fields of archive.config.Config,
# with their defaults and meanings; `crawl_settings` adds them here.
