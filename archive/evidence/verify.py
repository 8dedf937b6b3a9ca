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
Each record is decompressed and hashed once (archive/evidence/walk.py). Verify writes
one thing: a verify_runs row saying what it read, which `--since` starts from. With
`since`, the records a clean verify already read are not read again (a change to
them is found by the next whole verify); everything else is checked as always: the
hash chain end to end, every new row, every byte added since, every token.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archive.archive import Archive
from archive.evidence.records import (
    READ_ERRORS,
    Cut,
    Problem,
    check_row,
    observation_against,
    row_problem,
)
from archive.evidence.since import Verified, last_clean, record_verify
from archive.evidence.timestamp import trusted_ca, verify_chain_heads, verify_tokens
from archive.evidence.walk import FileWalk, Target, walk_files
from archive.index import chain, queries
from archive.index.db import open_existing
from archive.index.kinds import ObservationKind
from archive.progress import Progress
from archive.times import utc_now
from archive.warc.digests import sha256_hex
from archive.warc.read import read_record

__all__ = ["Problem", "Report", "check_row", "verify_report"]


@dataclass
class Report:
    """What `verify` looked at and what it found."""

    captures: int = 0
    warc_files: int = 0
    records: int = 0
    tokens: int = 0
    screenshots: int = 0
    problems: list[Problem] = field(default_factory=list)
    bytes_read: int = 0  # compressed WARC bytes read by this verify
    since: Verified | None = None  # the clean verify `--since` continued from
    records_read: int = 0  # of `records`, those read by this verify (the others: by `since`)
    not_kept: str = ""  # why this verify could not be recorded in the index, if it could not


@dataclass
class Rows:
    """The index's side of the check, read once."""

    captures: list[dict[str, Any]]
    shots: list[dict[str, Any]]
    observed: list[dict[str, Any]]
    refused: set[str]
    cuts: dict[tuple[str, int], dict[str, Any]]

    def highest(self) -> tuple[int, int, int]:
        return tuple(
            max((r["id"] for r in rows), default=0) for rows in (self.captures, self.shots, self.observed)
        )  # type: ignore[return-value]


def verify_report(
    archive: Archive, tsa_ca: str | None = None, since: bool = False, progress: Progress | None = None
) -> Report:
    """Run every check over the archive and return what was checked and found.

    `tsa_ca`: the CA certificate(s) time-stamp tokens chain to (default: the one kept in
    warcs/tsa-ca.pem by `spyglass timestamp`, else the system's). `since`: read only the
    WARC bytes added after the last verify that found nothing wrong (see the module's doc).
    """
    started = utc_now()
    index = open_existing(archive)
    try:
        rows = _load(index)
        last = last_clean(index) if since else None
        report, files = _check(archive, rows, last, progress)
        report.since = last
        tsa_ca = trusted_ca(archive, tsa_ca)
        tokens, token_problems = verify_tokens(archive.warc_dir, tsa_ca)
        heads, head_problems = verify_chain_heads(archive, tsa_ca)
        report.tokens = tokens + heads
        report.problems.extend(
            Problem(None, "", where, message) for where, message in token_problems + head_problems
        )
        try:
            record_verify(
                index,
                started,
                utc_now(),
                last,
                rows.highest(),
                (report.records_read, report.bytes_read),
                len(report.problems),
                files,
            )
        except sqlite3.Error as exc:  # a read-only copy of an archive can still be verified
            report.not_kept = str(exc)
    finally:
        index.close()
    return report


def _load(index: Any) -> Rows:
    # Responses a spider refused (a gzip bomb, a Wayback answer that is not
    # the memento asked for) are kept in the WARC and named by their
    # fetch_errors row instead of a capture.
    refused = {
        row[0]
        for row in index.execute("SELECT warc_record_id FROM fetch_errors WHERE warc_record_id IS NOT NULL")
    }
    return Rows(
        captures=queries.rows(index.conn, "SELECT * FROM captures ORDER BY id"),
        shots=queries.rows(
            index.conn, "SELECT * FROM screenshots WHERE warc_record_id IS NOT NULL ORDER BY id"
        ),
        # A 304 answer is a response record indexed as an observation, not a capture.
        observed=queries.rows(
            index.conn, "SELECT * FROM observations WHERE kind = ?", [ObservationKind.NOT_MODIFIED]
        ),
        refused=refused,
        # Records cut short by a crash, named when the run was resumed (archive/ingest/reconcile.py).
        cuts={(r["filename"], r["offset"]): r for r in queries.rows(index.conn, "SELECT * FROM warc_cuts")},
    )


