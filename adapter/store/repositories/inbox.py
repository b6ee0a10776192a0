"""The inbox (`inbox` table): webhook deliveries stored before they are handled."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, select, update

from adapter.store.sql import insert_on_conflict
from adapter.store.tables import inbox


def add_events(engine: Engine, rows: Sequence[dict[str, Any]]) -> int:
    """Store deliveries (inbox rows) in one transaction; how many were new (a delivery whose
    source and event key are there already is skipped)."""
    with engine.begin() as conn:
        # executemany with RETURNING: one cached statement for every batch size, sent as
        # multi-row inserts by SQLAlchemy's insertmanyvalues (a .values(rows) statement is
        # compiled anew for each size and was 5x slower).
        stmt = (
            insert_on_conflict(conn, inbox)
            .on_conflict_do_nothing(index_elements=["source", "event_key"])
            .returning(inbox.c.id)
        )
        return len(conn.execute(stmt, list(rows)).all())


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
    fetch `row` made settled them); how many."""
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
