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
the `load` event, then a scroll down in viewport steps to trigger lazy loading
(capped in pixels) while the network goes quiet (capped; counted from the last
request, the scroll's lazy loads included), since the scroll mostly waits for
frames and the quiet for the clock; then late timers, and the quiet again if
they asked for anything. If the page grew or gained elements after the scroll
began (claims that came by fetch, content a timer added), it may hold lazy
images the scroll never passed: it is scrolled once more, and waited for again
if that asked for anything.
The DOM and the screenshot are taken from that same load: early, once the
scroll is done and the network has been quiet for a while, and kept only if
nothing that could change the picture happened before the settling ended
(otherwise, or if the page draws where that cannot be seen, again at the end).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from archive.config import Config
from archive.times import utc_now

PAGE_HEIGHT_JS = (
    "Math.max(document.documentElement.scrollHeight, document.body ? document.body.scrollHeight : 0)"
)
# Down a viewport at a time until the bottom (or the cap given) is in view, each step held
# until the page has drawn a frame there and that frame's work is done: the scroll handlers,
# the frame callbacks they asked for and the intersection observers all run in the frame
# (scroll events, then animation frames, then observers), so the next step waits for a task
# queued from the frame's callback, which runs after it (or 100 ms if frames stall). Then
# back to the top for the screenshot. What it returns tells CHANGED_JS whether the page
# has since grown past the height it scrolled (under the cap) or gained an element that is
# drawn (added scripts and styles are not: analytics tags add them all the time).
SCROLL_JS = f"""async (most) => {{
  const height = () => {PAGE_HEIGHT_JS};
  const seen = {{added: false, height: 0, most}};
  const unseen = ['SCRIPT', 'STYLE', 'LINK', 'META', 'NOSCRIPT', 'TEMPLATE'];
  new MutationObserver((changes, observer) => {{
    const shown = n => n.nodeType === 1 && !unseen.includes(n.nodeName);
    if (changes.some(c => [...c.addedNodes].some(shown))) {{
      seen.added = true;
      observer.disconnect();
    }}
  }}).observe(document, {{childList: true, subtree: true}});
  const drawn = () => Promise.race([
    new Promise(done => requestAnimationFrame(() => setTimeout(done, 0))),
    new Promise(done => setTimeout(done, 100)),
  ]);
  let y = 0;
  while (y + window.innerHeight < Math.min(height(), most)) {{
    y += window.innerHeight;
    window.scrollTo(0, y);
    await drawn();
  }}
  if (y) window.scrollTo(0, 0);
  seen.height = Math.min(height(), most);
  return seen;
}}"""
CHANGED_JS = f"seen => seen.added || Math.min({PAGE_HEIGHT_JS}, seen.most) > seen.height"
# Animations are stopped before any screenshot, as Playwright's `animations="disabled"` does:
# finite ones finished, endless ones reset.
STOP_ANIMATIONS = """
  for (const animation of document.getAnimations()) {
    try {
      if (animation.effect.getComputedTiming().iterations === Infinity) animation.cancel();
      else animation.finish();
    } catch (e) {}
  }"""
STILL_JS = f"""() => {{{STOP_ANIMATIONS}
  return {PAGE_HEIGHT_JS};
}}"""
# Before an early screenshot (taken while the page is still watched for change): animations
# stopped, then a watch on all that can change what is drawn without a request: the DOM (nodes,
# attributes, text), the height, the scroll, the fonts, an animation started since. None (no
# early screenshot) for a page that draws where no watch sees (canvas, video, frames, plugins,
# SVG animation, marquee, shadow DOM and custom elements) or still has an image or font to finish.
WATCH_JS = f"""() => {{{STOP_ANIMATIONS}
  const unwatched = 'canvas, video, iframe, frame, embed, object, marquee, animate, animateMotion, '
    + 'animateTransform, set';
  if (document.fonts.status !== 'loaded' || document.querySelector(unwatched)
      || [...document.images].some(image => !image.complete)
      || [...document.querySelectorAll('*')].some(e => e.shadowRoot || e.localName.includes('-'))) {{
    return null;
  }}
  const watch = {{changed: false, height: {PAGE_HEIGHT_JS}, x: scrollX, y: scrollY}};
  new MutationObserver((changes, observer) => {{
    watch.changed = true;
    observer.disconnect();
  }}).observe(document, {{childList: true, subtree: true, attributes: true, characterData: true}});
  return watch;
}}"""
UNCHANGED_JS = f"""watch => !watch.changed && document.fonts.status === 'loaded'
  && {PAGE_HEIGHT_JS} === watch.height && scrollX === watch.x && scrollY === watch.y
  && !document.getAnimations().some(animation => animation.playState === 'running' || animation.pending)"""
# The DOM as Playwright's `page.content()` serializes it (doctype, then the root's outerHTML),
# but with each open shadow root inside its host as declarative shadow DOM (`<template
# shadowrootmode="open">`, Element.getHTML): what web components show is in the rendered record,
# its text and its replay. A page without one serializes exactly as `page.content()` does. Run
# in a world of its own (_dom), as `page.content()` is: the page's scripts cannot replace the
# functions it calls and so make the record differ from the DOM.
DOM_JS = """() => {
  const roots = [];
  const walk = root => {
    for (const element of root.querySelectorAll('*')) {
      if (element.shadowRoot) {
        roots.push(element.shadowRoot);
        walk(element.shadowRoot);
      }
    }
  };
  walk(document);
  const doctype = document.doctype ? new XMLSerializer().serializeToString(document.doctype) : '';
  const html = document.documentElement;
  if (!html) return doctype;
  if (!roots.length || typeof html.getHTML !== 'function') return doctype + html.outerHTML;
  const tags = html.cloneNode(false).outerHTML;
  const end = tags.lastIndexOf('</');
  return doctype + tags.slice(0, end) + html.getHTML({shadowRoots: roots}) + tags.slice(end);
}"""
VIEWPORT_WIDTH = 1280  # as the screenshot pass's viewport (archive/crawl/screenshots.py)
QUIET = 0.5  # seconds without a request in flight, as Playwright's `networkidle`
EARLY_QUIET = QUIET / 2  # seconds without one before an early screenshot is begun


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
    sent_at: datetime  # when the browser sent the request
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


class Traffic:
    """The page's requests in flight, and when the last one started or ended: network quiet as
    Playwright's `networkidle` judges it (no request for 0.5 s), which fires only once per load."""

    def __init__(self, context: Any) -> None:
        self.started = 0
        self.flying = 0
        self.last = time.monotonic()
        context.on("request", self._began)
        context.on("requestfinished", self._ended)
        context.on("requestfailed", self._ended)

    def _began(self, request: Any) -> None:
        self.started += 1
        self.flying += 1
        self.last = time.monotonic()

    def _ended(self, request: Any) -> None:
        self.flying = max(0, self.flying - 1)
        self.last = time.monotonic()

    async def quiet(self, cap: float, length: float = QUIET) -> None:
        """Until no request has been in flight for `length` seconds, or `cap` seconds have passed."""
        ends = time.monotonic() + cap
        while (now := time.monotonic()) < ends:
            left = length - (now - self.last)
            if not self.flying and left <= 0:
                return
            # Asleep until the quiet could end (checked again then), or 50 ms while requests fly.
            await asyncio.sleep(min(ends - now, 0.05 if self.flying else left))


async def _settle(context: Any, load: Load, settling: Settling) -> None:
    """Load, scroll for lazy content while the network goes quiet, let late timers run, scroll again
    if the page changed meanwhile, then take the DOM and a screenshot.

    The DOM and screenshot are taken early, once the scroll is done and no request has been made
    for EARLY_QUIET seconds, while the rest of the settling runs, and kept only if the page then
    proves to have been settled already: no request since, the second scroll not needed, and
    nothing its watch (WATCH_JS) covers changed. Otherwise (or if the page is one the watch cannot
    see all of) they are taken again at the end, as they always were.
    """
    traffic = Traffic(context)
    page = await context.new_page()
    response = await page.goto(load.url, wait_until="load")
    load.http_status = response.status if response else None
    # The whole scroll in one call: a round trip per step would cost more than the step's wait.
    seen = await page.evaluate_handle(SCROLL_JS, settling.scroll_max_height)
    early = _Early(context, page, traffic, settling)
    try:
        await traffic.quiet(settling.idle_wait)
        asked = traffic.started
        await page.wait_for_timeout(settling.late_timers * 1000)
        if traffic.started > asked:
            await traffic.quiet(settling.idle_wait)
        if await seen.evaluate(CHANGED_JS):
            early.discard()
            asked = traffic.started
            await page.evaluate(SCROLL_JS, settling.scroll_max_height)
            if traffic.started > asked:
                await traffic.quiet(settling.idle_wait)
        drawn = await early.kept()
    finally:
        early.discard()
    if drawn is None:
        drawn = await _dom_and_screenshot(context, page, None, settling.screenshot_max_height)
    load.dom, load.png, load.cut = drawn


class _Early:
    """The DOM and screenshot taken as soon as the scrolled page has been quiet for EARLY_QUIET
    seconds, with what tells whether the page changed after."""

    def __init__(self, context: Any, page: Any, traffic: Traffic, settling: Settling) -> None:
        self.traffic = traffic
        self.begun = False
        self.asked = 0
        self.watch: Any = None
        self.task: asyncio.Task | None = asyncio.ensure_future(self._take(context, page, settling))
        # A page that went away meanwhile fails the final screenshot too, with its own error.
        self.task.add_done_callback(lambda task: task.cancelled() or task.exception())

    async def _take(self, context: Any, page: Any, settling: Settling) -> tuple[str, bytes, bool] | None:
        await self.traffic.quiet(settling.idle_wait, EARLY_QUIET)
        if self.traffic.flying:
            return None
        self.begun, self.asked = True, self.traffic.started
        self.watch = await page.evaluate_handle(WATCH_JS)
        watched = await self.watch.json_value()
        if watched is None:
            return None
        return await _dom_and_screenshot(
            context, page, int(watched["height"]), settling.screenshot_max_height
        )

    async def kept(self) -> tuple[str, bytes, bool] | None:
        """What was taken early, if it is what the page still shows; None if it must be taken again."""
        task, self.task = self.task, None
        if task is None or not self.begun:
            if task is not None:
                task.cancel()
            return None
        from playwright.async_api import Error

        try:
            drawn = await task
        except Error:
            return None
        if drawn is None or self.traffic.started != self.asked:
            return None
        return drawn if await self.watch.evaluate(UNCHANGED_JS) else None

    def discard(self) -> None:
        """Not to be kept: the page changed in a way the watch does not cover (or the load ended)."""
        if self.task is not None:
            self.task.cancel()
            self.task = None


async def _dom_and_screenshot(
    context: Any, page: Any, height: int | None, most: int
) -> tuple[str, bytes, bool]:
    """The DOM, and the whole page as PNG cut at `most` pixels high; whether it was cut. `height`:
    the page's, its animations already stopped (WATCH_JS), or None to stop them and measure.

    Chromium's own capture with `optimizeForSpeed` (the same pixels, a larger
    file): its default PNG compression costs about as much as drawing a tall
    page (measured on a 10,000-pixel page: 1.3 s against 2.1 s, 1.2 MB against
    0.8 MB). Both are read at once from the page as it then stands: the DOM is
    serialized while the browser draws and encodes. The capture's CDP session
    ends with the context, closed next.
    """
    if height is None:
        session, measured = await asyncio.gather(context.new_cdp_session(page), page.evaluate(STILL_JS))
        height = int(measured or 0)
    else:
        session = await context.new_cdp_session(page)
    clip = {"x": 0, "y": 0, "width": VIEWPORT_WIDTH, "height": max(1, min(height, most)), "scale": 1}
    dom, shot = await asyncio.gather(
        _dom(session),
        session.send(
            "Page.captureScreenshot",
            {"format": "png", "clip": clip, "captureBeyondViewport": True, "optimizeForSpeed": True},
        ),
    )
    return dom, base64.b64decode(shot["data"]), height > most


async def _dom(session: Any) -> str:
    """DOM_JS's serialization, evaluated in an isolated world of the page's main frame."""
    tree = await session.send("Page.getFrameTree")
    world = await session.send(
        "Page.createIsolatedWorld", {"frameId": tree["frameTree"]["frame"]["id"], "worldName": "spyglass"}
    )
    found = await session.send(
        "Runtime.evaluate",
        {"expression": f"({DOM_JS})()", "contextId": world["executionContextId"], "returnByValue": True},
    )
    if "exceptionDetails" in found:
        from playwright.async_api import Error

        raise Error(f"the DOM could not be read: {found['exceptionDetails'].get('text', 'script error')}")
    return found["result"]["value"]


async def _received(response: Any, load: Load) -> None:
    """Keep one response with its request's headers (all of them, as sent: `all_headers`)."""
    from playwright.async_api import Error

    request = response.request
    sent_at = _sent_at(request)
    request_headers, response_headers, body = await asyncio.gather(
        request.headers_array(), response.headers_array(), response.body(), return_exceptions=True
    )
    for got in (request_headers, response_headers, body):
        if isinstance(got, BaseException) and not isinstance(got, Error):
            raise got
    if isinstance(request_headers, Error) or isinstance(response_headers, Error):
        return  # the page went away before its headers could be read
    load.responses.append(
        Received(
            url=response.url,
            method=request.method,
            request_headers=[(h["name"], h["value"]) for h in request_headers],
            request_body=request.post_data_buffer or b"",
            status=response.status,
            reason=response.status_text,
            response_headers=[(h["name"], h["value"]) for h in response_headers],
            # Redirects have none; an aborted response kept none.
            body=None if isinstance(body, Error) else body,
            resource_type=request.resource_type,
            sent_at=sent_at,
            main=request.is_navigation_request() and request.frame.parent_frame is None,
        )
    )


def _sent_at(request: Any) -> datetime:
    """When the browser sent `request`, by its own clock (the system's, as utc_now), to the
    millisecond; now, if it does not say."""
    started = (request.timing or {}).get("startTime", -1)
    return datetime.fromtimestamp(started / 1000, UTC) if started > 0 else utc_now()


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