def _check(
    archive: Archive, rows: Rows, last: Verified | None, progress: Progress | None
) -> tuple[Report, dict[str, tuple[int, int]]]:
    """The chain, then one walk of every WARC file (from where `last` stopped), then the rows it
    did not meet; returns the report and, per file, how far it is now verified."""
    report = Report(captures=len(rows.captures), screenshots=len(rows.shots))
    # The chain is hashed on a thread of its own while the files are walked: the walk
    # spends its time in zlib and hashlib, which let go of the GIL.
    with ThreadPoolExecutor(1) as beside:
        links = beside.submit(chain.check_chain, rows.captures)
        report.problems, files = _check_files(archive, rows, last, progress, report)
        by_id = {r["id"]: r for r in rows.captures}
        report.problems[:0] = [
            Problem(capture_id, by_id[capture_id]["url"], "index row", message)
            for capture_id, message in links.result()
        ]
    return report, files


def _check_files(
    archive: Archive, rows: Rows, last: Verified | None, progress: Progress | None, report: Report
) -> tuple[list[Problem], dict[str, tuple[int, int]]]:
    """One walk of every WARC file, then the rows it did not meet; adds what it read to `report`."""
    problems: list[Problem] = []
    known_ids = {r["warc_record_id"] for r in rows.captures} | {s["warc_record_id"] for s in rows.shots}
    known_ids |= rows.refused | {r["warc_record_id"] for r in rows.observed}
    targets = _targets(rows)
    warc_dir = archive.warc_dir
    walks = []
    for path in sorted(warc_dir.glob("*.warc.gz")) if warc_dir.is_dir() else []:
        start = last.files.get(path.name, (0, 0))[0] if last else 0
        if path.stat().st_size < start:
            problems.append(_shrunk(path, start, last))
            start = 0
        mine = {o: ts for o, ts in targets.get(path.name, {}).items() if o >= start}
        walks.append(FileWalk(path, start, mine))
    walk_files(walks, known_ids, progress)

    met: set[tuple[str, int]] = set()
    files: dict[str, tuple[int, int]] = {}
    cut_at: dict[str, Cut] = {}
    file_problems: list[Problem] = []
    for f in walks:
        before = last.files.get(f.path.name, (0, 0))[1] if last and f.start else 0
        report.warc_files += 1
        if f.start and not f.records and (f.cut or f.broken):
            problems.append(_moved(f.path, f.start, last))
            continue
        report.records += before + f.records
        report.records_read += f.records
        report.bytes_read += f.end - f.start
        problems.extend(f.problems)
        met |= f.met
        files[f.path.name] = (f.end, before + f.records)
        cut = f.cut
        if cut is not None and not _known_cut(f.path, cut, rows.cuts):
            cut_at[f.path.name] = cut
            file_rows = [r for r in rows.captures if r["warc_filename"] == f.path.name]
            file_problems.append(cut.problem(f.path.name, before + f.records, _in_order(file_rows)))
    walked = {f.path.name: f.start for f in walks}
    problems.extend(_unmet(archive, rows, last, walked, met, known_ids, cut_at))
    problems.extend(file_problems)
    return problems, files


def _targets(rows: Rows) -> dict[str, dict[int, list[Target]]]:
    """Every row that names a record, by file and offset."""
    found: dict[str, dict[int, list[Target]]] = defaultdict(lambda: defaultdict(list))
    for kind, row in _named(rows):
        found[row["warc_filename"]][row["warc_offset"] or 0].append(Target(kind, row))
    return found


def _named(rows: Rows) -> list[tuple[str, dict[str, Any]]]:
    return (
        [("capture", r) for r in rows.captures]
        + [("screenshot", _as_resource(s)) for s in rows.shots]
        + [("observation", r) for r in rows.observed]
    )


def _as_resource(shot: dict[str, Any]) -> dict[str, Any]:
    """A screenshot row as its record should read: a resource record for urn:fullPage:<url>."""
    return {**shot, "warc_type": "resource", "target_uri": f"urn:fullPage:{shot['url']}"}


