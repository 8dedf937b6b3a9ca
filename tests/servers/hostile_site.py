"""The hostile fixture site: every way a server can be slow, broken or malicious, on 127.0.0.1.

Each endpoint is named for the behaviour it simulates. The index page links to
all of them and to a few ordinary pages (`/ok/...`), so one crawl shows both
that each failure is recorded and that the rest of the site is archived.
Links and redirects to non-public addresses (169.254.169.254, 10.x, names
that resolve to them through SPYGLASS_RESOLVE) must be refused by the
address guard; nothing here ever makes them reachable.
"""

from __future__ import annotations

import gzip
import io
import socket
import struct
import threading
import time
from dataclasses import dataclass, field

from archive.demo.pdfgen import text_pdf
from archive.demo.server import Incoming, LoopbackServer, Reply

# Names the tests map with SPYGLASS_RESOLVE; none exists in real DNS.
RESOLVE_NAMES = {
    "metadata.hostile.test": "169.254.169.254",  # cloud metadata service
    "intranet.hostile.test": "10.20.30.40",
    "mixed.hostile.test": "93.184.216.34,10.0.0.7",  # one public, one private answer
    "rebind.hostile.test": "127.0.0.2",  # loopback, but not the allowed 127.0.0.1
    "alias.hostile.test": "127.0.0.1",  # allowed: proves names resolve through the override
}
XSS_TITLE = '<script>window.__spyglass_pwned = "title"</script>Quarterly update'
XSS_TEXT = "<img src=x onerror=\"window.__spyglass_pwned = 'text'\"> <b>bold claim</b>"
ODD_PATH = '/odd/caf\u00e9 menu/"quoted" <angle>?q=a b&x=\u00fc'
SIZE_LIMIT = 1_000_000  # the DOWNLOAD_MAXSIZE the tests crawl with


def resolve_setting() -> str:
    """The SPYGLASS_RESOLVE value for RESOLVE_NAMES."""
    pairs = []
    for name, ips in RESOLVE_NAMES.items():
        pairs += [f"{name}={ip}" for ip in ips.split(",")]
    return ",".join(pairs)


def page(title: str, body: str, charset: str | None = "utf-8") -> bytes:
    meta = f'<meta charset="{charset}">' if charset else ""
    return (
        f"<!DOCTYPE html><html><head>{meta}<title>{title}</title></head>"
        f"<body><main>{body}</main></body></html>"
    ).encode(charset or "utf-8")


