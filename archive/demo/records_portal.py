"""The fixture records portal: what agencies released about buying face recognition.

Everything here is invented, modelled on the public record in shared/seeds: a
county sheriff's office that loaded some 300,000 booking photos into a cloud
vendor's face-search service under a non-disclosure agreement, and a city
police department that piloted it with body cameras. The vendor and product
are those of archive/demo/vendor_site.py.

Three shapes of portal live on one server:

- `/requests/`: a public-records request site (listing pages of requests,
  each request page with agency, status, dates, communications and files);
- `/lakeport/police/released-records/`: a city police department's table of
  released records, one release per row, over two pages;
- `/reading-room/ccso/`: a bare directory index of files;
- `/api_v2/`: a MuckRock-shaped API of other requests, with their
  communications and human pages (archive/demo/muckrock_api.py).
"""

from __future__ import annotations

import html
import io
import zipfile
from dataclasses import dataclass

from archive.demo import muckrock_api
from archive.demo.muckrock_api import SHERIFF
from archive.demo.pdfgen import scanned_pdf, text_pdf
from archive.demo.server import Incoming, LoopbackServer, Reply

POLICE = "Lakeport Police Department"
BOARD = "Clearwater County Board of Supervisors"

# A phrase that exists only in the picture on page 2 of the scanned memo.
SCAN_ONLY_PHRASE = "duplicate booking photos"


@dataclass(frozen=True)
class Release:
    slug: str
    title: str
    agency: str
    reference: str
    released: str  # as the portal shows it
    released_on: str  # ISO date, what the index should hold
    files: tuple[str, ...]
    request_text: str = ""
    status: str = "Completed"
    submitted: str = ""


REQUESTS = (
    Release(
        "ccso-face-search-contract-1031",
        "Face search contract and non-disclosure agreement",
        SHERIFF,
        "CCSO-PRR-2018-0031",
        "May 2, 2018",
        "2018-05-02",
        ("nda-northwind-ccso.pdf", "northwind-price-quote.pdf"),
        "Please send any agreement, purchase order or confidentiality agreement between the "
        "Sheriff's Office and a cloud provider for matching faces.",
        submitted="March 12, 2018",
    ),
    Release(
        "ccso-booking-photo-upload-1032",
        "Emails about uploading the booking photo archive",
        SHERIFF,
        "CCSO-PRR-2018-0032",
        "May 9, 2018",
        "2018-05-09",
        (
            "ccso-email-export-2017.html",
            "booking-photo-memo-scan.pdf",
            "northwind-price-quote.pdf",
            "invoice-2017-11.pdf",
        ),
        "Please send the correspondence about moving jail booking images to an outside "
        "service, from January 2017 to date.",
        submitted="March 12, 2018",
    ),
    Release(
        "ccso-deputy-training-1040",
        "Training materials for deputies on face matching",
        SHERIFF,
        "CCSO-PRR-2018-0040",
        "June 1, 2018",
        "2018-06-01",
        ("recognize-training-slides.pdf", "field-guide.docx"),
        "Please send slide decks, guides or handouts used to train deputies to run face searches.",
        submitted="April 2, 2018",
    ),
    Release(
        "bos-facial-recognition-purchases-1007",
        "Board records on facial recognition purchases",
        BOARD,
        "BOS-2018-0007",
        "June 12, 2018",
        "2018-06-12",
        ("bos-response-letter.pdf",),
        "Please send board agendas, minutes or approvals for any facial recognition "
        "purchase by a county department.",
        submitted="April 9, 2018",
    ),
)

TABLE = (
    Release(
        "lpd-1",
        "Cloud services agreement with Northwind Cloud",
        POLICE,
        "LPD-18-0112",
        "2018-03-02",
        "2018-03-02",
        ("lpd-northwind-agreement.pdf",),
    ),
    Release(
        "lpd-2",
        "Body camera face matching pilot: project notes",
        POLICE,
        "LPD-18-0140",
        "2018-04-20",
        "2018-04-20",
        ("lpd-pilot-notes.pdf",),
    ),
    Release(
        "lpd-3",
        "Surveillance technology annual report 2017",
        POLICE,
        "LPD-18-0201",
        "2018-06-30",
        "2018-06-30",
        ("lpd-surveillance-report-2017.pdf",),
    ),
)

REQUESTS_PER_PAGE = 2
ROWS_PER_PAGE = 2
DIRECTORY = "/reading-room/ccso/"
DIRECTORY_FILES = ("recognize-training-slides.pdf", "ccso-face-matching-policy.txt")


