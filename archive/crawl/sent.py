"""When a request was sent: the moment Scrapy hands it to the network, after every wait.

A request waits in Scrapy's downloader after the downloader middlewares have
seen it: its slot's DOWNLOAD_DELAY, AutoThrottle's delay, a records service's
budget (a slot of its own, archive/records/budget.py) and the slot's
concurrency all hold it in the slot's queue. `request_reached_downloader`
fires before that queue (scrapy/core/downloader/__init__.py,
`_enqueue_request`), so only the download handler itself runs when the
request leaves: this one is Scrapy's HTTP/1.1 handler, noting the time it
starts (`spyglass_sent_at`, the capture's time and its WARC-Date) and the time
the last byte arrived (`spyglass_received_at`, which ends `fetch_ms`).
"""

from __future__ import annotations

from scrapy import Request
from scrapy.core.downloader.handlers.http11 import HTTP11DownloadHandler
from scrapy.http import Response

from archive.times import utc_now

SENT_AT = "spyglass_sent_at"
RECEIVED_AT = "spyglass_received_at"


class TimedDownloadHandler(HTTP11DownloadHandler):
    """Scrapy's HTTP/1.1 download handler, timing each request from its send to its last byte."""

    async def download_request(self, request: Request) -> Response:
        """Download as Scrapy does, with the send and arrival times in the request's meta."""
        request.meta[SENT_AT] = utc_now()
        request.meta.pop(RECEIVED_AT, None)
        response = await super().download_request(request)
        request.meta[RECEIVED_AT] = utc_now()
        return response


def fetch_ms(meta: dict) -> int | None:
    """Milliseconds from the send to the last byte, when the handler timed both."""
    sent, received = meta.get(SENT_AT), meta.get(RECEIVED_AT)
    if sent is None or received is None:
        return None
    return int((received - sent).total_seconds() * 1000)
