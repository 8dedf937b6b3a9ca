"""The fixture vendor site: a cloud vendor marketing face recognition to police.

Northwind Cloud and its product are invented; what they claim is modelled on
the public record in shared/seeds (real-time face search over tens of millions
of faces, "person tracking" for surveillance, crowds and airports, body
cameras, a sheriff's office with some 300,000 booking photos).
"""

from __future__ import annotations

import html
import io
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from archive.demo.live_page import live_files
from archive.demo.pdfgen import text_pdf
from archive.demo.server import Incoming, LoopbackServer, Reply


@dataclass(frozen=True)
class Page:
    title: str
    body: str  # HTML inside <main>; may use {base} and {other} for absolute links


NAV = """
<header class="site-header"><a href="/" class="logo">Northwind Cloud</a>
<nav aria-label="Main"><ul>
<li><a href="/products/">Products</a></li>
<li><a href="/solutions/public-safety/">Public safety</a></li>
<li><a href="/customers/">Customers</a></li>
<li><a href="/press/">Press</a></li>
<li><a href="/about/">About</a></li>
</ul></nav></header>
"""

FOOTER = """
<footer><p>Copyright Northwind Cloud Services, Inc. All rights reserved.</p>
<ul><li><a href="/legal/terms/">Terms of service</a></li>
<li><a href="{other}/partners/">Partner network</a></li>
<li><a href="https://example.org/northwind-elsewhere">Elsewhere</a></li></ul>
<script>window.analytics = "footer script text that is not content";</script>
</footer>
"""

# A call to action at the end of every page's main text: site-wide boilerplate
# that extraction keeps (it is an ordinary paragraph) and history leaves out.
CTA = """
<div class="cta"><p>Questions about Northwind Cloud? Talk to our public-sector team.</p></div>
"""

