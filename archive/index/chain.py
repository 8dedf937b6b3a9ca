"""The captures hash chain: each row's `row_hash` covers all its columns and the previous row's hash.

row_hash = SHA-256 (hex) of the canonical JSON of every non-NULL column of the
row except `row_hash` itself and the generated columns (GENERATED: `as_of_at`
and `page_url`, which SQLite computes from the row's other columns and never
stores), `prev_hash` included: keys sorted, no spaces,
UTF-8, integers as integers, text as strings, BLOBs as {"$hex": "..."}.
NULL columns are left out so that a column added later by a migration (NULL
in older rows) does not change the hash of any row written before it. The
first row's prev_hash is GENESIS. So migrations must add captures columns
as nullable with no default: a default would change what every older row
reads as, and so its hash. Anyone can recompute a row's hash with
`sqlite3` and a few lines of any language; `spyglass verify` does it for all.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

from archive.index.asof import GENERATED_COLUMNS

GENESIS = "0" * 64
HASH_COLUMNS = ("prev_hash", "row_hash")
# Generated columns (migration m100): `SELECT *` returns them, but they are a
# function of the hashed columns, so hashing them would add nothing and would
# change every older row's hash.
GENERATED = frozenset(GENERATED_COLUMNS)

_INT = re.compile(r"[+-]?\d+")
_REAL = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def canonical(row: Mapping[str, Any]) -> bytes:
    """The exact bytes hashed for a row: sorted JSON of its non-NULL columns but row_hash and GENERATED."""
    values: dict[str, Any] = {}
    for key, value in row.items():
        if key == "row_hash" or key in GENERATED or value is None:
            continue
        if isinstance(value, (bytes, bytearray, memoryview)):
            value = {"$hex": bytes(value).hex()}
        values[key] = value
    text = json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return text.encode("utf-8")


def row_hash(row: Mapping[str, Any]) -> str:
    """SHA-256 hex of `canonical(row)`; the row must already carry its prev_hash."""
    return hashlib.sha256(canonical(row)).hexdigest()


def stored_as_hashed(stored: Mapping[str, Any], hashed: Mapping[str, Any]) -> bool:
    """True if every column SQLite returned is the very value (type included) that was hashed."""
    for key, value in stored.items():
        other = hashed.get(key)
        if type(value) is not type(other) or value != other:
            return False
    return True


def affinity(declared: str) -> str:
    """SQLite's column affinity for a declared type (https://sqlite.org/datatype3.html 3.1)."""
    t = (declared or "").upper()
    if "INT" in t:
        return "INTEGER"
    if any(k in t for k in ("CHAR", "CLOB", "TEXT")):
        return "TEXT"
    if not t or "BLOB" in t:
        return "BLOB"
    if any(k in t for k in ("REAL", "FLOA", "DOUB")):
        return "REAL"
    return "NUMERIC"


def as_stored(value: Any, column_affinity: str) -> Any:
    """The value SQLite will store for `value` in a column of this affinity.

    The hash is computed before the INSERT (the row cannot be updated after),
    so it must be computed over what SQLite will hold, not what Python passed.
    """
    if value is None or isinstance(value, (bytes, bytearray, memoryview)):
        return value
    if isinstance(value, bool):
        value = int(value)
    if column_affinity == "TEXT":
        if isinstance(value, int):
            return str(value)
        if isinstance(value, float):
            return _sqlite_real_text(value)
        return value
    if column_affinity in ("INTEGER", "NUMERIC", "REAL"):
        if isinstance(value, str):
            stripped = value.strip()
            if _INT.fullmatch(stripped) and column_affinity != "REAL":
                return int(stripped)
            if _REAL.fullmatch(stripped) or _INT.fullmatch(stripped):
                value = float(stripped)
            else:
                return value
        if (
            isinstance(value, float)
            and column_affinity != "REAL"
            and value.is_integer()
            and abs(value) < 2**63
        ):
            return int(value)
        if isinstance(value, int) and column_affinity == "REAL":
            return float(value)
    return value


def _sqlite_real_text(value: float) -> str:
    # SQLite renders a REAL as text with "%!.15g"; Python's repr differs for
    # some values, and save_captures re-reads the rows to catch any mismatch.
    text = f"{value:.15g}"
    if "." not in text and "e" not in text and "inf" not in text and "nan" not in text:
        text += ".0"
    return text


def check_chain(
    rows: list[Mapping[str, Any]], expected: str = GENESIS, previous_id: int = 0
) -> list[tuple[int, str]]:
    """(capture id, what is wrong) for every break in the chain; `rows` in id order, all columns.

    From the first row by default; for a stretch of the chain, `expected` is the
    row_hash the stretch must follow and `previous_id` the id of the row before it.
    """
    problems: list[tuple[int, str]] = []
    ids: list[int] = []
    by_hash: dict[str, int] = {}
    for row in rows:
        rid = int(row["id"])
        stored = row.get("row_hash")
        prev = row.get("prev_hash")
        self_ok = stored is not None and row_hash(row) == stored
        if stored is None:
            problems.append(
                (
                    rid,
                    "row is not in the hash chain (no row_hash): it was inserted "
                    "outside Spyglass's write path",
                )
            )
        elif not self_ok:
            problems.append(
                (
                    rid,
                    "row was edited after it was written: its columns no longer "
                    f"hash to its row_hash {stored}",
                )
            )
        if stored is not None and prev != expected:
            problems.append((rid, _link_problem(rid, prev, previous_id, ids, by_hash, self_ok)))
        if stored is not None:
            by_hash.setdefault(stored, rid)
            expected = stored
        ids.append(rid)
        previous_id = rid
    return problems


def _link_problem(
    rid: int, prev: Any, previous_id: int, ids: list[int], by_hash: dict[str, int], self_ok: bool
) -> str:
    if prev in by_hash and by_hash[prev] < previous_id:
        anchor = by_hash[prev]
        if not self_ok:
            return (
                f"row was inserted after the fact: its prev_hash is capture {anchor}'s "
                f"row_hash, but capture {previous_id} is the row before it"
            )
        skipped = [i for i in ids if anchor < i < rid]
        return (
            f"prev_hash chains to capture {anchor}, so {_ids(skipped)} between them "
            "was inserted after the fact"
        )
    if rid - previous_id > 1:
        missing = f"{previous_id + 1}" if rid - previous_id == 2 else f"{previous_id + 1}-{rid - 1}"
        return (
            f"capture(s) {missing} deleted: this row's prev_hash {prev} is the hash of a "
            "row that is no longer there"
        )
    if previous_id == 0:
        return f"first row's prev_hash {prev} is not the genesis value {GENESIS}"
    return (
        f"prev_hash {prev} does not match the row_hash of capture {previous_id}: "
        "the chain is broken before this row"
    )


def _ids(ids: list[int]) -> str:
    return ("capture " if len(ids) == 1 else "captures ") + ", ".join(str(i) for i in ids)
