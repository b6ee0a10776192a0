"""Statements that differ by dialect, written once for SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, Dialect, Table, any_, bindparam
from sqlalchemy.dialects import postgresql, sqlite


def insert_on_conflict(conn: Connection, table: Table) -> Any:
    """`INSERT` for `table` with `on_conflict_do_*` available on both engines."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


def upsert(
    conn: Connection,
    table: Table,
    rows: Sequence[dict[str, Any]],
    *,
    key: Sequence[str],
    update: Sequence[str],
) -> None:
    """Insert `rows`, or update the `update` columns of rows that already exist by `key`."""
    if not rows:
        return
    stmt = insert_on_conflict(conn, table)
    stmt = stmt.on_conflict_do_update(
        index_elements=list(key), set_={c: stmt.excluded[c] for c in update}
    )
    conn.execute(stmt, list(rows))


def insert_ignore(
    conn: Connection, table: Table, rows: Sequence[dict[str, Any]], *, key: Sequence[str]
) -> int:
    """Insert `rows`, skipping those whose `key` exists; returns how many were new."""
    if not rows:
        return 0
    stmt = insert_on_conflict(conn, table).on_conflict_do_nothing(index_elements=list(key))
    pk = list(table.primary_key.columns)
    stmt = stmt.returning(*pk)
    return sum(conn.execute(stmt, row).first() is not None for row in rows)


def among(dialect: Dialect, column: Any, values: Collection[Any]) -> ColumnElement[bool]:
    """`column IN values`; on PostgreSQL `column = ANY(:array)`, one parameter whatever the
    count: the statement's text is the same for every batch (prepared once) and no parameter
    is built per value (the hot paths of a worker sending many rows at once)."""
    if dialect.name == "postgresql":
        return column == any_(
            bindparam(None, list(values), type_=postgresql.ARRAY(column.type), expanding=False)
        )
    return column.in_(list(values))


def among_bound(dialect: str, column: Any, name: str) -> ColumnElement[bool]:
    """`among` on the dialect named `dialect`, its list left to the execution (`{name:
    values}`): for a statement built once and run again and again (the worker's takes), its
    cache key computed once."""
    if dialect == "postgresql":
        return column == any_(bindparam(name, type_=postgresql.ARRAY(column.type)))
    return column.in_(bindparam(name, expanding=True))
