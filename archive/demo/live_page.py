"""The fixture vendor site's script-rendered page: a claim only a browser sees.

`/products/recognize/live/` is an application shell ("Loading…"); its script
fetches the claims from a JSON API and writes them into the page, as a
modern product page does. Scrapy archives the shell; the demo's source for it
has `render: browser`, so the claims are searchable and in the page's history.
"""

from __future__ import annotations

import json

PATH = "/products/recognize/live/"
CLAIMS = [
    "Recognize Live matches a face against 50 million booking photos in under a second.",
    "Officers get an alert the moment a person of interest walks past any connected camera.",
]
SHELL = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Recognize Live | Northwind Cloud</title>
<link rel="stylesheet" href="/static/site.css"><script src="/static/live.js" defer></script></head>
<body><main><h1>Recognize Live</h1><div id="claims">Loading…</div></main></body></html>
"""
LIVE_JS = """fetch('/api/recognize/claims.json').then(r => r.json()).then(data => {
  const list = document.getElementById('claims');
  list.textContent = '';
  for (const claim of data.claims) {
    const p = document.createElement('p');
    p.textContent = claim;
    list.appendChild(p);
  }
});
"""


def live_files() -> dict[str, tuple[bytes, str]]:
    """The page, its script and its API answer, as VendorSite serves its static files."""
    return {
        PATH: (SHELL.encode("utf-8"), "text/html; charset=utf-8"),
        "/static/live.js": (LIVE_JS.encode(), "application/javascript"),
        "/api/recognize/claims.json": (json.dumps({"claims": CLAIMS}).encode(), "application/json"),
    }
