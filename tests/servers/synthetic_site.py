"""A large synthetic vendor site for benchmarks: N pages of 30-80 KB, dense links, some PDFs.

Each page needs what a real product page needs to render: a shared stylesheet
(with a background image and a web font), a shared script, logo and icon, and
two images of its own, so requisites cost what they cost on a real site.

Deterministic for a given size and seed, so every crawler in one benchmark run
sees the same site. Run it in its own process (`python -m tests.servers.synthetic_site`)
so serving does not compete with the crawler being measured for the GIL.
"""

from __future__ import annotations

import argparse
import bisect
import random
import sys
from itertools import accumulate

from archive.demo.pdfgen import text_pdf
from archive.demo.server import Incoming, LoopbackServer, Reply

VOCABULARY_SIZE = 20_000
LINKS_PER_PAGE = 68
PDF_EVERY = 40  # one page in 40 links a PDF datasheet
IMAGES_PER_PAGE = 2  # product shots of its own; the logo, icon and CSS images are shared

_SYLLABLES = (
    "ka",
    "lo",
    "mi",
    "ne",
    "ru",
    "ta",
    "vi",
    "so",
    "de",
    "an",
    "ex",
    "or",
    "pu",
    "li",
    "ce",
    "fa",
    "go",
    "hy",
    "im",
    "ju",
    "ze",
    "wo",
    "qu",
    "yb",
)
COMMON = (
    "the",
    "of",
    "and",
    "to",
    "a",
    "in",
    "for",
    "is",
    "on",
    "that",
    "with",
    "by",
    "face",
    "recognition",
    "camera",
    "police",
    "video",
    "search",
    "data",
    "cloud",
)


def vocabulary(size: int = VOCABULARY_SIZE, seed: int = 7) -> list[str]:
    """Common words first, then made-up words; rank order drives the Zipf weights."""
    rng = random.Random(seed)
    words = list(COMMON)
    seen = set(words)
    while len(words) < size:
        word = "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4)))
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words


class ZipfText:
    """Text with a Zipf-like word distribution (weight 1/rank), as natural language has."""

    def __init__(self, seed: int = 7, size: int = VOCABULARY_SIZE) -> None:
        self.words = vocabulary(size, seed)
        self.cumulative = list(accumulate(1.0 / rank for rank in range(1, len(self.words) + 1)))

    def words_for(self, rng: random.Random, count: int) -> list[str]:
        total = self.cumulative[-1]
        cum = self.cumulative
        words = self.words
        return [words[bisect.bisect(cum, rng.random() * total)] for _ in range(count)]