def _unmet(
    archive: Archive,
    rows: Rows,
    last: Verified | None,
    walked: dict[str, int],
    met: set[tuple[str, int]],
    known_ids: set[str],
    cut_at: dict[str, Cut],
) -> list[Problem]:
    """Rows the walk did not meet where they point: each is read on its own, as verify always has.

    A row in a part of a file a clean verify already read is skipped only if that verify saw it.
    """
    highest = (last.captures_to, last.screenshots_to, last.observations_to) if last else (0, 0, 0)
    seen = dict(zip(("capture", "screenshot", "observation"), highest))
    left: dict[str, list[tuple[str, dict[str, Any]]]] = defaultdict(list)
    for kind, row in _named(rows):
        name, offset = row["warc_filename"], row["warc_offset"] or 0
        if (kind, row["id"]) in met:
            continue
        if name in walked and offset < walked[name] and row["id"] <= seen[kind]:
            continue
        left[name].append((kind, row))
    problems: list[Problem] = []
    for name, pairs in left.items():
        path = archive.warc_path(name)
        problems += _check_observations(archive, [r for k, r in pairs if k == "observation"])
        for kind in ("capture", "screenshot"):
            mine = _in_order([r for k, r in pairs if k == kind])
            if mine:
                problems += _check_rows(
                    path, mine, known_ids, cut_at.get(name) if kind == "capture" else None, kind
                )
    return problems


def _shrunk(path: Path, start: int, last: Verified | None) -> Problem:
    when = last.finished_at if last else "?"
    return Problem(
        None,
        "",
        path.name,
        f"WARC file is {path.stat().st_size} bytes, shorter than the {start} bytes "
        f"the verify of {when} read whole: it was cut or replaced since; read again from its start",
    )


def _moved(path: Path, start: int, last: Verified | None) -> Problem:
    when = last.finished_at if last else "?"
    return Problem(
        None,
        "",
        f"{path.name}:{start}",
        f"no record starts at byte {start}, where the verify of {when} stopped reading this file "
        "whole: its earlier bytes were changed since; verify without --since to read it all",
    )


def _in_order(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda r: r["warc_offset"] or 0)


def _check_rows(
    path: Path, file_rows: list[dict[str, Any]], known_ids: set[str], cut: Cut | None, kind: str = "capture"
) -> list[Problem]:
    """Each row of one file against its record, read by seek; a capture past a cut is named as cut off."""
    if not path.exists():
        return [Problem(r["id"], r["url"], path.name, "WARC file is missing", kind) for r in file_rows]
    found: list[Problem] = []
    lost = {r["id"] for r in cut.affected(file_rows)} if cut else set()
    with open(path, "rb") as fh:
        for row in file_rows:
            if row["id"] in lost:
                # A body-less record (a redirect) can read back whole from a cut member.
                found.append(
                    row_problem(
                        row,
                        kind,
                        f"its WARC record is cut off: the file ends mid-record at byte "
                        f"{cut.offset + cut.present}",  # type: ignore[union-attr]
                    )
                )
                continue
            problem = check_row(fh, row, known_ids, kind)
            if problem:
                found.append(problem)
    return found


def _check_observations(archive: Archive, observed: list[dict[str, Any]]) -> list[Problem]:
    """Each 304 observation's record is where its row says, with its id and status."""
    problems = []
    for row in observed:
        where = f"{row['warc_filename']}:{row['warc_offset']}"
        try:
            record = read_record(archive.warc_path(row["warc_filename"]), row["warc_offset"])
        except READ_ERRORS as exc:
            problems.append(
                Problem(None, row["url"], where, f"observation {row['id']}: record cannot be read: {exc}")
            )
            continue
        problem = observation_against(record, row)
        if problem:
            problems.append(problem)
    return problems


def _known_cut(path: Path, cut: Cut, cuts: dict[tuple[str, int], dict[str, Any]]) -> bool:
    """A cut record named in warc_cuts, byte for byte: a crash the resumed run already reported."""
    named = cuts.get((path.name, cut.offset))
    if named is None or named["length"] != cut.present:
        return False
    with open(path, "rb") as fh:
        fh.seek(cut.offset)
        return sha256_hex(fh.read()) == named["sha256"]
