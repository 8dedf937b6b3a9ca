"""The reporter's Datasette on the demo archive: the path through it in a real browser, every link, Memento.

Screenshots of each step are test artifacts: they go to $SPYGLASS_SCREENSHOTS,
else to screenshots/reporter/ at the project root (gitignored); the test prints where.
The few the README shows are taken by the same run into docs/screenshots/ (tracked),
so they show the current build.
"""

from __future__ import annotations

import io
import os
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser
from urllib.parse import quote, urljoin, urlsplit

import pytest
from markupsafe import escape

from archive.history.sightings import page_key

from .conftest import ROOT, db_rows, served_archive
from .test_datasette import launch_chromium
from .test_history_browser import screenshot_dir

PRODUCT_PATH = "/products/recognize/"
DOCS_SHOTS = ROOT / "docs" / "screenshots"
# What README.md shows, each taken by a browser test below (the diff by tests/test_visual_diff.py).
README_SHOTS = ("front-page", "replay", "document-page", "diff")


def readme_screenshot(page, name: str) -> None:
    """The viewport as the README shows it, reduced to a palette to stay small: into
    docs/screenshots/NAME.png when the README's test command runs (scripts/test sets
    SPYGLASS_README_SHOTS=1), else beside the other screenshots, so a test run from
    a branch leaves the tracked images alone."""
    from PIL import Image

    assert name in README_SHOTS, f"{name} is not a screenshot the README shows"
    folder = DOCS_SHOTS if os.environ.get("SPYGLASS_README_SHOTS") == "1" else screenshot_dir() / "readme"
    folder.mkdir(exist_ok=True)
    image = Image.open(io.BytesIO(page.screenshot())).convert("RGB").quantize(colors=64)
    image.save(folder / f"{name}.png", optimize=True)


@pytest.fixture(scope="module")
def served(demo_archive) -> Iterator[str]:
    with served_archive(demo_archive) as base:
        yield base


def product_url(demo_archive) -> str:
    return db_rows(
        demo_archive, "SELECT page_url FROM captures WHERE page_url LIKE ? LIMIT 1", (f"%{PRODUCT_PATH}",)
    )[0]["page_url"]


