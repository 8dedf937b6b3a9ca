"""Walking a records portal: a source's selectors evaluated on a page, and the dates they find.

The selectors and their defaults per shape are declared in archive/sources/walk.py.
"""

from __future__ import annotations

import re
from datetime import datetime

from parsel import Selector

from archive.sources.walk import split_selector


def select(scope: Selector, expr: str, header: list[str] | None = None) -> list[Selector]:
    """Elements (or attribute/text nodes) matched by a selector, relative to `scope`."""
    kind, body = split_selector(expr)
    if kind == "css":
        return list(scope.css(body))
    if kind == "xpath":
        return list(scope.xpath(body))
    cells = scope.xpath("./td | ./th")
    for name in body.split("|"):
        wanted = _norm(name).lower()
        for index, heading in enumerate(header or []):
            if heading.lower() == wanted and index < len(cells):
                return [cells[index]]
    return []


def text_of(scope: Selector, expr: str | None, header: list[str] | None = None) -> str | None:
    """The whitespace-normalised text of the first match, or None."""
    if not expr:
        return None
    for found in select(scope, expr, header):
        value = found.get() if _is_leaf(found) else found.xpath("string(.)").get()
        value = _norm(value or "")
        if value:
            return value
    return None


def links_of(scope: Selector, expr: str | None, header: list[str] | None = None) -> list[str]:
    """Hrefs of the matched elements (or the matched attribute values), in page order."""
    if not expr:
        return []
    hrefs = []
    for found in select(scope, expr, header):
        if _is_leaf(found):
            value = found.get()
        else:
            value = found.xpath("@href").get() or found.xpath("@src").get()
        if value and value.strip():
            hrefs.append(value.strip())
    return hrefs


def table_header(row: Selector) -> list[str]:
    """Column names of the table a row belongs to (its <thead>, or its first row of <th>)."""
    table = row.xpath("ancestor::table[1]")
    if not table:
        return []
    heads = table.xpath("./thead//tr[th][1]/th | ./tr[th][1]/th | ./tbody/tr[th][1]/th")
    return [_norm(h.xpath("string(.)").get() or "") for h in heads]


def _is_leaf(found: Selector) -> bool:
    return found.type == "text" or not hasattr(found.root, "tag") or isinstance(found.root, str)


_SPACE = re.compile(r"\s+")


def _norm(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


DATE_FORMATS = ("%Y-%m-%d", "%B %d, %Y", "%b %d, %Y", "%b. %d, %Y", "%m/%d/%Y", "%d %B %Y", "%d %b %Y")


def iso_date(text: str | None) -> str | None:
    """'March 2, 2018' -> '2018-03-02'; None when the text is not a date we know."""
    if not text:
        return None
    cleaned = _norm(text.replace("Sept.", "Sep."))
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(cleaned, fmt).date().isoformat()
        except ValueError:
            continue
    try:
        # APIs give times: '2018-05-20T07:08:48.911320-04:00' is released on the 20th, where it was.
        return datetime.fromisoformat(cleaned.replace("Z", "+00:00")).date().isoformat()
    except ValueError:
        return None
