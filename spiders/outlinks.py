"""A page's links as written, found once: followed now, and kept for the next crawl's 304
(archive/index/links.py), which follows them without reading the page back from its WARC file."""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit

from scrapy.http import HtmlResponse, Response, TextResponse

from archive.index.links import PageLinks
from archive.text.refs import html_requisites, page_hrefs


def page_links(response: Response, requisites: bool) -> PageLinks | None:
    """The hrefs and <base> of a page, and with `requisites` what it needs to render;
    None when it cannot be parsed as markup (a 304 then reads it from the archive)."""
    if not isinstance(response, TextResponse):
        return PageLinks(None, (), () if requisites else None)
    try:
        root = response.selector.root
    except (ValueError, AttributeError):  # not parseable as HTML
        return None
    base, hrefs = page_hrefs(root)
    found: tuple[tuple[str, str], ...] | None = None
    if requisites:
        try:
            found = tuple(html_requisites(root, response.url)) if isinstance(response, HtmlResponse) else ()
        except (ValueError, AttributeError):
            found = None
    return PageLinks(base, tuple(hrefs), found)


def followed(url: str, links: PageLinks) -> list[str]:
    """The absolute URLs of the links of the page at `url`."""
    return absolute_links(urljoin(url, links.base) if links.base else url, links.hrefs)


def absolute_links(base: str, hrefs: tuple[str, ...] | list[str]) -> list[str]:
    """Resolve hrefs against `base`; the common cases skip urljoin, the spider's next largest cost."""
    parts = urlsplit(base)
    origin = f"{parts.scheme}://{parts.netloc}"
    links = []
    for href in hrefs:
        href = href.strip()
        if not href:
            continue
        if href.startswith("/") and not href.startswith("//") and "/." not in href:
            links.append(origin + href)  # path-absolute, no dot segments: RFC 3986 5.2.2
        elif href.startswith(("http://", "https://")) and "/." not in href:
            links.append(href)
        else:
            links.append(urljoin(base, href))
    return links
