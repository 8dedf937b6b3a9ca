"""Screenshots at capture time: headless Chromium draws each page a run captured, once, after the crawl.

Playwright for Python drives Debian's `chromium` (nothing is downloaded),
rather than `chromium --headless --screenshot`, because the bare flag can
neither refuse a request (the address guard must hold for everything a
page loads, scripts' fetches included) nor tell a page that failed to load
from one that loaded (it screenshots the error page), and it has no timeout,
only a virtual-time budget. The pass runs after the crawl, in its own
crawl_runs row (spider `screenshot`), so the browser never takes CPU from the
crawler; each PNG is a WARC `resource` record (`urn:fullPage:<url>`, as
Browsertrix names its screenshots) and a `screenshots` row beside the capture.
A page that cannot be drawn in time gets a row saying so, and the pass goes on.

The browser loads the page as the crawler did (same User-Agent), with
scripts on, since that is how a visitor saw it. It reaches the network only
through a proxy that applies the crawler's address guard and connects to the
addresses it checked (archive/crawl/browser_proxy.py), WebSockets included;
service workers are blocked.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import shutil
import struct
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from archive.archive import Archive
from archive.browser.load import host_port as _host_port
from archive.browser.load import one_line
from archive.config import Config
from archive.crawl.browser_proxy import GuardedProxy
from archive.crawl.guard import AddressBook, parse_networks, parse_resolve, refusal
from archive.index.capture_row import record_columns
from archive.index.db import open_index, writing
from archive.index.queries import rows
from archive.index.runs import finish_run, start_run
from archive.sources.model import Source
from archive.times import iso, utc_now
from archive.warc.write import WarcStore

VIEWPORT = {"width": 1280, "height": 800}
# As the tests' browser harness starts Chromium; no first-run, sync or update traffic.
BROWSER_ARGS = [
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-default-apps",
    "--no-pings",
    "--disable-domain-reliability",
    "--disable-client-side-phishing-detection",
    # WebRTC may not open UDP sockets the guard cannot see.
    "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
]


@dataclass(frozen=True)
class Shot:
    """One page drawn, or why it was not."""

    status: str  # ok, timeout or failed
    taken_at: datetime
    png: bytes | None = None
    error: str | None = None
    http_status: int | None = None
    cut: bool = False


def chromium_path(config: Config) -> str | None:
    """SPYGLASS_CHROMIUM, else Debian's chromium on PATH."""
    return config.chromium or shutil.which("chromium") or shutil.which("chromium-browser")


def pages_of_run(index: Any, run_id: int) -> list[dict[str, Any]]:
    """The HTML pages (status 200, not requisites) a live crawl run captured, in order."""
    return rows(
        index.conn,
        "SELECT id, url, warc_record_id FROM captures WHERE crawl_run = ? "
        "AND via = 'live' AND status = 200 AND requisite IS NULL "
        "AND lower(content_type) LIKE '%html%' ORDER BY id",
        [run_id],
    )


def screenshot_run(config: Config, source: Source, crawl_run: int) -> int:
    """Screenshot every page crawl run `crawl_run` captured; returns the screenshot run's id."""
    archive = Archive.from_config(config)
    index = open_index(archive)
    store = WarcStore(
        archive.warc_dir, source.name, max_size=config.warc_max_size, gzip_level=config.warc_gzip_level
    )
    counts = {"pages": 0, "captures": 0, "revisits": 0, "requisites": 0, "errors": 0, "bytes": 0}
    status, reason = "finished", "finished"
    with writing(index):
        run_id = start_run(index, source.name, "screenshot")

    def keep(page: dict[str, Any], shot: Shot, browser: Browser) -> None:
        _save(index, store, browser, source, run_id, page, shot)
        counts["pages" if shot.png else "errors"] += 1
        counts["captures"] += 1 if shot.png else 0
        counts["bytes"] += len(shot.png or b"")

    try:
        # A page loaded with `render: browser` has its screenshot from that load already.
        pages = [page for page in pages_of_run(index, crawl_run) if not source.renders(page["url"])]
        problem = asyncio.run(_draw_all(config, source, pages, keep))
        if problem:
            status, reason = "failed", problem
    except BaseException:
        status, reason = "interrupted", "stopped while taking screenshots"
        raise
    finally:
        store.close()
        with writing(index):
            finish_run(
                index, run_id, status=status, reason=reason, counts=counts, warc_files=list(store.files)
            )
        index.close()
    return run_id