PAGES: dict[str, Page] = {
    "/": Page(
        "Northwind Cloud: computing for every mission",
        """
<h1>Computing for every mission</h1>
<p>Northwind Cloud runs storage, compute and machine learning services for
companies and for governments at every level.</p>
<p>Meet <a href="/products/recognize/">Northwind Recognize</a>, image and video
analysis that finds, compares and follows faces in real time.</p>
<p><a href="/products/">All products</a> · <a href="/press/">Latest news</a></p>
""",
    ),
    "/products/": Page(
        "Products | Northwind Cloud",
        """
<h1>Products</h1>
<ul>
<li><a href="/products/recognize/">Northwind Recognize</a>: image and video analysis with face search.</li>
<li><a href="/products/streams/">Northwind Video Streams</a>: ingest and store live video from any camera.</li>
</ul>
""",
    ),
    "/products/recognize/": Page(
        "Northwind Recognize: image and video analysis",
        """
<h1>Northwind Recognize</h1>
<p>Add image and video analysis to your applications without any machine
learning expertise. Northwind Recognize detects objects, scenes, text and
faces, and can search a face against collections holding tens of millions of
faces in real time.</p>
<h2>Built for public safety</h2>
<p>Agencies use Northwind Recognize to compare a face from a street camera,
a body camera or a booking photo against their own watchlists within
seconds.</p>
<div class="hero" role="img" aria-label="A face matched against a watchlist"></div>
<img class="product-shot" src="/img/recognize-480.png" alt="Northwind Recognize console"
 srcset="/img/recognize-480.png 480w, {other}/img/recognize-960.png 960w" sizes="480px">
<p>Read the <a href="/products/recognize/faqs/">frequently asked questions</a>,
the <a href="/products/recognize/features/">feature list</a>, the
<a href="/products/recognize/pricing/">pricing</a> or download the
<a href="/docs/recognize-datasheet.pdf">datasheet (PDF)</a>.</p>
""",
    ),
    "/products/recognize/faqs/": Page(
        "Northwind Recognize FAQs",
        """
<h1>Northwind Recognize: frequently asked questions</h1>
<h2 id="face-search">Q: What is face search?</h2>
<p>Face search compares a face in a new image or video frame with every face
stored in a collection you own and returns the closest matches with a
similarity score. Collections can hold tens of millions of faces, and a
search completes in well under a second.</p>
<h2 id="person-tracking">Q: What is person tracking?</h2>
<p>Person tracking follows each individual through a stored or live video,
even when their face is hidden for a moment. It lets investigators keep
persons of interest in view from frame to frame, which is why surveillance
customers use it to monitor the movements of individuals.</p>
<h2 id="crowds">Q: How many faces can it find in one picture?</h2>
<p>Up to one hundred faces in a single image, which covers group photos,
crowded events and public places such as airports and train stations.</p>
<h2 id="body-cameras">Q: Can it analyse body camera footage?</h2>
<p>Yes. Footage from officer body cameras can be streamed through
<a href="/products/streams/">Northwind Video Streams</a> and matched against a
collection as it is recorded.</p>
<h2 id="responsible-use">Q: Who decides how it is used?</h2>
<p>Customers are responsible for using the service lawfully; see our
<a href="/legal/terms/">terms of service</a>.</p>
""",
    ),
    "/products/recognize/features/": Page(
        "Features | Northwind Recognize",
        """
<h1>Features</h1>
<ul>
<li>Face detection and analysis: landmarks, pose, emotions, age range.</li>
<li>Face comparison and face search in collections of any size.</li>
<li>Real-time face recognition on live video streams.</li>
<li>Text in image: read street signs, license plates and captions.</li>
<li>Person tracking across frames for video analytics.</li>
</ul>
""",
    ),
    "/products/recognize/pricing/": Page(
        "Pricing | Northwind Recognize",
        """
<h1>Pricing</h1>
<table>
<tr><th>What</th><th>Price</th></tr>
<tr><td>Image analysis, first million images a month</td><td>$1.00 per 1,000 images</td></tr>
<tr><td>Face metadata storage</td><td>$0.01 per 1,000 faces a month</td></tr>
<tr><td>Stored video analysis</td><td>$0.10 per minute</td></tr>
</table>
<p>A collection of 300,000 booking photos costs about three dollars a month to keep searchable.</p>
""",
    ),
    "/products/streams/": Page(
        "Northwind Video Streams",
        """
<h1>Northwind Video Streams</h1>
<p>Stream video from phones, drones, fixed cameras and body cameras into the
cloud, store it, and send it to <a href="/products/recognize/">Northwind
Recognize</a> for live analysis.</p>
""",
    ),
    "/solutions/public-safety/": Page(
        "Public safety | Northwind Cloud",
        """
<h1>Public safety solutions</h1>
<p>Police departments and sheriff's offices use Northwind Cloud to store
evidence, analyse video and identify suspects. Upload your mugshot database
once, then search any new photo against it in seconds.</p>
<p>See how <a href="/customers/">our customers</a> do it.</p>
""",
    ),
    "/customers/": Page(
        "Customer stories | Northwind Cloud",
        """
<h1>Customer stories</h1>
<article>
<h2>Clearwater County Sheriff's Office</h2>
<p>Deputies search a phone photo against every booking photo since 2001.
<a href="/customers/clearwater-county-sheriff/">Read the story</a>.</p>
</article>
""",
    ),
    "/customers/clearwater-county-sheriff/": Page(
        "Clearwater County Sheriff's Office | Northwind Cloud customer story",
        """
<h1>Clearwater County Sheriff's Office</h1>
<p>The sheriff's office loaded about 300,000 booking photos into a Northwind
Recognize collection in 2017. Deputies now upload a photo from the field and
see likely matches from the county's mugshot database in seconds.</p>
<p>"It took us a few weeks to set up and costs less than a tank of gas a
month," the office's systems project manager told us.</p>
""",
    ),
    "/press/": Page(
        "Press releases | Northwind Cloud",
        """
<h1>Press releases</h1>
<ul>
<li><a href="/press/2018-05-14-body-camera-partnership/">May 14, 2018: Northwind partners with body camera makers</a></li>
<li><a href="/press/2017-11-21-real-time-face-search/">Nov. 21, 2017: Real-time face search, text in image and better face detection</a></li>
<li><a href="/press/2016-11-30-introducing-recognize/">Nov. 30, 2016: Introducing Northwind Recognize</a></li>
</ul>
""",
    ),
    "/press/2016-11-30-introducing-recognize/": Page(
        "Introducing Northwind Recognize | Northwind Cloud press",
        """
<h1>Introducing Northwind Recognize</h1>
<p class="dateline">Nov. 30, 2016</p>
<p>Northwind Cloud today released Northwind Recognize, a deep-learning image
analysis service that recognises people, pets, scenes and objects. It can
compare a face on a webcam with a badge photo, or inspect photos for people of
interest or concern.</p>
<p>Bookmarks pointing to <a href="/products/recognise/">the old product
address</a> keep working.</p>
""",
    ),
    "/press/2017-11-21-real-time-face-search/": Page(
        "Real-time face search, text in image and improved face detection | Northwind Cloud press",
        """
<h1>Real-time face search, text in image and improved face detection</h1>
<p class="dateline">Nov. 21, 2017</p>
<p>Northwind Recognize now searches collections of tens of millions of faces
in real time, reads text in images, and finds up to one hundred faces in a
single crowded picture, including faces that are small, blurred or turned
away from the camera.</p>
""",
    ),
    "/press/2018-05-14-body-camera-partnership/": Page(
        "Northwind partners with body camera makers | Northwind Cloud press",
        """
<h1>Northwind partners with body camera makers</h1>
<p class="dateline">May 14, 2018</p>
<p>Video from participating body cameras can now flow straight into Northwind
Video Streams, where Northwind Recognize can flag faces that match an agency's
watchlist while the officer is still on patrol.</p>
""",
    ),
    "/about/": Page(
        "About Northwind Cloud",
        """
<h1>About us</h1>
<p>Northwind Cloud Services was founded in 2006 and serves customers in 190
countries, including thousands of government agencies.</p>
<p>Staff only: <a href="/internal/roadmap/">product roadmap</a>.</p>
""",
    ),
    "/legal/terms/": Page(
        "Terms of service | Northwind Cloud",
        """
<h1>Terms of service</h1>
<p>Customers must comply with all applicable laws when using Northwind
services. We may suspend accounts that violate these terms.</p>
""",
    ),
    "/internal/roadmap/": Page(
        "Roadmap (internal) | Northwind Cloud",
        """
<h1>Internal roadmap</h1>
<p>This page is disallowed by robots.txt and must never be archived.</p>
""",
    ),
}