def _docx(paragraphs: list[str]) -> bytes:
    """The smallest Word document that Word and our extractor both open."""
    body = "".join(
        f'<w:p><w:r><w:t xml:space="preserve">{html.escape(p)}</w:t></w:r></w:p>' for p in paragraphs
    )
    parts = {
        "[Content_Types].xml": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/word/document.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>'
        ),
        "_rels/.rels": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
            'relationships/officeDocument" Target="word/document.xml"/></Relationships>'
        ),
        "word/document.xml": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
            f"<w:body>{body}</w:body></w:document>"
        ),
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in parts.items():
            info = zipfile.ZipInfo(name, date_time=(2018, 5, 30, 9, 0, 0))  # fixed: same bytes each run
            zf.writestr(info, text)
    return buf.getvalue()


EMAIL_EXPORT = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Exported messages: booking photo upload</title></head>
<body><h1>Exported messages (3)</h1>
<div class="message"><table><tr><th>From</th><td>systems.manager@ccso.example</td></tr>
<tr><th>To</th><td>solutions@northwind.example</td></tr>
<tr><th>Date</th><td>Tue, 14 Nov 2017 10:02:11 -0800</td></tr>
<tr><th>Subject</th><td>Loading our mugshots</td></tr></table>
<p>We exported every booking image since 2001 from the jail system, close to 300,000 files.
How long will it take to index all of them in Northwind Recognize?</p></div>
<div class="message"><table><tr><th>From</th><td>solutions@northwind.example</td></tr>
<tr><th>To</th><td>systems.manager@ccso.example</td></tr>
<tr><th>Date</th><td>Tue, 14 Nov 2017 15:40:55 -0800</td></tr>
<tr><th>Subject</th><td>RE: Loading our mugshots</td></tr></table>
<p>A collection that size indexes in an afternoon. Our consultants can help at no charge,
and we would value your feedback on features for law enforcement before launch.</p></div>
<div class="message"><table><tr><th>From</th><td>systems.manager@ccso.example</td></tr>
<tr><th>To</th><td>undersheriff@ccso.example</td></tr>
<tr><th>Date</th><td>Wed, 15 Nov 2017 08:12:03 -0800</td></tr>
<tr><th>Subject</th><td>FW: Loading our mugshots</td></tr></table>
<p>Good news on timing. Per the agreement we signed, please keep the details of this
project out of public statements.</p></div>
</body></html>
"""


PDF = "application/pdf"


def build_files() -> dict[str, tuple[bytes, str]]:
    """File name -> (bytes, content type); built once per server, identical every time."""
    return {**_sheriff_files(), **_other_agency_files()}


def _sheriff_files() -> dict[str, tuple[bytes, str]]:
    """What the county sheriff's office released."""
    pdf = PDF
    return {
        "nda-northwind-ccso.pdf": (
            text_pdf(
                [
                    [
                        "MUTUAL NON-DISCLOSURE AGREEMENT",
                        "Between Northwind Cloud Services, Inc. and the Clearwater County Sheriff's Office",
                        "",
                        "The parties will hold in confidence all terms of their work together on",
                        "Northwind Recognize, including pricing and deployment details.",
                        "Neither party will issue a press release without the other's written consent.",
                        "Term: three years from the date of signature, November 1, 2017.",
                    ]
                ],
                title="Mutual non-disclosure agreement",
            ),
            pdf,
        ),
        "northwind-price-quote.pdf": (
            text_pdf(
                [
                    [
                        "Northwind Cloud - price quote Q-2017-0815",
                        "Prepared for: Clearwater County Sheriff's Office",
                        "",
                        "Northwind Recognize image analysis: $1.00 per 1,000 images",
                        "Face metadata storage: $0.01 per 1,000 faces per month",
                        "Estimated monthly cost for 300,000 stored faces: $3.00",
                        "Professional services: no charge during the pilot",
                    ]
                ],
                title="Price quote",
            ),
            pdf,
        ),
        "booking-photo-memo-scan.pdf": (
            scanned_pdf(
                [
                    [
                        "CLEARWATER COUNTY SHERIFF - JAIL DIVISION",
                        "Memorandum, December 4, 2017",
                        "Subject: booking image export",
                        "The export of the booking image archive",
                        "finished on schedule.",
                    ],
                    [
                        "Before each monthly upload, run the",
                        f"quarterly purge of {SCAN_ONLY_PHRASE}",
                        "so each person appears once.",
                        "About 300,000 images are now searchable.",
                    ],
                ]
            ),
            pdf,
        ),
        # Starts like a PDF, then breaks off: no objects, no cross-reference table.
        "invoice-2017-11.pdf": (
            b"%PDF-1.5\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catal" + bytes(range(256)) * 4,
            pdf,
        ),
        "recognize-training-slides.pdf": (
            text_pdf(
                [
                    ["Face matching for deputies", "Northwind Recognize training, May 2018"],
                    [
                        "Slide 2: When to run a search",
                        "Only for a lead in an open investigation.",
                        "Never as the sole basis for an arrest.",
                    ],
                    [
                        "Slide 3: How to read a result",
                        "A similarity score is not an identification.",
                        "Confirm every candidate against other evidence.",
                    ],
                    ["Slide 4: What the collection holds", "About 300,000 booking photos taken since 2001."],
                ],
                title="Face matching for deputies",
            ),
            pdf,
        ),
        "field-guide.docx": (
            _docx(
                [
                    "Field guide: photo searches from a patrol phone",
                    "Open the search app, take a well-lit frontal photo and submit it.",
                    "Results from Northwind Recognize arrive in seconds; treat them as leads only.",
                ]
            ),
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
        "ccso-face-matching-policy.txt": (
            b"Clearwater County Sheriff's Office - Policy 614, face matching\n"
            b"Deputies may search field photos against booking photos only for an open case.\n"
            b"Searches run on Northwind Recognize and are logged for audit.\n",
            "text/plain; charset=utf-8",
        ),
        "ccso-email-export-2017.html": (EMAIL_EXPORT.encode("utf-8"), "text/html; charset=utf-8"),
    }


def _other_agency_files() -> dict[str, tuple[bytes, str]]:
    """What the county board and the city police released."""
    pdf = PDF
    return {
        "bos-response-letter.pdf": (
            text_pdf(
                [
                    [
                        "Clearwater County Board of Supervisors",
                        "Response to records request BOS-2018-0007",
                        "",
                        "The Board holds no contract or approval for a facial recognition purchase.",
                        "Staff did recognize one vendor visit: Orbital Vision showed its FaceFind",
                        "kiosk at a 2017 budget workshop. No purchase followed.",
                    ]
                ],
                title="Response letter",
            ),
            pdf,
        ),
        "lpd-northwind-agreement.pdf": (
            text_pdf(
                [
                    [
                        "CITY OF LAKEPORT - CLOUD SERVICES AGREEMENT",
                        "Vendor: Northwind Cloud Services, Inc.",
                        "Services: hosting, video storage and Northwind Recognize face search",
                        "Effective March 1, 2018. Annual ceiling: $12,000.",
                    ]
                ],
                title="Cloud services agreement",
            ),
            pdf,
        ),
        "lpd-pilot-notes.pdf": (
            text_pdf(
                [
                    [
                        "Body camera pilot - project notes",
                        "Six officers wore cameras streaming to the vendor's cloud.",
                        "Faces in live video were compared with the department's watchlist.",
                        "The pilot ends June 30, 2018; the chief will decide on expansion.",
                    ]
                ],
                title="Pilot notes",
            ),
            pdf,
        ),
        "lpd-surveillance-report-2017.pdf": (
            text_pdf(
                [
                    [
                        "Lakeport Police Department",
                        "Surveillance technology annual report, 2017",
                        "License plate readers: 4 fixed, 2 mobile. Retention: 30 days.",
                    ]
                ],
                title="Annual report",
            ),
            pdf,
        ),
    }


def _page(title: str, body: str) -> bytes:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title></head><body>"
        '<header><a href="/">Records portal</a></header>'
        f"<main>{body}</main><footer>Fixture portal for Spyglass tests.</footer></body></html>\n"
    ).encode()