def test_a_reporter_searches_reads_cites_and_follows_in_a_real_browser(served, demo_archive, capsys):
    from playwright.sync_api import expect, sync_playwright

    shots = screenshot_dir() / "reporter"
    shots.mkdir(exist_ok=True)
    with capsys.disabled():
        print(f"\nscreenshots of the reporter's path: {shots}")
    problems: list[str] = []
    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            context.grant_permissions(["clipboard-read", "clipboard-write"], origin=served)
            page = context.new_page()
            page.on(
                "console",
                lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None,
            )
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.on("requestfailed", lambda r: problems.append(f"failed request: {r.url}"))
            page.on(
                "response",
                lambda r: problems.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None,
            )

            def shot(name: str) -> None:
                page.screenshot(path=str(shots / f"{name}.png"), full_page=True)

            # 1. Search from the front page.
            page.goto(served + "/")
            page.fill("#spyglass-q", "person tracking")
            shot("01-front-page")
            readme_screenshot(page, "front-page")
            page.click("form.spyglass-search input[type=submit]")
            page.wait_for_load_state()
            assert "/-/spyglass/search?q=person+tracking" in page.url
            product = page.locator(
                "article.result-page",
                has=page.locator(".page-url", has_text=re.compile(re.escape(PRODUCT_PATH) + "$")),
            )
            assert product.locator("mark").first.inner_text().lower() == "person"
            shot("02-search-results")

            # 2. Open the Wayback version that has the phrase.
            product.locator("li.via-wayback a.as-of").first.click()
            page.wait_for_load_state()
            # The phrase searched for follows the reader, on to the capture page's timeline link.
            found = re.search(r"/spyglass/captures/(\d+)\?phrase=person\+tracking$", page.url)
            assert found
            capture_id = int(found[1])
            assert "phrase=person+tracking" in page.locator(
                "dd.page-url a", has_text="timeline"
            ).get_attribute("href")
            row = db_rows(demo_archive, "SELECT * FROM captures WHERE id = ?", (capture_id,))[0]
            assert row["via"] == "wayback" and "person tracking" in row["text"].lower()

            # 3. Read the as-of date and the citation, and copy it.
            assert page.locator("dd.as-of").inner_text().startswith(row["as_of_at"])
            citation = page.input_value("#spyglass-citation")
            snapshot = f"https://web.archive.org/web/{row['wayback_timestamp']}/"
            assert re.search(r"web\.archive\.org/web/\d{14}/", citation) and snapshot in citation
            page.click("button[data-copy=spyglass-citation]")
            expect(page.locator("button[data-copy=spyglass-citation]")).to_have_text("Copied")
            assert page.evaluate("navigator.clipboard.readText()") == citation
            shot("03-capture-page-cited")

            # 4. The archived copy, in its sandboxed frame.
            page.click("a.view-archived")
            page.wait_for_load_state()
            assert page.url.endswith(f"/-/spyglass/replay/{capture_id}")
            assert page.locator("iframe[sandbox]").count() == 1
            frame = next(f for f in page.frames if f.url.endswith(f"/-/spyglass/archived/{capture_id}"))
            assert "Person tracking" in frame.inner_text("body")
            shot("04-archived-copy")

            # 5. The page's timeline, and the diff where the phrase was removed.
            page.go_back()
            page.locator("dd.page-url a", has_text="timeline").click()
            page.wait_for_load_state()
            assert "/-/spyglass/timeline?" in page.url
            shot("05-timeline")
            removal = page.locator(
                "td", has=page.locator("span.phrase-event", has_text='"person tracking" disappeared')
            )
            removal.locator("a").first.click()
            page.wait_for_load_state()
            assert "/-/spyglass/diff?change=" in page.url
            removed = " ".join(page.locator("table.diff .del").all_inner_texts())
            assert "Person tracking lets agencies follow persons of interest" in removed
            shot("06-diff-phrase-removed")

            # 6. A document result, its agency, and the agency's mentions.
            page.goto(served + "/")
            page.fill("#spyglass-q", "face matching")
            page.click("form.spyglass-search input[type=submit]")
            page.wait_for_load_state()
            document = page.locator("article.result-document").first
            assert document.locator(".pages mark").count() >= 1
            shot("07-document-results")
            agency = document.locator("a.agency").inner_text()
            document.locator("a.agency").click()
            page.wait_for_load_state()
            assert page.locator("h1").inner_text() == f"Agency: {agency}"
            mentions = page.locator("table.mentions tbody tr")
            expected = db_rows(demo_archive, "SELECT count(*) AS n FROM mentions WHERE agency = ?", (agency,))
            assert mentions.count() == expected[0]["n"] > 0
            assert page.locator("#releases").count() == 1
            shot("08-agency-page")

            # 7. The document page itself: its pages, its archived file, its citation.
            page.locator("ul.documents li > a").first.click()
            page.wait_for_load_state()
            assert re.search(r"/spyglass/documents/\d+", page.url)
            assert page.locator("section.document-page").count() >= 1
            assert page.locator("a.view-archived").count() == 1
            shot("09-document-page")
        finally:
            browser.close()
    assert problems == []


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        href = dict(attrs).get("href") if tag in ("a", "link") else None
        if href and not href.startswith(("#", "mailto:", "javascript:")):
            self.links.append(href)


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url), timeout=30) as response:
            kind = response.headers.get("Content-Type", "")
            return response.status, response.read().decode() if "html" in kind else ""
    except urllib.error.HTTPError as exc:
        return exc.code, ""


