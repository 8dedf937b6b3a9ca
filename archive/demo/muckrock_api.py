"""The demo's MuckRock-shaped API, served by the records portal: requests with their communications.

On the records portal's host (archive/demo/records_portal.py), in the shape
of MuckRock's API v2 (the `muckrock` walk shape):

- `/api_v2/requests/?agency=ID` lists requests as `{count, next, previous,
  results}`, each with its dates, tracking number, embargo and its human page
  (`absolute_url`, `/foi/...`, served as HTML);
- `/api_v2/requests/ID/` is one request (how an Atlas link to it is walked);
- `/api_v2/communications/?foia=ID` lists a request's communications (the
  request letter, the acknowledgement, the cover letter that delivered the
  files), each listing its file ids;
- `/api_v2/files/ID/` is one file, its `ffile` under `/foia_files/`;
- `/api_v2/agencies/ID/` names the agency, `/api_v2/jurisdictions/ID/` its jurisdiction.

Everything here is invented, in the manner of shared/seeds: a county sheriff's
office answering for its face-search audit logs.
"""

from __future__ import annotations

import html
from urllib.parse import parse_qs

from archive.demo.pdfgen import text_pdf
from archive.demo.server import Incoming, Reply, json_reply

SHERIFF = "Clearwater County Sheriff's Office"  # the records portal's sheriff too
AGENCY_ID = 301
# A phrase found only in the cover letter that delivered the audit files.
COVER_LETTER_PHRASE = "audit logs of every face search run by deputies"

FILES = {
    91: (
        "2018/07/03/ccso-face-search-audit-log.pdf",
        "Face search audit log",
        [
            "Audit log: Northwind Recognize searches, January to June 2018",
            "1,204 searches of the booking photo collection by 31 deputies.",
        ],
    ),
    92: (
        "2018/07/03/ccso-face-search-policy-draft.pdf",
        "Draft face search policy",
        [
            "DRAFT - Face search policy",
            "Deputies may submit a probe image to Northwind Recognize only with a case number.",
        ],
    ),
}

REQUESTS = [
    {
        "id": 7001,
        "title": "Face search audit logs, Clearwater County Sheriff",
        "slug": "face-search-audit-logs",
        "status": "done",
        "agency": AGENCY_ID,
        "embargo_status": "public",
        "datetime_submitted": "2018-05-14T09:30:00-07:00",
        "date_due": "2018-06-11",
        "datetime_updated": "2018-07-03T15:00:00-07:00",
        "datetime_done": "2018-07-03T15:00:00-07:00",
        "tracking_id": "CCSO-PRR-2018-0051",
        "absolute_url": "/foi/clearwater-county-301/face-search-audit-logs-7001/",
    },
    {
        "id": 7002,
        "title": "Face search vendor training certificates",
        "slug": "training-certificates",
        "status": "processed",
        "agency": AGENCY_ID,
        "embargo_status": "public",
        "datetime_submitted": "2018-06-20T10:00:00-07:00",
        "date_due": "2018-07-18",
        "datetime_updated": "2018-06-21T10:00:00-07:00",
        "datetime_done": None,
        "tracking_id": None,
        "absolute_url": "/foi/clearwater-county-301/training-certificates-7002/",
    },
]

COMMUNICATIONS = {
    7001: [
        {
            "id": 88101,
            "foia": 7001,
            "from_user": "Dana Whitfield",
            "to_user": SHERIFF,
            "subject": "California Public Records Act Request: Face search audit logs",
            "response": False,
            "datetime": "2018-05-14T09:30:00-07:00",
            "communication": (
                "To Whom It May Concern:\n\nPursuant to the California Public Records Act, I hereby "
                "request the audit logs of face searches run with Northwind Recognize, and any policy "
                "governing their use."
            ),
            "status": "processed",
            "files": [],
        },
        {
            "id": 88102,
            "foia": 7001,
            "from_user": "Records Unit",
            "to_user": "Dana Whitfield",
            "subject": "RE: Public Records Act Request",
            "response": True,
            "datetime": "2018-05-21T11:00:00-07:00",
            "communication": "Your request was received and assigned CCSO-PRR-2018-0051.",
            "status": "processed",
            "files": [],
        },
        {
            "id": 88103,
            "foia": 7001,
            "from_user": "Records Unit",
            "to_user": "Dana Whitfield",
            "subject": "Records responsive to CCSO-PRR-2018-0051",
            "response": True,
            "datetime": "2018-07-03T15:00:00-07:00",
            "communication": (
                f"Dear Ms. Whitfield,\n\nEnclosed are the {COVER_LETTER_PHRASE} from January to June "
                "2018, and the draft policy. This completes our response."
            ),
            "status": "done",
            "files": [91, 92],
        },
    ],
    7002: [
        {
            "id": 88201,
            "foia": 7002,
            "from_user": "Dana Whitfield",
            "to_user": SHERIFF,
            "subject": "California Public Records Act Request: Training certificates",
            "response": False,
            "datetime": "2018-06-20T10:00:00-07:00",
            "communication": "I request the certificates of deputies trained to run face searches.",
            "status": "processed",
            "files": [],
        },
    ],
}


def _listing(results: list) -> Reply:
    return json_reply({"count": len(results), "next": None, "previous": None, "results": results})


def _file(ident: int) -> dict:
    name, title, _ = FILES[ident]
    return {"id": ident, "ffile": f"/foia_files/{name}", "title": title, "source": SHERIFF, "pages": 1}


def _human_page(request: dict) -> bytes:
    letters = "".join(
        f"<article><h2>{html.escape(c['subject'])}</h2><p>{html.escape(c['communication'])}</p></article>"
        for c in COMMUNICATIONS[request["id"]]
    )
    return (
        f"<!doctype html><title>{html.escape(request['title'])} • MuckRock</title>"
        f"<h1>{html.escape(request['title'])}</h1><p>{SHERIFF}; status: {request['status']}</p>{letters}"
    ).encode()


def answer(request: Incoming) -> Reply | None:
    """The API's answer to `request`, or None when the path is not the API's."""
    path = request.path
    query = {k: v[0] for k, v in parse_qs(request.query).items()}
    if path == "/api_v2/requests/":
        wanted = query.get("agency")
        return _listing([r for r in REQUESTS if wanted in (None, str(r["agency"]))])
    for item in REQUESTS:
        if path == f"/api_v2/requests/{item['id']}/":
            return json_reply(item)
    if path == "/api_v2/communications/":
        foia = query.get("foia", "")
        return _listing(COMMUNICATIONS.get(int(foia), []) if foia.isdigit() else [])
    if path == f"/api_v2/agencies/{AGENCY_ID}/":
        return json_reply({"id": AGENCY_ID, "name": SHERIFF, "status": "approved", "jurisdiction": 55})
    if path == "/api_v2/jurisdictions/55/":
        return json_reply({"id": 55, "name": "Clearwater County", "level": "l", "parent": 5})
    if path.startswith("/api_v2/files/"):
        ident = path.removeprefix("/api_v2/files/").strip("/")
        if ident.isdigit() and int(ident) in FILES:
            return json_reply(_file(int(ident)))
    if path.startswith("/api_v2/"):
        return json_reply({"detail": "Not found."}, 404)
    for item in REQUESTS:
        if path == item["absolute_url"]:
            return Reply(body=_human_page(item))
    for name, title, lines in FILES.values():
        if path == f"/foia_files/{name}":
            return Reply(body=text_pdf([lines], title=title), content_type="application/pdf")
    return None
