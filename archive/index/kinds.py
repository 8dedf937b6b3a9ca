"""The values of `observations.kind` and `fetch_errors.error_type`, each named once.

They are part of the published index (Datasette facets on them, the README and
datasette/metadata.yml quote them), so a value never changes; Python code names
it through these constants, and SQL written in Python binds or interpolates them.
"""

from __future__ import annotations


class ObservationKind:
    """`observations.kind`: how a page was seen unchanged without a new payload being indexed."""

    NOT_MODIFIED = "not-modified"  # a 304 answer to a conditional request
    UNCHANGED = "unchanged"  # a live revisit: fetched whole, the same payload as before


class ErrorType:
    """`fetch_errors.error_type` (the keys of `crawl_runs.error_kinds`): why a request left no capture.

    A download failure nothing below foresaw is named by its exception's class
    (spiders/base.py `describe_failure`), so the column holds more than these.
    """

    # The download failed (spiders/base.py describe_failure).
    TIMEOUT = "timeout"
    DNS = "dns"
    CONNECTION = "connection"
    ADDRESS = "address"  # refused by the address guard: private, loopback, reserved...
    ROBOTS = "robots"
    TOO_LARGE = "too-large"
    IGNORED = "ignored"
    # The crawl chose not to fetch or keep it (spiders/vendor.py, spiders/requisites.py).
    URL_TOO_LONG = "url-too-long"
    # A limit stopped the crawl short: its run ends `partial`, and the run's
    # finish_reason is the error's reason up to " (" ("trap: /p/N.html after 1,000 similar URLs").
    LIMIT = "limit"  # scope.max_pages or SPYGLASS_MAX_REQUISITES reached: once per run
    TRAP = "trap"  # SPYGLASS_MAX_SIMILAR_URLS reached: once per URL pattern
    REDIRECT = "redirect"  # a redirect loop, or too many hops
    RATE_LIMITED = "rate-limited"  # still 429 after the retries
    SERVER_ERROR = "server-error"  # still 5xx after the retries
    # Archived, but the crawl was killed before indexing it (archive/ingest/reconcile.py): a Wayback
    # response, or a browser load's rendered DOM or screenshot.
    INTERRUPTED = "interrupted"
    # A records portal's API answered something unusable (spiders/records_api.py).
    MALFORMED_JSON = "malformed-json"
    MALFORMED_ITEM = "malformed-item"
    MISSING_TEXT = "missing-text"  # a hosting service's text of a page answered an error (a 404)
    # A page loaded with `render: browser` (archive/browser/) that did not load and settle.
    BROWSER_TIMEOUT = "browser-timeout"
    BROWSER_FAILED = "browser-failed"  # the browser's own error, a crash, or the guard refused the page
    # Wayback harvests (spiders/wayback.py, archive/crawl/ratelimit.py).
    WAYBACK = "wayback"  # a WaybackError of no more precise kind
    WAYBACK_BLOCKED = "wayback-blocked"
    WAYBACK_EXCLUDED = "wayback-excluded"
    WAYBACK_NOT_ARCHIVED = "wayback-not-archived"
    WAYBACK_INEXACT = "wayback-inexact"  # replay gave another time or a rewritten page
    WAYBACK_CDX = "wayback-cdx"  # the CDX server answered an error
    WAYBACK_NONE = "wayback-none"  # no captures of the URL in the window
    CDX_MALFORMED = "cdx-malformed"
    WAYBACK_RATE_LIMITED = "wayback-rate-limited"
    WAYBACK_TRUNCATED = "wayback-truncated"
    WAYBACK_CONNECTION = "wayback-connection"

    @staticmethod
    def wayback_status(status: int) -> str:
        """The type of a Wayback request still answered HTTP `status` (502, 503...) after its retries."""
        return f"wayback-{status}"
