"""Title and searchable text from archived payloads (HTML, PDF, plain text).

Main text is found with lxml by dropping navigation and page furniture: it
costs about 0.3 ms a page, where trafilatura and BeautifulSoup's get_text cost
15 ms and 8 ms (MEASURED.md), which would make extraction the crawl's
bottleneck. Extraction never raises: a payload it cannot read gets an error
string instead of text, and the capture is archived all the same.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import lxml.html
from lxml import etree
from w3lib.encoding import html_to_unicode

from archive.text.pdf import read_pdf

# Page furniture: never the main text of a page.
BOILERPLATE_TAGS = (
    "script",
    "style",
    "noscript",
    "template",
    "svg",
    "nav",
    "header",
    "footer",
    "aside",
    "form",
    "button",
    "select",
    "iframe",
    "object",
    "embed",
)
BOILERPLATE_ROLES = ("navigation", "banner", "contentinfo", "complementary", "search")
BLOCK_TAGS = (
    "p",
    "div",
    "section",
    "article",
    "main",
    "li",
    "ul",
    "ol",
    "dl",
    "dt",
    "dd",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "table",
    "tr",
    "td",
    "th",
    "br",
    "blockquote",
    "pre",
    "figure",
    "figcaption",
    "hr",
)
MAX_TEXT_CHARS = 2_000_000
# Shown the parsed page by extract_html (the writer reads its links there).
TreeHook = Callable[[etree._Element], None]
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")
_BREAK = "\ue000"  # a private-use character: never in real text, not whitespace
BLOCK_MARK = _BREAK  # what a reader of extract_html's tree (on_tree) sees at each block's end
# Matches the "<" of a block's end tag (or of <br>/<hr>): a literal first
# character keeps the scan fast, and a plain replacement string avoids a
# Python call per match.
_BLOCK_END = re.compile(
    r"<(?=/(?:" + "|".join(t for t in BLOCK_TAGS if t not in ("br", "hr")) + r")\s*>|(?:br|hr)\b)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Extracted:
    """What extraction found; `method` says how, `error` why there is no text."""

    title: str | None
    text: str | None
    method: str
    error: str | None = None


def kind_of(content_type: str | None, body: bytes) -> str:
    """'html', 'pdf', 'text' or 'other', from the Content-Type and the first bytes."""
    ctype = (content_type or "").split(";")[0].strip().lower()
    head = body[:1024].lstrip().lower()
    if ctype == "application/pdf" or body[:5] == b"%PDF-":
        return "pdf"
    if ctype in ("text/html", "application/xhtml+xml") or head.startswith((b"<!doctype html", b"<html")):
        return "html"
    if ctype.startswith("text/") or ctype in ("application/xml", "application/json"):
        return "text"
    return "other"


def extract(content_type: str | None, body: bytes, on_tree: TreeHook | None = None) -> Extracted:
    """Title and text of a payload, whatever it is; never raises. `on_tree`: see extract_html."""
    kind = kind_of(content_type, body)
    try:
        if kind == "html":
            return extract_html(body, content_type, on_tree)
        if kind == "pdf":
            return extract_pdf(body)
        if kind == "text":
            text = decode_text(body, content_type)
            return Extracted(None, _tidy(text)[:MAX_TEXT_CHARS] or None, "text")
    except Exception as exc:  # hostile payloads: never let one stop the crawl
        return Extracted(None, None, kind, f"{type(exc).__name__}: {exc}"[:500])
    return Extracted(None, None, "none")


def text_columns(content_type: str | None, body: bytes, on_tree: TreeHook | None = None) -> dict[str, Any]:
    """A capture's title, text, extraction and extraction_error columns for `body`: the writer and
    the reconciler index a page's text alike."""
    found = extract(content_type, body, on_tree)
    return {
        "title": found.title,
        "text": found.text,
        "extraction": found.method,
        "extraction_error": found.error,
    }


# Below this many undecodable bytes, charset detection is a guess.
FEW_ACCENTS = 32


def decode_text(body: bytes, content_type: str | None) -> str:
    """Decode as browsers do (BOM, header, meta), falling back to detection on bad bytes."""
    return _decode(body, content_type)[0]


def _decode(body: bytes, content_type: str | None) -> tuple[str, bool]:
    """decode_text's text, and whether it is the declared (or UTF-8) decoding with no byte replaced:
    what Scrapy's TextResponse.text is too (its guesses start where this one's do)."""
    header = f"Content-Type: {content_type}" if content_type else None
    encoding, text = html_to_unicode(header, body)
    damaged = text.count("\ufffd")
    if damaged and _never_utf8(encoding, text, body) and damaged < FEW_ACCENTS:
        # Too few bytes for detection to tell languages apart (it guesses Cyrillic
        # for "Café"): windows-1252, the web's fallback for undeclared pages.
        return body.decode("cp1252", "replace"), False
    if damaged and (_never_utf8(encoding, text, body) or (damaged > 8 and damaged * 200 > len(text))):
        # The declared (or assumed) charset is wrong: let UnicodeDammit guess from the bytes
        # (imported here: loading bs4 costs ~0.1 s, most crawls never need it).
        from bs4.dammit import UnicodeDammit

        guessed = UnicodeDammit(body, is_html=True).unicode_markup
        if guessed and guessed.count("\ufffd") < damaged:
            return guessed, False
    return text, not damaged


