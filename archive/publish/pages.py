"""Replay's own pages (the banner over an archived copy, a PDF's text, "not archived"), from templates.

Jinja2 with autoescape on: every archived title, URL and text is shown as
text, never as markup. The pages load nothing but the archive's own routes
and run no scripts (their Content-Security-Policy is PAGE_CSP in replay.py).
"""

from __future__ import annotations

from typing import Any

import jinja2

_ENV = jinja2.Environment(
    # Package data, found as the installed package holds it.
    loader=jinja2.PackageLoader("archive.publish", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def render(template: str, **context: Any) -> bytes:
    """A page of ours as UTF-8 HTML."""
    return _ENV.get_template(template).render(**context).encode("utf-8")
