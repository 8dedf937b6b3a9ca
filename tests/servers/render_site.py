"""A fixture site for screenshots: a page that draws, one that never finishes loading, one that
reaches for private addresses once a browser runs it.

`/stalls/` has an image whose server holds the connection open, so the page's
load event never fires in time; `/spins/` loads, then its script never yields.
`/` shows an image from a name only SPYGLASS_RESOLVE knows (PINNED_NAME): a
browser that resolved names itself could not load it. `/reaches-private/` loads an image from a
name SPYGLASS_RESOLVE maps to the cloud metadata address, and its script
fetches a canary server on 127.0.0.2, which must never see a connection.
"""

from __future__ import annotations

import socket
import threading

from archive.demo.server import Incoming, LoopbackServer, Reply
from tests.servers.hostile_site import SilentServer

METADATA_NAME = "metadata.render.test"
PINNED_NAME = "pinned.render.test"
STALL_SECONDS = 10


def page(title: str, body: str) -> bytes:
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{title}</title>"
        "<style>body { background: rgb(240, 200, 40); font: 20px serif; }</style></head>"
        f"<body><h1>{title}</h1>{body}</body></html>"
    ).encode()


class RenderSite:
    """The handler; `canary_port` and `base` are filled in by start_render_site."""

    def __init__(self) -> None:
        self.base = ""
        self.canary_port = 0
        self.pinned_hits = 0

    def __call__(self, request: Incoming) -> Reply:
        if request.path == "/robots.txt":
            return Reply(body=b"User-agent: *\nDisallow:\n", content_type="text/plain")
        if request.path == "/":
            port = self.base.rsplit(":", 1)[1]
            return Reply(
                body=page(
                    "Drawn in time",
                    '<a href="/stalls/">stalls</a> '
                    '<a href="/reaches-private/">private</a> '
                    '<a href="/spins/">spins</a>'
                    f'<img src="http://{PINNED_NAME}:{port}/pinned.png">',
                )
            )
        if request.path == "/pinned.png":
            self.pinned_hits += 1
            return Reply(404, b"", content_type="image/png")
        if request.path == "/stalls/":
            return Reply(body=page("Never finishes loading", '<img src="/stall.png" alt="">'))
        if request.path == "/spins/":
            return Reply(
                body=page(
                    "Spins after loading",
                    "<script>addEventListener('load', () => { while (true) {} })</script>",
                )
            )
        if request.path == "/stall.png":
            return Reply(raw=_stall)
        if request.path == "/reaches-private/":
            port = self.base.rsplit(":", 1)[1]
            return Reply(
                body=page(
                    "Reaches for private addresses",
                    (
                        f'<img src="http://{METADATA_NAME}:{port}/latest/meta-data/" alt="">'
                        f'<script>fetch("http://127.0.0.2:{self.canary_port}/")</script>'
                    ),
                )
            )
        return Reply(404, b"not found", content_type="text/plain")


def _stall(sock: socket.socket) -> None:
    """Send nothing for STALL_SECONDS, then hang up."""
    event = threading.Event()
    event.wait(STALL_SECONDS)
    sock.close()


class RenderServers:
    """The site and the canary, started together."""

    def __init__(self) -> None:
        self.site = RenderSite()
        self.canary = SilentServer("127.0.0.2")
        self.site.canary_port = self.canary.port
        self.server = LoopbackServer(self.site).start()
        self.site.base = self.server.url

    @property
    def url(self) -> str:
        return self.server.url

    def stop(self) -> None:
        self.server.stop()
        self.canary.stop()