def _never_utf8(encoding: str, text: str, body: bytes) -> bool:
    """Decoded as UTF-8, yet not one multi-byte sequence was valid: a single-byte charset.

    A short page's one or two accents are all the evidence there is, so any
    replacement character counts here; real UTF-8 with a damaged byte still
    has valid sequences around it and is kept as UTF-8.
    """
    if encoding.replace("-", "").lower() != "utf8" or b"\xef\xbf\xbd" in body:
        return False
    return all(ch < "\x80" or ch == "\ufffd" for ch in text)


def extract_html(body: bytes, content_type: str | None = None, on_tree: TreeHook | None = None) -> Extracted:
    """Title and main text of an HTML page.

    `on_tree(root)` is shown the whole page before its furniture is dropped, when
    the tree has the very elements and attribute values Scrapy's selector would
    parse from the same text (but for the block marks, _BREAK, see _as_parsel_parses):
    the writer reads a page's links from it, so the crawler need not parse the page again.
    """
    text, plain = _decode(body, content_type)
    if not text.strip():
        return Extracted(None, None, "html", "empty document")
    # HTML whitespace is not significant: only block boundaries become line
    # breaks. One regex pass marks them before parsing (a Python loop setting
    # each element's tail was most of the cost); the text is normalised after.
    marked = _BLOCK_END.sub(_BREAK + "<", text)
    try:
        root = lxml.html.document_fromstring(marked, parser=_PARSER)
    except ValueError:  # a str with an XML encoding declaration: parse the bytes
        root = lxml.html.document_fromstring(marked.encode("utf-8"), parser=_PARSER)
    else:
        if on_tree is not None and plain and _as_parsel_parses(text):
            on_tree(root)
    title = _title(root)
    if title:
        title = title.replace(_BREAK, " ").strip() or None
    main = _main_element(root)
    for el in list(main.iter(*BOILERPLATE_TAGS)):
        if el.tag != "template" or el.get("shadowrootmode") is None:
            _drop(el)  # a declarative shadow root is what its host shows, not a template
    # The parser lowercases attribute names: a page whose source never says "role" or
    # "hidden" has no element to test, and the walk below costs a fifth of extraction.
    lowered = text.lower()
    if "role" in lowered or "hidden" in lowered:
        for el in _MARKED_HIDDEN(main):
            if (
                el.get("role") in BOILERPLATE_ROLES
                or el.get("hidden") is not None
                or el.get("aria-hidden") == "true"
            ):
                _drop(el)
    flat = " ".join(main.text_content().split())  # split() keeps _BREAK: not whitespace
    body_text = "\n".join(filter(None, map(str.strip, flat.split(_BREAK))))[:MAX_TEXT_CHARS]
    return Extracted(title, body_text or None, "html")


_PARSER = lxml.html.HTMLParser(remove_comments=True, huge_tree=False)


def _as_parsel_parses(text: str) -> bool:
    """Whether the tree just parsed from `text` holds the elements and attributes parsel's would.

    parsel (Scrapy's selector) drops NULs and parses with huge_tree, which lifts
    libxml2's limits (nesting depth, text size): a page that hit one stopped
    early here (a fatal error). A _BREAK already in the page could not be told
    from a mark. (`text` is plain: decoded as Scrapy decodes it, see _decode.)
    """
    if "\x00" in text or _BREAK in text:
        return False
    return not any(error.level >= etree.ErrorLevels.FATAL for error in _PARSER.error_log)


# Compiled once: root.xpath(text) compiles its expression on every call.
_MARKED_HIDDEN = etree.XPath(".//*[@role or @hidden or @aria-hidden]")
_OG_TITLE = etree.XPath("//meta[@property='og:title']/@content")
_ROLE_MAIN = etree.XPath("//*[@role='main']")


def _first(root: etree._Element, tag: str) -> etree._Element | None:
    """The first element named `tag` in document order (XPath's //tag[1]), without walking the rest."""
    return next(root.iter(tag), None)


def _title(root: etree._Element) -> str | None:
    for found in _title_candidates(root):
        if found is not None:
            value = found if isinstance(found, str) else found.text_content()
            value = _SPACES.sub(" ", value).strip()
            if value:
                return value[:1000]
    return None


def _title_candidates(root: etree._Element) -> Iterator[Any]:
    """The first <title>, og:title and <h1>, in that order, each looked for only if needed."""
    yield _first(root, "title")
    og = _OG_TITLE(root)
    yield og[0] if og else None
    yield _first(root, "h1")


def _main_element(root: etree._Element) -> etree._Element:
    found = _first(root, "main")
    if found is None:
        roles = _ROLE_MAIN(root)
        found = roles[0] if roles else _first(root, "article")
    if found is not None:
        return found
    body = root.find("body")
    return body if body is not None else root


def _drop(el: etree._Element) -> None:
    if el.getparent() is not None:
        el.drop_tree()


def _tidy(text: str) -> str:
    lines = (_SPACES.sub(" ", line).strip() for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def extract_pdf(body: bytes) -> Extracted:
    """Title and text layer of a PDF, pages separated by form feeds."""
    found = read_pdf(body)
    if found.error:
        return Extracted(None, None, "pdf", found.error)
    text = "\n\f\n".join(_tidy(page or "") for page in found.pages).strip()[:MAX_TEXT_CHARS]
    title = found.title or (text.splitlines()[0][:200] if text else None)
    if not text:
        return Extracted(title, None, "pdf", "no text layer")
    return Extracted(title, text, "pdf")
