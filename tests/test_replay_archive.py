"""Replay that looks like the page: archived styles and images, links within the archive, PDFs.

One crawl of the fixture site (the session's `crawled` archive), served by
Datasette as `spyglass serve` does, driven by headless Chromium.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import db_rows, served_archive
from .test_datasette import launch_chromium


def capture_id(crawled: dict, path: str) -> int:
    [row] = db_rows(
        crawled["data"], "SELECT id FROM captures WHERE url = ? AND via = 'live'", (crawled["base"] + path,)
    )
    return row["id"]


@pytest.fixture(scope="module")
def browser_session(crawled) -> Iterator[dict]:
    """Datasette serving the crawled archive, a browser page on it, and every request the page made."""
    from playwright.sync_api import sync_playwright

    with served_archive(crawled["data"]) as base, sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            requests: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            dialogs: list[str] = []
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            yield {
                "base": base,
                "page": page,
                "requests": requests,
                "dialogs": dialogs,
                "hits_before": dict(crawled["site"].hits),
            }
        finally:
            browser.close()


def archived_frame(page, capture: int):  # noqa: ANN001, ANN201 - Playwright objects
    page.wait_for_load_state("networkidle")
    return next(f for f in page.frames if f.url.endswith(f"/-/spyglass/archived/{capture}"))


def click_in_copy(session: dict, capture: int, link: str) -> None:
    """Open a capture's replay page and click a link inside its archived copy."""
    page = session["page"]
    page.goto(f"{session['base']}/-/spyglass/replay/{capture}")
    page.wait_for_load_state("networkidle")
    page.frame_locator("iframe").get_by_role("link", name=link).click()


def test_archived_copy_renders_with_its_own_styles_and_images_and_runs_nothing(browser_session, crawled):
    page, base = browser_session["page"], browser_session["base"]
    product = capture_id(crawled, "/products/recognize/")
    page.goto(f"{base}/-/spyglass/replay/{product}")
    frame = archived_frame(page, product)
    style = frame.eval_on_selector  # computed values, read in Playwright's own isolated world
    # The page's stylesheet applied, and the one it @imports.
    assert style(".site-header", "e => getComputedStyle(e).backgroundColor") == "rgb(29, 39, 51)"
    assert style("h1", "e => getComputedStyle(e).color") == "rgb(12, 74, 110)"
    assert style("body", "e => getComputedStyle(e).fontFamily").startswith("Georgia")
    # The background image the stylesheet names, and the srcset image, came from the archive.
    hero = style(".hero", "e => getComputedStyle(e).backgroundImage")
    assert hero.startswith(f'url("{base}/-/spyglass/load?') and "hero.png" in hero
    shot = frame.eval_on_selector("img.product-shot", "e => [e.complete, e.naturalWidth, e.currentSrc]")
    assert shot[0] and shot[1] == 480 and shot[2].startswith(f"{base}/-/spyglass/load?")
    loaded = [u for u in browser_session["requests"] if "hero.png" in u]
    assert loaded and all(u.startswith(base) for u in loaded)
    # The archived script did not run: it would mark the page and retitle it.
    assert frame.evaluate("document.documentElement.dataset.scripted") is None
    assert frame.title() == "Northwind Recognize: image and video analysis"
    page.screenshot(
        path=str(Path(os.environ.get("SPYGLASS_SCREENSHOTS", crawled["data"])) / "replay-styled.png")
    )
    assert all(u.startswith(base) for u in browser_session["requests"]), browser_session["requests"]
    assert crawled["site"].hits == browser_session["hits_before"]  # nothing reached the live site
    assert browser_session["dialogs"] == []
    # The icon's second name was archived as a revisit of the first: served with its bytes.
    [icon] = db_rows(
        crawled["data"], "SELECT sha256 FROM captures WHERE url = ?", (crawled["base"] + "/favicon.png",)
    )
    apple = frame.eval_on_selector("link[rel=apple-touch-icon]", "e => e.href")
    assert hashlib.sha256(page.request.get(apple).body()).hexdigest() == icon["sha256"]


def test_a_link_clicked_in_an_archived_copy_opens_the_archived_target(browser_session, crawled):
    page, base = browser_session["page"], browser_session["base"]
    product, faq = (
        capture_id(crawled, "/products/recognize/"),
        capture_id(crawled, "/products/recognize/faqs/"),
    )
    click_in_copy(browser_session, product, "frequently asked questions")
    page.wait_for_url(f"{base}/-/spyglass/replay/{faq}?from={product}")  # the page it was followed in
    # The banner names the capture now shown, and the frame shows it.
    # The banner's line names the capture now shown; its fold (closed) holds the details.
    assert page.inner_text("summary a.capture-page") == f"capture {faq}"
    assert page.text_content(".capture-id") == str(faq)
    assert page.text_content(".original-url") == crawled["base"] + "/products/recognize/faqs/"
    assert archived_frame(page, faq).inner_text("h1") == "Northwind Recognize: frequently asked questions"
    assert crawled["site"].hits == browser_session["hits_before"]


def test_a_link_to_an_archived_redirect_opens_where_it_led(browser_session, crawled):
    page, base = browser_session["page"], browser_session["base"]
    press = capture_id(crawled, "/press/2016-11-30-introducing-recognize/")
    redirect, product = (
        capture_id(crawled, "/products/recognise/"),
        capture_id(crawled, "/products/recognize/"),
    )
    click_in_copy(browser_session, press, "the old product address")
    page.wait_for_url(f"{base}/-/spyglass/replay/{product}?redirected_from={redirect}&from={press}")
    assert page.inner_text("summary a.capture-page") == f"capture {product}"
    assert f"capture {redirect}, status 301" in page.inner_text(".redirected")


