"""The URLs an HTML page or a stylesheet refers to, and in what role.

One table says which attribute of which element holds a reference and what it
is for: a link a reader follows, a frame, or a page requisite (stylesheet,
image, font, script, icon, media) a browser loads to draw the page. The
crawler reads it to archive requisites; replay reads it to point every
reference into the archive. So the two can never disagree about what a page
needs.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urldefrag, urljoin

import lxml.html
from lxml import etree
from w3lib.url import safe_url_string

from archive.text.extract import decode_text

LINK = "link"  # a page the reader can go to (a, area, form, link rel=canonical...)
FRAME = "frame"  # a document drawn inside the page (iframe, frame)
STYLESHEET = "stylesheet"
IMAGE = "image"
FONT = "font"
SCRIPT = "script"
ICON = "icon"
MEDIA = "media"
REQUISITE_KINDS = (STYLESHEET, IMAGE, FONT, SCRIPT, ICON, MEDIA)

# How an attribute holds its reference.
URL = "url"
SRCSET = "srcset"  # "a.png 1x, b.png 2x"
STYLE = "style"  # a style attribute: CSS declarations with url()


@dataclass(frozen=True)
class Rule:
    """Attribute `attribute` of elements `tags` holds a reference of `kind` (None: decided by rel)."""

    tags: tuple[str, ...]
    attribute: str
    kind: str | None
    form: str = URL


RULES = (
    Rule(("a", "area"), "href", LINK),
    Rule(("form",), "action", LINK),
    Rule(("iframe", "frame"), "src", FRAME),
    Rule(("link",), "href", None),
    Rule(("link",), "imagesrcset", IMAGE, SRCSET),
    Rule(("img", "input"), "src", IMAGE),
    Rule(("img", "source"), "srcset", IMAGE, SRCSET),
    Rule(("source", "video", "audio", "track", "embed"), "src", MEDIA),
    Rule(("video",), "poster", IMAGE),
    Rule(("object",), "data", MEDIA),
    Rule(("script",), "src", SCRIPT),
    Rule(("body", "table", "tr", "td", "th"), "background", IMAGE),
    Rule(("image", "use"), "href", IMAGE),
    Rule(("image", "use"), "xlink:href", IMAGE),
)
_BY_TAG: dict[str, list[Rule]] = {}
for _rule in RULES:
    for _tag in _rule.tags:
        _BY_TAG.setdefault(_tag, []).append(_rule)
# One XPath for every element that can hold a reference: lxml walks the tree
# in C, far faster than visiting each element from Python.
_XPATH = " | ".join(
    [f"//{tag}[@{rule.attribute}]" for rule in RULES if ":" not in rule.attribute for tag in rule.tags]
    + ["//image", "//use", "//*[@style]", "//style"]
)
_ICON_RELS = {"icon", "apple-touch-icon", "apple-touch-icon-precomposed", "mask-icon"}
_PRELOAD_AS = {
    "style": STYLESHEET,
    "image": IMAGE,
    "font": FONT,
    "script": SCRIPT,
    "audio": MEDIA,
    "video": MEDIA,
    "track": MEDIA,
}


def link_kind(rel: str | None, as_: str | None = None) -> str | None:
    """What a <link> element refers to, from its rel (and `as` for preloads); None: nothing to load."""
    rels = set((rel or "").lower().split())
    if "stylesheet" in rels:
        return STYLESHEET
    if rels & _ICON_RELS:
        return ICON
    if "modulepreload" in rels:
        return SCRIPT
    if rels & {"preload", "prefetch"}:
        return _PRELOAD_AS.get((as_ or "").strip().lower())
    if rels & {"manifest", "dns-prefetch", "preconnect", "pingback"}:
        return None
    return LINK


@dataclass(frozen=True)
class Slot:
    """One place in a parsed document that holds references: an attribute, or a <style>'s text."""

    element: object
    attribute: str | None  # None: the element's text (a <style> element)
    kind: str
    form: str


