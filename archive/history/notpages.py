"""What is captured but is not a page a person reads: robots.txt, sitemaps, feeds.

They stay captures (evidence of what a site told crawlers and subscribers),
and their versions are kept, but a change to one is never reported: it is
stored with `substantive = 0`, so changes, the front page and the feed,
which all read substantive changes, leave it out.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

# By name: a server may send robots.txt as text/html, a feed as text/xml.
NAMES = re.compile(
    r"/(robots\.txt|sitemap[^/]*\.xml(\.gz)?|[^/]*\.(rss|atom)|(feed|rss|atom)(\.xml)?|index\.(rss|atom|xml))$",
    re.IGNORECASE,
)
# By type: machine-readable XML and feeds, whatever their name.
TYPES = ("application/xml", "text/xml", "application/rss+xml", "application/atom+xml")


def is_page(url: str | None, content_type: str | None) -> bool:
    """False for robots.txt, sitemaps and feeds (by name or by Content-Type); True for anything else."""
    path = urlsplit(url or "").path.rstrip("/") or "/"
    kind = (content_type or "").split(";")[0].strip().lower()
    return not (NAMES.search(path) or kind in TYPES)