def test_every_link_on_the_front_page_and_one_level_deep_works(served, demo_archive):
    """The front page, the search, capture, document and browse pages, and every page they link to."""
    capture = db_rows(demo_archive, "SELECT id FROM captures WHERE via = 'wayback' LIMIT 1")[0]["id"]
    document = db_rows(demo_archive, "SELECT id FROM documents LIMIT 1")[0]["id"]
    agency = db_rows(demo_archive, "SELECT agency FROM releases LIMIT 1")[0]["agency"]
    starts = [
        "/",
        "/-/spyglass/search?q=person+tracking",
        "/-/spyglass/search?q=face+matching",
        f"/spyglass/captures/{capture}",
        f"/spyglass/documents/{document}",
        f"/-/spyglass/agency?name={quote(agency)}",
        "/-/spyglass/vendor?name=Northwind+Cloud",
        "/-/spyglass/product?name=Northwind+Recognize",
        "/spyglass/captures",
        "/spyglass/releases",
    ]
    checked: dict[str, int] = {}
    for start in starts:
        status, html = _get(served + start)
        assert status == 200, start
        parser = _Links()
        parser.feed(html)
        for href in parser.links:
            url = urljoin(served + start, href).split("#")[0]
            if urlsplit(url).netloc != urlsplit(served).netloc or url in checked:
                continue  # live pages and the Wayback Machine are not ours to fetch
            checked[url] = _get(url)[0]
    broken = {url: status for url, status in checked.items() if status >= 400}
    assert broken == {} and len(checked) > 100


def test_canned_query_filters_with_known_values_are_choice_lists(served, demo_archive):
    vendors = sorted(
        {r["vendor"] for r in db_rows(demo_archive, "SELECT vendor FROM sources WHERE vendor != ''")}
    )
    status, html = _get(served + "/spyglass/search?q=face&vendor=" + quote(vendors[0]))
    assert status == 200
    select = re.search(r'<select id="qp\d+" name="vendor">(.*?)</select>', html, re.S)
    assert select, "the vendor filter is not a choice list"
    options = re.findall(r'<option value="([^"]*)"( selected)?>', select.group(1))
    assert [value for value, _ in options] == ["", *vendors]  # "(any)" first, then every vendor
    assert [value for value, chosen in options if chosen] == [vendors[0]]
    assert re.search(r'<select id="qp\d+" name="source">', html)
    assert re.search(r'<input type="text" id="qp\d+" name="q" value="face">', html)  # free text stays free
    status, html = _get(served + "/spyglass/search_changes?q=tracking&side=removed")
    assert status == 200 and re.search(r'<option value="removed" selected>', html)
    # An agency can be any agency (one the Atlas names, say): typed, with the known ones suggested.
    agency = db_rows(demo_archive, "SELECT agency FROM releases LIMIT 1")[0]["agency"]
    status, html = _get(served + "/spyglass/about_agency?agency=Elsewhere+Police")
    assert status == 200
    assert re.search(r'<input type="text" id="qp\d+" name="agency" value="Elsewhere Police" list="', html)
    assert f'<option value="{escape(agency)}">' in html


