"""A faithful Wayback Machine on 127.0.0.1, for the tests and `spyglass demo`.

Real paths, real quirks (as in the recordings under tests/data/wayback-recordings):
`/cdx/search/cdx` (archive/demo/wayback_cdx.py), `/web/<ts>id_/<url>` with
X-Archive-Orig-* headers, Memento-Datetime, Link and X-Archive-Src, a 302 to the
nearest capture (no Memento-Datetime, X-Archive-Redirect-Reason) when the
timestamp is not exact, archived 3xx mementos, 404 for never-archived URLs, a
200 "excluded" page, 403 with X-Archive-Wayback-Runtime-Error for blocked URLs,
the rewritten `/web/<ts>/<url>` with a banner, `/wayback/available`,
`/web/timemap/link/<url>` and Save Page Now (archive/demo/wayback_spn.py). CDX and
TimeMap share one budget, snapshots another; a 429 has no Retry-After and an IP
that keeps sending for a window after its first 429 is dropped for an hour,
doubling each time. 503s and truncated bodies can be injected.
"""

from __future__ import annotations

import gzip
import json
import threading
import time
from bisect import insort
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

from archive.demo import wayback_cdx as cdx
from archive.demo.wayback_pages import (
    BLOCKED_ERROR,
    EXCLUDED_PAGE,
    NOT_ARCHIVED_PAGE,
    error_page,
    with_banner,
)
from archive.warc.digests import sha1_base32
from archive.wayback.client import parse_timestamp, surt


@dataclass
class Memento:
    """One capture the simulated archive holds, with the original response."""

    original: str
    timestamp: str
    body: bytes = b""
    status: int = 200
    mimetype: str = "text/html"
    headers: list[tuple[str, str]] = field(default_factory=list)  # original headers, e.g. Location
    revisit: bool = False  # a CDX revisit row: same bytes as an earlier capture
    duplicates: int = 0  # extra identical CDX rows, as the real index often has

    @property
    def digest(self) -> str:
        return sha1_base32(self.body)

    def rows(self) -> list[cdx.Row]:
        row = cdx.Row(
            surt(self.original),
            self.timestamp,
            self.original,
            "warc/revisit" if self.revisit else self.mimetype,
            "-" if self.revisit else str(self.status),
            self.digest,
            str(len(self.body)),
        )
        return [row] * (1 + self.duplicates)


@dataclass
class Injection:
    """Answer the next `times` requests whose path contains `match` with `kind` (503, truncate, 429)."""

    match: str
    kind: str
    times: int


@dataclass
class SimConfig:
    """Limits and clock of the simulator; tests shrink the window."""

    window_seconds: float = 60.0
    cdx_per_window: int = 30  # CDX + TimeMap, per IP
    snapshots_per_window: int = 600
    block_seconds: float = 3600.0
    spn_pending_polls: int = 1  # status polls answered "pending" before the outcome
    spn_status_ttl: float = 3600.0
    spn_keys: tuple[tuple[str, str], ...] = (("sim-access", "sim-secret"),)


@dataclass
class Logged:
    """One request as the simulator saw it (tests assert on these)."""

    at: float
    method: str
    target: str
    status: int


