"""A small threaded HTTP server on 127.0.0.1, started on a free port.

The stdlib server is enough here and keeps the fixtures dependency-free; each
fixture site supplies a `handle(request) -> Reply` function.
"""

from __future__ import annotations

import hashlib
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit


@dataclass
class Reply:
    """What a fixture answers: status, headers and body."""

    status: int = 200
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    content_type: str | None = "text/html; charset=utf-8"
    # Misbehaviour a well-formed reply cannot express (stall, reset mid-body):
    # given the raw socket, it writes whatever it likes; the connection is then closed.
    raw: Callable[[socket.socket], None] | None = None


@dataclass
class Incoming:
    """The parts of a request a fixture needs."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes


Handler = Callable[[Incoming], Reply]


def json_reply(data: Any, status: int = 200, headers: list[tuple[str, str]] | None = None) -> Reply:
    """A JSON answer, as the fixture APIs give it."""
    return Reply(
        status,
        json.dumps(data).encode(),
        headers=headers or [],
        content_type="application/json; charset=utf-8",
    )


class LoopbackServer:
    """Serves `handler` on 127.0.0.1 in a daemon thread; use as a context manager."""

    def __init__(self, handler: Handler, host: str = "127.0.0.1", port: int = 0, etags: bool = False) -> None:
        self.handler = handler
        outer = self

        class _RequestHandler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in separate writes; with Nagle's algorithm
            # and delayed ACKs each keep-alive response would stall ~40 ms.
            disable_nagle_algorithm = True

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                reply = outer.handler(
                    Incoming(self.command, parts.path, parts.query, dict(self.headers.items()), body)
                )
                if reply.raw is not None:
                    self.close_connection = True
                    try:
                        reply.raw(self.connection)
                    except OSError:
                        pass  # the client went away: that is the point of most of these
                    return
                if etags and reply.status == 200:
                    reply = _with_etag(reply, self.headers.get("If-None-Match"))
                self.send_response(reply.status)
                if reply.content_type:
                    self.send_header("Content-Type", reply.content_type)
                for key, value in reply.headers:
                    self.send_header(key, value)
                if reply.status != 304:
                    self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                if self.command != "HEAD" and reply.status != 304:
                    self.wfile.write(reply.body)

            do_GET = do_POST = do_HEAD = _serve

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

        self.httpd = ThreadingHTTPServer((host, port), _RequestHandler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    @property
    def url(self) -> str:
        """Base URL with no trailing slash, e.g. http://127.0.0.1:8123."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LoopbackServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _with_etag(reply: Reply, if_none_match: str | None) -> Reply:
    """The reply with a strong ETag of its body, or a 304 when the client already has that body,
    as static-file servers such as nginx answer."""
    etag = f'"{hashlib.sha256(reply.body).hexdigest()[:24]}"'
    headers = [*reply.headers, ("ETag", etag)]
    if if_none_match and etag in [v.strip() for v in if_none_match.split(",")]:
        return Reply(304, b"", headers, content_type=None)
    return Reply(reply.status, reply.body, headers, reply.content_type, reply.raw)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    """Block until something accepts connections on 127.0.0.1:port (never sleep-and-hope)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout} s")
