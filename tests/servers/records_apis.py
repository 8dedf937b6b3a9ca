"""Loopback stand-ins for MuckRock's API v2 and DocumentCloud's API, answering as their documentation says.

MuckRock (python-muckrock's docs, MuckRock's api_v2 serializers):
`/api_v2/requests/?search=...` lists requests (`id, title, slug, status,
agency, datetime_submitted, datetime_updated, datetime_done, tracking_id`) as
`{count, next, previous, results}` with absolute `next` URLs;
`/api_v2/communications/?foia=ID` lists a request's communications, whose
`files` are file IDs; `/api_v2/files/ID/` is one file, its `ffile` on a CDN
(here: another loopback host); `/api_v2/agencies/ID/` names the agency,
and `/api_v2/jurisdictions/ID/` the agency's jurisdiction.

DocumentCloud (documentcloud.org/help/api, python-documentcloud):
`/api/documents/?project=N` and `/api/documents/search/?q=...` list documents
as `{next, previous, results}`; each has `id, slug, title, source, access,
page_count, canonical_url, asset_url, created_at, updated_at`; the PDF is
`{asset_url}documents/{id}/{slug}.pdf` and each page's text
`{asset_url}documents/{id}/pages/{slug}-p{n}.txt`. Public documents' assets
are on a storage host; a private document's `asset_url` is the API's own
`/files/`, which redirects to a signed URL that expires.

Requests name their human page (`absolute_url`, `/foi/...`, served as
HTML); DocumentCloud's documents name theirs (`canonical_url`), served as HTML
on the API's server under another name, DOCUMENTCLOUD_HOST, as
www.documentcloud.org is not the API's host (a crawl resolves it with
SPYGLASS_RESOLVE=RESOLVE); communications have ids, senders and bodies, and list their files
(`files_by="list"`), or carry no `files` list and are asked of
`/api_v2/files/?communication=ID` (`files_by="endpoint"`), or list their
files nowhere (`files_by="nowhere"`). One DocumentCloud document's page text
is missing (404).

Misbehaviour, as real services show it: the first call of the requests list
answers 429 with Retry-After: 1; the search's second page is empty; one
listed request is malformed (its `agency` an object, no `id`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote

from archive.demo.pdfgen import scanned_pdf, text_pdf
from archive.demo.server import Incoming, LoopbackServer, Reply, json_reply
from archive.demo.storage import SignedStorage, start_storage

AGENCY = "Bayview County Sheriff's Office"
JURISDICTION = "Bayview County"
PHRASE = "real-time face search"  # in every MuckRock file: a mention of the vendor's product
SCAN_PHRASE = "watch list alert"  # only in DocumentCloud's own text of a scanned page
COVER_PHRASE = "enclosed are the Northwind agreement and its invoice"  # in the cover letter only
HUMAN_PAGE = "/foi/bayview-county-123/face-recognition-contracts-51001/"
DOCUMENTCLOUD_HOST = "www.documentcloud.test"  # its pages' host: the name holds "documentcloud"
RESOLVE = f"{DOCUMENTCLOUD_HOST}=127.0.0.1"


def _pdf(lines: list[str], title: str) -> tuple[bytes, str]:
    return text_pdf([lines], title=title), "application/pdf"


CDN_FILES = {
    "foia_files/2018/05/02/bcso-recognize-contract.pdf": _pdf(
        [
            "Agreement between Bayview County Sheriff's Office and Northwind Cloud",
            f"for Northwind Recognize {PHRASE} in the county jail.",
        ],
        "Contract",
    ),
    "foia_files/2018/05/09/bcso-invoice.pdf": _pdf(
        ["Invoice: Northwind Recognize, 12 months", f"Includes {PHRASE} of booking photos."], "Invoice"
    ),
}

STORE_FILES = {
    "documents/9001/harbor-camera-plan.pdf": _pdf(
        ["Harbor camera plan", "Northwind Recognize on twelve downtown cameras."], "Camera plan"
    ),
    "documents/9002/bayview-board-minutes.pdf": (
        scanned_pdf([["Board minutes", "approved"]]),
        "application/pdf",
    ),
    "documents/9002/pages/bayview-board-minutes-p1.txt": (
        f"Board minutes\napproved the {SCAN_PHRASE} pilot with Northwind Recognize\n".encode(),
        "text/plain; charset=utf-8",
    ),
    # Its page text is missing: DocumentCloud answers 404 for it.
    "documents/9003/bayview-budget-memo.pdf": _pdf(
        ["Budget memo", "Camera maintenance, fiscal 2019."], "Memo"
    ),
    "documents/9001/pages/harbor-camera-plan-p1.txt": (
        b"Harbor camera plan\nNorthwind Recognize on twelve downtown cameras.\n",
        "text/plain; charset=utf-8",
    ),
}


@dataclass
class RecordsApis:
    """The running APIs and the hosts their files live on; `hits` per path and query."""

    server: LoopbackServer
    cdn_server: LoopbackServer
    store_server: LoopbackServer
    store: SignedStorage
    hits: dict[str, int]
    api: Any
    cdn: Any

    @property
    def url(self) -> str:
        return self.server.url

    def stop(self) -> None:
        for server in (self.server, self.cdn_server, self.store_server):
            server.stop()


class _Handler:
    def __init__(self, cdn: str, store: SignedStorage, files_by: str = "list") -> None:
        self.cdn, self.store, self.files_by = cdn, store, files_by
        self.status_51002 = "processed"  # a test moves it on between crawls
        self.hits: dict[str, int] = {}
        self.lock = threading.Lock()
        self.base = ""
        self.authorizations: list[str | None] = []  # the Authorization header of each API call

    def __call__(self, request: Incoming) -> Reply:
        key = request.path + (f"?{request.query}" if request.query else "")
        with self.lock:
            self.authorizations.append(request.headers.get("Authorization"))
            self.hits[key] = self.hits.get(key, 0) + 1
            first = self.hits[key] == 1
        query = {k: v[0] for k, v in parse_qs(request.query).items()}
        path = request.path
        if path == "/api_v2/requests/":
            if first and query.get("page") is None:
                return json_reply(
                    {"detail": "Request was throttled. Expected available in 1 second."},
                    429,
                    [("Retry-After", "1")],
                )
            return json_reply(self._requests(query.get("page", "1")))
        if path.startswith("/api_v2/"):
            return self._muckrock(path, query)
        if path.startswith("/foi/"):
            return self._human(path)
        if path.startswith("/api/documents/"):
            return self._documentcloud(path, query)
        if path.startswith("/documents/"):
            return self._document_page(path)
        if path.startswith("/files/"):
            name = unquote(path.removeprefix("/files/"))
            return Reply(302, b"", headers=[("Location", self.store.signed_url(name))], content_type=None)
        return json_reply({"detail": "Not found."}, 404)

    def _requests(self, page: str) -> dict:
        api = f"{self.base}/api_v2"
        first = [
            {
                "id": 51001,
                "title": "Face recognition contracts, Bayview County",
                "slug": "face-recognition",
                "status": "done",
                "agency": 7301,
                "embargo_status": "public",
                "user": 12,
                "datetime_submitted": "2018-03-12T09:00:00-07:00",
                "datetime_updated": "2018-05-10T16:20:00-07:00",
                "datetime_done": "2018-05-09T16:20:00-07:00",
                "tracking_id": "BCSO-18-044",
                "price": "0.00",
                "date_due": "2018-04-10",
                "absolute_url": HUMAN_PAGE,
            },
            {"title": "A request the API lists half-formed", "agency": {"unexpected": True}},
        ]
        second = [
            {
                "id": 51002,
                "title": "Rekognition pilot emails",
                "slug": "pilot-emails",
                "status": self.status_51002,
                "agency": 7301,
                "embargo_status": "public",
                "user": 12,
                "datetime_submitted": "2018-04-02T09:00:00-07:00",
                "datetime_updated": "2018-04-03T09:00:00-07:00",
                "datetime_done": None,
                "tracking_id": None,
                "price": "0.00",
            },
        ]
        if page == "2":
            return {
                "count": 3,
                "next": None,
                "previous": f"{api}/requests/?search=recognize",
                "results": second,
            }
        return {
            "count": 3,
            "next": f"{api}/requests/?page=2&search=recognize",
            "previous": None,
            "results": first,
        }

    def _muckrock(self, path: str, query: dict) -> Reply:
        if path == "/api_v2/agencies/7301/":
            return json_reply({"id": 7301, "name": AGENCY, "status": "approved", "jurisdiction": 88})
        if path == "/api_v2/jurisdictions/88/":
            return json_reply({"id": 88, "name": JURISDICTION, "level": "l", "parent": 6})
        if path == "/api_v2/communications/":
            comms = [dict(c) for c in COMMUNICATIONS.get(query.get("foia", ""), [])]
            for comm in comms:
                if self.files_by != "list":
                    del comm["files"]
            return json_reply({"count": len(comms), "next": None, "previous": None, "results": comms})
        if path == "/api_v2/files/":
            of = query.get("communication")
            listed = [] if self.files_by == "nowhere" else FILES_OF.get(of or "", [])
            results = [self._file(str(ident)) for ident in listed]
            return json_reply({"count": len(results), "next": None, "previous": None, "results": results})
        ident = path.removeprefix("/api_v2/files/").strip("/")
        if ident in FILES:
            return json_reply(self._file(ident))
        return json_reply({"detail": "Not found."}, 404)

    def _file(self, ident: str) -> dict:
        name, title = FILES[ident]
        return {
            "id": int(ident),
            "ffile": f"{self.cdn}/{name}",
            "datetime": "2018-05-09T16:20:00",
            "title": title,
            "source": AGENCY,
            "description": "",
            "doc_id": "",
            "pages": 1,
        }

    def _human(self, path: str) -> Reply:
        if path != HUMAN_PAGE:
            return Reply(404, b"not found", content_type="text/plain")
        page = (
            "<!doctype html><title>Face recognition contracts, Bayview County • MuckRock</title>"
            "<h1>Face recognition contracts, Bayview County</h1><p>Status: Completed</p>"
        )
        return Reply(200, page.encode(), content_type="text/html; charset=utf-8")

    @property
    def pages(self) -> str:
        """Where DocumentCloud's document pages are: the API's server, under DOCUMENTCLOUD_HOST."""
        return f"http://{DOCUMENTCLOUD_HOST}:{self.base.rsplit(':', 1)[1]}"

    def _document_page(self, path: str) -> Reply:
        """A document's page as a reader opens it."""
        found = next((d for d in self._documents() if d["canonical_url"] == self.pages + path), None)
        if found is None:
            return Reply(404, b"not found", content_type="text/plain")
        page = f"<!doctype html><title>{found['title']} - DocumentCloud</title><h1>{found['title']}</h1>"
        return Reply(200, page.encode(), content_type="text/html; charset=utf-8")

    def _documents(self) -> list[dict]:
        return [
            {
                "id": 9001,
                "slug": "harbor-camera-plan",
                "title": "Harbor camera plan",
                "source": "Harbor City Police Department",
                "access": "public",
                "page_count": 1,
                "canonical_url": f"{self.pages}/documents/9001-harbor-camera-plan",
                "asset_url": f"{self.store.base}/nosign/",
                "created_at": "2018-06-01T12:00:00Z",
                "updated_at": "2018-06-02T12:00:00Z",
                "projects": [404],
            },
            {
                "id": 9002,
                "slug": "bayview-board-minutes",
                "title": "Board minutes, face search pilot",
                "source": AGENCY,
                "access": "private",
                "page_count": 1,
                "canonical_url": f"{self.pages}/documents/9002-bayview-board-minutes",
                "asset_url": f"{self.base}/files/",
                "created_at": "2018-07-01T12:00:00Z",
                "updated_at": "2018-07-01T12:00:00Z",
                "projects": [404],
            },
            {
                "id": 9003,
                "slug": "bayview-budget-memo",
                "title": "Budget memo",
                "source": AGENCY,
                "access": "public",
                "page_count": 1,
                "canonical_url": f"{self.pages}/documents/9003-bayview-budget-memo",
                "asset_url": f"{self.store.base}/nosign/",
                "created_at": "2018-07-02T12:00:00Z",
                "updated_at": "2018-07-02T12:00:00Z",
                "projects": [404],
            },
        ]

    def _documentcloud(self, path: str, query: dict) -> Reply:
        docs = self._documents()
        if path == "/api/documents/search/":
            if query.get("page") == "2":
                return json_reply({"count": 2, "next": None, "previous": None, "results": []})
            return json_reply(
                {
                    "count": 2,
                    "next": f"{self.base}/api/documents/search/?page=2&q=recognize",
                    "previous": None,
                    "results": docs[:1],
                }
            )
        if path == "/api/documents/" and query.get("project") == "404":
            return json_reply({"next": None, "previous": None, "results": docs})
        return json_reply({"detail": "Not found."}, 404)