def _pages(items: tuple, per_page: int) -> int:
    return (len(items) + per_page - 1) // per_page


def _pager(path: str, page: int, pages: int) -> str:
    links = []
    if page > 1:
        links.append(f'<a rel="prev" href="{path}?page={page - 1}">Previous</a>')
    if page < pages:
        links.append(f'<a rel="next" href="{path}?page={page + 1}">Next</a>')
    return f'<nav class="pagination">{" ".join(links)}</nav>'


def request_listing(page: int) -> bytes:
    pages = _pages(REQUESTS, REQUESTS_PER_PAGE)
    chunk = REQUESTS[(page - 1) * REQUESTS_PER_PAGE : page * REQUESTS_PER_PAGE]
    rows = "".join(
        f'<tr><td><a class="request-link" href="/requests/{r.slug}/">{html.escape(r.title)}</a></td>'
        f"<td>{html.escape(r.agency)}</td><td>{r.status}</td></tr>"
        for r in chunk
    )
    return _page(
        f"Public records requests, page {page}",
        (
            f'<h1>Public records requests</h1><table class="request-list">'
            f"<tr><th>Request</th><th>Agency</th><th>Status</th></tr>{rows}</table>"
            + _pager("/requests/", page, pages)
        ),
    )


def request_page(release: Release) -> bytes:
    files = "".join(f'<li><a href="/files/{name}">{name}</a></li>' for name in release.files)
    return _page(
        f"{release.title} | Public records requests",
        f"""
<h1>{html.escape(release.title)}</h1>
<dl class="request-info">
<dt>Agency</dt><dd><a href="/agencies/">{html.escape(release.agency)}</a></dd>
<dt>Status</dt><dd>{release.status}</dd>
<dt>Tracking number</dt><dd>{release.reference}</dd>
<dt>Submitted</dt><dd>{release.submitted}</dd>
<dt>Completed</dt><dd>{release.released}</dd>
</dl>
<section class="communications">
<article class="communication"><h2>Request, {release.submitted}</h2>
<p>{html.escape(release.request_text)}</p></article>
<article class="communication"><h2>Response, {release.released}</h2>
<p>Responsive records are attached.</p>
<ul class="files">{files}</ul></article>
</section>""",
    )


