"""Many rows of one table in a few multi-row INSERTs, for the hot paths of a sync.

SQLAlchemy's own executemany builds and processes a parameter dict per row in Python, which
for a page of a thousand invoices costs more than the database's work. Here the statement is
rendered once per dialect from the `Table`, rows are plain tuples in column order, and only
the columns whose type has a bind processor for the dialect (dates and timestamps on SQLite,
JSON) go through it: what is stored is what SQLAlchemy would have stored.

Rows go as `VALUES (...), (...), ...` in chunks rather than one statement a row: sqlite3
releases the GIL for every statement it steps, and taking it back a thousand times a page
while the read-ahead thread works costs more than the inserts themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from itertools import chain
from typing import Any

from sqlalchemy import Connection, Dialect, Table
from sqlalchemy.sql import sqltypes

_PLACEHOLDERS = {"qmark": "?", "format": "%s", "pyformat": "%s"}
_MAX_PARAMS = 32_000  # under SQLite's 32,766 bound parameters (PostgreSQL allows 65,535)


@dataclass(frozen=True)
class _Statement:
    head: str  # INSERT INTO t (columns) VALUES
    group: str  # one row's placeholders: (?, ?, ?)
    tail: str  # ON CONFLICT ..., or nothing
    width: int  # parameters a row
    varying: tuple[tuple[int, Callable[[Any], Any]], ...]  # (position, processor) per row
    same: tuple[Callable[[Any], Any] | None, ...]  # processors of the shared values


@lru_cache(maxsize=64)  # a handful of statements per engine; tests make many engines
def _statement(
    dialect: Dialect,
    table: Table,
    columns: tuple[str, ...],
    same: tuple[str, ...],
    key: tuple[str, ...],
    update: tuple[str, ...] | None,
    returning: tuple[str, ...],
) -> _Statement:
    quote = dialect.identifier_preparer.quote
    names = (*columns, *same)
    placeholder = _PLACEHOLDERS[dialect.paramstyle]
    # Only names from the Table, quoted by the dialect, go into the text; values are parameters.
    head = f"INSERT INTO {quote(table.name)} ({', '.join(quote(n) for n in names)}) VALUES "  # noqa: S608
    tail = ""
    if key:  # the same ON CONFLICT clause on SQLite (3.24+) and PostgreSQL
        target = ", ".join(quote(k) for k in key)
        if update:
            sets = ", ".join(f"{quote(c)} = excluded.{quote(c)}" for c in update)
            tail = f" ON CONFLICT ({target}) DO UPDATE SET {sets}"
        else:
            tail = f" ON CONFLICT ({target}) DO NOTHING"
    if returning:  # SQLite 3.35+ and PostgreSQL: the ids come back without a second query
        tail += f" RETURNING {', '.join(quote(c) for c in returning)}"

    def processor(name: str) -> Callable[[Any], Any] | None:
        impl = table.c[name].type.dialect_impl(dialect)
        proc = impl.bind_processor(dialect)
        return _fast_dates(proc) if isinstance(impl, sqltypes.Date) else proc

    varying = tuple(
        (i, proc) for i, name in enumerate(columns) if (proc := processor(name)) is not None
    )
    group = f"({', '.join(placeholder for _ in names)})"
    return _Statement(head, group, tail, len(names), varying, tuple(processor(n) for n in same))


_PROBE = date(1999, 12, 31)


def _fast_dates(proc: Callable[[Any], Any] | None) -> Callable[[Any], Any] | None:
    """SQLite's DATE processor formats a date through a dict and `%`; where it writes what
    `date.isoformat` writes (its default format), a `date` takes the C method instead (a page
    has thousands of dates). Anything else, a datetime or None, still goes to `proc`."""
    if proc is None or proc(_PROBE) != _PROBE.isoformat():
        return proc
    return lambda value: value.isoformat() if type(value) is date else proc(value)


@lru_cache(maxsize=256)
def _sql(stmt: _Statement, rows: int) -> str:
    return stmt.head + ", ".join([stmt.group] * rows) + stmt.tail


def insert_rows(
    conn: Connection,
    table: Table,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    same: Mapping[str, Any] | None = None,
    key: Sequence[str] = (),
    update: Sequence[str] | None = None,
    returning: Sequence[str] = (),
) -> list[Any]:
    """Insert `rows` (tuples of `columns`' values) into `table`, each with the `same` values
    (company, timestamps) appended. With `key`: rows whose key exists update the `update`
    columns (PostgreSQL refuses a key twice in one call then), or are skipped when `update` is
    empty or None. Returns the `returning` columns of the rows inserted or updated (not of
    skipped ones), in no particular order; nothing when `returning` is empty."""
    same = same or {}
    stmt = _statement(
        conn.dialect,
        table,
        tuple(columns),
        tuple(same),
        tuple(key),
        tuple(update) if update else None,
        tuple(returning),
    )
    # Shared values are processed once, not once a row.
    tail = tuple(
        v if proc is None else proc(v) for v, proc in zip(same.values(), stmt.same, strict=True)
    )
    if stmt.varying:
        params = []
        for row in rows:
            values = list(row)
            for i, proc in stmt.varying:
                values[i] = proc(values[i])
            params.append((*values, *tail))
    else:
        params = [(*row, *tail) for row in rows]
    chunk = max(1, _MAX_PARAMS // stmt.width)
    out: list[Any] = []
    for start in range(0, len(params), chunk):
        rows_now = params[start : start + chunk]
        result = conn.exec_driver_sql(
            _sql(stmt, len(rows_now)), tuple(chain.from_iterable(rows_now))
        )
        if returning:
            out += result.all()
    return out
