"""Walk WARC files once, member by member, checking each record against the rows that name it.

Every gzip member is decompressed and hashed exactly once. A file is cut into
stretches at offsets where the index says a record starts, and the stretches
are walked on threads (zlib and hashlib let go of the GIL while they work, so
two cores decompress and hash at once). Each stretch must end where the next
begins; if one does not (a damaged file), the whole file is walked again in
one piece, which is the reading every problem is reported from.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archive.evidence.records import (
    RECORD_ID,
    Cut,
    Problem,
    member_problem,
    observation_against,
    read_member,
    row_against,
)
from archive.progress import Progress
from archive.warc.read import gzip_members

STRETCH_BYTES = 4 << 20  # smaller stretches cost more in start-up than threads win back


@dataclass(frozen=True)
class Target:
    """A row whose record should start at an offset: a capture, a screenshot or a 304 observation."""

    kind: str
    row: dict[str, Any]


@dataclass
class Stretch:
    """What one walk of part of a file found."""

    start: int
    stop: int | None
    end: int = 0  # where the walk stopped
    records: int = 0
    last: tuple[int, str] | None = None  # (offset, record id) of the last whole record
    cut: Cut | None = None
    broken: bool = False  # stopped at a member that cannot be decompressed
    met: set[tuple[str, int]] = field(default_factory=set)
    problems: list[Problem] = field(default_factory=list)


@dataclass
class FileWalk:
    """One file's stretches, merged: records, the cut if any, rows met and problems."""

    path: Path
    start: int
    targets: dict[int, list[Target]]
    stretches: list[Stretch] = field(default_factory=list)

    @property
    def records(self) -> int:
        return sum(s.records for s in self.stretches)

    @property
    def end(self) -> int:
        return self.stretches[-1].end if self.stretches else self.start

    @property
    def cut(self) -> Cut | None:
        return self.stretches[-1].cut if self.stretches else None

    @property
    def broken(self) -> bool:
        return any(s.broken for s in self.stretches)

    @property
    def met(self) -> set[tuple[str, int]]:
        return set().union(*(s.met for s in self.stretches))

    @property
    def problems(self) -> list[Problem]:
        return [p for s in self.stretches for p in s.problems]

    def whole(self) -> bool:
        """True if the stretches joined up: each ended where the next began, only the last broke."""
        pairs = zip(self.stretches, self.stretches[1:])
        return all(a.end == b.start and not a.broken and a.cut is None for a, b in pairs)


def walk_files(
    files: list[FileWalk], known_ids: set[str], progress: Progress | None = None, workers: int = 0
) -> None:
    """Walk every file's stretches on threads; a file whose stretches do not join is walked again whole."""
    workers = workers or os.cpu_count() or 1
    if progress is not None:
        progress.start(sum(f.path.stat().st_size - f.start for f in files))
    jobs = [(f, a, b) for f in files for a, b in _stretches(f, workers)]
    with ThreadPoolExecutor(workers) as pool:
        done = pool.map(lambda job: walk(job[0], job[1], job[2], known_ids, progress), jobs)
        for (f, _, _), stretch in zip(jobs, done):
            f.stretches.append(stretch)
    for f in files:
        if not f.whole():
            f.stretches = [walk(f, f.start, None, known_ids, None)]


def _stretches(f: FileWalk, workers: int) -> list[tuple[int, int | None]]:
    """Cut points at indexed record starts, about equal in bytes; one stretch for a small file."""
    size = f.path.stat().st_size
    pieces = min(workers * 2, max(1, (size - f.start) // STRETCH_BYTES))
    starts = sorted(o for o in f.targets if o > f.start)
    cuts: list[int] = []
    for n in range(1, pieces):
        want = f.start + (size - f.start) * n // pieces
        at = next((o for o in starts if o >= want), None)
        if at is not None and (not cuts or at > cuts[-1]):
            cuts.append(at)
    bounds = [f.start, *cuts]
    return [(a, b) for a, b in zip(bounds, [*cuts, None])]


def walk(
    f: FileWalk, start: int, stop: int | None, known_ids: set[str], progress: Progress | None
) -> Stretch:
    """Check every member from `start` to the first at or past `stop` (the file's end if None)."""
    stretch = Stretch(start, stop, end=start)
    unreported = 0
    for member in gzip_members(f.path, start, stop):
        if progress is not None:
            unreported += member.length
            if unreported >= 1 << 20:
                progress.advance(unreported)
                unreported = 0
        if member.data is None:
            if member.truncated:
                stretch.cut = Cut(member.offset, member.length, stretch.last)
            else:
                stretch.broken = True
                if member.offset not in f.targets:
                    where = f"{f.path.name}:{member.offset}"
                    stretch.problems.append(Problem(None, "", where, member.error or "damaged record"))
            return stretch
        stretch.records += 1
        found = RECORD_ID.search(member.data[:4096])
        stretch.last = (
            member.offset,
            found.group(1).decode("ascii", "replace") if found else "(no record id)",
        )
        _check(f, member.offset, member.data, known_ids, stretch)
        stretch.end = member.offset + member.length
    if progress is not None and unreported:
        progress.advance(unreported)
    return stretch


def _check(f: FileWalk, offset: int, data: bytes, known_ids: set[str], stretch: Stretch) -> None:
    """One member: against the rows that name it, or on its own when only a 304 or nothing does."""
    targets = f.targets.get(offset, [])
    rows = [t for t in targets if t.kind != "observation"]
    if not rows:
        problem = member_problem(data, known_ids)
        if problem:
            stretch.problems.append(Problem(None, problem[0], f"{f.path.name}:{offset}", problem[1]))
    try:
        record = read_member(data) if targets else None
    except Exception:  # noqa: BLE001 - left unmet: each row's own reading (by seek) words the problem
        return
    if record is None:
        return
    for t in targets:
        stretch.met.add((t.kind, t.row["id"]))
        if t.kind == "observation":
            found = observation_against(record, t.row)
        else:
            found = row_against(record, t.row, known_ids, t.kind)
        if found:
            stretch.problems.append(found)
