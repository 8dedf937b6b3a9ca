"""Fetching the Atlas export from its URL with a conditional request, kept as the exchange it was.

The Atlas's server answers conditional requests (a weak ETag, and 304 Not
Modified), so a re-import of an unchanged export downloads nothing. One GET
with urllib: no crawl, no robots.txt (the archivist named this one file).
"""

from __future__ import annotations

import http.client
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import datetime

from archive.errors import AtlasError
from archive.times import utc_now
from archive.warc.read import DecodeError, decode_body
from archive.warc.write import Exchange, archivable_headers

# The 2026 export is 8.6 MB; anything far larger is not the export.
MAX_BYTES = 256 * 1024 * 1024
CHUNK = 1 << 20


@dataclass(frozen=True)
class Download:
    """One answer to the export's URL, as it came off the wire."""

    url: str  # as asked
    final_url: str  # after redirects
    status: int
    reason: str
    request_headers: list[tuple[str, str]]
    response_headers: list[tuple[str, str]]
    payload: bytes  # as sent (Content-Encoding kept)
    sent_at: datetime

    def header(self, name: str) -> str | None:
        """The first value of a response header, or None."""
        return next((v for k, v in self.response_headers if k.lower() == name.lower()), None)

    def body(self) -> bytes:
        """The payload with its Content-Encoding undone, to be read as CSV."""
        try:
            return decode_body(self.payload, self.header("Content-Encoding"))
        except DecodeError as exc:
            raise AtlasError(f"{self.final_url}: cannot decode the download: {exc}") from None

    def exchange(self) -> Exchange:
        """The exchange to archive: request and response records."""
        headers, removed = archivable_headers(self.response_headers)
        return Exchange(url=self.final_url, method="GET", request_headers=self.request_headers,
                        request_body=b"", protocol="HTTP/1.1", status=self.status, reason=self.reason,
                        response_headers=headers, payload=self.payload, date=self.sent_at,
                        extra_headers=removed)


def conditional_get(url: str, etag: str | None, last_modified: str | None, user_agent: str,
                    timeout: float) -> Download:
    """GET `url`, asking only for a newer copy than the one described by `etag` / `last_modified`."""
    headers = {"User-Agent": user_agent, "Accept": "text/csv, */*;q=0.5",
               "Accept-Encoding": "identity"}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    request = urllib.request.Request(url, headers=headers)
    sent_at = utc_now()
    try:
        response = urllib.request.urlopen(request, timeout=timeout)  # noqa: S310 - http(s) checked by the CLI
    except urllib.error.HTTPError as exc:
        response = exc  # 304 and errors are answers too
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise AtlasError(f"{url}: cannot fetch the export: {getattr(exc, 'reason', exc)}") from None
    with response:
        payload = _read_capped(response, url)
        host = urllib.parse.urlsplit(url).netloc
        return Download(
            url=url, final_url=response.geturl() or url, status=response.status,
            reason=response.reason or "", request_headers=[("Host", host), *headers.items()],
            response_headers=list(response.headers.items()), payload=payload, sent_at=sent_at,
        )


def _read_capped(response: object, url: str) -> bytes:
    chunks: list[bytes] = []
    size = 0
    try:
        while chunk := response.read(CHUNK):  # type: ignore[attr-defined]
            size += len(chunk)
            if size > MAX_BYTES:
                raise AtlasError(f"{url}: the download passed {MAX_BYTES} bytes: not an Atlas export")
            chunks.append(chunk)
    except (OSError, http.client.HTTPException) as exc:
        raise AtlasError(f"{url}: the download broke off after {size} bytes: {exc}") from None
    return b"".join(chunks)
