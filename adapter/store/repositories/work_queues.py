"""The runtime's work tables as an operator sees them: jobs, outbox and inbox rows that need a
person, and putting one back in its queue."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Row, Table, literal, select, update

from adapter.store.tables import inbox, jobs, outbox

PARKED_FROM = datetime(9999, 1, 1, tzinfo=UTC)

# table name -> (table, name column, created column, payload column)
TABLES: dict[str, tuple[Table, str, str, str]] = {
    "jobs": (jobs, "task", "created_at", "payload"),
    "outbox": (outbox, "kind", "created_at", "payload"),
    "inbox": (inbox, "source", "received_at", "body"),
}


class WorkQueueRepository:
    """Reads and changes rows of the work tables (any company, or one)."""

    def __init__(self, conn: Connection):
        self.conn = conn

    def rows(
        self,
        table: str,
        statuses: tuple[str, ...],
        *,
        company_id: int | None,
        limit: int,
        item_id: int | None = None,
    ) -> list[Row[Any]]:
        """Rows with these statuses (any status when `item_id` names the one row), newest
        first: id, company_id, name, status, attempts, last_error, created_at, payload
        (whatever the table calls them) and parked."""
        t, name_col, created_col, payload_col = TABLES[table]
        wanted = t.c.id == item_id if item_id is not None else t.c.status.in_(statuses)
        q = (
            select(
                t.c.id,
                t.c.company_id,
                t.c[name_col].label("name"),
                t.c.status,
                t.c.attempts,
                t.c.last_error,
                t.c[created_col].label("created_at"),
                t.c[payload_col].label("payload"),
                # A row that waits for a person is due at the end of time (the worker's
                # PARKED, 9999-12-31): it is no longer tried by itself.
                (t.c.run_after >= PARKED_FROM).label("parked")
                if "run_after" in t.c
                else literal(False).label("parked"),
            )
            .where(wanted)
            .order_by(t.c.id.desc())
            .limit(limit)
        )
        if company_id is not None:
            q = q.where(t.c.company_id == company_id)
        return list(self.conn.execute(q))

    def row(self, table: str, item_id: int, *, company_id: int | None) -> Any:
        """One row's company, status and payload (None: not there, or another company's)."""
        t, _name, _created, payload_col = TABLES[table]
        q = select(t.c.company_id, t.c.status, t.c[payload_col].label("payload")).where(
            t.c.id == item_id
        )
        if company_id is not None:
            q = q.where(t.c.company_id == company_id)
        return self.conn.execute(q).first()

    def change(self, table: str, item_id: int, *, was: str, **values: Any) -> bool:
        """Change a row still in status `was`; False when it moved on meanwhile."""
        t = TABLES[table][0]
        changed = self.conn.execute(
            update(t).where(t.c.id == item_id, t.c.status == was).values(**values)
        ).rowcount
        return bool(changed)