class WaybackSim:
    """The simulated archive and its HTTP behaviour; `start_wayback_sim` serves it."""

    def __init__(self, config: SimConfig | None = None) -> None:
        self.config = config or SimConfig()
        self.base = ""
        self.mementos: dict[str, list[Memento]] = defaultdict(list)  # urlkey -> by timestamp
        self.rows: list[cdx.Row] = []
        self.blocked: set[str] = set()  # urlkeys
        self.excluded: set[str] = set()
        self.injections: list[Injection] = []
        self.banner_for_id_: set[str] = set()  # urlkeys whose id_ misbehaves: the rewritten page
        self.log: list[Logged] = []
        self.lock = threading.RLock()
        self._recent: dict[tuple[str, str], deque] = defaultdict(deque)
        self._first_429: dict[str, float] = {}
        self._blocked_until: dict[str, float] = {}
        self._blocks: dict[str, int] = defaultdict(int)
        from archive.demo.wayback_spn import SavePageNow

        self.spn = SavePageNow(self)

    # -- content -----------------------------------------------------------

    def add(self, *mementos: Memento) -> None:
        """Hold these captures (and their CDX rows)."""
        with self.lock:
            for memento in mementos:
                key = surt(memento.original)
                insort(self.mementos[key], memento, key=lambda m: m.timestamp)
                for row in memento.rows():
                    insort(self.rows, row, key=lambda r: (r.urlkey, r.timestamp))

    def add_row_without_memento(self, original: str, timestamp: str, digest: str) -> None:
        """A CDX row whose capture cannot be replayed at that exact time (the index and replay disagree)."""
        with self.lock:
            insort(
                self.rows,
                cdx.Row(surt(original), timestamp, original, "text/html", "200", digest, "100"),
                key=lambda r: (r.urlkey, r.timestamp),
            )

    def block(self, url: str) -> None:
        self.blocked.add(surt(url))

    def serve_banner(self, url: str) -> None:
        """Misbehave for `url`: answer id_ with the rewritten page and its banner."""
        self.banner_for_id_.add(surt(url))

    def exclude(self, url: str) -> None:
        self.excluded.add(surt(url))

    def inject(self, match: str, kind: str, times: int = 1) -> None:
        with self.lock:
            self.injections.append(Injection(match, kind, times))

    def hits(self, prefix: str) -> list[Logged]:
        """Logged requests whose target starts with `prefix` (e.g. '/cdx/', '/web/')."""
        with self.lock:
            return [entry for entry in self.log if entry.target.startswith(prefix)]

    # -- limits ------------------------------------------------------------

    def _limit(self, ip: str, bucket: str | None) -> str | None:
        """None to serve, '429' to refuse, 'drop' when the IP is firewalled."""
        now = time.monotonic()
        with self.lock:
            if self._blocked_until.get(ip, 0) > now:
                return "drop"
            if bucket is None:
                return None
            cap = self.config.cdx_per_window if bucket == "cdx" else self.config.snapshots_per_window
            recent = self._recent[(ip, bucket)]
            while recent and recent[0] <= now - self.config.window_seconds:
                recent.popleft()
            if len(recent) >= cap:
                # Refused requests count too: a client that keeps sending stays limited.
                recent.append(now)
                first = self._first_429.setdefault(ip, now)
                if now - first > self.config.window_seconds:
                    self._blocked_until[ip] = now + self.config.block_seconds * 2 ** self._blocks[ip]
                    self._blocks[ip] += 1
                    self._first_429.pop(ip, None)
                    return "drop"
                return "429"
            self._first_429.pop(ip, None)
            recent.append(now)
            return None

    def _injected(self, target: str) -> str | None:
        with self.lock:
            for injection in self.injections:
                if injection.times > 0 and injection.match in target:
                    injection.times -= 1
                    return injection.kind
        return None

    # -- answers -----------------------------------------------------------

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes, ip: str):
        """(status, headers, body, mode) where mode is 'ok', 'truncate' or 'drop'."""
        path = target.split("?", 1)[0]
        query = target.split("?", 1)[1] if "?" in target else ""
        bucket = None
        if path.startswith("/cdx/") or path.startswith("/web/timemap/"):
            bucket = "cdx"
        elif path.startswith("/web/"):
            bucket = "snapshot"
        verdict = self._limit(ip, bucket)
        if verdict == "drop":
            return 0, [], b"", "drop"
        if verdict == "429":
            return 429, [("Content-Type", "text/html")], error_page("429", "Too Many Requests"), "ok"
        kind = self._injected(target)
        if kind == "503":
            return 503, [("Content-Type", "text/html")], error_page("503", "Service Unavailable"), "ok"
        if kind == "429":
            return 429, [("Content-Type", "text/html")], error_page("429", "Too Many Requests"), "ok"
        status, out_headers, out = self._route(method, path, query, headers, body)
        gzip_ok = "gzip" in headers.get("accept-encoding", "").lower()
        if gzip_ok and (path.startswith("/cdx/") or path.startswith("/web/timemap/")) and out:
            out = gzip.compress(out)
            out_headers.append(("Content-Encoding", "gzip"))
        return status, out_headers, out, ("truncate" if kind == "truncate" else "ok")

    def _route(self, method: str, path: str, query: str, headers: dict[str, str], body: bytes):
        if path == "/cdx/search/cdx":
            return self._cdx(query)
        if path.startswith("/web/timemap/link/"):
            return self._timemap(_target_url(path[len("/web/timemap/link/") :], query))
        if path == "/wayback/available":
            return self._available(dict(parse_qsl(query)))
        if path.startswith("/save"):
            return self.spn.route(method, path, query, headers, body)
        if path.startswith("/web/"):
            stamp, _, rest = path[len("/web/") :].partition("/")
            return self._snapshot(stamp, _target_url(rest, query))
        return 404, [("Content-Type", "text/html")], NOT_ARCHIVED_PAGE

    def _cdx(self, query: str):
        params = dict(parse_qsl(query))
        if surt(params.get("url", "")) in self.blocked:
            return (
                403,
                [("Content-Type", "text/plain"), ("X-Archive-Wayback-Runtime-Error", BLOCKED_ERROR)],
                b"org.archive.wayback.exception.AdministrativeAccessControlException: Blocked Site Error\n",
            )
        try:
            with self.lock:
                kind, text = cdx.answer(list(self.rows), query)
        except cdx.CdxQueryError as exc:
            return 400, [("Content-Type", "text/plain")], f"{exc}\n".encode()
        return 200, [("Content-Type", f"{kind};charset=UTF-8")], text.encode()

    def _timemap(self, url: str):
        with self.lock:
            found = [m for m in self.mementos.get(surt(url), []) if not m.revisit]
        if not found:
            return 404, [("Content-Type", "text/plain")], b""
        lines = [
            f'<{url}>; rel="original",',
            f'<{self.base}/web/timemap/link/{url}>; rel="self"; type="application/link-format"; '
            f'from="{_http_date(found[0].timestamp)}",',
        ]
        lines += [
            f'<{self.base}/web/{m.timestamp}/{m.original}>; rel="memento"; '
            f'datetime="{_http_date(m.timestamp)}",'
            for m in found
        ]
        return (
            200,
            [("Content-Type", "application/link-format")],
            "\n".join(lines).rstrip(",").encode() + b"\n",
        )

    def _available(self, params: dict[str, str]):
        url = params.get("url", "")
        asked = (params.get("timestamp") or "99991231235959").ljust(14, "0")
        memento = self.nearest(url, asked)
        closest = (
            {}
            if memento is None
            else {
                "closest": {
                    "status": str(memento.status),
                    "available": True,
                    "timestamp": memento.timestamp,
                    "url": f"http://web.archive.org/web/{memento.timestamp}/{memento.original}",
                }
            }
        )
        payload = {"url": url, "archived_snapshots": closest}
        if "timestamp" in params:
            payload["timestamp"] = params["timestamp"]
        return 200, [("Content-Type", "application/json")], json.dumps(payload).encode()

    def nearest(self, url: str, asked: str) -> Memento | None:
        """The capture closest in time to `asked` (a 14-digit timestamp)."""
        with self.lock:
            found = list(self.mementos.get(surt(url), []))
        if not found:
            return None
        target = _seconds(asked)
        return min(found, key=lambda m: abs(_seconds(m.timestamp) - target))

    def _snapshot(self, stamp: str, url: str):
        digits = "".join(ch for ch in stamp if ch.isdigit())
        mode = stamp[len(digits) :]
        key = surt(url)
        if key in self.blocked:
            return (
                403,
                [("Content-Type", "text/html"), ("X-Archive-Wayback-Runtime-Error", BLOCKED_ERROR)],
                error_page("Sorry.", "This URL has been blocked by the site owner."),
            )
        if key in self.excluded:
            return 200, [("Content-Type", "text/html; charset=utf-8")], EXCLUDED_PAGE
        asked = digits.ljust(14, "0")[:14] if digits else "99991231235959"
        memento = self.nearest(url, asked)
        if memento is None:
            return 404, [("Content-Type", "text/html; charset=utf-8")], NOT_ARCHIVED_PAGE
        if memento.timestamp != digits:
            return (
                302,
                [
                    ("Content-Type", "text/plain; charset=utf-8"),
                    ("Location", f"{self.base}/web/{memento.timestamp}{mode}/{memento.original}"),
                    ("X-Archive-Redirect-Reason", f"found capture at {memento.timestamp}"),
                ],
                b"",
            )
        payload = self._payload_of(memento)
        out = [(f"X-Archive-Orig-{name}", value) for name, value in memento.headers]
        out += [
            ("Memento-Datetime", _http_date(memento.timestamp)),
            ("Link", self._link(memento)),
            ("X-Archive-Src", f"spyglass-sim-{memento.timestamp[:8]}.warc.gz"),
            ("Content-Type", _content_type(memento)),
        ]
        location = next((v for k, v in memento.headers if k.lower() == "location"), None)
        if location is not None:
            out.append(("Location", location))
        if mode != "id_" or key in self.banner_for_id_:
            payload = with_banner(payload)
        return memento.status, out, payload

    def _payload_of(self, memento: Memento) -> bytes:
        return memento.body

    def _link(self, memento: Memento) -> str:
        url = memento.original
        return ", ".join(
            [
                f'<{url}>; rel="original"',
                f'<{self.base}/web/timemap/link/{url}>; rel="timemap"; type="application/link-format"',
                f'<{self.base}/web/{url}>; rel="timegate"',
                f'<{self.base}/web/{memento.timestamp}/{url}>; rel="memento"; '
                f'datetime="{_http_date(memento.timestamp)}"',
            ]
        )


