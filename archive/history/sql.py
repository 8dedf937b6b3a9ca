"""Plain INSERT and UPDATE for the history tables: sqlite-utils' insert() reads the table's
schema on every call, which was most of the cost of history per capture."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import sqlite_utils


def insert(db: sqlite_utils.Database, table: str, row: Mapping[str, Any], replace: bool = False) -> int:
    """Insert one row; returns its rowid."""
    names = list(row)
    verb = "INSERT OR REPLACE" if replace else "INSERT"
    cursor = db.conn.execute(
        f"{verb} INTO [{table}] ({', '.join(f'[{n}]' for n in names)}) "
        f"VALUES ({', '.join('?' for _ in names)})",
        [row[n] for n in names],
    )
    return int(cursor.lastrowid or 0)


def insert_many(db: sqlite_utils.Database, table: str, rows: Iterable[Mapping[str, Any]]) -> None:
    for row in rows:
        insert(db, table, row)


def update(db: sqlite_utils.Database, table: str, pk: int, values: Mapping[str, Any]) -> None:
    """Update columns of the row whose id is `pk`."""
    names = list(values)
    db.conn.execute(
        f"UPDATE [{table}] SET {', '.join(f'[{n}] = ?' for n in names)} WHERE id = ?",
        [*(values[n] for n in names), pk],
    )