class SyntheticSite:
    """Handler: /p/<i>.html pages, /d/<i>.pdf datasheets, /robots.txt."""

    def __init__(self, pages: int, seed: int = 7, size: tuple[int, int] = (30_000, 80_000)) -> None:
        self.pages = pages
        self.seed = seed
        self.size = size  # bytes of markup a page grows to, at least (links may make it larger)
        self.text = ZipfText(seed)
        self._cache: dict[int, bytes] = {}
        self._sitemap: bytes | None = None
        self.base = ""
        self._pdf = text_pdf([["Synthetic datasheet", "Face search and person tracking."]])
        rng = random.Random(seed)
        # Shared requisites, sized as a marketing site's are (bytes are not decoded by crawlers).
        self.shared = {
            "/static/site.css": (
                b"@font-face{font-family:Brand;src:url(/static/brand.woff2)}"
                b".hero{background:url(/static/hero.jpg)}" + b".c{margin:0 auto}" * 1200,
                "text/css",
            ),
            "/static/app.js": (
                b"window.app={};" + b"function f(){return 1}" * 1400,
                "application/javascript",
            ),
            "/static/brand.woff2": (rng.randbytes(24_000), "font/woff2"),
            "/static/hero.jpg": (rng.randbytes(60_000), "image/jpeg"),
            "/static/logo.png": (rng.randbytes(6_000), "image/png"),
            "/favicon.ico": (rng.randbytes(1_500), "image/x-icon"),
        }

    def pdf(self) -> bytes:
        """The datasheet every /d/<i>.pdf serves."""
        return self._pdf

    def page(self, i: int, keep: bool = True) -> bytes:
        """Page i: mostly markup, as real marketing pages are (text is ~15% of the bytes).

        `keep=False` renders without caching (writing a large site to files).
        """
        cached = self._cache.get(i)
        if cached is not None:
            return cached
        rng = random.Random(self.seed * 1_000_003 + i)
        target = rng.randint(*self.size)
        links = {(i + 1) % self.pages, (i * 7 + 3) % self.pages}
        while len(links) < min(LINKS_PER_PAGE, self.pages):  # a site smaller than a page's links
            links.add(rng.randrange(self.pages))
        link_list = sorted(links)
        nav = "".join(
            f'<li class="nav-item dropdown-item"><a class="nav-link text-decoration-none" '
            f'href="/p/{j}.html" data-track="nav-{j}">Section {j}</a></li>'
            for j in range(min(12, self.pages))
        )
        parts = [
            "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
            f"<title>Synthetic product page {i}</title>",
            "<meta name='viewport' content='width=device-width, initial-scale=1'>",
            "<style>" + ".c{margin:0 auto;padding:1rem 2rem;display:flex}" * 40 + "</style>",
            "<script>window.__CONFIG__=" + '{"experiment":"b","flags":[1,2,3]}' * 60 + ";</script>",
            "<link rel='stylesheet' href='/static/site.css'><link rel='icon' href='/favicon.ico'>",
            f"</head><body class='page page-{i} theme-light'><header class='site-header sticky-top'>",
            f"<nav class='navbar navbar-expand-lg'><ul class='navbar-nav me-auto mb-2'>{nav}</ul></nav>",
            f"</header><main id='content' class='container-fluid px-0'><h1 class='display-4'>Product page {i}</h1>",
            "<img src='/static/logo.png' alt=''>",
            *(
                f"<img src='/img/{i}-{n}.jpg' srcset='/img/{i}-{n}.jpg 1x' alt='Product shot {n}'>"
                for n in range(IMAGES_PER_PAGE)
            ),
        ]
        size = sum(len(p) for p in parts)
        while size < target:
            j = link_list.pop() if link_list else rng.randrange(self.pages)
            words = " ".join(self.text.words_for(rng, 24))
            card = (
                "<div class='row g-4 align-items-stretch'><div class='col-12 col-md-6 col-lg-4'>"
                "<div class='card h-100 shadow-sm border-0 rounded-3' data-analytics='card'>"
                "<div class='card-body d-flex flex-column p-4'>"
                f"<h3 class='card-title h5 fw-semibold mb-3'>Capability {j}</h3>"
                f"<p class='card-text text-muted small lh-base'>{words}</p>"
                f"<a class='btn btn-outline-primary stretched-link mt-auto' href='/p/{j}.html' "
                f"aria-label='Learn more about capability {j}'>Learn more</a>"
                "</div></div></div></div>\n"
            )
            parts.append(card)
            size += len(card)
        parts.extend(f"<a class='footer-link' href='/p/{j}.html'>more {j}</a> " for j in link_list)
        if i % PDF_EVERY == 0:
            parts.append(f"<p><a href='/d/{i}.pdf'>Datasheet (PDF)</a></p>")
        parts.append(
            "</main><footer class='site-footer'>Synthetic vendor, benchmark fixture.</footer>"
            "<script src='/static/app.js' defer></script></body></html>"
        )
        body = "".join(parts).encode("utf-8")
        if keep and len(self._cache) < 20_000:
            self._cache[i] = body
        return body

    def __call__(self, request: Incoming) -> Reply:
        path = request.path
        if path == "/robots.txt":
            return Reply(body=b"User-agent: *\nDisallow:\n", content_type="text/plain")
        if path.startswith("/p/") and path.endswith(".html"):
            try:
                i = int(path[3:-5])
            except ValueError:
                i = -1
            if 0 <= i < self.pages:
                return Reply(body=self.page(i))
        if path == "/sitemap.xml":
            return Reply(body=self.sitemap(), content_type="application/xml")
        if path.startswith("/d/") and path.endswith(".pdf"):
            return Reply(body=self._pdf, content_type="application/pdf")
        if path in self.shared:
            body, content_type = self.shared[path]
            return Reply(body=body, content_type=content_type)
        if path.startswith("/img/") and path.endswith(".jpg"):
            return Reply(body=self.image(path), content_type="image/jpeg")
        return Reply(404, b"not found")

    def image(self, path: str) -> bytes:
        """A page's own product shot: 8-30 KB, the same bytes for the same path."""
        rng = random.Random(f"{self.seed}{path}")
        return rng.randbytes(rng.randint(8_000, 30_000))

    def requisites(self) -> int:
        """Requisites a full crawl with requisites fetches: the shared ones and each page's images."""
        return len(self.shared) + self.pages * IMAGES_PER_PAGE

    def sitemap(self) -> bytes:
        """Every page and PDF, each saying it last changed on 2020-01-01."""
        if self._sitemap is None:
            entries = [f"/p/{i}.html" for i in range(self.pages)]
            entries += [f"/d/{i}.pdf" for i in range(0, self.pages, PDF_EVERY)]
            self._sitemap = (
                '<?xml version="1.0" encoding="UTF-8"?>\n'
                '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                + "".join(
                    f"<url><loc>{self.base}{e}</loc><lastmod>2020-01-01</lastmod></url>" for e in entries
                )
                + "</urlset>\n"
            ).encode()
        return self._sitemap

    def count(self) -> int:
        """Pages plus PDFs a full crawl from /p/0.html reaches (every page is linked)."""
        return self.pages + len(range(0, self.pages, PDF_EVERY))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pages", type=int, default=5000)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument(
        "--page-bytes",
        default="30000-80000",
        metavar="LOW-HIGH",
        help="size range of a page's markup (the Redis-mode test serves small pages)",
    )
    args = parser.parse_args(argv)
    low, _, high = args.page_bytes.partition("-")
    site = SyntheticSite(args.pages, size=(int(low), int(high or low)))
    for i in range(args.pages):  # pre-render: serving must not be the bottleneck
        site.page(i)
    server = LoopbackServer(site, port=args.port, etags=True).start()
    site.base = server.url
    print(server.port, flush=True)
    try:
        sys.stdin.read()  # run until the parent closes our stdin
    finally:
        server.stop()


if __name__ == "__main__":
    main()