def _target_url(rest: str, query: str) -> str:
    url = rest + (f"?{query}" if query else "")
    # Clients and proxies collapse '//' in paths: http:/example.com is the same URL.
    for scheme in ("http:/", "https:/"):
        if url.startswith(scheme) and not url.startswith(scheme + "/"):
            url = scheme + "/" + url[len(scheme) :]
    return url


def _seconds(stamp: str) -> float:
    try:
        return parse_timestamp(stamp).timestamp()
    except ValueError:
        return datetime(9999, 12, 31, tzinfo=UTC).timestamp()


def _http_date(stamp: str) -> str:
    return format_datetime(parse_timestamp(stamp), usegmt=True)


def _content_type(memento: Memento) -> str:
    for name, value in memento.headers:
        if name.lower() == "content-type":
            return value
    return memento.mimetype if memento.mimetype != "warc/revisit" else "text/html"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def start_wayback_sim(sim: WaybackSim | None = None, port: int = 0, host: str = "127.0.0.1"):
    """Serve `sim` on 127.0.0.1 in a daemon thread; returns (server, sim). Stop with server.shutdown()."""
    sim = sim or WaybackSim()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, out_headers, out, mode = sim.handle(
                self.command, self.path, headers, body, self.client_address[0]
            )
            with sim.lock:
                sim.log.append(Logged(time.monotonic(), self.command, self.path, status))
            if mode == "drop":  # firewalled: the connection just closes
                self.close_connection = True
                return
            self.send_response(status)
            for key, value in out_headers:
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(out)))
            if mode == "truncate":
                self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(out[: len(out) // 2] if mode == "truncate" else out)
            if mode == "truncate":
                self.close_connection = True

        do_GET = do_POST = do_HEAD = _serve

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    server = _Server((host, port), Handler)
    sim.base = f"http://127.0.0.1:{server.server_address[1]}"
    server.url = sim.base  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, sim
