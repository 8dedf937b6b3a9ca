"""How to walk a records portal, as sources.yml declares it: selectors per source, defaults per shape.

A records source says where its releases are with CSS or XPath selectors
(`walk:` in sources.yml). Three shapes come with working defaults:

- `foia-request`: listing pages link to request pages in the style of public
  FOIA-request sites (title, agency, status, dates, communications, files);
- `records-table`: an agency's "released records" table, one release per row,
  its cells found by their column header (`column:Date released`);
- `directory`: an index page of file links, which needs no selectors at all.

Portals that answer in JSON (`json`, `muckrock`, `documentcloud`,
`nextrequest`) are walked with JMESPath instead: archive/sources/api_walk.py.

Any selector given in sources.yml overrides the shape's default. The selectors
are evaluated by archive/records/walk.py."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from lxml import etree

from archive.sources.api_walk import API_SHAPES, ApiWalk, build_api_walk

HTML_SHAPES = ("foia-request", "records-table", "directory")
SHAPES = HTML_SHAPES + API_SHAPES

SELECTOR_FIELDS = (
    "release_links",
    "release_rows",
    "next_page",
    "title",
    "agency",
    "reference",
    "released_at",
    "files",
)

NEXT_PAGE = (
    "xpath://a[contains(concat(' ', normalize-space(@rel), ' '), ' next ')]"
    " | //a[normalize-space()='Next' or normalize-space()='Next page' or normalize-space()='Next »']"
)


def _label(*labels: str) -> str:
    """XPath for the value next to a label, in a <dl> or a two-cell table row."""
    test = " or ".join(f"normalize-space()='{label}'" for label in labels)
    return f"xpath://dt[{test}]/following-sibling::dd[1] | //th[{test}]/following-sibling::td[1]"


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
    api: ApiWalk | None = None  # JSON shapes: JMESPath instead of selectors

    @property
    def mode(self) -> str:
        """'api' (JSON), 'rows' (a release per table row), 'pages' (a page per release) or 'directory'."""
        if self.api is not None:
            return "api"
        if self.release_rows:
            return "rows"
        if self.release_links:
            return "pages"
        return "directory"

    def to_dict(self) -> dict[str, Any]:
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values["api"] = self.api.to_dict() if self.api else None
        return values


def build_walk(raw: dict[str, Any] | None) -> Walk:
    """A Walk from already-validated sources.yml values, the shape's defaults filling the gaps."""
    raw = dict(raw or {})
    if raw.get("shape") in API_SHAPES:
        return Walk(shape=raw["shape"], api=build_api_walk(raw))
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
            # parsel (and w3lib with it) costs 0.1 CPU-s to import: only a CSS selector needs it.
            from parsel.csstranslator import HTMLTranslator

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
            return kind, expr[len(kind) + 1 :].strip()
    if expr.startswith(("/", "(", "./")):
        return "xpath", expr
    return "css", expr
