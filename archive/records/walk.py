"""How to walk a records portal: declarative selectors per source, with defaults per shape.

A records source says where its releases are with CSS or XPath selectors
(`walk:` in sources.yml). Three shapes come with working defaults:

- `foia-request`: listing pages link to request pages in the style of public
  FOIA-request sites (title, agency, status, dates, communications, files);
- `records-table`: an agency's "released records" table, one release per row,
  its cells found by their column header (`column:Date released`);
- `directory`: an index page of file links, which needs no selectors at all.

Any selector given in sources.yml overrides the shape's default.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields, replace
from typing import Any

from lxml import etree
from parsel import Selector
from parsel.csstranslator import HTMLTranslator

SHAPES = ("foia-request", "records-table", "directory")
SELECTOR_FIELDS = (
    "release_links", "release_rows", "next_page",
    "title", "agency", "reference", "released_at", "files",
)
# Evaluated on a release page, or inside a row for `release_rows`.
RELEASE_FIELDS = ("title", "agency", "reference", "released_at", "files")

NEXT_PAGE = (
    "xpath://a[contains(concat(' ', normalize-space(@rel), ' '), ' next ')]"
    " | //a[normalize-space()='Next' or normalize-space()='Next page' or normalize-space()='Next »']"
)


def _label(*labels: str) -> str:
    """XPath for the value next to a label, in a <dl> or a two-cell table row."""
    test = " or ".join(f"normalize-space()='{label}'" for label in labels)
    return (
        f"xpath://dt[{test}]/following-sibling::dd[1]"
        f" | //th[{test}]/following-sibling::td[1]"
    )


DEFAULTS: dict[str, dict[str, str]] = {
    "foia-request": {
        "release_links": "a.request-link, .request-list a[href], .requests a[href]",
        "next_page": NEXT_PAGE,
        "title": "h1",
        "agency": _label("Agency", "Agency name"),
        "reference": _label("Tracking number", "Reference", "Request number", "Request ID"),
        "released_at": _label("Completed", "Released", "Date released", "Release date"),
        "files": ".files a[href], a.attachment",
    },
    "records-table": {
        "release_rows": "xpath://table//tr[td]",
        "next_page": NEXT_PAGE,
        "title": "column:Title|Description|Subject|Records",
        "agency": "column:Agency|Department",
        "reference": "column:Reference|Request|Request number|Tracking number|Number",
        "released_at": "column:Date released|Released|Release date|Date",
        "files": "xpath:.//a[@href]",
    },
    "directory": {"next_page": NEXT_PAGE},
}


@dataclass(frozen=True)
class Walk:
    """The selectors that find a portal's releases, its next pages and each release's fields."""

    shape: str = "directory"
    release_links: str | None = None
    release_rows: str | None = None
    next_page: str | None = None
    title: str | None = None
    agency: str | None = None
    reference: str | None = None
    released_at: str | None = None
    files: str | None = None

    @property
    def mode(self) -> str:
        """'rows' (a release per table row), 'pages' (a page per release) or 'directory'."""
        if self.release_rows:
            return "rows"
        if self.release_links:
            return "pages"
        return "directory"

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def build_walk(raw: dict[str, Any] | None) -> Walk:
    """A Walk from already-validated sources.yml values, the shape's defaults filling the gaps."""
    raw = dict(raw or {})
    shape = raw.pop("shape", None) or "directory"
    values = {**DEFAULTS[shape], **{k: v for k, v in raw.items() if v}}
    return replace(Walk(shape=shape), **values)


def selector_problem(expr: Any) -> str | None:
    """Why `expr` is not a usable selector, or None when it compiles."""
    if not isinstance(expr, str) or not expr.strip():
        return "must be a CSS or XPath selector (text)"
    kind, body = split_selector(expr)
    try:
        if kind == "css":
            HTMLTranslator().css_to_xpath(body)
        elif kind == "xpath":
            etree.XPath(body)
        elif not [c for c in body.split("|") if c.strip()]:
            return "column: needs a header name, e.g. 'column:Date released'"
    except Exception as exc:  # cssselect.SelectorError, lxml XPathSyntaxError
        return f"not a valid {kind.upper()} selector: {expr!r} ({exc})"
    return None


def split_selector(expr: str) -> tuple[str, str]:
    """('css' | 'xpath' | 'column', body): explicit prefix, else XPath if it starts like one."""
    expr = expr.strip()
    for kind in ("css", "xpath", "column"):
        if expr.startswith(kind + ":"):
            return kind, expr[len(kind) + 1:].strip()
    if expr.startswith(("/", "(", "./")):
        return "xpath", expr
    return "css", expr


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
    from datetime import datetime

    if not text:
        return None
    cleaned = _norm(text.replace("Sept.", "Sep."))
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(cleaned, fmt).date().isoformat()
        except ValueError:
            continue
    return None
