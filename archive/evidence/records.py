"""What verify says about one record: a row against its record, a record no row names, a cut file.

Each check takes a record already read (by the walk of a file, archive/evidence/walk.py,
or by a seek to a row's offset) so that every record is decompressed and hashed once.
"""

from __future__ import annotations

import io
import re
import zlib
from dataclasses import dataclass
from typing import Any

from warcio.exceptions import ArchiveLoadFailed

from archive.warc.checked import checked_record
from archive.warc.digests import labelled, sha256_hex
from archive.warc.read import StoredRecord, record_at

# Records that must each have a capture row: responses and revisits from crawls,
# resources from imports (an Atlas of Surveillance export read from disk); or,
# for a resource, a screenshots row.
INDEXED_TYPES = ("response", "revisit", "resource")
RECORD_ID = re.compile(rb"WARC-Record-ID:[ \t]*(<[^>\r\n]*>)")
READ_ERRORS = (ArchiveLoadFailed, OSError, EOFError, ValueError, zlib.error)


@dataclass(frozen=True)
class Problem:
    """One thing that does not match, worded so it can be quoted in a report."""

    capture_id: int | None  # the id of the capture, or of the screenshot when kind says so
    url: str
    where: str
    message: str
    kind: str = "capture"

    def line(self) -> str:
        who = f"{self.kind} {self.capture_id}" if self.capture_id is not None else "archive"
        url = f" ({self.url})" if self.url else ""
        return f"{who}{url} at {self.where}: {self.message}"


@dataclass(frozen=True)
class Cut:
    """Where a WARC file ends mid-record, and the last record before that point that is whole."""

    offset: int  # where the cut record starts
    present: int  # its bytes that are there
    last_intact: tuple[int, str] | None  # (offset, record id) of the last whole record

    def problem(self, filename: str, intact: int, file_rows: list[dict[str, Any]]) -> Problem:
        """The file's report: where it is cut, the last intact record, every capture affected."""
        last = (
            f"the last intact record is {self.last_intact[1]} at byte {self.last_intact[0]}"
            if self.last_intact
            else "no record before it is whole"
        )
        affected = [f"capture {r['id']} ({r['url']})" for r in self.affected(file_rows)]
        named = (
            ("; captures affected: " + ", ".join(affected))
            if affected
            else ("; no capture is affected (the cut record was never indexed)")
        )
        return Problem(
            None,
            "",
            f"{filename}:{self.offset}",
            (
                f"WARC file is truncated: the last record (from byte {self.offset}, {self.present} "
                f"bytes present) is cut off mid-record, as by a crash while writing; the {intact} "
                f"records before it are intact and were left untouched; {last}{named}"
            ),
        )

    def affected(self, file_rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Capture rows whose record starts at or after the cut: none of their bytes can be trusted."""
        return [r for r in file_rows if (r["warc_offset"] or 0) >= self.offset]


def read_member(data: bytes) -> StoredRecord | None:
    """The record in one gzip member's bytes: the fast reading when it holds, else warcio's."""
    return checked_record(data) or record_at(io.BytesIO(data), 0)


def check_row(fh: Any, row: dict[str, Any], known_ids: set[str], kind: str = "capture") -> Problem | None:
    """A row's record where the row says: its id, URI, type and payload SHA-256."""
    try:
        record = record_at(fh, row["warc_offset"] or 0)
    except Exception as exc:  # noqa: BLE001 - damaged bytes break parsers in any way; verify reports
        return row_problem(row, kind, f"record cannot be read: {what(exc)}")
    return row_against(record, row, known_ids, kind)


def row_problem(row: dict[str, Any], kind: str, message: str) -> Problem:
    """A problem with one row, at the place its record should be."""
    return Problem(row["id"], row["url"], f"{row['warc_filename']}:{row['warc_offset']}", message, kind)


def row_against(
    record: StoredRecord | None, row: dict[str, Any], known_ids: set[str], kind: str = "capture"
) -> Problem | None:
    """A record read back against the row that names it."""

    def problem(message: str) -> Problem:
        return row_problem(row, kind, message)

    if record is None:
        return problem("no WARC record at this offset")
    if record.record_id != row["warc_record_id"]:
        return problem(f"record id is {record.record_id}, index says {row['warc_record_id']}")
    if record.url != row.get("target_uri", row["url"]):
        return problem(f"record is for {record.url}")
    if record.warc_type != row["warc_type"]:
        return problem(f"record type is {record.warc_type}, index says {row['warc_type']}")
    failed = record.digest_failures
    if row["warc_type"] == "revisit":
        if record.headers.get("WARC-Payload-Digest") != labelled(row["sha256"]):
            return problem("revisit's payload digest differs from the index")
        if row["refers_to"] not in known_ids:
            return problem(f"revisit refers to {row['refers_to']}, which no capture holds")
        return problem("; ".join(failed)) if failed else None
    actual = record.payload_sha256 or sha256_hex(record.payload)
    if actual != row["sha256"]:
        return problem(f"payload SHA-256 is {actual}, index says {row['sha256']}")
    return problem("; ".join(failed)) if failed else None


def observation_against(record: StoredRecord, row: dict[str, Any]) -> Problem | None:
    """A 304 observation's record: its id, and the status it answered."""
    if record.record_id == row["warc_record_id"] and record.http_status == 304:
        return None
    return Problem(
        None,
        row["url"],
        f"{row['warc_filename']}:{row['warc_offset']}",
        f"observation {row['id']}: record is "
        f"{record.record_id} with status {record.http_status}, index says "
        f"{row['warc_record_id']} with status 304",
    )


def member_problem(data: bytes, known_ids: set[str]) -> tuple[str, str] | None:
    """(url, what is wrong) with a record no row names: a digest that fails, or a record that
    should have a row and has none."""
    try:
        record = read_member(data)
        if record is None:
            return "", "gzip member holds no WARC record"
    except Exception as exc:  # noqa: BLE001 - as in check_row
        return "", f"record cannot be read: {what(exc)}"
    if record.digest_failures:
        return record.url, f"{record.warc_type} record: " + "; ".join(record.digest_failures)
    if record.warc_type in INDEXED_TYPES and record.record_id not in known_ids:
        rows = "capture or screenshot row" if record.warc_type == "resource" else "capture row"
        return record.url, (
            f"{record.warc_type} record {record.record_id} is in no {rows}: "
            "its row was deleted, or the crawl stopped before indexing it"
        )
    return None


def what(exc: Exception) -> str:
    """An exception from a parser fed damaged bytes, in one line."""
    if isinstance(exc, READ_ERRORS):
        return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return f"damaged record ({type(exc).__name__}: {exc})"
