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
import re
import zlib
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from warcio.exceptions import ArchiveLoadFailed

from archive.archive import Archive
from archive.evidence.timestamp import trusted_ca, verify_chain_heads, verify_tokens
from archive.index import chain, queries
from archive.index.db import open_existing
from archive.index.kinds import ObservationKind
from archive.warc.digests import labelled, sha256_hex
from archive.warc.read import Member, gzip_members, read_record, record_at

# Records that must each have a capture row: responses and revisits from crawls,
# resources from imports (an Atlas of Surveillance export read from disk); or,
# for a resource, a screenshots row.
INDEXED_TYPES = ("response", "revisit", "resource")
RECORD_ID = re.compile(rb"WARC-Record-ID:[ \t]*(<[^>\r\n]*>)")


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

    `tsa_ca`: the CA certificate(s) time-stamp tokens chain to (default: the one kept in
    warcs/tsa-ca.pem by `spyglass timestamp`, else the system's).
    """
    index = open_existing(archive)
    try:
        all_rows = queries.rows(index.conn, "SELECT * FROM captures ORDER BY id")
        # Responses a spider refused (a gzip bomb, a Wayback answer that is not
        # the memento asked for) are kept in the WARC and named by their
        # fetch_errors row instead of a capture.
        refused = {
            row[0]
            for row in index.execute(
                "SELECT warc_record_id FROM fetch_errors WHERE warc_record_id IS NOT NULL"
            )
        }
        shots = queries.rows(
            index.conn, "SELECT * FROM screenshots WHERE warc_record_id IS NOT NULL ORDER BY id"
        )
        # A 304 answer is a response record indexed as an observation, not a capture.
        observed = queries.rows(
            index.conn, "SELECT * FROM observations WHERE kind = ?", [ObservationKind.NOT_MODIFIED]
        )
        # Records cut short by a crash, named when the run was resumed (archive/ingest/reconcile.py).
        cuts = {(r["filename"], r["offset"]): r for r in queries.rows(index.conn, "SELECT * FROM warc_cuts")}
    finally:
        index.close()
    report = Report(captures=len(all_rows), screenshots=len(shots))
    by_id = {r["id"]: r for r in all_rows}
    for capture_id, message in chain.check_chain(all_rows):
        report.problems.append(Problem(capture_id, by_id[capture_id]["url"], "index row", message))

    known_ids = {r["warc_record_id"] for r in all_rows} | {s["warc_record_id"] for s in shots}
    report.problems.extend(_check_observations(archive, observed))
    refused |= {r["warc_record_id"] for r in observed}
    by_file = _by_file(all_rows)
    shot_files = _by_file(shots)

    file_problems: list[Problem] = []
    cut_at: dict[str, Cut] = {}
    warc_dir = archive.warc_dir
    for path in sorted(warc_dir.glob("*.warc.gz")) if warc_dir.is_dir() else []:
        report.warc_files += 1
        file_rows = by_file.get(path.name, [])
        starts = {r["warc_offset"] for r in file_rows + shot_files.get(path.name, [])}
        count, cut = _check_file(path, starts, known_ids | refused, file_problems)
        report.records += count
        if cut is not None and not _known_cut(path, cut, cuts):
            cut_at[path.name] = cut
            file_problems.append(cut.problem(path.name, count, file_rows))

    for filename, file_rows in by_file.items():
        report.problems.extend(
            _check_rows(archive.warc_path(filename), file_rows, known_ids, cut_at.get(filename))
        )
    for filename, file_shots in shot_files.items():
        report.problems.extend(_check_screenshots(archive.warc_path(filename), file_shots))
    report.problems.extend(file_problems)

    tsa_ca = trusted_ca(archive, tsa_ca)
    tokens, token_problems = verify_tokens(warc_dir, tsa_ca)
    heads, head_problems = verify_chain_heads(archive, tsa_ca)
    report.tokens = tokens + heads
    report.problems.extend(
        Problem(None, "", where, message) for where, message in token_problems + head_problems
    )
    return report


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


def _check_rows(
    path: Path, file_rows: list[dict[str, Any]], known_ids: set[str], cut: Cut | None
) -> list[Problem]:
    """Each capture of one file against its record; a capture past a cut is named as cut off."""
    if not path.exists():
        return [Problem(r["id"], r["url"], path.name, "WARC file is missing") for r in file_rows]
    found: list[Problem] = []
    lost = {r["id"] for r in cut.affected(file_rows)} if cut else set()
    with open(path, "rb") as fh:
        for row in file_rows:
            if row["id"] in lost:
                # A body-less record (a redirect) can read back whole from a cut member.
                found.append(
                    Problem(
                        row["id"],
                        row["url"],
                        f"{path.name}:{row['warc_offset']}",
                        (
                            f"its WARC record is cut off: the file ends mid-record at byte "
                            f"{cut.offset + cut.present}"
                        ),
                    )
                )  # type: ignore[union-attr]
                continue
            problem = check_row(fh, row, known_ids)
            if problem:
                found.append(problem)
    return found


def _by_file(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Rows by the WARC file that holds their record, in offset order."""
    by_file: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in sorted(rows, key=lambda r: (r["warc_filename"], r["warc_offset"] or 0)):
        by_file[row["warc_filename"]].append(row)
    return by_file


def _check_screenshots(path: Path, shots: list[dict[str, Any]]) -> list[Problem]:
    """Each screenshot's resource record: its id, its page (urn:fullPage:<url>), its PNG's SHA-256."""
    if not path.exists():
        return [Problem(s["id"], s["url"], path.name, "WARC file is missing", "screenshot") for s in shots]
    with open(path, "rb") as fh:
        found = (
            check_row(
                fh,
                {**s, "warc_type": "resource", "target_uri": f"urn:fullPage:{s['url']}"},
                set(),
                "screenshot",
            )
            for s in shots
        )
        return [problem for problem in found if problem]


def check_row(fh: Any, row: dict[str, Any], known_ids: set[str], kind: str = "capture") -> Problem | None:
    """A row's record where the row says: its id, URI, type and payload SHA-256."""
    where = f"{row['warc_filename']}:{row['warc_offset']}"

    def problem(message: str) -> Problem:
        return Problem(row["id"], row["url"], where, message, kind)

    try:
        record = record_at(fh, row["warc_offset"] or 0)
        if record is None:
            return problem("no WARC record at this offset")
    except Exception as exc:  # noqa: BLE001 - damaged bytes break parsers in any way; verify reports
        return problem(f"record cannot be read: {_what(exc)}")
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


def _check_file(
    path: Path, indexed_starts: set[int], known_ids: set[str], problems: list[Problem]
) -> tuple[int, Cut | None]:
    """Check every record of one file (rows' own records are check_row's); where it is cut, if it is."""
    count = 0
    last: tuple[int, str] | None = None
    for member in gzip_members(path):
        where = f"{path.name}:{member.offset}"
        if member.data is None:
            if member.truncated:
                return count, Cut(member.offset, member.length, last)
            if member.offset not in indexed_starts:
                problems.append(Problem(None, "", where, member.error or "damaged record"))
            return count, None
        count += 1
        found = RECORD_ID.search(member.data[:4096])
        last = (member.offset, found.group(1).decode("ascii", "replace") if found else "(no record id)")
        if member.offset in indexed_starts:
            continue
        problem = _check_member(member, known_ids)
        if problem:
            problems.append(Problem(None, problem[0], where, problem[1]))
    return count, None


def _check_member(member: Member, known_ids: set[str]) -> tuple[str, str] | None:
    assert member.data is not None
    try:
        record = record_at(io.BytesIO(member.data), 0)
        if record is None:
            return "", "gzip member holds no WARC record"
    except Exception as exc:  # noqa: BLE001 - as in check_row
        return "", f"record cannot be read: {_what(exc)}"
    if record.digest_failures:
        return record.url, f"{record.warc_type} record: " + "; ".join(record.digest_failures)
    if record.warc_type in INDEXED_TYPES and record.record_id not in known_ids:
        rows = "capture or screenshot row" if record.warc_type == "resource" else "capture row"
        return record.url, (
            f"{record.warc_type} record {record.record_id} is in no {rows}: "
            "its row was deleted, or the crawl stopped before indexing it"
        )
    return None


def _what(exc: Exception) -> str:
    """An exception from a parser fed damaged bytes, in one line."""
    if isinstance(exc, (ArchiveLoadFailed, OSError, EOFError, ValueError, zlib.error)):
        return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return f"damaged record ({type(exc).__name__}: {exc})"


def _check_observations(archive: Archive, observed: list[dict[str, Any]]) -> list[Problem]:
    """Each 304 observation's record is where its row says, with its id and status."""
    problems = []
    for row in observed:
        where = f"{row['warc_filename']}:{row['warc_offset']}"
        try:
            record = read_record(archive.warc_path(row["warc_filename"]), row["warc_offset"])
        except (ArchiveLoadFailed, OSError, EOFError, ValueError, zlib.error) as exc:
            problems.append(
                Problem(None, row["url"], where, f"observation {row['id']}: record cannot be read: {exc}")
            )
            continue
        if record.record_id != row["warc_record_id"] or record.http_status != 304:
            problems.append(
                Problem(
                    None,
                    row["url"],
                    where,
                    f"observation {row['id']}: record is "
                    f"{record.record_id} with status {record.http_status}, index says "
                    f"{row['warc_record_id']} with status 304",
                )
            )
    return problems


def _known_cut(path: Path, cut: Cut, cuts: dict[tuple[str, int], dict[str, Any]]) -> bool:
    """A cut record named in warc_cuts, byte for byte: a crash the resumed run already reported."""
    named = cuts.get((path.name, cut.offset))
    if named is None or named["length"] != cut.present:
        return False
    with open(path, "rb") as fh:
        fh.seek(cut.offset)
        return sha256_hex(fh.read()) == named["sha256"]
