"""The demo's JSON records portal: a city's NextRequest-style public-records site.

Its pages are drawn in the browser from a JSON API, which is what Spyglass
reads (the `nextrequest` walk shape):

- `GET /client/requests?page_number=N` answers `{total_count, requests}`,
  PAGE_SIZE requests a page, and an empty list past the end, as NextRequest's
  client API pages its request search;
- `GET /client/request_documents?request_id=ID&page_number=N` answers
  `{total_documents_count, documents}` with each document's `document_scan`;
- `GET /documents/ID/download` redirects (302) to a pre-signed URL on another
  host (archive/demo/storage.py) that expires, as NextRequest's downloads
  redirect to object storage;
- `/requests/ID` and `/documents/ID` are the stable pages a citation names.

With `quirks=True` (tests) it also misbehaves the ways real services do: the
second page of requests answers 429 with Retry-After once, and one request in
the listing is malformed (no `id`).

Everything here is invented, in the manner of the public record in
shared/seeds: a city police department that tested the vendor's face search
(archive/demo/vendor_site.py) on its own camera network.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from urllib.parse import parse_qs

from archive.demo.pdfgen import text_pdf
from archive.demo.server import Incoming, LoopbackServer, Reply, json_reply
from archive.demo.storage import SignedStorage, start_storage

HARBOR = "Harbor City Police Department"
PAGE_SIZE = 2
PDF = "application/pdf"


@dataclass(frozen=True)
class Request:
    id: str
    text: str
    state: str
    opened: str
    closed: str | None
    documents: tuple[int, ...]


@dataclass(frozen=True)
class Document:
    id: int
    title: str
    file_name: str
    lines: tuple[str, ...]


DOCUMENTS = (
    Document(
        5011,
        "Northwind Recognize pilot agreement",
        "hcpd-recognize-pilot-agreement.pdf",
        (
            "PILOT AGREEMENT - Harbor City Police Department and Northwind Cloud",
            "Northwind Recognize will compare faces from the city's downtown cameras",
            "against the department's booking photos for ninety days.",
            "The vendor provides the service at no charge during the pilot.",
        ),
    ),
    Document(
        5012,
        "Camera network integration notes",
        "hcpd-camera-integration-notes.pdf",
        (
            "Integration notes, traffic and downtown cameras",
            "Twelve camera feeds were connected to Northwind Recognize in April 2018.",
            "Matches above the similarity threshold are sent to the watch desk.",
        ),
    ),
    Document(
        5013,
        "Face search policy (draft)",
        "hcpd-face-search-policy-draft.pdf",
        (
            "DRAFT - Face search policy",
            "A match is an investigative lead only and never probable cause.",
            "Searches are logged with the case number and the requesting officer.",
        ),
    ),
)

REQUESTS = (
    Request(
        "18-101",
        "Any contract, pilot agreement or purchase order with a vendor of face recognition software.",
        "Closed",
        "03/05/2018",
        "05/14/2018",
        (5011,),
    ),
    Request(
        "18-115",
        "Records on connecting city cameras to a face recognition service, and any policy governing its use.",
        "Closed",
        "03/19/2018",
        "06/01/2018",
        (5012, 5013),
    ),
    Request(
        "18-130", "Audit logs of face searches run in April 2018.", "Closed", "04/30/2018", "06/20/2018", ()
    ),
    Request(
        "18-142",
        "Copies of agreements already released under request 18-101.",
        "Closed",
        "05/21/2018",
        "06/22/2018",
        (5011,),
    ),
)


def build_documents() -> dict[str, tuple[bytes, str]]:
    """File name -> (bytes, content type), identical every time."""
    return {d.file_name: (text_pdf([list(d.lines)], title=d.title), PDF) for d in DOCUMENTS}


class NextRequestPortal:
    """The handler; `hits` counts requests per path and query so tests see what was fetched."""

    def __init__(self, storage: SignedStorage, quirks: bool = False) -> None:
        self.storage = storage
        self.quirks = quirks
        self.hits: dict[str, int] = {}
        self.lock = threading.Lock()
        self.refused_once = False

    def __call__(self, request: Incoming) -> Reply:
        key = request.path + (f"?{request.query}" if request.query else "")
        with self.lock:
            self.hits[key] = self.hits.get(key, 0) + 1
        query = {k: v[0] for k, v in parse_qs(request.query).items()}
        page = int(query.get("page_number", "1") or 1)
        if request.path == "/client/requests":
            with self.lock:
                refuse = self.quirks and page == 2 and not self.refused_once
                self.refused_once = self.refused_once or refuse
            if refuse:
                return json_reply({"error": "Rate limit exceeded"}, 429, [("Retry-After", "1")])
            return json_reply(self._requests(page))
        if request.path == "/client/request_documents":
            return self._request_documents(query.get("request_id", ""), page)
        parts = request.path.strip("/").split("/")
        if len(parts) == 3 and parts[0] == "documents" and parts[2] == "download":
            document = _document(parts[1])
            if document is None:
                return Reply(404, b"Not found", content_type="text/plain")
            return Reply(
                302,
                b"",
                headers=[("Location", self.storage.signed_url(document.file_name))],
                content_type=None,
            )
        if len(parts) == 2 and parts[0] in ("requests", "documents"):
            return self._page(parts[0], parts[1])
        return Reply(404, b"<h1>Not found</h1>")

    def _requests(self, page: int) -> dict:
        listed = [self._requestjson_reply(r) for r in REQUESTS]
        if self.quirks:
            listed.insert(
                1, {"request_text": "A request the portal lists without its id", "request_state": "Open"}
            )
        chunk = listed[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        return {"total_count": len(listed), "requests": chunk}

    @staticmethod
    def _requestjson_reply(r: Request) -> dict:
        return {
            "id": r.id,
            "request_text": r.text,
            "request_state": r.state,
            "department_names": HARBOR,
            "request_date": r.opened,
            "closed_date": r.closed,
            "visibility": "published",
        }

    def _request_documents(self, request_id: str, page: int) -> Reply:
        found = next((r for r in REQUESTS if r.id == request_id), None)
        if found is None:
            return json_reply({"error": "Request not found"}, 404)
        documents = [_document(str(d)) for d in found.documents]
        listed = [
            {
                "id": d.id,
                "title": d.title,
                "file_extension": "pdf",
                "request_id": found.id,
                "document_scan": {
                    "document_path": f"/documents/{d.id}",
                    "id": d.id,
                    "upload_date": found.closed,
                },
            }
            for d in documents
            if d is not None
        ]
        chunk = listed[(page - 1) * 25 : page * 25]
        return json_reply({"total_documents_count": len(listed), "documents": chunk})

    def _page(self, kind: str, ident: str) -> Reply:
        title = f"Request {ident}" if kind == "requests" else f"Document {ident}"
        body = (
            f"<!DOCTYPE html><html><head><title>{title}</title></head><body>"
            f"<h1>{title}</h1><p>Harbor City public records portal.</p></body></html>"
        )
        return Reply(200, body.encode())


def _document(ident: str) -> Document | None:
    return next((d for d in DOCUMENTS if str(d.id) == ident), None)


@dataclass
class RunningPortal:
    """The portal and the storage host its downloads redirect to."""

    server: LoopbackServer
    portal: NextRequestPortal
    storage_server: LoopbackServer
    storage: SignedStorage

    @property
    def url(self) -> str:
        return self.server.url

    def stop(self) -> None:
        self.server.stop()
        self.storage_server.stop()


def start_nextrequest_portal(port: int = 0, quirks: bool = False, ttl: float = 300.0) -> RunningPortal:
    """Start the storage host and the portal on 127.0.0.1 (the portal on `port`, 0: any)."""
    storage_server, storage = start_storage(build_documents(), ttl)
    try:
        portal = NextRequestPortal(storage, quirks)
        server = LoopbackServer(portal, port=port).start()
    except OSError:
        storage_server.stop()
        raise
    return RunningPortal(server, portal, storage_server, storage)
