"""What needs a person in the runtime: dead jobs, failed sends, dead webhooks; and retrying them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from adapter.errors import InputError, NotFoundError
from adapter.i18n import N_, _
from adapter.services import delivery
from adapter.store.events import Event
from adapter.store.repositories.work_queues import TABLES, WorkQueueRepository
from adapter.store.uow import UnitOfWork


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
    parked: bool = False  # waits for a person: no longer tried by itself

    @property
    def reason(self) -> str:
        """Why the row needs a person, in the reader's language (the technical error stays
        in `last_error`)."""
        if self.table == "outbox" and self.status == "failed":
            return _(
                "Not sent: the receiving system refused it (%(num)s tries). Correct what the "
                "error says, then send it again, or cancel it.",
                num=self.attempts,
            )
        if self.table == "outbox" and self.status == "unknown":
            if self.parked:
                return _(
                    "Not known whether it arrived, and it is no longer checked by itself "
                    "(%(num)s tries). Check with the receiver, then send it again or mark it "
                    "sent.",
                    num=self.attempts,
                )
            return _("Not known yet whether it arrived: it is checked again by itself.")
        if self.status == "dead":
            return _(
                "Stopped (%(num)s tries): put it back in the queue once the error is fixed.",
                num=self.attempts,
            )
        return ""


# Where a retried row goes: an outbox row goes back as "unknown" so it is looked up before
# it is sent again (a person retrying must not cause a second send).
_RETRY_STATUS = {"jobs": "todo", "outbox": "unknown", "inbox": "new"}
# Rows that need a person: an outbox row refused for good, or whose outcome is unknown.
_STUCK = {"jobs": ("dead",), "outbox": ("failed", "unknown"), "inbox": ("dead",)}
# What a person can say about an outbox row (`kravflyt outbox retry ID --resend | --mark-sent`):
# look it up again (the default), send it again without looking, or it arrived.
_SAID = {
    "lookup": N_("Put back in the queue"),
    "resend": N_("Sent again by hand: it did not arrive"),
    "mark_sent": N_("Marked sent by hand: it arrived"),
}
_DECISIONS = {
    "lookup": ("unknown", "put back in the queue: looked up before it is sent again"),
    "resend": ("pending", "to be sent again without a lookup: {actor} says it did not arrive"),
    "mark_sent": ("sent", "marked sent: {actor} says it arrived"),
}


def list_items(
    uow: UnitOfWork, table: str, *, status: str | None = None, limit: int = 200
) -> list[WorkItem]:
    """Rows of a work table, newest first (by default those that need a person): of the unit
    of work's company, or of every company in an installation-wide one (a reader's is
    enough: it never waits for a writer)."""
    statuses = (status,) if status else _STUCK[table]
    with uow:
        return _items(uow, table, statuses, company_id=uow.company_id, limit=limit)


def _items(
    uow: UnitOfWork,
    table: str,
    statuses: tuple[str, ...],
    *,
    company_id: int | None,
    limit: int,
    item_id: int | None = None,
) -> list[WorkItem]:
    return [
        WorkItem(
            table=table,
            id=r.id,
            company_id=r.company_id,
            name=r.name,
            status=r.status,
            attempts=r.attempts,
            last_error=r.last_error,
            created_at=r.created_at,
            payload=dict(r.payload),
            parked=bool(r.parked),
        )
        for r in WorkQueueRepository(uow.conn).rows(
            table, statuses, company_id=company_id, limit=limit, item_id=item_id
        )
    ]


def retry(
    uow: UnitOfWork, table: str, item_id: int, *, actor: str, decision: str = "lookup"
) -> WorkItem:
    """Put a dead job, failed or unknown send, or dead webhook back in the queue, and log who
    did it. For an outbox row a person may instead say `resend` (it did not arrive: send it
    without a lookup, the only way on for an e-mail, which cannot be looked up) or
    `mark_sent` (it arrived); a letter the row carries follows. The row is looked for in the
    unit of work's company (any company in an installation-wide one); the audit line is the
    row's company's."""
    if table not in TABLES:
        raise KeyError(table)
    if decision != "lookup" and table != "outbox":
        raise InputError("--resend/--mark-sent", "only an outbox row can be resent or marked sent")
    status, told = (
        _DECISIONS[decision]
        if table == "outbox"
        else (_RETRY_STATUS[table], _DECISIONS["lookup"][1])
    )
    with uow:
        queue = WorkQueueRepository(uow.conn)
        row = queue.row(table, item_id, company_id=uow.company_id)
        if row is None or row.status not in _STUCK[table]:
            raise NotFoundError(f"no {table} row {item_id} waiting for a retry")
        now = uow.clock.now()
        values: dict[str, Any] = {"status": status, "run_after": now, "attempts": 0}
        if status == "sent":
            values |= {"sent_at": now, "result": {"marked_sent_by": actor}}
        if not queue.change(table, item_id, was=row.status, **values):
            raise NotFoundError(f"{table} row {item_id} changed meanwhile: look again")
        if table == "outbox":
            delivery.follow(uow.conn, dict(row.payload), status, None, today=uow.clock.today())
        uow.record(
            Event(
                actor=actor,
                action=f"{table}.{'retry' if decision == 'lookup' else decision}",
                subject=(table, item_id),
                message=f"{table} row {item_id} {told.format(actor=actor)}",
                company_id=row.company_id,
                said=_SAID[decision],
            )
        )
        uow.commit()
        # The row itself as it is now (a worker may already have taken it on), not the newest
        # row of its new status, which may be another one.
        return _items(uow, table, (), company_id=row.company_id, limit=1, item_id=item_id)[0]