REDIRECTS = {"/products/recognise/": "/products/recognize/"}

# Listed in the sitemap; the customer story is reachable only through links.
SITEMAP_PATHS = [p for p in PAGES if p not in ("/customers/clearwater-county-sheriff/", "/internal/roadmap/")]
SITEMAP_PATHS.append("/docs/recognize-datasheet.pdf")

ROBOTS_TXT = """User-agent: *
Disallow: /internal/

Sitemap: {base}/sitemap.xml
"""

DATASHEET_LINES = [
    [
        "Northwind Recognize datasheet",
        "",
        "Deep-learning image and video analysis as a service.",
        "Face search: match one face against tens of millions in real time.",
        "Person tracking: follow individuals through stored and live video.",
        "Crowds: detect up to 100 faces in one image.",
        "Integrations: body cameras, fixed cameras, mugshot databases.",
    ],
    [
        "Deployment and pricing",
        "",
        "Runs in every Northwind Cloud region, including government regions.",
        "Pay per image analysed and per thousand faces stored.",
    ],
]


def render(path: str, base: str, other: str) -> str:
    """The full HTML of one page, with site furniture around the main content."""
    page = PAGES[path]
    body = page.body.replace("{base}", base).replace("{other}", other)
    footer = FOOTER.replace("{other}", other)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(page.title)}</title>"
        '<link rel="stylesheet" href="/static/site.css"><link rel="icon" href="/favicon.png">'
        '<link rel="apple-touch-icon" href="/apple-touch-icon.png">'
        '<script src="/static/site.js"></script></head>\n<body>'
        f"{NAV}<main>{body}{CTA}</main>{footer}</body></html>\n"
    )


