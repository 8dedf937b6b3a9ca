"""Every same-site link two clicks from the demo archive's front page answers, none 404 or 5xx.

Fetched with urllib, not the browser, so the walk stays quick; the walk is
bounded (a few URLs per path, a cap overall) so a table's sort and facet
links cannot make it endless.
"""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest

from archive.history.notpages import is_page

from .conftest import db_rows, served_archive

PER_PATH = 4  # URLs walked per Datasette path: its sort, facet and page links vary only the query
MOST = 1500


class Links(HTMLParser):
    """The href of every <a> on a page."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        href = dict(attrs).get("href") if tag == "a" else None
        if href and not href.startswith(("#", "mailto:", "javascript:", "data:")):
            self.links.append(href)


def fetch(url: str) -> tuple[int, str]:
    """The status and, for HTML, the text of `url`."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url), timeout=60) as response:
            kind = response.headers.get("Content-Type", "")
            return response.status, response.read().decode() if "html" in kind else ""
    except urllib.error.HTTPError as exc:
        return exc.code, ""


def walk(base: str, clicks: int) -> dict[str, tuple[int, str]]:
    """Status of every same-site URL up to `clicks` clicks from `base`/, with the page it was found on."""
    seen: dict[str, tuple[int, str]] = {}
    per_path: Counter[str] = Counter()
    level = [(base + "/", "")]
    for depth in range(clicks + 1):
        following = []
        for url, found_on in level:
            if url in seen or len(seen) >= MOST:
                continue
            status, html = fetch(url)
            seen[url] = (status, found_on)
            if depth == clicks or not html:
                continue
            parser = Links()
            parser.feed(html)
            for href in parser.links:
                target = urljoin(url, href).split("#")[0]
                if urlsplit(target).netloc != urlsplit(base).netloc or target in seen:
                    continue  # live pages and the Wayback Machine are not ours to fetch
                # Reader pages (/-/spyglass/...) differ by their query (?name=, ?url=): each is walked.
                path = urlsplit(target).path
                key = target if path.startswith("/-/") else path
                if per_path[key] < PER_PATH:
                    per_path[key] += 1
                    following.append((target, url))
        level = following
    return seen


@pytest.fixture(scope="module")
def served(demo_archive) -> Iterator[str]:
    with served_archive(demo_archive) as base:
        yield base


def test_no_link_two_clicks_from_the_front_page_is_broken(served):
    seen = walk(served, clicks=2)
    broken = {url: found for url, found in seen.items() if found[0] >= 400}
    assert broken == {} and len(seen) > 150


def test_a_browser_reads_the_timemap_as_text_and_a_memento_client_gets_link_format(served, demo_archive):
    page = db_rows(demo_archive, "SELECT page_url FROM page_sightings LIMIT 1")[0]["page_url"]
    url = f"{served}/-/spyglass/timemap/link/{page}"
    browser = urllib.request.Request(url, headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    with urllib.request.urlopen(browser) as shown, urllib.request.urlopen(url) as client:
        assert shown.headers["Content-Type"] == "text/plain; charset=utf-8"
        assert shown.headers["Content-Disposition"].startswith("inline")
        assert client.headers["Content-Type"] == "application/link-format"
        assert shown.read() == client.read()


def test_proof_and_wayback_urls_open_archived_copies(served, demo_archive):
    status, html = fetch(f"{served}/spyglass/agency_products")
    proofs = re.findall(r'<td class="col-proof_url[^"]*"><a href="([^"]+)" class="archived-url"', html)
    assert status == 200 and proofs and all(p.startswith("/spyglass/document_pages/") for p in proofs)
    change = db_rows(
        demo_archive,
        "SELECT id FROM changes WHERE from_capture_id IN "
        "(SELECT id FROM captures WHERE via = 'wayback') LIMIT 1",
    )[0]["id"]
    status, html = fetch(f"{served}/-/spyglass/diff?change={change}")
    assert status == 200 and re.search(r'<a href="https://web\.archive\.org/web/\d+/', html)


@pytest.mark.parametrize(
    "url, content_type, page",
    [
        ("https://v.example/robots.txt", "text/html", False),
        ("https://v.example/sitemap.xml", None, False),
        ("https://v.example/sitemap-products.xml.gz", "application/gzip", False),
        ("https://v.example/blog/feed/", "text/html", False),
        ("https://v.example/news.rss", None, False),
        ("https://v.example/updates", "application/atom+xml; charset=utf-8", False),
        ("https://v.example/products/recognize/", "text/html; charset=utf-8", True),
        ("https://v.example/policy.txt", "text/plain", True),
        ("https://v.example/feedback", "text/html", True),
    ],
)
def test_robots_sitemaps_and_feeds_are_not_pages(url, content_type, page):
    assert is_page(url, content_type) is page


def test_not_pages_are_kept_but_their_changes_are_not_reported(served, demo_archive):
    not_pages = db_rows(
        demo_archive,
        "SELECT c.substantive, c.page_url FROM changes AS c "
        "WHERE c.page_url LIKE '%/sitemap.xml' OR c.page_url LIKE '%/robots.txt'",
    )
    assert not_pages and {c["substantive"] for c in not_pages} == {0}
    for path in ("/", "/spyglass/changes_feed.atom", "/spyglass/changes_feed"):
        status, text = fetch(served + path)
        assert status == 200 and "sitemap.xml" not in text and "robots.txt" not in text, path


def test_the_verify_page_shows_commands_as_code_not_backticks(served):
    status, html = fetch(f"{served}/-/spyglass/verify/1")
    assert status == 200 and "<code>spyglass" in html and "`" not in html.split("<body")[1]


def test_a_document_page_row_reads_like_a_page(served, demo_archive):
    page = db_rows(
        demo_archive,
        "SELECT p.id, p.page_number, d.file_name, m.term FROM document_pages p "
        "JOIN documents d ON d.id = p.document_id JOIN mentions m ON m.document_id = d.id "
        "AND m.page_number = p.page_number WHERE d.content_type = 'application/pdf' LIMIT 1",
    )[0]
    status, html = fetch(f"{served}/spyglass/document_pages/{page['id']}")
    assert status == 200
    assert f"<h1>{page['file_name']}, page {page['page_number']}" in html
    assert re.search(rf'<mark class="mention">{re.escape(page["term"])}</mark>', html, re.I)
    assert 'id="spyglass-citation"' in html and "/-/spyglass/page-image/" in html
