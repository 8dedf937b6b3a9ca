"""Verify one capture now, for the capture page: what `spyglass verify` checks, for this row only.

A lawyer reading a capture page wants to know that the bytes behind it are
still the bytes that were archived, without running the whole archive's
verify. This re-reads the capture's WARC record (and for a revisit, the record
holding its payload), re-hashes the payload, re-computes the row's place in
the hash chain, and checks the WARC file's RFC 3161 token if it has one.
Nothing is written: the answer is as of the moment it is asked.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from archive.archive import Archive
from archive.evidence.records import check_row
from archive.evidence.timestamp import TOKEN_SUFFIX, check_token, token_time, trusted_ca
from archive.index import chain
from archive.index.queries import rows

PAYLOAD_LIMIT = 200_000_000  # larger payloads are left to `spyglass verify` (a page view is no place for it)


@dataclass(frozen=True)
class Check:
    """One thing checked: what, whether it holds, and in words a report can quote."""

    what: str
    ok: bool | None  # None: not checked here, and why is in `detail`
    detail: str


def check_capture(archive: Archive, conn: sqlite3.Connection, capture_id: int) -> list[Check] | None:
    """Every check of capture `capture_id`, or None if there is no such capture."""
    found = rows(conn, "SELECT * FROM captures WHERE id = ?", [capture_id])
    if not found:
        return None
    row = found[0]
    if row["warc_type"] != "revisit":
        checks = [_record(archive, row, None)]
    else:
        # The record holding the payload this revisit stands for.
        held = rows(conn, "SELECT * FROM captures WHERE warc_record_id = ?", [row["refers_to"]])
        original = held[0] if held else None
        checks = [_record(archive, row, original), _original(archive, row, original)]
    checks.append(_chain(conn, row))
    checks.append(_token(archive, row["warc_filename"]))
    return checks


def _record(archive: Archive, row: dict[str, Any], original: dict[str, Any] | None) -> Check:
    where = f"{row['warc_filename']} at byte {row['warc_offset']}"
    path = archive.warc_path(row["warc_filename"])
    if not path.exists():
        return Check("WARC record", False, f"{row['warc_filename']} is missing")
    if (row["warc_length"] or 0) > PAYLOAD_LIMIT:
        return Check(
            "WARC record",
            None,
            f"{where}: larger than {PAYLOAD_LIMIT // 1_000_000} MB, checked by `spyglass verify`",
        )
    known = {row["warc_record_id"]} | ({original["warc_record_id"]} if original else set())
    with open(path, "rb") as fh:
        problem = check_row(fh, row, known)
    if problem:
        return Check("WARC record", False, f"{where}: {problem.message}")
    what = (
        "its payload digest matches the index"
        if row["warc_type"] == "revisit"
        else f"its payload re-hashed just now is SHA-256 {row['sha256']}, as the index says"
    )
    return Check(
        "WARC record",
        True,
        f"{where}: record {row['warc_record_id']} ({row['warc_type']}); "
        f"{what}; its WARC block and payload digests are valid",
    )


def _original(archive: Archive, row: dict[str, Any], original: dict[str, Any] | None) -> Check:
    """The record a revisit refers to: it holds the payload this capture stands for."""
    if original is None:
        return Check(
            "Original record", False, f"the revisit refers to {row['refers_to']}, which no capture holds"
        )
    checked = _record(archive, original, None)
    if checked.ok and original["sha256"] != row["sha256"]:
        return Check(
            "Original record",
            False,
            f"capture {original['id']} holds SHA-256 {original['sha256']}, "
            f"not this capture's {row['sha256']}",
        )
    return Check("Original record", checked.ok, f"capture {original['id']}, {checked.detail}")


def _chain(conn: sqlite3.Connection, row: dict[str, Any]) -> Check:
    """The row still hashes to its row_hash and follows the row before it: chain.check_chain's
    checks, for this one link of the chain."""
    [(previous_id, expected)] = conn.execute(
        "SELECT (SELECT max(id) FROM captures WHERE id < :id), "
        "(SELECT row_hash FROM captures WHERE id < :id AND row_hash IS NOT NULL ORDER BY id DESC LIMIT 1)",
        {"id": row["id"]},
    ).fetchall()
    problems = chain.check_chain([row], expected or chain.GENESIS, previous_id or 0)
    if problems:
        return Check("Hash chain", False, "; ".join(message for _, message in problems))
    return Check(
        "Hash chain",
        True,
        f"the row hashes to {row['row_hash']} and follows capture "
        f"{previous_id or 'none (the first)'}; "
        "`spyglass verify` checks the whole chain",
    )


def _token(archive: Archive, filename: str) -> Check:
    path = archive.warc_path(filename)
    token = path.with_name(path.name + TOKEN_SUFFIX)
    if not token.exists():
        return Check(
            "Time-stamp",
            None,
            f"{filename} has no RFC 3161 token yet (`spyglass timestamp` stamps closed WARC files)",
        )
    problem = check_token(path, token, trusted_ca(archive, None))
    if problem:
        return Check("Time-stamp", False, f"{token.name}: {problem}")
    return Check(
        "Time-stamp",
        True,
        f"{token.name}: the file is unchanged since {token_time(token)}, "
        "as an RFC 3161 time-stamp authority attests",
    )
