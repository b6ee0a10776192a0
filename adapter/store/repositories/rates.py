"""Dated legal numbers an operator added (installation-wide, never changed once written)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Connection, func, insert, select

from adapter.clock import Clock
from adapter.store.tables import claims, invoices, letters, rate_entries
from policies.rates import Entry


@dataclass(frozen=True)
class RateEntry:
    """One added row: a kind's value from a date, its source, who added it and when."""

    id: int
    kind: str
    valid_from: date
    value: Decimal
    source: str
    reason: str | None
    added_by: str
    added_at: datetime

    @property
    def entry(self) -> Entry:
        """The row as the policy tables take it."""
        return (self.kind, self.valid_from, self.value, self.source)


# Which letter amount shows a row of each kind was used.
_USED_BY = {
    "interest": letters.c.interest_ore,
    "inkassosats": letters.c.fee_ore,
    "compensation": letters.c.compensation_ore,
}


class RateRepository:
    """Reads and appends the added rate rows."""

    def __init__(self, conn: Connection, clock: Clock):
        self.conn, self.clock = conn, clock

    def all(self) -> list[RateEntry]:
        """Every added row, oldest first (a later row for the same kind and date wins)."""
        rows = self.conn.execute(select(rate_entries).order_by(rate_entries.c.id))
        return [
            RateEntry(
                r.id,
                r.kind,
                r.valid_from,
                Decimal(r.value),
                r.source,
                r.reason,
                r.added_by,
                r.added_at,
            )
            for r in rows
        ]

    def add(
        self,
        kind: str,
        valid_from: date,
        value: Decimal,
        source: str,
        *,
        by: str,
        reason: str | None,
    ) -> int:
        """Append a row; returns its id."""
        result = self.conn.execute(
            insert(rate_entries)
            .values(
                kind=kind,
                valid_from=valid_from,
                value=str(value),
                source=source,
                reason=reason,
                added_by=by,
                added_at=self.clock.now(),
            )
            .returning(rate_entries.c.id)
        )
        return int(result.scalar_one())

    def letters_using(self, kind: str, valid_from: date, next_from: date | None) -> int:
        """Letters already made (any company, pending or sent) whose amount of `kind` used
        the row in force from `valid_from` until `next_from` (None: still in force): interest
        counted on a day from it, or a fee or compensation on a letter dated while it was in
        force."""
        q = (
            select(func.count())
            .select_from(letters)
            .where(letters.c.status.in_(("pending", "sent")), _USED_BY[kind] > 0)
        )
        if kind == "interest":
            q = q.where(letters.c.interest_to >= valid_from)
            if next_from is not None:  # and interest began before the next row (due before it)
                q = (
                    q.join(claims, claims.c.id == letters.c.claim_id)
                    .join(invoices, invoices.c.id == claims.c.invoice_id)
                    .where(invoices.c.due_date < next_from)
                )
        else:
            q = q.where(letters.c.sent_on >= valid_from)
            if next_from is not None:
                q = q.where(letters.c.sent_on < next_from)
        return int(self.conn.execute(q).scalar_one())
