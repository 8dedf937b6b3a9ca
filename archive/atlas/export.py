"""The Atlas of Surveillance export: its 28 columns read from the bytes of download.csv, or one line saying why not.

Nothing here touches the index: a file is read and judged whole before
anything is written, so a bad file imports nothing.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass, field

from archive.errors import AtlasError
from archive.index.atlas_schema import ATLAS_ROW_COLUMNS

# The export's column names, in its order; ATLAS_ROW_COLUMNS are their names in the index.
COLUMNS = (
    "AOSNUMBER",
    "NEWAOSNUMBER",
    "City",
    "County",
    "State",
    "Agency",
    "Type of LEA",
    "Summary",
    "Type of Juris",
    "Technology",
    "TECH ABV",
    "Vendor",
    *(f"Link {n}{part}" for n in (1, 2, 3) for part in ("", " Snapshot", " Source", " Type", " Date")),
    "Other Links",
)
FIELDS = dict(zip(COLUMNS, ATLAS_ROW_COLUMNS))
# Names the public export has used for a column: since 2024 the second column
# reads "NEWAOSNUMBER (ORI9)" (the agency's ORI code, a counter and a technology code).
ALIASES = {"NEWAOSNUMBER (ORI9)": "NEWAOSNUMBER"}

# A Summary runs to a few thousand characters; a field past this is an
# unbalanced quote swallowing the rest of the file.
FIELD_LIMIT = 1_000_000


@dataclass(frozen=True)
class ExportRow:
    """One data row, every value exactly as written."""

    line: int  # the file line the row starts on
    values: dict[str, str]  # index column name -> text
    extra: dict[str, str] = field(default_factory=dict)  # columns the export added

    @property
    def aosnumber(self) -> str:
        return self.values["aosnumber"].strip()

    @property
    def sha256(self) -> str:
        """Identity of the row's content: a re-import compares it to find changed rows."""
        content = [self.values[name] for name in ATLAS_ROW_COLUMNS]
        text = json.dumps([content, self.extra], ensure_ascii=False, sort_keys=True)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Skipped:
    """A data row that could not be keyed (no AOSNUMBER, or a second, different row under one)."""

    line: int
    aosnumber: str
    reason: str


@dataclass
class AtlasExport:
    """A whole export, read and checked: one row per AOSNUMBER."""

    rows: list[ExportRow]
    duplicates: int = 0  # identical repeats of a row, counted once
    skipped: list[Skipped] = field(default_factory=list)
    extra_columns: tuple[str, ...] = ()


def read_export(data: bytes, name: str) -> AtlasExport:
    """Parse an export; AtlasError names the file (and the line) when it is not one."""
    text = _text(data, name)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    limit = csv.field_size_limit(FIELD_LIMIT)
    try:
        header = next(reader, None)
        if header is None:
            raise AtlasError(f"{name}: empty file: not an Atlas of Surveillance export")
        columns = _columns(header, name)
        export = AtlasExport(rows=[], extra_columns=tuple(c for c in columns if c not in FIELDS))
        seen: dict[str, ExportRow] = {}
        start = reader.line_num + 1
        for values in reader:
            if values:
                _add(export, seen, _row(values, columns, start, name))
            start = reader.line_num + 1
    except csv.Error as exc:
        problem = (
            "ends inside a quoted field (cut off, or a quote never closed)"
            if "unexpected end of data" in str(exc)
            else f"is not valid CSV ({exc})"
        )
        raise AtlasError(f"{name}: line {reader.line_num}: the file {problem}: nothing imported") from None
    finally:
        csv.field_size_limit(limit)
    return export


def _text(data: bytes, name: str) -> str:
    if not data.strip():
        raise AtlasError(f"{name}: empty file: not an Atlas of Surveillance export")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise AtlasError(
            f"{name}: UTF-16 text; the Atlas export is UTF-8: save it as UTF-8 "
            "(CSV UTF-8) and import it again"
        )
    if b"\x00" in data:
        raise AtlasError(f"{name}: binary data (a compressed or spreadsheet file?), not a CSV file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise AtlasError(
            f"{name}: line {line}: byte 0x{data[exc.start]:02x} is not UTF-8; the Atlas "
            "export is UTF-8: save it as UTF-8 (CSV UTF-8) and import it again"
        ) from None
    if text.lstrip()[:1] == "<":
        raise AtlasError(
            f"{name}: an HTML or XML page, not a CSV file (an error page saved in place of the download?)"
        )
    return text


def _columns(header: list[str], name: str) -> list[str]:
    columns = [ALIASES.get(c.strip(), c.strip()) for c in header]
    missing = [c for c in COLUMNS if c not in columns]
    if len(missing) == len(COLUMNS):
        raise AtlasError(
            f"{name}: not an Atlas of Surveillance export: its first line does not "
            f"name the export's columns ({', '.join(COLUMNS[:4])}, ...)"
        )
    if missing:
        shown = ", ".join(repr(c) for c in missing[:4]) + (", ..." if len(missing) > 4 else "")
        raise AtlasError(
            f"{name}: not an Atlas of Surveillance export: {len(missing)} of its "
            f"{len(COLUMNS)} columns missing ({shown}); the first line must name them"
        )
    repeated = sorted({c for c in columns if columns.count(c) > 1})
    if repeated:
        raise AtlasError(f"{name}: column {repeated[0]!r} appears twice in the first line")
    return columns


def _row(values: list[str], columns: list[str], line: int, name: str) -> ExportRow:
    if len(values) != len(columns):
        raise AtlasError(
            f"{name}: line {line}: {len(values)} fields where the first line names "
            f"{len(columns)} (a cut-off or damaged file?): nothing imported"
        )
    named = dict(zip(columns, values))
    return ExportRow(
        line=line,
        values={FIELDS[c]: named[c] for c in COLUMNS},
        extra={c: v for c, v in named.items() if c not in FIELDS},
    )


def _add(export: AtlasExport, seen: dict[str, ExportRow], row: ExportRow) -> None:
    key = row.aosnumber
    if not key:
        export.skipped.append(Skipped(row.line, "", "no AOSNUMBER: the row cannot be keyed"))
        return
    first = seen.get(key)
    if first is None:
        seen[key] = row
        export.rows.append(row)
    elif first.sha256 == row.sha256:
        export.duplicates += 1
    else:
        export.skipped.append(
            Skipped(
                row.line,
                key,
                f"a second, different row for {key} "
                f"(the first is on line {first.line}); "
                "the first was imported",
            )
        )
