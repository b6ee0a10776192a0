"""What needs a person in the runtime: dead jobs, failed sends, dead webhooks; and retrying them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, select, update

from adapter.errors import NotFoundError
from adapter.i18n import N_
from adapter.store.database import Database
from adapter.store.tables import inbox, jobs, outbox


@dataclass(frozen=True)
class WorkItem:
    """A job, outbox row or stored webhook as shown to an operator."""

    table: str
    id: int
    company_id: int | None
    name: str  # task, outbox kind or webhook source
    status: str
    attempts: int
    last_error: str | None
    created_at: datetime
    payload: dict[str, Any]


_TABLES: dict[str, tuple[Table, str, str]] = {
    # table name -> (table, name column, created column)
    "jobs": (jobs, "task", "created_at"),
    "outbox": (outbox, "kind", "created_at"),
    "inbox": (inbox, "source", "received_at"),
}
# Where a retried row goes: an outbox row goes back as "unknown" so it is looked up before
# it is sent again (a person retrying must not cause a second send).
_RETRY_STATUS = {"jobs": "todo", "outbox": "unknown", "inbox": "new"}
_STUCK = {"jobs": ("dead",), "outbox": ("failed",), "inbox": ("dead",)}


def list_items(
    db: Database,
    table: str,
    *,
    company_id: int | None = None,
    status: str | None = None,
    limit: int = 200,
) -> list[WorkItem]:
    """Rows of a work table, newest first (by default those that need a person)."""
    t, name_col, created_col = _TABLES[table]
    statuses = (status,) if status else _STUCK[table]
    q = select(t).where(t.c.status.in_(statuses)).order_by(t.c.id.desc()).limit(limit)
    if company_id is not None:
        q = q.where(t.c.company_id == company_id)
    with db.uow(read_only=True) as uow:  # a reader: never waits for a writer
        return [
            WorkItem(
                table=table,
                id=r.id,
                company_id=r.company_id,
                name=getattr(r, name_col),
                status=r.status,
                attempts=r.attempts,
                last_error=r.last_error,
                created_at=getattr(r, created_col),
                payload=dict(r.body if table == "inbox" else r.payload),
            )
            for r in uow.conn.execute(q)
        ]


def retry(
    db: Database, table: str, item_id: int, *, actor: str, company_id: int | None = None
) -> WorkItem:
    """Put a dead job, failed send or dead webhook back in the queue, and log who did it."""
    t = _TABLES[table][0]
    with db.engine.connect() as conn:
        q = select(t.c.company_id, t.c.status).where(t.c.id == item_id)
        if company_id is not None:
            q = q.where(t.c.company_id == company_id)
        row = conn.execute(q).first()
    if row is None or row.status not in _STUCK[table]:
        raise NotFoundError(f"no {table} row {item_id} waiting for a retry")
    with db.uow(row.company_id) as uow:
        uow.conn.execute(
            update(t)
            .where(t.c.id == item_id)
            .values(status=_RETRY_STATUS[table], run_after=db.clock.now(), attempts=0)
        )
        uow.audit.record(
            actor=actor,
            action=f"{table}.retry",
            subject=(table, item_id),
            message=f"{table} row {item_id} put back in the queue",
            said=N_("Put back in the queue"),
        )
        uow.commit()
    return list_items(db, table, status=_RETRY_STATUS[table], company_id=row.company_id)[0]