def test_a_link_to_a_page_never_archived_explains_and_offers_the_live_url(browser_session, crawled):
    page, base = browser_session["page"], browser_session["base"]
    about = capture_id(crawled, "/about/")
    click_in_copy(browser_session, about, "product roadmap")
    page.wait_for_url(f"{base}/-/spyglass/goto?**")
    roadmap = crawled["base"] + "/internal/roadmap/"  # disallowed by robots.txt: never captured
    assert page.title() == f"Not archived: {roadmap}"
    assert "Spyglass never captured" in page.inner_text("main")
    assert page.get_attribute("a.live-url", "href") == roadmap
    assert page.get_attribute("a.wayback-url", "href").endswith(f"/{roadmap}")
    # The way back, the nearest page the archive holds of the site, and the Wayback Machine's calendar.
    assert page.get_attribute("a.way-back", "href") == f"/-/spyglass/replay/{about}"
    assert page.get_attribute("a.wayback-calendar", "href") == f"https://web.archive.org/web/*/{roadmap}"
    assert page.get_attribute("a.nearest-capture", "href").startswith("/-/spyglass/replay/")
    assert crawled["site"].hits == browser_session["hits_before"]


def test_a_pdf_capture_shows_its_text_and_links_to_the_archived_file(browser_session, crawled):
    page, base = browser_session["page"], browser_session["base"]
    pdf = capture_id(crawled, "/docs/recognize-datasheet.pdf")
    [row] = db_rows(crawled["data"], "SELECT sha256 FROM captures WHERE id = ?", (pdf,))
    page.goto(f"{base}/-/spyglass/replay/{pdf}")
    assert page.locator("iframe").count() == 0  # no frame a PDF could break
    pages = page.locator("section.pdf-page").all_inner_texts()
    assert len(pages) == 2 and "Person tracking: follow individuals" in pages[0]
    assert "Deployment and pricing" in pages[1]
    for link in ("a.open-pdf", "a.download"):
        response = page.request.get(base + page.get_attribute(link, "href"))
        assert response.ok and response.body()[:5] == b"%PDF-"
        assert hashlib.sha256(response.body()).hexdigest() == row["sha256"]
    inline = page.request.get(base + page.get_attribute("a.open-pdf", "href"))
    assert inline.headers["content-type"] == "application/pdf"
    assert inline.headers["content-disposition"].startswith("inline")
    download = page.request.get(base + page.get_attribute("a.download", "href"))
    assert download.headers["content-disposition"] == 'attachment; filename="recognize-datasheet.pdf"'


def test_rewriting_points_every_reference_into_the_archive_and_drops_what_would_leave_it():
    import lxml.html

    from archive.publish.rewrite import Targets, rewrite_html, rewrite_stylesheet

    targets = Targets(resource=lambda url, kind: f"/R/{kind}/{url}", navigate=lambda url: f"/G/{url}")
    page = b"""<!DOCTYPE html><html><head><base href="https://v.example/en/" target="_blank">
<meta http-equiv="Refresh" content="0; url=https://elsewhere.example/">
<link rel="stylesheet" href="s.css" integrity="sha384-abc" crossorigin="anonymous">
<style>.a { background: url(a.png) }</style><script src="app.js"></script></head>
<body style="background: url('b.png')"><a href="p.html#sec" ping="https://track.example/">p</a>
<a href="#top">top</a><a href="javascript:alert(1)">js</a><a href="mailto:x@example.org">mail</a>
<img src="i.png" srcset="i.png 1x, https://cdn.example/i2.png 2x"><iframe src="/frame"></iframe></body></html>"""
    out = rewrite_html(page, "text/html; charset=utf-8", "https://v.example/en/page", targets)
    assert out.startswith(b"<!DOCTYPE html>")  # standards mode kept
    root = lxml.html.document_fromstring(out)
    assert not root.xpath("//base | //meta[@http-equiv]") and b"elsewhere.example" not in out
    [sheet] = root.xpath("//link")
    assert sheet.get("href") == "/R/stylesheet/https://v.example/en/s.css"
    assert sheet.get("integrity") is None  # the rewritten bytes would fail the original's hash
    assert "/R/image/https://v.example/en/a.png" in root.xpath("string(//style)")
    assert root.xpath("string(//script/@src)") == "/R/script/https://v.example/en/app.js"
    assert "/R/image/https://v.example/en/b.png" in root.find("body").get("style")
    links = root.xpath("//a")
    assert (links[0].get("href"), links[0].get("target"), links[0].get("ping")) == (
        "/G/https://v.example/en/p.html#sec",
        "_top",
        None,
    )
    assert (links[1].get("href"), links[1].get("target")) == ("#top", None)  # scrolls the copy
    assert links[2].get("href") is None and links[3].get("href") == "mailto:x@example.org"
    img = root.xpath("//img")[0]
    assert img.get("src") == "/R/image/https://v.example/en/i.png"
    assert (
        img.get("srcset") == "/R/image/https://v.example/en/i.png 1x, /R/image/https://cdn.example/i2.png 2x"
    )
    assert root.xpath("string(//iframe/@src)") == "/R/frame/https://v.example/frame"
    # A stylesheet keeps every byte but its references (here a latin-1 comment).
    css = b"/* caf\xe9 */ @import 'x.css'; .b { background: url(../img/b.png) }"
    assert rewrite_stylesheet(css, "https://v.example/css/s.css", targets) == (
        b'/* caf\xe9 */ @import "/R/stylesheet/https://v.example/css/x.css"; '
        b'.b { background: url("/R/image/https://v.example/img/b.png") }'
    )