# What the pages need to render: a stylesheet that imports another and draws a
# background image, images (one only in a srcset, on the other host, as a CDN
# would serve it), an icon under two names, and a script that would rewrite the
# page if it ran.
SITE_CSS = b"""@import url("/static/theme.css");
body { font-family: Georgia, serif; margin: 0; background: rgb(250, 250, 247); }
.site-header { background: rgb(29, 39, 51); padding: 8px 16px; }
.site-header a { color: rgb(243, 243, 243); }
.hero { height: 120px; background: url("hero.png") repeat-x; }
.product-shot { width: 480px; }
"""
THEME_CSS = b"h1 { color: rgb(12, 74, 110); letter-spacing: 1px; }\n"
SITE_JS = b"""document.documentElement.dataset.scripted = "yes";
document.title = "Scripts ran";
fetch("/beacon?from=script");
"""


def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A solid-colour PNG (the fixture's images)."""
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (width, height), rgb).save(out, format="PNG")
    return out.getvalue()


# The site says it last changed in 2018, except the press index, which says it
# changed after the server started (so `recrawl: changed` must fetch it again).
LASTMOD = "2018-06-01"
FRESH_PATHS = {"/press/"}


def sitemap(base: str, fresh: str) -> str:
    urls = "".join(
        f"<url><loc>{base}{p}</loc><lastmod>{fresh if p in FRESH_PATHS else LASTMOD}</lastmod></url>"
        for p in SITEMAP_PATHS
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>\n'
    )


class VendorSite:
    """The handler: answers on 127.0.0.1; links to `localhost` are another (out-of-scope) host."""

    def __init__(self) -> None:
        self.base = ""
        self.other = ""
        self.datasheet = text_pdf(DATASHEET_LINES, title="Northwind Recognize datasheet")
        self.files = {
            "/static/site.css": (SITE_CSS, "text/css"),
            "/static/theme.css": (THEME_CSS, "text/css"),
            "/static/site.js": (SITE_JS, "application/javascript"),
            "/static/hero.png": (png(40, 120, (200, 30, 40)), "image/png"),
            "/img/recognize-480.png": (png(480, 270, (30, 90, 160)), "image/png"),
            "/img/recognize-960.png": (png(960, 540, (30, 90, 160)), "image/png"),
            "/favicon.png": (png(16, 16, (12, 74, 110)), "image/png"),
        }
        # The same icon under a second name, as sites serve it: one payload, archived once.
        self.files["/apple-touch-icon.png"] = self.files["/favicon.png"]
        self.files.update(live_files())  # the script-rendered page (render: browser in the demo)
        self.hits: dict[str, int] = {}
        started = datetime.now(UTC) + timedelta(hours=1)
        self.fresh = started.strftime("%Y-%m-%dT%H:%M:%S+00:00")

    def __call__(self, request: Incoming) -> Reply:
        path = request.path
        self.hits[path] = self.hits.get(path, 0) + 1
        if path == "/robots.txt":
            return Reply(body=ROBOTS_TXT.format(base=self.base).encode(), content_type="text/plain")
        if path == "/sitemap.xml":
            return Reply(body=sitemap(self.base, self.fresh).encode(), content_type="application/xml")
        if path == "/docs/recognize-datasheet.pdf":
            return Reply(body=self.datasheet, content_type="application/pdf")
        if path in self.files:
            body, content_type = self.files[path]
            return Reply(body=body, content_type=content_type)
        if path in REDIRECTS:
            return Reply(301, b"", [("Location", REDIRECTS[path])])
        if path in PAGES:
            return Reply(body=render(path, self.base, self.other).encode("utf-8"))
        return Reply(404, b"<!DOCTYPE html><title>Not found</title><h1>Not found</h1>")


def start_vendor_site(port: int = 0) -> tuple[LoopbackServer, VendorSite]:
    """Start the site on 127.0.0.1 and return the server and its handler."""
    site = VendorSite()
    server = LoopbackServer(site, port=port, etags=True).start()
    site.base = server.url
    site.other = f"http://localhost:{server.port}"
    return server, site