async def _draw_all(
    config: Config,
    source: Source,
    pages: list[dict[str, Any]],
    keep: Callable[[dict[str, Any], Shot, Browser], None],
) -> str | None:
    """Draw each page in turn and hand it to `keep`; returns why the browser could not start, if so."""
    if not pages:
        return None
    async with Browser(config, source) as browser:
        for page in pages:
            shot = (
                await browser.take(page["url"])
                if browser.ready
                else Shot("failed", utc_now(), error=browser.problem)
            )
            keep(page, shot, browser)
        return None if browser.ready else browser.problem


def _save(
    index: Any,
    store: WarcStore,
    browser: Browser,
    source: Source,
    run_id: int,
    page: dict[str, Any],
    shot: Shot,
) -> None:
    """The PNG as a resource record (if any), then its screenshots row, committed at once."""
    row = shot_row(store, browser.name, source, run_id, page, shot)
    with writing(index):
        index.table("screenshots").insert(row)


def shot_row(
    store: WarcStore, browser: str, source: Source, run_id: int, page: dict[str, Any], shot: Shot
) -> dict[str, Any]:
    """The screenshots row of `shot` of `page` ({id or None, url, warc_record_id}), its PNG written
    as a resource record first (if any)."""
    row: dict[str, Any] = {
        "capture_id": page.get("id"),
        "crawl_run": run_id,
        "source": source.name,
        "url": page["url"],
        "taken_at": iso(shot.taken_at),
        "status": shot.status,
        "error": shot.error,
        "http_status": shot.http_status,
        "browser": browser,
    }
    if shot.png is not None:
        width, height = png_size(shot.png)
        headers = {
            "WARC-Spyglass-Capture-Record": page["warc_record_id"],
            "WARC-Spyglass-Browser": browser,
            "WARC-Spyglass-Viewport": f"{VIEWPORT['width']}x{VIEWPORT['height']}",
        }
        if shot.cut:
            headers["WARC-Spyglass-Cut-At-Height"] = str(height)
        location = store.write_resource(
            f"urn:fullPage:{page['url']}", shot.png, "image/png", shot.taken_at, headers
        )
        row.update(
            width=width,
            height=height,
            cut_at_height=int(shot.cut),
            sha256=location.sha256,
            length=location.payload_length,
            **record_columns(location),
        )
    return row


def load_shot_row(
    source: Source, store: WarcStore, browser: str, run_id: int, page: dict[str, Any], load: Any
) -> dict[str, Any]:
    """The screenshots row of a browser load (archive/browser/load.py Load), beside its rendered
    capture, named by record id (`capture_record`): its row is saved in the same batch, just before."""
    note = refused_note([why for _, why in load.refused])
    shot = Shot("ok", load.started_at, load.png, note, load.http_status, load.cut)
    row = shot_row(store, browser, source, run_id, {**page, "id": None}, shot)
    return {**row, "capture_record": page["warc_record_id"]}


def refused_note(reasons: list[str]) -> str | None:
    """What a drawn page's row says of the requests the guard refused it, if any."""
    if not reasons:
        return None
    return f"{len(reasons)} request(s) refused by the address guard, first: {reasons[0]}"


