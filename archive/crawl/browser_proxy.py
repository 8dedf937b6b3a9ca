"""The address guard for a browser: an HTTP proxy on 127.0.0.1 that every request of Chromium goes through.

Chromium is started with `--proxy-server` pointing here (loopback included),
so it never resolves a host name or opens a connection itself. For each
request the proxy asks the guard for the host's addresses (resolved once,
pinned, SPYGLASS_RESOLVE honoured: archive/crawl/guard.py), refuses it with a
403 if any address is one the source may not fetch, and otherwise connects
to the address that was checked. So a page's images, scripts, fetches and
WebSockets reach only what the crawler itself may reach, and a DNS-rebinding
host cannot answer the browser differently than it answered the check.
HTTPS and WebSockets pass as CONNECT tunnels (Chromium checks certificates
as usual); a plain-HTTP request is forwarded alone, with `Connection: close`,
so a kept-alive connection can never carry a second request to another host.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from urllib.parse import urlsplit

HEAD_LIMIT = 64 * 1024  # a request head larger than this is refused
IDLE_SECONDS = 60.0  # a tunnel with no traffic for this long is closed
HOP_HEADERS = {
    b"connection",
    b"keep-alive",
    b"proxy-connection",
    b"proxy-authorization",
    b"proxy-authenticate",
    b"te",
    b"trailer",
    b"upgrade",
}

# (host) -> (address to connect to, None) or (None, why it is refused)
Checker = Callable[[str], tuple[str | None, str | None]]


class GuardedProxy:
    """Serve with `async with GuardedProxy(check) as proxy:`; `proxy.port`, and what it refused
    as (host, port, why)."""

    def __init__(self, check: Checker) -> None:
        self.check = check
        self.refused: list[tuple[str, int, str]] = []
        self.port = 0
        self._server: asyncio.base_events.Server | None = None
        self._tasks: set[asyncio.Task] = set()

    async def __aenter__(self) -> GuardedProxy:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, limit=HEAD_LIMIT)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            await self._one(reader, writer)
        except (OSError, TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            pass  # the browser or the server went away, or sent nonsense: nothing to record
        finally:
            if task is not None:
                self._tasks.discard(task)
            writer.close()

    async def _one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        first, _, headers = head.partition(b"\r\n")
        method, target, version = first.decode("latin-1").split(" ", 2)
        tunnel = method.upper() == "CONNECT"
        host, port, path = _destination(target, tunnel)
        address, why = await asyncio.to_thread(self.check, host)
        if address is None:
            self.refused.append((host.lower(), port, why or "refused"))
            writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            await writer.drain()
            return
        upstream_reader, upstream = await asyncio.open_connection(address, port)
        try:
            if tunnel:
                writer.write(b"HTTP/1.1 200 Connection Established\r\n\r\n")
                await writer.drain()
                await _pipe_both(reader, writer, upstream_reader, upstream)
                return
            upstream.write(_origin_form(method, path, version, headers))
            length = _content_length(headers)
            if length:
                upstream.write(await reader.readexactly(length))
            await upstream.drain()
            await _copy(upstream_reader, writer)
        finally:
            upstream.close()


def _destination(target: str, tunnel: bool) -> tuple[str, int, str]:
    """(host, port, origin-form path) a proxy request is for; ValueError if it names none."""
    if tunnel:
        parts = urlsplit(f"//{target}")
        if not parts.hostname:
            raise ValueError(target)
        return parts.hostname, parts.port or 443, ""
    parts = urlsplit(target)
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError(target)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.hostname, parts.port or 80, path


def _origin_form(method: str, path: str, version: str, headers: bytes) -> bytes:
    """The request as sent to the server itself: origin-form, hop-by-hop headers out, then closed."""
    kept = [
        line
        for line in headers.split(b"\r\n")
        if line and line.split(b":", 1)[0].strip().lower() not in HOP_HEADERS
    ]
    lines = [f"{method} {path} {version}".encode("latin-1"), *kept, b"Connection: close"]
    return b"\r\n".join(lines) + b"\r\n\r\n"


def _content_length(headers: bytes) -> int:
    for line in headers.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return max(int(value.strip() or 0), 0)
    return 0


async def _copy(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    while True:
        chunk = await asyncio.wait_for(source.read(65536), IDLE_SECONDS)
        if not chunk:
            return
        sink.write(chunk)
        await sink.drain()


async def _pipe_both(
    client_reader: asyncio.StreamReader,
    client: asyncio.StreamWriter,
    server_reader: asyncio.StreamReader,
    server: asyncio.StreamWriter,
) -> None:
    """Copy bytes both ways until either side closes."""
    tasks = [
        asyncio.ensure_future(_copy(client_reader, server)),
        asyncio.ensure_future(_copy(server_reader, client)),
    ]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        with contextlib.suppress(BaseException):
            await asyncio.gather(*tasks, return_exceptions=True)
