"""Pages the writer parses once for both ends: its text for the capture row, its links for the crawler.

The crawler used to parse every page for its links (Scrapy's selector, about a
tenth of its CPU) while the writer parsed it again for its text. When the
crawler asks (WriteExchange.links), the writer extracts the page's text as
soon as its record is written, keeps the columns until the capture row comes,
and answers with the links read from the same tree. It answers None when its
tree may differ from the one Scrapy's selector would build
(archive/text/extract.py _as_parsel_parses), and the crawler parses as before.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from lxml import etree

from archive.crawl.payloads import WINDOW, as_scrapy_decodes, content_encoding
from archive.index.links import PageLinks
from archive.text.extract import BLOCK_MARK, text_columns
from archive.text.refs import html_requisites, page_hrefs
from archive.warc.write import Exchange, RecordLocation

# A block mark (extract._BREAK) inside an attribute or a <style>: the page said "</p>" or
# "<br" there, and the mark would change what the crawler reads.
_MARKED = etree.XPath(f"boolean(//@*[contains(., '{BLOCK_MARK}')] | //style[contains(., '{BLOCK_MARK}')])")


class ParsedPages:
    """Text columns extracted when a page's record was written, by WARC-Record-ID, the newest WINDOW."""

    def __init__(self) -> None:
        self.kept: OrderedDict[str, tuple[str | None, dict[str, Any]]] = OrderedDict()

    def read(self, location: RecordLocation, exchange: Exchange, requisites: bool) -> PageLinks | None:
        """Extract the page's text now (kept for its row) and return its links (with `requisites`, what
        it needs to render), or None when only the crawler's own parse can tell them."""
        if location.warc_type != "response":
            return None  # a revisit's text is its original's: nothing to extract
        # What the capture row will name (spiders/base.py: Scrapy's Headers.get, the last value).
        content_type = next(
            (v for k, v in reversed(exchange.response_headers) if k.lower() == "content-type"), None
        )
        found: list[PageLinks | None] = []

        def on_tree(root: Any) -> None:
            try:
                found.append(_links(root, exchange.url, requisites))
            except Exception:  # noqa: BLE001 - never the page's text: the crawler parses it itself
                found.append(None)

        body = as_scrapy_decodes(exchange.payload, content_encoding(exchange))
        self.kept[location.record_id] = (content_type, text_columns(content_type, body, on_tree))
        while len(self.kept) > WINDOW:
            self.kept.popitem(last=False)
        return found[0] if found else None

    def columns(self, row: dict[str, Any], content_type: str | None) -> dict[str, Any] | None:
        """The text columns extracted for `row`'s record, if it was read with this content type."""
        kept = self.kept.pop(row["warc_record_id"], None)
        return kept[1] if kept is not None and kept[0] == content_type else None


def _links(root: Any, url: str, requisites: bool) -> PageLinks | None:
    base, hrefs = page_hrefs(root)
    if any(BLOCK_MARK in value for value in (base or "", *hrefs)):
        return None
    if not requisites:
        return PageLinks(base, tuple(hrefs), None)
    if _MARKED(root):
        return None
    return PageLinks(base, tuple(hrefs), tuple(html_requisites(root, url)))