@dataclass
class HostileSite:
    """The handler; `silent_port` and `refused_port` are filled in by start_hostile_site."""

    base: str = ""
    silent_port: int = 0
    refused_port: int = 0
    canary_port: int = 0  # a SilentServer on 127.0.0.2 that must never see a connection
    hits: dict[str, int] = field(default_factory=dict)
    times: dict[str, list[float]] = field(default_factory=dict)  # monotonic arrival times
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, path: str) -> int:
        with self.lock:
            self.hits[path] = self.hits.get(path, 0) + 1
            self.times.setdefault(path, []).append(time.monotonic())
            return self.hits[path]

    def index(self) -> bytes:
        port = self.base.rsplit(":", 1)[1]
        links = [
            "/ok/1",
            "/ok/2",
            "/slow-body",
            "/status/500",
            "/status/500/flap",
            "/status/429",
            "/status/429/once",
            "/status/503/retry-after-hour",
            "/gzip-bomb",
            "/huge",
            "/huge/streamed",
            "/redirect-loop",
            "/redirect-chain/30",
            "/redirect-chain/3",
            "/redirect-to/metadata",
            "/redirect-to/intranet",
            "/redirect-to/rebind",
            "/redirect-to/javascript",
            "/charset/wrong",
            "/charset/missing",
            "/charset/invalid-utf8",
            "/malformed",
            "/empty",
            "/reset-mid-body",
            "/closes-at-once",
            "/calendar/2026/11/",
            "/private/secret",
            "/docs/malformed.pdf",
            "/docs/encrypted.pdf",
            "/xss",
            ODD_PATH,
            "/long/" + "x" * 3000,
            f"http://127.0.0.1:{self.silent_port}/never-answers",
            f"http://127.0.0.1:{self.refused_port}/refused",
            "http://169.254.169.254/latest/meta-data/",
            f"http://metadata.hostile.test:{port}/latest/meta-data/",
            f"http://mixed.hostile.test:{port}/",
            f"http://[::1]:{port}/ipv6-loopback",
            f"http://127.0.0.2:{self.canary_port}/other-loopback",
            f"http://alias.hostile.test:{port}/ok/alias",
        ]
        items = "".join(f'<li><a href="{html_attr(u)}">{html_attr(u[:60])}</a></li>' for u in links)
        return page("Hostile site", f"<h1>Hostile site</h1><ul>{items}</ul>")

    def __call__(self, request: Incoming) -> Reply:
        path = request.path
        hit = self.count(path)
        for route in (self._plain, self._flaky, self._redirects, self._charsets, self._documents):
            reply = route(path, hit)
            if reply is not None:
                return reply
        return Reply(404, page("Not found", "<p>Not found</p>"))

    def _plain(self, path: str, hit: int) -> Reply | None:
        """Pages whose answer never changes."""
        if path == "/":
            return Reply(body=self.index())
        if path == "/robots.txt":
            return Reply(body=b"User-agent: *\nDisallow: /private/\n", content_type="text/plain")
        if path.startswith("/ok/"):
            return Reply(body=page(f"Ordinary page {path}", f"<p>Ordinary content {path}.</p>"))
        if path == "/malformed":
            return Reply(body=MALFORMED)
        if path == "/empty":
            return Reply(body=b"")
        if path.startswith("/calendar/"):
            return Reply(body=calendar(path))
        if path.startswith("/private/"):
            return Reply(body=page("Private", "<p>robots.txt forbids this page</p>"))
        if path == "/xss":
            return Reply(
                body=page(
                    html_text(XSS_TITLE),
                    f"<p>{html_text(XSS_TEXT)}</p><script>window.__spyglass_pwned = 'page'</script>",
                )
            )
        if path.startswith("/odd/"):
            return Reply(body=page("Odd URL", "<p>Odd characters survived</p>"))
        if path.startswith("/long/"):
            return Reply(body=page("Long", "<p>should never be fetched</p>"))
        return None

    def _flaky(self, path: str, hit: int) -> Reply | None:
        """Servers that stall, fail, throttle, bomb or flood."""
        if path == "/slow-body":
            return Reply(raw=stall_mid_body)
        if path == "/reset-mid-body":
            return Reply(raw=reset_mid_body)
        if path == "/closes-at-once":
            return Reply(raw=close_at_once)
        if path == "/status/500":
            return Reply(500, page("Server error", "<p>Internal error</p>"))
        if path == "/status/500/flap":
            if hit % 2 == 1:
                return Reply(500, page("Server error", "<p>Flapping</p>"))
            return Reply(body=page("Recovered", "<p>Recovered after a 500</p>"))
        if path == "/status/429":
            return Reply(429, b"slow down", [("Retry-After", "1")], "text/plain")
        if path == "/status/429/once":
            if hit == 1:
                return Reply(429, b"slow down", [("Retry-After", "1")], "text/plain")
            return Reply(body=page("Served after waiting", "<p>Thanks for waiting</p>"))
        if path == "/status/503/retry-after-hour":
            return Reply(503, b"maintenance", [("Retry-After", "3600")], "text/plain")
        if path == "/gzip-bomb":
            return Reply(body=GZIP_BOMB, headers=[("Content-Encoding", "gzip")])
        if path == "/huge":
            return Reply(raw=huge_with_length)
        if path == "/huge/streamed":
            return Reply(raw=huge_without_length)
        return None

    def _redirects(self, path: str, hit: int) -> Reply | None:
        """Loops, long chains, and redirects toward private addresses and other schemes."""
        if path in ("/redirect-loop", "/redirect-loop/b"):
            other = "/redirect-loop/b" if path == "/redirect-loop" else "/redirect-loop"
            return Reply(302, b"", [("Location", other)])
        if path.startswith("/redirect-chain/"):
            left = int(path.rsplit("/", 1)[1])
            if left <= 0:
                return Reply(body=page("End of the chain", "<p>You made it.</p>"))
            return Reply(302, b"", [("Location", f"/redirect-chain/{left - 1}")])
        if path.startswith("/redirect-to/"):
            port = self.base.rsplit(":", 1)[1]
            targets = {
                "metadata": "http://169.254.169.254/latest/meta-data/iam/",
                "intranet": f"http://intranet.hostile.test:{port}/admin",
                "rebind": f"http://rebind.hostile.test:{self.canary_port}/ok/rebound",
                "javascript": "javascript:window.__spyglass_pwned = 'location'",
            }
            return Reply(302, b"", [("Location", targets[path.rsplit("/", 1)[1]])])
        return None

    def _charsets(self, path: str, hit: int) -> Reply | None:
        """Text whose declared encoding is wrong, missing or broken."""
        if path == "/charset/wrong":
            # Declared UTF-8, actually Windows-1252.
            body = page("Caf\u00e9 cr\u00e8me", WRONG_CHARSET_TEXT, charset=None)
            return Reply(body=body.decode("utf-8").encode("cp1252"), content_type="text/html; charset=utf-8")
        if path == "/charset/missing":
            body = page("Na\u00efve r\u00e9sum\u00e9", "<p>Fa\u00e7ade d\u00e9j\u00e0 vu</p>", charset=None)
            return Reply(body=body.decode("utf-8").encode("latin-1"), content_type="text/html")
        if path == "/charset/invalid-utf8":
            return Reply(
                body=b"<html><head><title>Broken \xff\xfe bytes</title></head>"
                b"<body><p>valid start \xc3\x28 invalid \xed\xa0\x80 end</p></body></html>"
            )
        return None

    def _documents(self, path: str, hit: int) -> Reply | None:
        """PDFs that cannot be read."""
        if path == "/docs/malformed.pdf":
            return Reply(
                body=b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R\n%%garbage",
                content_type="application/pdf",
            )
        if path == "/docs/encrypted.pdf":
            return Reply(body=ENCRYPTED_PDF, content_type="application/pdf")
        return None


