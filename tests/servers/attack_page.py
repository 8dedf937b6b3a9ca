"""A fixture site whose page is an attack: script payloads in its title, text and markup.

Spyglass must archive it faithfully and show it inert everywhere: escaped in
Datasette's views, sandboxed in replay. `/beacon` counts any request the page
manages to make once it has been archived.
"""

from __future__ import annotations

from archive.demo.server import Incoming, LoopbackServer, Reply

TITLE_PAYLOAD = "<script>alert('title')</script>"
TEXT_PAYLOAD = "<script>alert('body')</script>"
IMG_PAYLOAD = "<img src=x onerror=alert('img')>"

PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{title}</title>
<script>fetch("{base}/beacon?from=head")</script></head>
<body><main><h1>Hostile page</h1>
<p>Escaped in the source, so text after parsing: &lt;script&gt;alert('body')&lt;/script&gt;
and &lt;img src=x onerror=alert('img')&gt;.</p>
<img src="{base}/beacon?from=img" alt="">
<script>document.body.innerHTML = "<h1>scripts ran</h1>"; fetch("{base}/beacon?from=body")</script>
</main></body></html>
"""


class AttackPage:
    """The handler; `beacons` counts requests to /beacon."""

    def __init__(self) -> None:
        self.beacons = 0
        self.base = ""

    def __call__(self, request: Incoming) -> Reply:
        if request.path == "/":
            return Reply(body=PAGE.format(title=TITLE_PAYLOAD, base=self.base).encode("utf-8"))
        if request.path == "/beacon":
            self.beacons += 1
            return Reply(204, b"", content_type=None)
        return Reply(404, b"not found", content_type="text/plain")


def start_attack_page(port: int = 0) -> tuple[LoopbackServer, AttackPage]:
    """Start the site on 127.0.0.1."""
    site = AttackPage()
    server = LoopbackServer(site, port=port).start()
    site.base = server.url
    return server, site