def test_timemap_lists_every_capture_and_the_timegate_picks_the_closest(served, demo_archive):
    url = product_url(demo_archive)
    expected = db_rows(demo_archive, "SELECT id, as_of_at FROM captures WHERE status = 200 ORDER BY as_of_at")
    expected = [
        r
        for r in expected
        if page_key(
            db_rows(demo_archive, "SELECT page_url FROM captures WHERE id = ?", (r["id"],))[0]["page_url"]
        )
        == page_key(url)
    ]
    with urllib.request.urlopen(f"{served}/-/spyglass/timemap/link/{url.rstrip('/')}") as response:
        assert response.headers["Content-Type"] == "application/link-format"
        body = response.read().decode()
    # RFC 6690 link format: <URI>; param="value"; ..., one link after another, separated by commas.
    links = re.findall(r'<([^>]+)>((?:\s*;\s*[a-z]+="[^"]*")+)\s*(?:,|$)', body.strip())
    assert len(links) == body.count("<") and links
    params = [dict(re.findall(r'([a-z]+)="([^"]*)"', p)) for _, p in links]
    assert params[0]["rel"] == "original" and links[0][0] == url
    assert params[1]["rel"] == "self" and params[1]["type"] == "application/link-format"
    assert params[2]["rel"] == "timegate"
    mementos = [(link, p) for (link, _), p in zip(links, params) if "memento" in p["rel"].split()]
    assert [int(link.rsplit("/", 1)[1]) for link, _ in mementos] == [r["id"] for r in expected]
    assert [parsedate_to_datetime(p["datetime"]).strftime("%Y-%m-%dT%H:%M:%S") for _, p in mementos] == [
        r["as_of_at"][:19] for r in expected
    ]
    assert "first" in mementos[0][1]["rel"] and "last" in mementos[-1][1]["rel"]

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    for asked, wanted in (
        ("Thu, 01 Mar 2018 00:00:00 GMT", "2018-06-01"),
        ("Sun, 01 Jan 2012 00:00:00 GMT", expected[0]["as_of_at"][:10]),
        ("Fri, 01 Nov 2019 00:00:00 GMT", "2019-09-01"),
    ):
        request = urllib.request.Request(
            f"{served}/-/spyglass/timegate/{url}", headers={"Accept-Datetime": asked}
        )
        with pytest.raises(urllib.error.HTTPError) as redirect:
            opener.open(request)
        assert redirect.value.code == 302 and redirect.value.headers["Vary"].lower().startswith(
            "accept-datetime"
        )
        location = redirect.value.headers["Location"]
        chosen = next(r for r in expected if location.endswith(f"/-/spyglass/archived/{r['id']}"))
        assert chosen["as_of_at"].startswith(wanted), (asked, chosen)
        assert (
            'rel="original"' in redirect.value.headers["Link"]
            and 'rel="timemap"' in redirect.value.headers["Link"]
        )
        # Relative: no public URL is configured, and the Host header is never echoed.
        assert location.startswith("/-/spyglass/archived/")
        with urllib.request.urlopen(served + location) as memento:
            assert parsedate_to_datetime(memento.headers["Memento-Datetime"]).strftime("%Y-%m-%d") == wanted
            assert f'<{url}>; rel="original"' in memento.headers["Link"]
    bad = urllib.request.Request(
        f"{served}/-/spyglass/timegate/{url}", headers={"Accept-Datetime": "yesterday"}
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        opener.open(bad)
    assert refused.value.code == 400
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(f"{served}/-/spyglass/timemap/link/http://never.example/")
    assert missing.value.code == 404


def test_replay_orients_the_reader_in_a_real_browser(served, demo_archive):
    """The one-line banner (its colour, previous/next version, the fold), the notice when a followed link
    jumps years, and the Not-archived page's way back."""
    from playwright.sync_api import expect, sync_playwright

    shots = screenshot_dir() / "reporter"
    shots.mkdir(exist_ok=True)
    key = page_key(product_url(demo_archive))
    versions = db_rows(
        demo_archive,
        "SELECT first_capture_id FROM versions WHERE page_key = ? ORDER BY first_seen_at",
        (key,),
    )
    assert len(versions) >= 3
    middle, following = versions[1]["first_capture_id"], versions[2]["first_capture_id"]
    oldest = db_rows(
        demo_archive,
        "SELECT c.id FROM captures c JOIN page_sightings s ON s.capture_id = c.id "
        "WHERE c.via = 'wayback' AND c.content_type LIKE 'text/html%' ORDER BY s.seen_at LIMIT 1",
    )[0]["id"]
    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.goto(f"{served}/-/spyglass/replay/{middle}")
            banner = page.locator("details.spyglass-banner")
            box = banner.bounding_box()
            assert box["y"] == 0 and box["height"] < 40  # one line, at the top
            colour = banner.evaluate("b => getComputedStyle(b).backgroundColor")
            assert colour == "rgb(255, 228, 92)"
            expect(banner.locator("a.previous-version")).to_be_visible()
            expect(banner.locator("a.timeline")).to_be_visible()
            expect(page.locator("pre.citation")).to_be_hidden()
            page.locator("summary.banner-line .cite-toggle").click()
            expect(page.locator("pre.citation")).to_be_visible()  # unfolded: details and citation
            page.screenshot(path=str(shots / "10-replay-banner-open.png"))
            readme_screenshot(page, "replay")
            banner.locator("a.next-version").click()
            page.wait_for_url(f"{served}/-/spyglass/replay/{following}")
            page.screenshot(path=str(shots / "11-replay-next-version.png"))

            # A link followed in a 2016 memento lands on a page captured only this year.
            page.goto(f"{served}/-/spyglass/replay/{oldest}")
            page.frame_locator("iframe").locator("a[href*='/-/spyglass/goto']").first.click()
            page.wait_for_url(re.compile(rf"/-/spyglass/replay/\d+\?from={oldest}$"))
            notice = page.locator("p.time-jump")
            expect(notice).to_be_visible()
            assert re.search(
                r"This capture is \d+ years later than the page you came from", notice.inner_text()
            )
            page.screenshot(path=str(shots / "12-replay-time-jump.png"))
            notice.locator("a").click()
            page.wait_for_url(f"{served}/-/spyglass/replay/{oldest}")

            # A link to a page never archived: the way back, the nearest capture, the Wayback calendar.
            missing = product_url(demo_archive) + "never-archived/"
            page.goto(
                f"{served}/-/spyglass/goto?at=20180101000000&url={quote(missing, safe='')}&from={oldest}"
            )
            assert page.title() == f"Not archived: {missing}"
            assert (
                page.get_attribute("a.wayback-calendar", "href") == f"https://web.archive.org/web/*/{missing}"
            )
            page.locator("a.nearest-capture").click()
            page.wait_for_url(re.compile(r"/-/spyglass/replay/\d+\?from="))
            page.go_back()
            page.locator("a.way-back").click()
            page.wait_for_url(f"{served}/-/spyglass/replay/{oldest}")
        finally:
            browser.close()


def test_the_front_page_timeline_box_takes_a_bare_host_and_path(served, demo_archive):
    from playwright.sync_api import sync_playwright

    bare = product_url(demo_archive).split("://", 1)[1].rstrip("/")  # 127.0.0.1:PORT/products/recognize
    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            page = browser.new_page()
            page.goto(served + "/")
            form = page.locator("#claims form")
            form.locator("input[name=url]").fill(bare)
            form.locator("input[name=phrase]").fill("person tracking")
            form.locator("input[type=submit]").click()
            page.wait_for_url("**/-/spyglass/timeline?**")
            assert page.locator("h1").inner_text() == "Timeline of a page"
            assert page.locator("svg.spyglass-timeline a.version.has-phrase").count() >= 1
        finally:
            browser.close()


def test_a_document_page_shows_its_image_beside_its_text_with_mentions_marked(served, demo_archive):
    from playwright.sync_api import expect, sync_playwright

    shots = screenshot_dir() / "reporter"
    shots.mkdir(exist_ok=True)
    document = db_rows(
        demo_archive,
        "SELECT d.id, m.term, m.page_number FROM documents d JOIN mentions m ON m.document_id = d.id "
        "WHERE d.content_type = 'application/pdf' ORDER BY d.page_count DESC, d.id LIMIT 1",
    )[0]
    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(f"{served}/spyglass/documents/{document['id']}")
            page.locator("ul.mentions a.to-page").first.click()
            assert page.url.endswith(f"#page-{document['page_number']}")
            section = page.locator(f"section#page-{document['page_number']}")
            image = section.locator(".page-image img")
            expect(image).to_be_visible()
            image.scroll_into_view_if_needed()
            page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
            assert image.evaluate("img => img.naturalWidth") == 900  # rendered from the archived PDF, bounded
            expect(section.locator("mark.mention").first).to_have_text(
                re.compile(re.escape(document["term"]), re.I)
            )
            # The mention drawn on the image, where its box (in the image's pixels) says it is.
            highlight = section.locator("svg.mention-boxes rect.mention-box").first
            assert highlight.get_attribute("data-term") == document["term"]
            drawn, shown = highlight.bounding_box(), image.bounding_box()
            scale = (shown["width"] - 2) / 900  # the image's content box, inside its 1 px border
            assert abs(drawn["x"] - (shown["x"] + 1 + float(highlight.get_attribute("x")) * scale)) < 2
            assert abs(drawn["y"] - (shown["y"] + 1 + float(highlight.get_attribute("y")) * scale)) < 2
            assert drawn["y"] + drawn["height"] < shown["y"] + shown["height"]
            page.screenshot(path=str(shots / "13-document-page-image.png"))
            page.evaluate("window.scrollBy(0, -80)")  # the page's heading too
            readme_screenshot(page, "document-page")
        finally:
            browser.close()


def test_the_readme_shows_the_screenshots_the_browser_run_takes():
    shown = re.findall(r"\]\((docs/screenshots/[\w-]+\.png)\)", (ROOT / "README.md").read_text())
    assert sorted(shown) == sorted(f"docs/screenshots/{name}.png" for name in README_SHOTS)
    assert all((ROOT / path).is_file() for path in shown)