def table_listing(page: int) -> bytes:
    pages = _pages(TABLE, ROWS_PER_PAGE)
    chunk = TABLE[(page - 1) * ROWS_PER_PAGE : page * ROWS_PER_PAGE]
    rows = "".join(
        f"<tr><td>{r.released}</td><td>{r.reference}</td><td>{html.escape(r.title)}</td><td>"
        + " ".join(f'<a href="/files/{name}">PDF</a>' for name in r.files)
        + "</td></tr>"
        for r in chunk
    )
    return _page(
        f"Released records - Lakeport Police Department, page {page}",
        (
            "<h1>Released records</h1><p>Records released under the Public Records Act.</p>"
            '<table class="records"><thead><tr><th>Date released</th><th>Reference</th>'
            f"<th>Description</th><th>Files</th></tr></thead><tbody>{rows}</tbody></table>"
            + _pager("/lakeport/police/released-records/", page, pages)
        ),
    )


def directory_listing() -> bytes:
    links = "".join(f'<a href="{name}">{name}</a>\n' for name in DIRECTORY_FILES)
    return (
        f"<html><head><title>Index of {DIRECTORY}</title></head><body>"
        f'<h1>Index of {DIRECTORY}</h1><pre><a href="?C=N;O=D">Name</a> '
        f'<a href="?C=M;O=A">Last modified</a>\n<a href="/reading-room/">Parent Directory</a>\n'
        f"{links}</pre></body></html>\n"
    ).encode()


class RecordsPortal:
    """The handler; `hits` counts requests per path so tests can see nothing is fetched twice."""

    def __init__(self) -> None:
        self.files = build_files()
        self.hits: dict[str, int] = {}

    def __call__(self, request: Incoming) -> Reply:
        path = request.path
        key = path + (f"?{request.query}" if request.query else "")
        self.hits[key] = self.hits.get(key, 0) + 1
        page = _page_number(request.query)
        if path == "/robots.txt":
            return Reply(body=b"User-agent: *\nDisallow: /admin/\n", content_type="text/plain")
        api = muckrock_api.answer(request)
        if api is not None:
            return api
        if path == "/requests/" and page:
            if page <= _pages(REQUESTS, REQUESTS_PER_PAGE):
                return Reply(body=request_listing(page))
        for release in REQUESTS:
            if path == f"/requests/{release.slug}/":
                return Reply(body=request_page(release))
        if path == "/lakeport/police/released-records/" and page:
            if page <= _pages(TABLE, ROWS_PER_PAGE):
                return Reply(body=table_listing(page))
        if path == DIRECTORY and not request.query:
            return Reply(body=directory_listing())
        if path.startswith(DIRECTORY) and path[len(DIRECTORY) :] in DIRECTORY_FILES:
            body, ctype = self.files[path[len(DIRECTORY) :]]
            return Reply(body=body, content_type=ctype)
        if path.startswith("/files/") and path[7:] in self.files:
            body, ctype = self.files[path[7:]]
            return Reply(body=body, content_type=ctype)
        return Reply(404, _page("Not found", "<h1>Not found</h1>"))


def _page_number(query: str) -> int | None:
    if not query:
        return 1
    for part in query.split("&"):
        key, _, value = part.partition("=")
        if key == "page" and value.isdigit() and int(value) > 0:
            return int(value)
    return None


def start_records_portal(port: int = 0) -> tuple[LoopbackServer, RecordsPortal]:
    """Start the portal on 127.0.0.1 and return the server and its handler."""
    portal = RecordsPortal()
    return LoopbackServer(portal, port=port, etags=True).start(), portal
