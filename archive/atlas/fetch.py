"""Fetching the Atlas export from its URL with a conditional request, kept as the exchanges it was.

The Atlas's server answers conditional requests (a weak ETag, and 304 Not
Modified), so a re-import of an unchanged export downloads nothing. No crawl
and no robots.txt (the archivist named this one file), but the crawl's other
rules hold: redirects are followed one hop at a time, each hop's answer is
kept (a redirect is evidence of where the export was), and every hop's host
passes the address guard, the connection going to the very address checked.
http.client, not urllib: urllib follows redirects itself and resolves names
again when it connects.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import urllib.parse
from dataclasses import dataclass
from datetime import datetime

from archive.crawl.guard import AddressBook, IPNetwork, refusal
from archive.errors import AtlasError
from archive.times import utc_now
from archive.warc.read import DecodeError, decode_body
from archive.warc.write import Exchange, archivable_headers

# The 2026 export is 8.6 MB; anything far larger is not the export.
MAX_BYTES = 256 * 1024 * 1024
CHUNK = 1 << 20
REDIRECTS = (301, 302, 303, 307, 308)
MAX_HOPS = 10  # as the crawler's REDIRECT_MAX_TIMES


@dataclass(frozen=True)
class Download:
    """One answer on the way to the export, as it came off the wire."""

    url: str  # as asked
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
            raise AtlasError(f"{self.url}: cannot decode the download: {exc}") from None

    def exchange(self) -> Exchange:
        """The exchange to archive: request and response records."""
        headers, removed = archivable_headers(self.response_headers)
        return Exchange(
            url=self.url,
            method="GET",
            request_headers=self.request_headers,
            request_body=b"",
            protocol="HTTP/1.1",
            status=self.status,
            reason=self.reason,
            response_headers=headers,
            payload=self.payload,
            date=self.sent_at,
            extra_headers=removed,
        )


def conditional_get(
    url: str,
    etag: str | None,
    last_modified: str | None,
    user_agent: str,
    timeout: float,
    book: AddressBook,
    allowed: tuple[IPNetwork, ...] = (),
) -> list[Download]:
    """GET `url`, asking only for a newer copy than the one described by `etag` / `last_modified`.

    Returns every answer, redirects first; the last is the export's (200,
    304 or an error). Hosts resolve through `book`; a non-public address is
    refused unless it is in `allowed`.
    """
    headers = {"User-Agent": user_agent, "Accept": "text/csv, */*;q=0.5", "Accept-Encoding": "identity"}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    answers: list[Download] = []
    current = url
    while True:
        answer = _get(current, headers, timeout, book, allowed)
        answers.append(answer)
        location = answer.header("Location")
        if answer.status not in REDIRECTS or not location:
            return answers
        if len(answers) > MAX_HOPS:
            raise AtlasError(f"{url}: more than {MAX_HOPS} redirects: nothing imported")
        current = urllib.parse.urljoin(current, location.strip())
        if urllib.parse.urlsplit(current).scheme not in ("http", "https"):
            raise AtlasError(f"{url}: redirected to {current!r}, not an http(s) URL: nothing imported")


def _get(
    url: str, headers: dict[str, str], timeout: float, book: AddressBook, allowed: tuple[IPNetwork, ...]
) -> Download:
    """One GET, no redirect followed, to the address the guard checked."""
    parts = urllib.parse.urlsplit(url)
    host = (parts.hostname or "").lower()
    address = _checked_address(url, host, book, allowed)
    https = parts.scheme == "https"
    port = parts.port or (443 if https else 80)
    conn: http.client.HTTPConnection = (_PinnedHTTPS if https else _PinnedHTTP)(host, port, timeout=timeout)
    conn.pinned = address  # type: ignore[attr-defined]
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    netloc = parts.netloc.rsplit("@", 1)[-1]
    sent_at = utc_now()
    try:
        conn.request("GET", target, headers={"Host": netloc, **headers})
        response = conn.getresponse()
        payload = _read_capped(response, url)
    except (OSError, http.client.HTTPException) as exc:
        raise AtlasError(f"{url}: cannot fetch the export: {exc}") from None
    finally:
        conn.close()
    return Download(
        url=url,
        status=response.status,
        reason=response.reason or "",
        request_headers=[("Host", netloc), *headers.items()],
        response_headers=list(response.getheaders()),
        payload=payload,
        sent_at=sent_at,
    )


def _checked_address(url: str, host: str, book: AddressBook, allowed: tuple[IPNetwork, ...]) -> str:
    try:
        addresses = book.lookup_now(host)
    except Exception as exc:  # noqa: BLE001 - DNSLookupError: one line
        raise AtlasError(f"{url}: cannot fetch the export: {exc}") from None
    for address in addresses:
        reason = refusal(host, ipaddress.ip_address(address), allowed, "opt in with --allow-private {ip}")
        if reason:
            raise AtlasError(f"{url}: {reason}: nothing imported")
    return addresses[0]


class _PinnedHTTP(http.client.HTTPConnection):
    """Connects to the address the guard checked, not to whatever the name resolves to now."""

    pinned = ""

    def connect(self) -> None:
        self.sock = socket.create_connection((self.pinned, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    """As _PinnedHTTP, the certificate still checked against the host's name."""

    pinned = ""

    def connect(self) -> None:
        sock = socket.create_connection((self.pinned, self.port), self.timeout)
        context = ssl.create_default_context()
        self.sock = context.wrap_socket(sock, server_hostname=self.host)


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
