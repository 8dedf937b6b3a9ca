"""Atlas links that are public-records requests or documents, as records sources walked by their API.

The Atlas's "Public Records" links often name a MuckRock request, a
DocumentCloud document or project, or a request on a city's NextRequest
portal. Each is written as a `kind: records` source whose URL is the
service's API record and whose walk is the service's shape
(archive/sources/api_walk.py), overriding only where one record, not a
listing, answers:

- MuckRock `https://www.muckrock.com/foi/<jurisdiction>-<id>/<slug>-<ID>/`
  -> `/api_v2/requests/ID/` (its communications, files and this very human
  page follow from the record);
- DocumentCloud `https://www.documentcloud.org/documents/ID-slug` ->
  `https://api.www.documentcloud.org/api/documents/ID/`, and a project
  `/projects/slug-ID/` -> `/api/documents/?project=ID`;
- NextRequest `https://<city>.nextrequest.com/requests/ID` ->
  `/client/requests/ID` (its documents follow).

Any other link is not recognised here and stays a vendor page.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

# One record answers, not a listing: the record itself is the only item (it names no next page).
ONE_RECORD = {"items": "[@]"}
# NextRequest pages by a page number: a total of one ends the listing after its only record.
ONE_NEXTREQUEST_RECORD = {"items": "[@]", "total": "`1`"}
DOCUMENTCLOUD_API = "https://api.www.documentcloud.org"

_MUCKROCK_REQUEST = re.compile(r"^/foi/[^/]+/(?:[^/]*-)?(\d+)/?$")
_DOCUMENTCLOUD_DOCUMENT = re.compile(r"^/documents/(\d+)(?:-[^/]*)?/?$")
_DOCUMENTCLOUD_PROJECT = re.compile(r"^/projects/(?:[^/]*-)?(\d+)/?$")
_NEXTREQUEST_REQUEST = re.compile(r"^/requests/([0-9][0-9-]*)/?$")


def records_walk(url: str) -> dict[str, Any] | None:
    """{'urls': [API URL], 'walk': {...}} when `url` is a records request or document we can walk."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    origin = f"{parts.scheme}://{parts.netloc}"
    if host in ("muckrock.com", "www.muckrock.com"):
        found = _MUCKROCK_REQUEST.match(parts.path)
        if found:
            api = f"https://www.muckrock.com/api_v2/requests/{found.group(1)}/"
            return {"urls": [api], "walk": {"shape": "muckrock", **ONE_RECORD}}
    if host in ("documentcloud.org", "www.documentcloud.org", "beta.documentcloud.org"):
        found = _DOCUMENTCLOUD_DOCUMENT.match(parts.path)
        if found:
            api = f"{DOCUMENTCLOUD_API}/api/documents/{found.group(1)}/"
            return {"urls": [api], "walk": {"shape": "documentcloud", **ONE_RECORD}}
        found = _DOCUMENTCLOUD_PROJECT.match(parts.path)
        if found:
            api = f"{DOCUMENTCLOUD_API}/api/documents/?project={found.group(1)}"
            return {"urls": [api], "walk": {"shape": "documentcloud"}}
    if host.endswith(".nextrequest.com"):
        found = _NEXTREQUEST_REQUEST.match(parts.path)
        if found:
            api = f"{origin}/client/requests/{found.group(1)}"
            return {"urls": [api], "walk": {"shape": "nextrequest", **ONE_NEXTREQUEST_RECORD}}
    return None
