"""One page loaded in Chromium and settled as a reader would: every response it received, its DOM, a screenshot.

Recording uses Playwright's own network events (`page.on("response")`, the
request's and response's full header lists, `response.body()`), not a
recording proxy: the browser already reaches the network only through the
guarded proxy (archive/crawl/browser_proxy.py), which sees HTTPS only as
opaque CONNECT tunnels, so recording there would mean a man-in-the-middle
certificate authority; warcprox does exactly that and is not installed here.
What the events cannot give is said in each record (archive/browser/record.py):
bodies arrive decoded (no Content-Encoding) and the HTTP version is not exposed.

Settling follows Browsertrix's behaviours, each step bounded by a Config field:
the `load` event, then network quiet (capped), late timers, a scroll down in
viewport steps to trigger lazy loading (capped in pixels), network quiet again.
The DOM and the screenshot are taken from that same load.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from archive.config import Config
from archive.times import utc_now

VIEWPORT_HEIGHT = 800  # as the screenshot pass's viewport (archive/crawl/screenshots.py)
PAGE_HEIGHT_JS = (
    "Math.max(document.documentElement.scrollHeight, document.body ? document.body.scrollHeight : 0)"
)


class BrowserLike(Protocol):
    """What a load needs of the browser (archive/crawl/screenshots.py Browser): named here, not
    imported, so this room sits below the crawl that starts it."""

    name: str
    proxy: Any  # its .refused: [(host, port, why)], in the order refused

    async def new_context(self, timeout: float) -> Any: ...


@dataclass(frozen=True)
class Settling:
    """How long a page may take, and how it is settled before its DOM and screenshot are taken."""

    timeout: float  # everything, load to screenshot
    idle_wait: float  # the network going quiet, each time
    late_timers: float
    scroll_max_height: int
    screenshot_max_height: int
    restart_after: int  # pages per Chromium

    @classmethod
    def from_config(cls, config: Config) -> Settling:
        return cls(
            timeout=config.browser_page_timeout,
            idle_wait=config.browser_idle_wait,
            late_timers=config.browser_late_timers,
            scroll_max_height=config.browser_scroll_max_height,
            screenshot_max_height=config.screenshot_max_height,
            restart_after=max(1, config.browser_restart_after),
        )


@dataclass
class Received:
    """One response the browser received during a load, with the request that asked for it."""

    url: str
    method: str
    request_headers: list[tuple[str, str]]
    request_body: bytes
    status: int
    reason: str
    response_headers: list[tuple[str, str]]
    body: bytes | None  # None: the browser kept no body (a redirect, an aborted load)
    resource_type: str  # document, script, fetch, xhr, image, stylesheet, font...
    sent_at: datetime
    main: bool = False  # the page's own document


@dataclass
class Load:
    """A page as the browser loaded it, or why it could not."""

    url: str
    started_at: datetime
    status: str = "ok"  # ok, timeout or failed
    error: str | None = None
    responses: list[Received] = field(default_factory=list)
    dom: str | None = None
    title: str | None = None
    png: bytes | None = None
    cut: bool = False
    http_status: int | None = None
    refused: list[tuple[str, str]] = field(default_factory=list)  # (url, why) the guard refused


async def load_page(browser: BrowserLike, url: str, settling: Settling) -> Load:
    """Load `url` in a fresh context and settle it; a timeout or a browser error is in the Load."""
    from playwright.async_api import Error
    from playwright.async_api import TimeoutError as PlaywrightTimeout

    load = Load(url, utc_now())
    first_refusal = len(browser.proxy.refused)
    try:
        context = await browser.new_context(settling.timeout)
    except Error as exc:  # the browser is gone (crashed, killed): the pass starts another
        load.status, load.error = "failed", f"browser: {one_line(exc)}"
        return load
    pending: set[asyncio.Task] = set()
    asked: dict[tuple[str, int], str] = {}  # (host, port) -> first URL asked of it

    def on_request(request: Any) -> None:
        asked.setdefault(host_port(request.url), request.url)

    def on_response(response: Any) -> None:
        task = asyncio.ensure_future(_received(response, load))
        pending.add(task)
        task.add_done_callback(pending.discard)

    context.on("request", on_request)
    context.on("response", on_response)
    try:
        await asyncio.wait_for(_settle(context, load, settling), settling.timeout)
    except (TimeoutError, PlaywrightTimeout):
        load.status = "timeout"
        load.error = f"did not load and settle within {settling.timeout:g} s (SPYGLASS_BROWSER_PAGE_TIMEOUT)"
    except Error as exc:
        load.status, load.error = "failed", f"browser: {one_line(exc)}"
    finally:
        if pending:
            await asyncio.wait(set(pending), timeout=settling.idle_wait)
        for task in pending:
            task.cancel()
        with contextlib.suppress(Error):
            await context.close()
    # Chromium's own background requests pass the proxy too; only the page's count.
    refused = {(h, p): why for h, p, why in browser.proxy.refused[first_refusal:]}
    load.refused = [(asked[key], why) for key, why in refused.items() if key in asked]
    blocked = set(refused)
    # A refused request's answer is the proxy's 403, not the server's: it is a fetch error, not a record.
    load.responses = [r for r in load.responses if host_port(r.url) not in blocked]
    if load.status == "ok" and host_port(url) in blocked:
        load.status, load.error = "failed", refused[host_port(url)]
    return load


async def _settle(context: Any, load: Load, settling: Settling) -> None:
    """Load, wait for quiet, let timers run, scroll for lazy content, then take the DOM and a screenshot."""
    from playwright.async_api import TimeoutError as PlaywrightTimeout

    page = await context.new_page()
    response = await page.goto(load.url, wait_until="load")
    load.http_status = response.status if response else None

    async def quiet() -> None:
        with contextlib.suppress(PlaywrightTimeout):
            await page.wait_for_load_state("networkidle", timeout=settling.idle_wait * 1000)

    await quiet()
    await page.wait_for_timeout(settling.late_timers * 1000)
    scrolled = 0
    while scrolled < min(int(await page.evaluate(PAGE_HEIGHT_JS) or 0), settling.scroll_max_height):
        scrolled += VIEWPORT_HEIGHT
        await page.evaluate(f"window.scrollTo(0, {scrolled})")
        await page.wait_for_timeout(100)
    if scrolled:
        await page.evaluate("window.scrollTo(0, 0)")
        await quiet()
    load.dom = await page.content()
    load.title = await page.title()
    height = int(await page.evaluate(PAGE_HEIGHT_JS) or 0)
    load.cut = height > settling.screenshot_max_height
    clip = {"x": 0, "y": 0, "width": 1280, "height": settling.screenshot_max_height} if load.cut else None
    load.png = await page.screenshot(full_page=True, clip=clip, animations="disabled")


async def _received(response: Any, load: Load) -> None:
    """Keep one response with its request's headers (all of them, as sent: `all_headers`)."""
    from playwright.async_api import Error

    request = response.request
    try:
        request_headers = await request.headers_array()
        response_headers = await response.headers_array()
    except Error:
        return  # the page went away before its headers could be read
    body: bytes | None
    try:
        body = await response.body()
    except Error:
        body = None  # redirects have none; an aborted response kept none
    load.responses.append(
        Received(
            url=response.url,
            method=request.method,
            request_headers=[(h["name"], h["value"]) for h in request_headers],
            request_body=request.post_data_buffer or b"",
            status=response.status,
            reason=response.status_text,
            response_headers=[(h["name"], h["value"]) for h in response_headers],
            body=body,
            resource_type=request.resource_type,
            sent_at=utc_now(),
            main=request.is_navigation_request() and request.frame.parent_frame is None,
        )
    )


def host_port(url: str) -> tuple[str, int]:
    """(host, port) of a URL, as the proxy names what it refused."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return (parts.hostname or "").lower(), parts.port or (443 if parts.scheme == "https" else 80)


def one_line(exc: BaseException) -> str:
    """Playwright's message without its call log, in one line."""
    text = str(getattr(exc, "message", None) or exc).strip().splitlines()
    first = text[0] if text else type(exc).__name__
    return first.split(": ", 1)[1][:300] if first.startswith(("Page.", "BrowserType.")) else first[:300]