COMMUNICATIONS = {
    "51001": [
        {
            "id": 601,
            "foia": 51001,
            "from_user": "Ada Reporter",
            "to_user": AGENCY,
            "subject": "California Public Records Act Request: Face recognition contracts",
            "response": False,
            "datetime": "2018-03-12T09:00:00-07:00",
            "communication": "To Whom It May Concern:\n\nI request contracts for face recognition.",
            "status": "ack",
            "files": [],
        },
        {
            "id": 602,
            "foia": 51001,
            "subject": "Acknowledged",
            "response": True,
            "datetime": "2018-03-13T10:00:00-07:00",
            "communication": "Received.",
            "status": "ack",
            "files": [],
        },
        {
            "id": 603,
            "foia": 51001,
            "from_user": "Records Unit",
            "subject": "Records released",
            "response": True,
            "datetime": "2018-05-09T16:20:00-07:00",
            "communication": f"Dear Ms. Reporter,\n\nIn response to your request, {COVER_PHRASE}.",
            "status": "done",
            "files": [81, 82],
        },
    ],
    "51002": [],
}
FILES_OF = {"603": [81, 82]}
FILES = {
    "81": ("foia_files/2018/05/02/bcso-recognize-contract.pdf", "Contract"),
    "82": ("foia_files/2018/05/09/bcso-invoice.pdf", "Invoice"),
}


