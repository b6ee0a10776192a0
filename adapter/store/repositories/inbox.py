"""The inbox (`inbox` table): webhook deliveries stored before they are handled."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, String, bindparam, cast, func, select, update

from adapter.store.sql import insert_on_conflict
from adapter.store.tables import inbox


def add_events(
    engine: Engine, rows: Sequence[dict[str, Any]], *, pings: Collection[tuple[str, str]] = ()
) -> int:
    """Store deliveries (inbox rows) in one transaction; how many were new. A delivery whose
    source and event key are there already is skipped, unless it is one of `pings` (source,
    event key) and the delivery there was taken by a worker since: it is stored anew."""
    with engine.begin() as conn:
        stored = _insert(conn, rows)
        again = [
            r for r in rows if (k := (r["source"], r["event_key"])) in pings and k not in stored
        ]
        if again:
            # The ping that is there was read (or is being read) before this one's change may
            # have happened: its key is freed (its own id added) and this one stored anew.
            # One waiting is not taken yet: its read comes after this change and covers it.
            conn.execute(
                update(inbox)
                .where(
                    inbox.c.source == bindparam("s"),
                    inbox.c.event_key == bindparam("k"),
                    inbox.c.status != "new",
                )
                .values(event_key=inbox.c.event_key + "#" + cast(inbox.c.id, String)),
                [{"s": r["source"], "k": r["event_key"]} for r in again],
            )
            stored |= _insert(conn, again)
        return len(stored)


def _insert(conn: Connection, rows: Sequence[dict[str, Any]]) -> set[tuple[str, str]]:
    """Insert the rows whose source and event key are not there yet; their (source, key)."""
    # executemany with RETURNING: one cached statement for every batch size, sent as
    # multi-row inserts by SQLAlchemy's insertmanyvalues (a .values(rows) statement is
    # compiled anew for each size and was 5x slower).
    stmt = (
        insert_on_conflict(conn, inbox)
        .on_conflict_do_nothing(index_elements=["source", "event_key"])
        .returning(inbox.c.source, inbox.c.event_key)
    )
    return {(r.source, r.event_key) for r in conn.execute(stmt, list(rows))}


def _waiting_same_subject(row: Any) -> tuple[Any, ...]:
    """Waiting deliveries of the same company and remote about the same object as `row`."""
    return (
        inbox.c.company_id == row.company_id,
        inbox.c.source == row.source,
        inbox.c.subject == row.subject,
        inbox.c.status == "new",
    )


def newest_waiting_about(engine: Engine, row: Any) -> int | None:
    """The newest waiting delivery (other than `row`) about the same object as `row`."""
    with engine.connect() as conn:
        return conn.execute(
            select(func.max(inbox.c.id)).where(*_waiting_same_subject(row), inbox.c.id != row.id)
        ).scalar_one_or_none()


def settle(engine: Engine, row: Any, horizon: int, *, now: datetime) -> int:
    """Mark done the waiting deliveries about the same object as `row` up to `horizon` (the
    fetch `row` makes, right after, settles them); how many."""
    with engine.begin() as conn:
        return int(
            conn.execute(
                update(inbox)
                .where(*_waiting_same_subject(row), inbox.c.id <= horizon)
                .values(
                    status="done",
                    handled_at=now,
                    last_error=f"settled by the fetch for delivery {row.id}",
                )
            ).rowcount
        )