def slots(root: object) -> Iterator[Slot]:
    """Every reference-holding place of an lxml HTML tree, in document order."""
    for element in root.xpath(_XPATH):  # type: ignore[attr-defined]
        tag = element.tag if isinstance(element.tag, str) else ""
        tag = tag.rsplit("}", 1)[-1].lower()
        if tag == "style":
            yield Slot(element, None, IMAGE, STYLE)
        for rule in _BY_TAG.get(tag, ()):
            if element.get(rule.attribute) is None:
                continue
            kind = rule.kind or link_kind(element.get("rel"), element.get("as"))
            if kind is not None:
                yield Slot(element, rule.attribute, kind, rule.form)
        if element.get("style") is not None:
            yield Slot(element, "style", IMAGE, STYLE)


def base_url(root: object, url: str) -> str:
    """The URL relative references resolve against: the first <base href>, else the document's."""
    found = root.xpath("string((//base[@href])[1]/@href)")  # type: ignore[attr-defined]
    return urljoin(url, found.strip()) if found and found.strip() else url


def absolute(base: str, ref: str) -> str | None:
    """`ref` resolved against `base`, fragment dropped, as the crawler requests it; None if not http(s)."""
    ref = ref.strip()
    if not ref or ref.startswith(("#", "data:", "javascript:", "mailto:", "tel:", "blob:", "about:")):
        return None
    try:
        url = safe_url_string(urldefrag(urljoin(base, ref))[0])
    except ValueError:
        return None
    return url if url.startswith(("http://", "https://")) else None


# --- srcset ------------------------------------------------------------------

_SRCSET_URL = re.compile(r"[\s,]*([^\s,][^\s]*)")


def parse_srcset(value: str) -> list[tuple[str, str]]:
    """(url, descriptor) candidates of a srcset, as the HTML standard splits them.

    A URL runs to the next whitespace; trailing commas end it; a descriptor
    runs to the next comma. Commas inside a URL (data: URLs) are kept.
    """
    out: list[tuple[str, str]] = []
    position = 0
    while True:
        match = _SRCSET_URL.match(value, position)
        if not match:
            return out
        url = match.group(1)
        position = match.end()
        descriptor = ""
        if url.endswith(","):
            url = url.rstrip(",")
        else:
            comma = value.find(",", position)
            end = len(value) if comma < 0 else comma
            descriptor = value[position:end].strip()
            position = end + 1 if comma >= 0 else end
        if url:
            out.append((url, descriptor))


def rewrite_srcset(value: str, replace: Callable[[str], str | None]) -> str:
    """The srcset with each URL replaced (replace returns None to keep it)."""
    parts = []
    for url, descriptor in parse_srcset(value):
        new = replace(url) or url
        parts.append(f"{new} {descriptor}".strip())
    return ", ".join(parts)


# --- CSS ---------------------------------------------------------------------


def _css_string(name: str) -> str:
    return rf""""(?P<{name}d>(?:[^"\\\n]|\\.)*)"|'(?P<{name}s>(?:[^'\\\n]|\\.)*)'"""


_CSS_REF = re.compile(
    r"(?P<import>@import\s+)(?:" + _css_string("i") + r")"
    r"|(?P<call>url\(\s*)(?:" + _css_string("u") + r"""|(?P<ub>(?:[^()\s'"\\]|\\.)*))\s*\)""",
    re.IGNORECASE,
)
_FONT_FACE = re.compile(r"@font-face\s*\{[^}]*\}", re.IGNORECASE)
_CSS_ESCAPE = re.compile(r"\\([0-9a-fA-F]{1,6}\s?|.)")


def _css_unescape(text: str) -> str:
    def one(match: re.Match) -> str:
        code = match.group(1)
        if re.fullmatch(r"[0-9a-fA-F]{1,6}\s?", code):
            try:
                return chr(int(code.strip(), 16))
            except (ValueError, OverflowError):
                return ""
        return code

    return _CSS_ESCAPE.sub(one, text) if "\\" in text else text


def _css_matches(text: str) -> Iterator[tuple[re.Match, str, str]]:
    """(match, reference as written, kind) for each @import and url() of a stylesheet."""
    fonts = [m.span() for m in _FONT_FACE.finditer(text)] if "@font-face" in text.lower() else []
    for match in _CSS_REF.finditer(text):
        if match.group("import") is not None:
            value = next((g for g in match.group("id", "is") if g is not None), "")
            yield match, _css_unescape(value), STYLESHEET
            continue
        value = next((g for g in match.group("ud", "us", "ub") if g is not None), "")
        start = match.start()
        before = text[max(0, start - 16) : start].lower()
        if re.search(r"@import\s+$", before):
            kind = STYLESHEET
        elif any(a <= start < b for a, b in fonts):
            kind = FONT
        else:
            kind = IMAGE
        yield match, _css_unescape(value), kind


