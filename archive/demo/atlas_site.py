"""A loopback stand-in for the Atlas of Surveillance's download.csv, and the demo's Atlas rows.

It serves an export as the real server does: every field quoted, a weak
ETag, Last-Modified, and 304 Not Modified to a conditional request that
already holds the current file. The rows are invented, about the demo's
fictional agencies (archive/demo/records_portal.py) and vendor
(archive/demo/vendor_site.py), and link to the pages those fixtures serve.
"""

from __future__ import annotations

import csv
import hashlib
import io
from email.utils import format_datetime, parsedate_to_datetime

from archive.atlas.export import ALIASES, COLUMNS
from archive.demo.records_portal import BOARD, POLICE, SHERIFF
from archive.demo.server import Incoming, LoopbackServer, Reply
from archive.times import utc_now

PATH = "/download.csv"
# An older address of the file, moved as sites move their downloads: it answers 301 to PATH.
MOVED_PATH = "/data-library/download.csv"
# The header as the public export has written it since 2024.
HEADER = [{v: k for k, v in ALIASES.items()}.get(c, c) for c in COLUMNS]


def export_csv(rows: list[dict[str, str]], header: list[str] | None = None) -> bytes:
    """An export of `rows` (column -> value; missing columns blank), quoted as the Atlas quotes it."""
    header = header or HEADER
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([row.get(ALIASES.get(c, c), "") for c in header])
    return buf.getvalue().encode("utf-8")


def demo_rows(vendor: str, portal: str) -> list[dict[str, str]]:
    """The demo's Atlas rows; `vendor` and `portal` are the fixture servers' base URLs."""

    def row(
        number: int,
        agency: str,
        lea: str,
        juris: str,
        technology: str,
        vendor_cell: str,
        summary: str,
        *links: tuple[str, str, str],
    ) -> dict[str, str]:
        city, county = (
            ("Lakeport", "Clearwater County") if agency == POLICE else ("Clearwater", "Clearwater County")
        )
        values = {
            "AOSNUMBER": f"AOS9{number:05d}",
            "NEWAOSNUMBER": f"CA099{number:04d}{technology[:3].upper()}",
            "City": city,
            "County": county,
            "State": "CA",
            "Agency": agency,
            "Type of LEA": lea,
            "Summary": summary,
            "Type of Juris": juris,
            "Technology": technology,
            "Vendor": vendor_cell,
        }
        for n, (url, source, date) in enumerate(links, start=1):
            values.update({f"Link {n}": url, f"Link {n} Source": source, f"Link {n} Date": date})
        return values

    product = f"{vendor}/products/recognize/"
    return [
        row(
            1,
            SHERIFF,
            "Sheriff",
            "County",
            "Face Recognition",
            "Northwind Cloud",
            "The Sheriff's Office signed a non-disclosure agreement with Northwind Cloud and loaded "
            "its booking photos into Northwind Recognize, a face search service.",
            (
                f"{portal}/requests/ccso-face-search-contract-1031/",
                "Clearwater County records portal",
                "May 2, 2018",
            ),
            (f"https://web.archive.org/web/20180601101500/{product}", "Northwind Cloud", "6/1/2018"),
        ),
        row(
            2,
            POLICE,
            "Police",
            "Municipal",
            "Face Recognition",
            "NW Recognize",
            "Lakeport police piloted face matching of body camera footage, according to project "
            "notes the department released.",
            (f"{portal}/lakeport/police/released-records/", "Lakeport Police Department", "2018-03-02"),
        ),
        row(
            3,
            POLICE,
            "Police",
            "Municipal",
            "Body-worn Cameras",
            "Orbital Vision",
            "The department equips patrol officers with body-worn cameras.",
            ("https://news.example/lakeport-police-body-cameras", "Lakeport Ledger", "Apr. 2018"),
        ),
        row(
            4,
            BOARD,
            "Board",
            "County",
            "Face Recognition",
            "Orbital Vision",
            "Board records show a vendor demonstration of FaceFind, Orbital Vision's face search.",
            (
                f"{portal}/requests/bos-facial-recognition-purchases-1007/",
                "Clearwater County records portal",
                "June 2018",
            ),
        ),
        row(
            5,
            SHERIFF,
            "Sheriff",
            "County",
            "Drones",
            "",
            "The Sheriff's Office flies drones for search and rescue.",
            ("https://news.example/clearwater-sheriff-drones", "Clearwater Courier", "2019"),
        ),
    ]


class AtlasSite:
    """Serves one export at /download.csv and answers conditional requests for it; its older
    address redirects there."""

    def __init__(self, body: bytes) -> None:
        self.hits: dict[str, int] = {}  # "200" / "304" -> count
        # (If-None-Match, If-Modified-Since) of each request, as sent.
        self.conditions: list[tuple[str | None, str | None]] = []
        self.publish(body)

    def publish(self, body: bytes) -> None:
        """Serve `body` from now on, with a new ETag and Last-Modified."""
        self.body = body
        self.etag = f'W/"{hashlib.md5(body).hexdigest()}"'  # noqa: S324 - an ETag, not security
        self.modified = utc_now().replace(microsecond=0)

    def __call__(self, request: Incoming) -> Reply:
        if request.path == MOVED_PATH:
            return Reply(
                301, b"Moved to " + PATH.encode(), headers=[("Location", PATH)], content_type="text/plain"
            )
        if request.path != PATH:
            return Reply(404, b"Not found", content_type="text/plain")
        given = {k.lower(): v for k, v in request.headers.items()}
        self.conditions.append((given.get("if-none-match"), given.get("if-modified-since")))
        status = "304" if self._not_modified(given) else "200"
        self.hits[status] = self.hits.get(status, 0) + 1
        headers = [
            ("ETag", self.etag),
            ("Last-Modified", format_datetime(self.modified, usegmt=True)),
            ("Cache-Control", "max-age=300, public"),
        ]
        if status == "304":
            return Reply(304, b"", headers=headers, content_type=None)
        return Reply(
            body=self.body,
            headers=headers + [("Content-Disposition", 'attachment; filename="Atlas of Surveillance.csv"')],
            content_type="text/csv",
        )

    def _not_modified(self, given: dict[str, str]) -> bool:
        """RFC 9110 13.1: If-None-Match (weak comparison) decides; If-Modified-Since only without it."""
        if "if-none-match" in given:
            tags = [t.strip().removeprefix("W/") for t in given["if-none-match"].split(",")]
            return self.etag.removeprefix("W/") in tags or "*" in tags
        if "if-modified-since" in given:
            try:
                return parsedate_to_datetime(given["if-modified-since"]) >= self.modified
            except (TypeError, ValueError):
                return False
        return False


def start_atlas_site(body: bytes, port: int = 0) -> tuple[LoopbackServer, AtlasSite]:
    """Serve an export on 127.0.0.1; returns the server and its handler."""
    site = AtlasSite(body)
    return LoopbackServer(site, port=port).start(), site
