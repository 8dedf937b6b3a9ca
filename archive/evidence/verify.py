"""Prove the archive is unaltered: rows, hash chain, WARC records and time-stamp tokens.

Four independent checks, each reporting every problem it finds:
- every capture's WARC record still hashes to its row (payload SHA-256, record id, type),
  and so does every screenshot's resource record;
- the captures hash chain (archive/index/chain.py) is intact: no row edited, deleted or inserted;
- every record of every WARC file has valid block and payload digests, every
  response is indexed, and a file cut short mid-record (a crash while writing)
  is reported without touching the records before the cut;
- every RFC 3161 token (warcs/<file>.tsr) still matches its file, and every
  time-stamped head of the hash chain (chain/head-<id>.json) is still in the index.
Nothing here writes: verify reads the archive and reports.
"""

from __future__ import annotations

import io
import zlib
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from warcio.exceptions import ArchiveLoadFailed

from archive.config import Archive
from archive.evidence.timestamp import verify_chain_heads, verify_tokens
from archive.index import chain, queries
from archive.warc.digests import labelled, sha256_hex
from archive.warc.read import Member, gzip_members, record_at

INDEXED_TYPES = ("response", "revisit", "resource")


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


@dataclass
class Report:
    """What `verify` looked at and what it found."""

    captures: int = 0
    warc_files: int = 0
    records: int = 0
    tokens: int = 0
    screenshots: int = 0
    problems: list[Problem] = field(default_factory=list)


def verify_report(archive: Archive, tsa_ca: str | None = None) -> Report:
    """Run every check over the archive and return what was checked and found.

    `tsa_ca`: the CA certificate(s) time-stamp tokens chain to (default: the system's).
    """
    index = archive.open_existing()
    try:
        all_rows = queries.rows(index.conn, "SELECT * FROM captures ORDER BY id")
        # Responses a spider refused (a gzip bomb, a Wayback answer that is not
        # the memento asked for) are kept in the WARC and named by their
        # fetch_errors row instead of a capture.
        refused = {row[0] for row in index.execute(
            "SELECT warc_record_id FROM fetch_errors WHERE warc_record_id IS NOT NULL")}
        shots = queries.rows(index.conn, "SELECT * FROM screenshots WHERE warc_record_id IS NOT NULL "
                                         "ORDER BY id")
    finally:
        index.close()
    report = Report(captures=len(all_rows), screenshots=len(shots))
    by_id = {r["id"]: r for r in all_rows}
    for capture_id, message in chain.check_chain(all_rows):
        report.problems.append(Problem(capture_id, by_id[capture_id]["url"], "index row", message))

    known_ids = {r["warc_record_id"] for r in all_rows} | {s["warc_record_id"] for s in shots}
    by_file = _check_indexed(archive, all_rows, lambda fh, row: _check_row(fh, row, known_ids),
                             "capture", report.problems)
    shot_files = _check_indexed(archive, shots, _check_screenshot, "screenshot", report.problems)

    warc_dir = archive.warc_dir
    for path in sorted(warc_dir.glob("*.warc.gz")) if warc_dir.is_dir() else []:
        report.warc_files += 1
        starts = {r["warc_offset"] for r in by_file.get(path.name, []) + shot_files.get(path.name, [])}
        report.records += _check_file(path, starts, known_ids | refused, report.problems)

    tokens, token_problems = verify_tokens(warc_dir, tsa_ca)
    heads, head_problems = verify_chain_heads(archive, tsa_ca)
    report.tokens = tokens + heads
    report.problems.extend(Problem(None, "", where, message)
                           for where, message in token_problems + head_problems)
    return report


def _check_indexed(archive: Archive, rows: list[dict[str, Any]], check: Any, kind: str,
                   problems: list[Problem]) -> dict[str, list[dict[str, Any]]]:
    """Run `check(fh, row)` on each row's record, file by file; returns the rows by file."""
    by_file: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in sorted(rows, key=lambda r: (r["warc_filename"], r["warc_offset"] or 0)):
        by_file[row["warc_filename"]].append(row)
    for filename, file_rows in by_file.items():
        path = archive.warc_path(filename)
        if not path.exists():
            problems.extend(Problem(row["id"], row["url"], filename, "WARC file is missing", kind)
                            for row in file_rows)
            continue
        with open(path, "rb") as fh:
            problems.extend(p for p in (check(fh, row) for row in file_rows) if p)
    return by_file


def _check_screenshot(fh: Any, shot: dict[str, Any]) -> Problem | None:
    """A screenshot's resource record: its id, its page (urn:fullPage:<url>) and its PNG's SHA-256."""
    row = {**shot, "warc_type": "resource", "target_uri": f"urn:fullPage:{shot['url']}"}
    return _check_row(fh, row, set(), kind="screenshot")


def _check_row(fh: Any, row: dict[str, Any], known_ids: set[str], kind: str = "capture") -> Problem | None:
    """A row's record: where the row says, with its id, URL, type and payload SHA-256."""
    where = f"{row['warc_filename']}:{row['warc_offset']}"

    def problem(message: str) -> Problem:
        return Problem(row["id"], row["url"], where, message, kind)

    try:
        record = record_at(fh, row["warc_offset"] or 0)
        if record is None:
            return problem("no WARC record at this offset")
    except (ArchiveLoadFailed, OSError, EOFError, ValueError, zlib.error) as exc:
        return problem(f"record cannot be read: {exc}")
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
    actual = sha256_hex(record.payload)
    if actual != row["sha256"]:
        return problem(f"payload SHA-256 is {actual}, index says {row['sha256']}")
    return problem("; ".join(failed)) if failed else None


def _check_file(path: Path, indexed_starts: set[int], known_ids: set[str],
                problems: list[Problem]) -> int:
    """Check every record of one file; rows' own records are reported by _check_row."""
    count = 0
    for member in gzip_members(path):
        where = f"{path.name}:{member.offset}"
        if member.data is None:
            if member.truncated:
                problems.append(Problem(None, "", where, (
                    f"WARC file is truncated: the last record (from byte {member.offset}, "
                    f"{member.length} bytes present) is cut off mid-record, as by a crash while "
                    f"writing; the {count} records before it are intact and were left untouched")))
            elif member.offset not in indexed_starts:
                problems.append(Problem(None, "", where, member.error or "damaged record"))
            return count
        count += 1
        if member.offset in indexed_starts:
            continue
        problem = _check_member(member, known_ids)
        if problem:
            problems.append(Problem(None, problem[0], where, problem[1]))
    return count


def _check_member(member: Member, known_ids: set[str]) -> tuple[str, str] | None:
    assert member.data is not None
    try:
        record = record_at(io.BytesIO(member.data), 0)
        if record is None:
            return "", "gzip member holds no WARC record"
    except (ArchiveLoadFailed, OSError, EOFError, ValueError) as exc:
        return "", f"record cannot be read: {exc}"
    if record.digest_failures:
        return record.url, f"{record.warc_type} record: " + "; ".join(record.digest_failures)
    if record.warc_type in INDEXED_TYPES and record.record_id not in known_ids:
        table = "screenshot" if record.warc_type == "resource" else "capture"
        return record.url, (f"{record.warc_type} record {record.record_id} is in no {table} row: "
                            "its row was deleted, or the crawl stopped before indexing it")
    return None