def png_size(png: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk."""
    return struct.unpack(">II", png[16:24])


class Browser:
    """One headless Chromium for a pass; `take(url)` draws one page in a fresh context."""

    def __init__(self, config: Config, source: Source) -> None:
        self.config = config
        self.book = AddressBook(parse_resolve(config.resolve))
        self.allowed = parse_networks(source.allow_private)
        self.problem: str | None = None
        self.name = "Chromium"
        self._playwright: Any = None
        self._browser: Any = None
        self.proxy = GuardedProxy(self.check)

    @property
    def ready(self) -> bool:
        return self._browser is not None

    async def __aenter__(self) -> Browser:
        from playwright.async_api import Error, async_playwright

        path = chromium_path(self.config)
        if path is None:
            self.problem = (
                "no Chromium to take screenshots with: install Debian's chromium "
                "(scripts/setup does) or set SPYGLASS_CHROMIUM"
            )
            return self
        await self.proxy.__aenter__()
        self._playwright = await async_playwright().start()
        # Everything through the guarded proxy, loopback too (Chromium skips the proxy
        # for loopback unless told not to).
        args = [
            *BROWSER_ARGS,
            f"--proxy-server=http://127.0.0.1:{self.proxy.port}",
            "--proxy-bypass-list=<-loopback>",
        ]
        try:
            self._browser = await self._playwright.chromium.launch(
                executable_path=path,
                args=args,
                timeout=60_000,
                # Chromium's own sandbox, except as root, where it cannot run.
                chromium_sandbox=os.geteuid() != 0,
            )
            self.name = f"Chromium {self._browser.version}"
        except Error as exc:
            self.problem = f"Chromium could not start: {one_line(exc)}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._browser is not None:
            await self._browser.close()
        if self._playwright is not None:
            await self._playwright.stop()
            await self.proxy.__aexit__()

    @property
    def connected(self) -> bool:
        """False once Chromium has crashed or been killed: a new Browser is needed."""
        return self._browser is not None and self._browser.is_connected()

    async def new_context(self, timeout: float) -> Any:
        """A fresh context, as a visitor with our User-Agent, no service workers, no downloads."""
        context = await self._browser.new_context(
            viewport=VIEWPORT,
            service_workers="block",
            accept_downloads=False,
            user_agent=self.config.user_agent,
        )
        context.set_default_timeout(timeout * 1000)
        return context

    async def take(self, url: str) -> Shot:
        """Load `url` and screenshot the whole page (up to the height limit), all within the timeout.

        The deadline covers everything, not only the load: a page whose script
        spins after loading would otherwise hold the screenshot (and the pass) forever.
        """
        from playwright.async_api import Error
        from playwright.async_api import TimeoutError as LoadTimeout

        context = await self.new_context(self.config.screenshot_timeout)
        first_refusal = len(self.proxy.refused)  # pages are drawn one at a time
        asked: set[tuple[str, int]] = set()  # (host, port) the page requested
        context.on("request", lambda request: asked.add(_host_port(request.url)))
        taken_at = utc_now()

        def refused() -> list[str]:
            # Chromium's own background requests pass the proxy too; only the page's count.
            return [why for host, port, why in self.proxy.refused[first_refusal:] if (host, port) in asked]

        try:
            return await asyncio.wait_for(
                self._draw(context, url, refused, taken_at), self.config.screenshot_timeout
            )
        except (TimeoutError, LoadTimeout):
            return Shot(
                "timeout",
                taken_at,
                error=(
                    f"did not finish loading within {self.config.screenshot_timeout:g} s "
                    "(SPYGLASS_SCREENSHOT_TIMEOUT)"
                ),
            )
        except Error as exc:
            main = next(
                (
                    why
                    for host, port, why in self.proxy.refused[first_refusal:]
                    if (host, port) == _host_port(url)
                ),
                None,
            )
            return Shot("failed", taken_at, error=main or one_line(exc))
        finally:
            await context.close()

    async def _draw(
        self, context: Any, url: str, refused: Callable[[], list[str]], taken_at: datetime
    ) -> Shot:
        page = await context.new_page()
        response = await page.goto(url, wait_until="load")
        height = await page.evaluate(
            "Math.max(document.documentElement.scrollHeight, document.body ? document.body.scrollHeight : 0)"
        )
        most = self.config.screenshot_max_height
        cut = int(height or 0) > most
        clip = {"x": 0, "y": 0, "width": VIEWPORT["width"], "height": most} if cut else None
        png = await page.screenshot(full_page=True, clip=clip, animations="disabled")
        # Drawn, but without what the guard refused: the row says so.
        note = refused_note(refused())
        return Shot("ok", taken_at, png, note, response.status if response else None, cut)

    def check(self, host: str) -> tuple[str | None, str | None]:
        """For the proxy: (the address to connect to, None), or (None, why the guard refuses `host`)."""
        try:
            addresses = self.book.lookup_now(host)
        except Exception:  # noqa: BLE001 - DNSLookupError: the page would fail the same way
            return None, f"{host}: host name did not resolve"
        for address in addresses:
            reason = refusal(host, ipaddress.ip_address(address), self.allowed)
            if reason:
                return None, reason
        return addresses[0], None
