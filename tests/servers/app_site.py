"""A fixture vendor page built by script: its claims arrive from a JSON API, its images late.

`/` is an application shell ("Loading…"); `/app.js` fetches `/api/claims.json`
(gzip-encoded, as real APIs answer), writes each claim into the page, adds an
image from a late timer, and sends a beacon to a canary on 127.0.0.2 that
must never see a connection. `/spins/` never settles. A lazy image sits below a tall spacer: only a
scroll loads it. `/grows/` is one screen high at `load`; its claims come later, from a slow API,
with a lazy image and an element an IntersectionObserver fills in far below what was the bottom.
`/spread/` has ten thin marks a screen apart, each in view at one step of the scroll only; half
are loaded by an IntersectionObserver, half by a scroll handler that looks in the next frame, as
lazy loaders do. `/components/` shows its claims only from web components' shadow roots, and
replaces the page's serializers with forgeries. `/recolors/` and `/draws/` turn red 1.5 s after
`load` with no request: one by a style, one on a canvas. `claims` can be changed between crawls.
"""

from __future__ import annotations

import base64
import gzip
import json
import time

from archive.demo.server import Incoming, LoopbackServer, Reply
from tests.servers.hostile_site import SilentServer

# A 1x1 transparent PNG.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="
)
SHELL = (
    "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Recognize</title>"
    "<script src='/app.js' defer></script></head>"
    "<body><div id='app'>Loading…</div><div style='height:3000px'></div>"
    "<img loading='lazy' src='/lazy.png' alt=''></body></html>"
)
# Loads, then its script never yields: the browser cannot settle it.
SPINS = (
    "<!DOCTYPE html><html><head><title>Spins</title></head><body><p>Spins.</p>"
    "<script>addEventListener('load', () => { while (true) {} })</script></body></html>"
)
APP_JS = """
fetch('/api/claims.json').then(r => r.json()).then(data => {
  const app = document.getElementById('app');
  app.textContent = '';
  for (const claim of data.claims) {
    const p = document.createElement('p');
    p.textContent = claim;
    app.appendChild(p);
  }
  setTimeout(() => {
    const img = document.createElement('img');
    img.src = '/late.png';
    app.appendChild(img);
  }, 300);
  fetch('http://127.0.0.2:%d/beacon', {method: 'POST', body: 'seen'}).catch(() => {});
});
"""
# What `/grows/`'s script adds once its claims arrive, well past the browser's lazy-loading distance.
GROWS = """<!DOCTYPE html><html><head><meta charset='utf-8'><title>Grows</title></head><body>
<div id='app'>Loading…</div><script>
addEventListener('load', () => fetch('/api/slow-claims.json').then(r => r.json()).then(data => {
  const app = document.getElementById('app');
  app.innerHTML = data.claims.map(claim => `<p>${claim}</p>`).join('')
    + "<div style='height:6000px'></div><img loading='lazy' src='/below.png' alt=''>"
    + "<div id='watched' style='height:10px'></div>";
  const watched = document.getElementById('watched');
  new IntersectionObserver((entries, observer) => {
    if (!entries[0].isIntersecting) return;
    observer.disconnect();
    watched.appendChild(Object.assign(new Image(), {src: '/seen.png'}));
  }).observe(watched);
}));
</script></body></html>"""
MARKS = 10
SPREAD = f"""<!DOCTYPE html><html><head><title>Spread</title>
<style>body {{ margin: 0 }} .mark {{ position: absolute; height: 10px; width: 10px }}</style></head>
<body><div style='height:{800 * MARKS + 800}px'></div><script>
const marks = [];
for (let n = 0; n < {MARKS}; n++) {{
  const mark = Object.assign(document.createElement('div'), {{className: 'mark'}});
  mark.style.top = `${{400 + 800 * n}}px`;
  mark.dataset.n = n;
  document.body.appendChild(mark);
  marks.push(mark);
}}
const show = mark => mark.appendChild(Object.assign(new Image(), {{src: `/mark-${{mark.dataset.n}}.png`}}));
const seen = new IntersectionObserver(entries => entries.forEach(entry => {{
  if (entry.isIntersecting) {{ seen.unobserve(entry.target); show(entry.target); }}
}}));
marks.filter((mark, n) => n % 2 === 0).forEach(mark => seen.observe(mark));
let waiting = marks.filter((mark, n) => n % 2 === 1);
const look = () => {{
  waiting = waiting.filter(mark => {{
    const box = mark.getBoundingClientRect();
    if (box.bottom <= 0 || box.top >= innerHeight) return true;
    show(mark);
    return false;
  }});
}};
let asked = false;
addEventListener('scroll', () => {{
  if (asked) return;
  asked = true;
  requestAnimationFrame(() => {{ asked = false; look(); }});
}});
look();
</script></body></html>"""
# Claims that only web components show: each inside an open shadow root, one nested in another's.
COMPONENTS = """<!DOCTYPE html><html lang='en'><head><title>Components</title></head><body>
<claim-card data-claim='Recognizes faces at 300 metres.'></claim-card><script>
customElements.define('claim-card', class extends HTMLElement {
  connectedCallback() {
    const root = this.attachShadow({mode: 'open'});
    root.innerHTML = `<p>${this.dataset.claim}</p><claim-note></claim-note>`;
  }
});
customElements.define('claim-note', class extends HTMLElement {
  connectedCallback() {
    this.attachShadow({mode: 'open'}).innerHTML = '<p>Works with every camera brand.</p>';
  }
});
// And it would have an archive record something else than it shows.
const forged = () => '<body><p>Forged claim.</p></body>';
Element.prototype.getHTML = forged;
Object.defineProperty(Element.prototype, 'outerHTML', {get: forged});
</script></body></html>"""
# Pages that change what they show well after they look settled, without asking for anything.
RED_LATER = 1.5  # seconds after `load`
RECOLORS = f"""<!DOCTYPE html><html><head><title>Recolors</title></head><body><p>Plain.</p><script>
addEventListener('load', () => setTimeout(() => {{
  document.body.style.background = 'rgb(255, 0, 0)';
}}, {RED_LATER * 1000}));
</script></body></html>"""
DRAWS = f"""<!DOCTYPE html><html><head><title>Draws</title>
<style>body {{ margin: 0 }} canvas {{ display: block }}</style></head>
<body><canvas width='200' height='200'></canvas><script>
addEventListener('load', () => setTimeout(() => {{
  const context = document.querySelector('canvas').getContext('2d');
  context.fillStyle = 'rgb(255, 0, 0)';
  context.fillRect(0, 0, 200, 200);
}}, {RED_LATER * 1000}));
</script></body></html>"""
SLOW_API = 0.4  # seconds: the claims arrive after the first scroll of the one-screen page
# The pages that are the same at every request.
PAGES = {
    "/": SHELL,
    "/spins/": SPINS,
    "/grows/": GROWS,
    "/spread/": SPREAD,
    "/components/": COMPONENTS,
    "/recolors/": RECOLORS,
    "/draws/": DRAWS,
}
IMAGES = ("/late.png", "/lazy.png", "/below.png", "/seen.png")  # and /mark-N.png


