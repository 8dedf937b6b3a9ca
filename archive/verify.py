"""Prove the archive is unaltered: every capture's WARC record still hashes to its row."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any
import zlib

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed

from . import db as dbmod
from .warc import labelled, sha256_hex


@dataclass(frozen=True)
class Problem:
    """One thing that does not match, worded so it can be quoted in a report."""

    capture_id: int | None
    url: str
    where: str
    message: str

    def line(self) -> str:
        who = f"capture {self.capture_id}" if self.capture_id is not None else "archive"
        return f"{who} ({self.url}) at {self.where}: {self.message}"


def verify(data_dir: str | Path) -> tuple[int, list[Problem]]:
    """Re-read every capture's record; returns (captures checked, problems found)."""
    data_dir = Path(data_dir)
    index = dbmod.open_existing(data_dir)
    try:
        rows = list(index.execute(
            "SELECT id, url, sha256, warc_filename, warc_offset, warc_length, "
            "warc_record_id, warc_type, refers_to FROM captures ORDER BY warc_filename, warc_offset"
        ).fetchall())
        known_ids = {r[6] for r in rows}
    finally:
        index.close()
    problems: list[Problem] = []
    by_file: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
    for row in rows:
        by_file[row[3]].append(row)
    for filename, file_rows in by_file.items():
        path = data_dir / dbmod.WARC_DIR / filename
        if not path.exists():
            for row in file_rows:
                problems.append(Problem(row[0], row[1], filename, "WARC file is missing"))
            continue
        with open(path, "rb") as fh:
            for row in file_rows:
                problem = _check_row(fh, row, known_ids)
                if problem:
                    problems.append(problem)
    return len(rows), problems


def _check_row(fh: Any, row: tuple[Any, ...], known_ids: set[str]) -> Problem | None:
    cid, url, sha256, filename, offset, length, record_id, warc_type, refers_to = row
    where = f"{filename}:{offset}"

    def problem(message: str) -> Problem:
        return Problem(cid, url, where, message)

    fh.seek(offset)
    try:
        record = next(iter(ArchiveIterator(fh, check_digests=True)), None)
        if record is None:
            return problem("no WARC record at this offset")
        payload = record.raw_stream.read()
    except (ArchiveLoadFailed, OSError, EOFError, ValueError, zlib.error) as exc:
        return problem(f"record cannot be read: {exc}")
    headers = record.rec_headers
    if headers.get_header("WARC-Record-ID") != record_id:
        return problem(f"record id is {headers.get_header('WARC-Record-ID')}, index says {record_id}")
    if headers.get_header("WARC-Target-URI") != url:
        return problem(f"record is for {headers.get_header('WARC-Target-URI')}")
    if record.rec_type != warc_type:
        return problem(f"record type is {record.rec_type}, index says {warc_type}")
    checker = getattr(record, "digest_checker", None)
    failed = [p for p in (checker.problems if checker else []) if "failed" in p]
    if warc_type == "revisit":
        if headers.get_header("WARC-Payload-Digest") != labelled(sha256):
            return problem("revisit's payload digest differs from the index")
        if refers_to not in known_ids:
            return problem(f"revisit refers to {refers_to}, which no capture holds")
        if failed:
            return problem("; ".join(failed))
        return None
    actual = sha256_hex(payload)
    if actual != sha256:
        return problem(f"payload SHA-256 is {actual}, index says {sha256}")
    if failed:
        return problem("; ".join(failed))
    return None