def css_refs(text: str, base: str) -> list[tuple[str, str]]:
    """(absolute URL, kind) of every @import and url() in CSS text, in order, without repeats."""
    found: dict[str, str] = {}
    for _, value, kind in _css_matches(text):
        url = absolute(base, css_url_text(value))
        if url is not None:
            found.setdefault(url, kind)
    return list(found.items())


def rewrite_css(text: str, replace: Callable[[str, str], str | None]) -> str:
    """CSS text with each @import / url() reference replaced by replace(reference, kind), if not None."""
    out: list[str] = []
    last = 0
    for match, value, kind in _css_matches(text):
        new = replace(value, kind)
        if new is None:
            continue
        quoted = '"' + new.replace("\\", "\\\\").replace('"', '\\"') + '"'
        prefix = match.group("import") if match.group("import") is not None else match.group("call")
        suffix = "" if match.group("import") is not None else ")"
        out.append(text[last : match.start()])
        out.append(prefix + quoted + suffix)
        last = match.end()
    out.append(text[last:])
    return "".join(out)


def css_url_text(value: str) -> str:
    """A URL read from bytes decoded as latin-1 (see decode_css) back to the UTF-8 it most likely was."""
    if value.isascii():
        return value
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value


def decode_css(body: bytes) -> str:
    """Stylesheet bytes as text that encodes back to the same bytes (latin-1): URLs are ASCII."""
    return body.decode("latin-1")


# --- what a page or stylesheet needs --------------------------------------------

_PARSER = lxml.html.HTMLParser(remove_comments=False, huge_tree=False)


def parse_html(body: bytes, content_type: str | None) -> Any | None:
    """An lxml tree of an HTML payload, decoded as browsers do; None when it holds nothing."""
    text = decode_text(body, content_type)
    if not text.strip():
        return None
    try:
        return lxml.html.document_fromstring(text, parser=_PARSER)
    except ValueError:  # a str with an XML encoding declaration: parse the bytes
        return lxml.html.document_fromstring(text.encode("utf-8"), parser=_PARSER)
    except etree.ParserError:
        return None


# The attribute of each element whose URL is a page to follow.
LINK_ATTRIBUTES = {"a": "href", "area": "href", "iframe": "src", "frame": "src"}


def page_hrefs(root: Any) -> tuple[str | None, list[str]]:
    """A parsed page's first <base href> and its links' URLs as written (a, area, iframe, frame), in order.

    One walk of the tree (lxml's iter), not an XPath union and a //base search,
    which walked it five times: a third less CPU a page.
    """
    hrefs, base = [], None
    for el in root.iter(*LINK_ATTRIBUTES, "base"):
        if el.tag == "base":
            base = el.get("href") if base is None else base
            continue
        value = el.get(LINK_ATTRIBUTES[el.tag])
        if value is not None:
            hrefs.append(value)
    return base, hrefs


def html_requisites(root: object, url: str) -> list[tuple[str, str]]:
    """(absolute URL, kind) of every requisite of a parsed HTML page, in order, without repeats."""
    base = base_url(root, url)
    found: dict[str, str] = {}
    for slot in slots(root):
        if slot.kind not in REQUISITE_KINDS:
            continue
        element = slot.element
        if slot.form == STYLE:
            text = element.text if slot.attribute is None else element.get(slot.attribute)  # type: ignore[attr-defined]
            for ref, kind in css_refs(text or "", base):
                found.setdefault(ref, kind)
            continue
        value = element.get(slot.attribute) or ""  # type: ignore[attr-defined]
        candidates = [u for u, _ in parse_srcset(value)] if slot.form == SRCSET else [value]
        for candidate in candidates:
            ref = absolute(base, candidate)
            if ref is not None:
                found.setdefault(ref, slot.kind)
    return list(found.items())
