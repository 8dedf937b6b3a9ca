"""Text extraction: main text without boilerplate, PDFs, and payloads that cannot be read."""

from __future__ import annotations

import pytest

from archive.demo.pdfgen import text_pdf
from archive.text.extract import extract, kind_of

PAGE = b"""<!DOCTYPE html><html><head><title> Face search | Vendor </title>
<style>.x{color:red}</style></head><body>
<header><a href="/">Home</a></header>
<nav><ul><li>Products</li><li>Pricing</li></ul></nav>
<main><h1>Face search</h1><p>Search  tens of millions
of faces.</p><div role="navigation">Breadcrumbs here</div><p hidden>secret</p></main>
<footer>Copyright vendor</footer><script>var tracking = 1;</script></body></html>"""


def test_html_main_text_leaves_out_navigation_and_scripts():
    found = extract("text/html; charset=utf-8", PAGE)
    assert found.method == "html" and found.error is None
    assert found.title == "Face search | Vendor"
    assert found.text == "Face search\nSearch tens of millions of faces."


def test_html_without_main_uses_body_minus_furniture():
    found = extract("text/html", PAGE.replace(b"<main>", b"<div>").replace(b"</main>", b"</div>"))
    assert "Search tens of millions of faces." in found.text
    assert "Products" not in found.text and "Copyright" not in found.text
    assert "tracking" not in found.text


def test_a_declarative_shadow_root_is_text_and_an_ordinary_template_is_not():
    page = (
        b"<html><body><main><claim-card><template shadowrootmode='open'><p>Matches faces in"
        b" real time.</p></template></claim-card><template><p>Row to copy</p></template></main>"
        b"</body></html>"
    )
    assert extract("text/html", page).text == "Matches faces in real time."


def test_charset_from_meta_and_from_header():
    latin1 = "<html><head><meta charset='iso-8859-1'><title>Caf\xe9</title></head><body><p>d\xe9j\xe0 vu</p></body></html>"
    assert extract("text/html", latin1.encode("latin-1")).text == "d\xe9j\xe0 vu"
    assert extract("text/html; charset=iso-8859-1", latin1.encode("latin-1")).title == "Caf\xe9"


def test_pdf_text_layer_and_title():
    found = extract("application/pdf", text_pdf([["First page"], ["Second page"]], title="Sheet"))
    assert found.method == "pdf" and found.title == "Sheet"
    assert found.text == "First page\n\f\nSecond page"


def test_broken_pdf_gives_a_reason_not_an_exception():
    found = extract("application/pdf", b"%PDF-1.4\n1 0 obj << /Type /Catalog >>\ngarbage")
    assert found.text is None
    assert found.method == "pdf" and found.error


def test_empty_and_binary_payloads():
    assert extract("text/html", b"").error == "empty document"
    assert extract("image/png", b"\x89PNG....").method == "none"
    assert kind_of(None, b"%PDF-1.7 ...") == "pdf"
    assert kind_of("application/octet-stream", b"<!DOCTYPE html><html>") == "html"


@pytest.mark.parametrize("content_type", ["text/html", "text/html; charset=utf-8", None])
def test_short_pages_in_a_single_byte_charset_keep_their_accents(content_type):
    # No charset, or a wrong one: a few accents are all the evidence there is.
    body = "<html><head><title>Caf\xe9</title></head><body><p>D\xe9j\xe0 vu</p></body></html>".encode(
        "latin-1"
    )
    found = extract(content_type, body)
    assert (found.title, found.text) == ("Caf\xe9", "D\xe9j\xe0 vu")


def test_utf8_with_one_damaged_byte_stays_utf8():
    body = "<html><title>Na\xefve caf\xe9</title><p>ok</p></html>".encode() + b"<p>\xff</p>"
    assert extract("text/html; charset=utf-8", body).title == "Na\xefve caf\xe9"