def html_attr(text: str) -> str:
    import html

    return html.escape(text, quote=True)


def html_text(text: str) -> str:
    import html

    return html.escape(text, quote=False)


WRONG_CHARSET_TEXT = (
    "<p>Caf\u00e9 cr\u00e8me br\u00fbl\u00e9e, na\u00efve fa\u00e7ade, "
    "d\u00e9j\u00e0 vu, \u00fcber, se\u00f1or, \u00e0 la carte.</p>" * 20
)

MALFORMED = (
    b"<html><head><title>Malformed <b>page</title><body><p>Unclosed <div><span>"
    b"<table><tr><td>cell<td>cell<p>para</table></table></div></div>"
    b"<a href='/ok/after-malformed'>link inside the mess</a>"
    b"<!-- unterminated comment <p>\x00\x01 control bytes <<<>>> &bogus; &#xFFFFFFFF;"
    + b"<div>" * 3000
    + b"deep</body>"
)


def calendar(path: str) -> bytes:
    """An endless calendar: every month links to the next and the previous one."""
    parts = [p for p in path.split("/") if p]
    year, month = int(parts[1]), int(parts[2])
    nxt = (year + (month == 12), month % 12 + 1)
    prev = (year - (month == 1), (month - 2) % 12 + 1)
    links = "".join(f'<a href="/calendar/{y}/{m:02d}/">{y}-{m:02d}</a> ' for y, m in (prev, nxt))
    return page(f"Events {year}-{month:02d}", f"<p>No events.</p>{links}")


def _gzip_bomb() -> bytes:
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=9) as gz:
        chunk = b"\0" * 1_000_000
        for _ in range(20):  # 20 MB of zeros in about 20 KB
            gz.write(chunk)
    return buf.getvalue()


def _encrypted_pdf() -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter(clone_from=io.BytesIO(text_pdf([["Locked text"]], title="Locked")))
    writer.encrypt(user_password="secret", owner_password="owner", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


GZIP_BOMB = _gzip_bomb()
ENCRYPTED_PDF = _encrypted_pdf()

HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"


def stall_mid_body(sock: socket.socket) -> None:
    """Headers and a few bytes of a 10 KB body, then nothing until the client gives up."""
    sock.sendall(HEAD + b"Content-Length: 10000\r\n\r\n<html><body>slow")
    sock.settimeout(60)
    while sock.recv(1024):
        pass


def close_at_once(sock: socket.socket) -> None:
    """Accept the connection, read the request, answer nothing and close."""
    sock.close()


def reset_mid_body(sock: socket.socket) -> None:
    """Half of the announced body, then a TCP reset."""
    sock.sendall(HEAD + b"Content-Length: 10000\r\n\r\n" + b"<p>partial</p>" * 300)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def huge_with_length(sock: socket.socket) -> None:
    """Announces 50 times the size limit; sends until the client hangs up."""
    size = SIZE_LIMIT * 50
    sock.sendall(HEAD + f"Content-Length: {size}\r\n\r\n".encode())
    _pour(sock, size)


def huge_without_length(sock: socket.socket) -> None:
    """No Content-Length: the size is only known by counting; sends until the client hangs up."""
    sock.sendall(HEAD + b"Connection: close\r\n\r\n")
    _pour(sock, SIZE_LIMIT * 50)


def _pour(sock: socket.socket, size: int) -> None:
    chunk = b"<p>" + b"x" * 65_000 + b"</p>"
    sent = 0
    while sent < size:
        sock.sendall(chunk)
        sent += len(chunk)


class SilentServer:
    """Accepts TCP connections and never answers (or reads) anything; counts them in `held`."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.sock = socket.socket()
        self.sock.bind((host, 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)

    def stop(self) -> None:
        self.sock.close()
        for conn in self.held:
            conn.close()


def unused_port() -> int:
    """A port nothing listens on (bound, then released), for connection-refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class HostileServers:
    """The hostile site and its neighbours, started together."""

    server: LoopbackServer
    site: HostileSite
    silent: SilentServer
    canary: SilentServer

    @property
    def url(self) -> str:
        return self.server.url

    def stop(self) -> None:
        self.server.stop()
        self.silent.stop()
        self.canary.stop()


def start_hostile_site(port: int = 0) -> HostileServers:
    """Start the hostile site, a server that never answers and a canary on 127.0.0.2."""
    site = HostileSite()
    silent = SilentServer()
    canary = SilentServer("127.0.0.2")
    server = LoopbackServer(site, port=port).start()
    site.base = server.url
    site.silent_port = silent.port
    site.refused_port = unused_port()
    site.canary_port = canary.port
    return HostileServers(server, site, silent, canary)