class _Files:
    """A CDN: serves files by path, no signature (MuckRock's cdn, DocumentCloud's public assets)."""

    def __init__(self, files: dict[str, tuple[bytes, str]], hits: dict[str, int]) -> None:
        self.files, self.hits = files, hits
        self.authorizations: list[str | None] = []

    def __call__(self, request: Incoming) -> Reply:
        self.hits[request.path] = self.hits.get(request.path, 0) + 1
        self.authorizations.append(request.headers.get("Authorization"))
        found = self.files.get(unquote(request.path.lstrip("/")))
        if found is None:
            return Reply(404, b"not found", content_type="text/plain")
        return Reply(200, found[0], content_type=found[1])


def start_records_apis(files_by: str = "list") -> RecordsApis:
    """Start the API host, a CDN host and a signed-storage host on 127.0.0.1."""
    hits: dict[str, int] = {}
    cdn = LoopbackServer(_Files(CDN_FILES, hits)).start()
    store_server, store = start_storage(STORE_FILES)
    # Public DocumentCloud assets are plain files on the storage host.
    public = _Files(STORE_FILES, hits)
    signed = store

    def storage(request: Incoming) -> Reply:
        if request.path.startswith("/nosign/"):
            return public(
                Incoming(
                    request.method,
                    request.path.removeprefix("/nosign"),
                    request.query,
                    request.headers,
                    request.body,
                )
            )
        return signed(request)

    store_server.handler = storage
    handler = _Handler(cdn.url, store, files_by)
    server = LoopbackServer(handler).start()
    handler.base = server.url
    handler.hits = hits
    return RecordsApis(server, cdn, store_server, store, hits, handler, cdn.handler)
