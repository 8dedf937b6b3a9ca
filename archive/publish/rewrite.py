"""Archived HTML and CSS as replay serves them: every reference pointed into the archive.

Rewriting happens on the way out, never in the WARC files. Like pywb, each
reference becomes an archive URL that names the original URL and the time of
the page being shown, and the archive answers with the capture of that URL
nearest in time (archive/publish/replay.py). Which attribute holds which kind
of reference is archive/text/refs.py's table, the one the crawler archived
requisites by. HTML goes through lxml; CSS through a careful regex, on its
bytes, so everything but the URLs stays byte for byte.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import lxml.html

from archive.text.refs import (
    FRAME,
    LINK,
    SRCSET,
    STYLE,
    absolute,
    base_url,
    css_url_text,
    decode_css,
    parse_html,
    rewrite_css,
    rewrite_srcset,
    slots,
)

# Anchors in the archived copy open the next archived page in the whole tab,
# under its own banner; the frame's sandbox allows that on a click and only then.
NAVIGATION_TARGET = "_top"


@dataclass(frozen=True)
class Targets:
    """Where references go: `resource(url, kind)` serves a capture's bytes, `navigate(url)`
    shows one under its banner. Both take absolute URLs."""

    resource: Callable[[str, str], str]
    navigate: Callable[[str], str]


def rewrite_html(body: bytes, content_type: str | None, page_url: str, targets: Targets) -> bytes:
    """The page as UTF-8 HTML with every reference pointed into the archive."""
    root = parse_html(body, content_type)
    if root is None:
        return b""
    base = base_url(root, page_url)
    for slot in list(slots(root)):
        _rewrite_slot(slot, base, targets)
    _neutralise(root)
    doctype = root.getroottree().docinfo.doctype
    return lxml.html.tostring(root, encoding="utf-8", doctype=doctype or None)


def _rewrite_slot(slot, base: str, targets: Targets) -> None:  # noqa: ANN001 - a refs.Slot
    element = slot.element

    def resource(ref: str, kind: str) -> str | None:
        url = absolute(base, ref)
        return targets.resource(url, kind) if url else None

    if slot.form == STYLE:
        if slot.attribute is None:
            element.text = rewrite_css(element.text or "", resource)
        else:
            element.set(slot.attribute, rewrite_css(element.get(slot.attribute) or "", resource))
        return
    value = element.get(slot.attribute) or ""
    if slot.form == SRCSET:
        element.set(slot.attribute, rewrite_srcset(value, lambda ref: resource(ref, slot.kind)))
        return
    if slot.kind == LINK:
        _rewrite_link(element, slot.attribute, value, base, targets)
        return
    new = resource(value, FRAME if slot.kind == FRAME else slot.kind)
    if new is not None:
        element.set(slot.attribute, new)


def _rewrite_link(element, attribute: str, value: str, base: str, targets: Targets) -> None:  # noqa: ANN001
    stripped = value.strip()
    if stripped.startswith("#"):
        return  # a place in this same page: it scrolls the frame
    if stripped.lower().startswith("javascript:"):
        del element.attrib[attribute]  # could never run here; a dead link says so plainly
        return
    url = absolute(base, stripped)
    if url is None:
        return  # mailto:, tel: and the like leave the archive only when clicked
    fragment = stripped.partition("#")[2]
    element.set(attribute, targets.navigate(url) + (f"#{fragment}" if fragment else ""))
    if element.tag in ("a", "area"):
        element.set("target", NAVIGATION_TARGET)


def _neutralise(root) -> None:  # noqa: ANN001 - an lxml element
    """Drop what would resolve or fetch outside the rewritten references."""
    for element in root.xpath("//base | //meta[translate(@http-equiv, 'REFSH', 'refsh') = 'refresh']"):
        element.drop_tree()
    # Subresource integrity hashes the original bytes; a rewritten stylesheet
    # would fail it. Pings would report a click to the live site.
    for element in root.xpath("//*[@integrity] | //a[@ping] | //area[@ping]"):
        element.attrib.pop("integrity", None)
        element.attrib.pop("ping", None)


def rewrite_stylesheet(body: bytes, sheet_url: str, targets: Targets) -> bytes:
    """A stylesheet with its @import and url() references pointed into the archive."""

    def resource(ref: str, kind: str) -> str | None:
        url = absolute(sheet_url, css_url_text(ref))
        return targets.resource(url, kind) if url else None

    return rewrite_css(decode_css(body), resource).encode("latin-1")