class AppSite:
    """The handler; `canary_port` is filled in by AppServers."""

    def __init__(self, claims: list[str]) -> None:
        self.claims = list(claims)
        self.canary_port = 0
        self.arrived: dict[str, float] = {}  # path -> when (time.time()) its last request arrived

    def __call__(self, request: Incoming) -> Reply:
        self.arrived[request.path] = time.time()
        if request.path == "/robots.txt":
            return Reply(body=b"User-agent: *\nDisallow:\n", content_type="text/plain")
        if request.path in PAGES:
            return Reply(body=PAGES[request.path].encode())
        if request.path == "/app.js":
            return Reply(body=(APP_JS % self.canary_port).encode(), content_type="text/javascript")
        if request.path == "/api/claims.json":
            body = gzip.compress(json.dumps({"claims": self.claims}).encode())
            return Reply(body=body, content_type="application/json", headers=[("Content-Encoding", "gzip")])
        if request.path == "/api/slow-claims.json":
            time.sleep(SLOW_API)
            return Reply(body=json.dumps({"claims": self.claims}).encode(), content_type="application/json")
        if request.path in IMAGES or request.path.startswith("/mark-"):
            return Reply(body=PNG, content_type="image/png")
        return Reply(404, b"not found", content_type="text/plain")


class AppServers:
    """The site and the canary, started together."""

    def __init__(self, claims: list[str]) -> None:
        self.site = AppSite(claims)
        self.canary = SilentServer("127.0.0.2")
        self.site.canary_port = self.canary.port
        self.server = LoopbackServer(self.site).start()

    @property
    def url(self) -> str:
        return self.server.url

    def stop(self) -> None:
        self.server.stop()
        self.canary.stop()


def numbered_claim_page(request: Incoming) -> Reply:
    """`/p/N.html`: a page whose one claim ("Claim of page N.") only its inline script writes."""
    if request.path == "/robots.txt":
        return Reply(body=b"User-agent: *\nDisallow:\n", content_type="text/plain")
    number = request.path.removeprefix("/p/").removesuffix(".html")
    script = f"document.getElementById('app').textContent = 'Claim of page {number}.'"
    return Reply(body=f"<title>P</title><div id='app'>Loading</div><script>{script}</script>".encode())
