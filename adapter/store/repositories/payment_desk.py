"""What the payments page reads: the payments waiting for a person, a page at a time, and the
invoices that may be theirs (by KID, invoice number, payer and amount). Each query is one
indexed look-up, so a page costs the same whatever the size of the ledger."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import delete, func, or_, select, update

from adapter.store.bank_stage import visible_payment
from adapter.store.repositories.base import CompanyScoped
from adapter.store.tables import allocations, claims, customers, invoices, outbox, payments

WAITING = ("unmatched", "on_account")


@dataclass(frozen=True)
class InvoiceCandidate:
    """An invoice a payment may belong to, with what a person needs to choose it."""

    invoice_id: int
    number: str
    kid: str | None
    due_date: date
    outstanding_ore: int
    customer_id: int
    customer: str
    claim_status: str


def _payment_columns() -> tuple[Any, ...]:
    return (
        payments.c.id,
        payments.c.payment_date,
        payments.c.amount_ore,
        payments.c.kid,
        payments.c.message,
        payments.c.payer_name,
        payments.c.payer_account,
        payments.c.status,
        payments.c.unmatched_reason,
        payments.c.currency,
        payments.c.references,
        payments.c.customer_id,
        customers.c.name.label("customer"),
        customers.c.external_id.label("customer_external_id"),
    )


def _candidate_columns() -> tuple[Any, ...]:
    return (
        invoices.c.id.label("invoice_id"),
        invoices.c.number,
        invoices.c.kid,
        invoices.c.due_date,
        invoices.c.outstanding_ore,
        invoices.c.customer_id,
        customers.c.name.label("customer"),
        claims.c.status.label("claim_status"),
    )


class PaymentDeskRepository(CompanyScoped):
    """Reads for the payments page of one company."""

    def waiting(self, *, offset: int, limit: int) -> tuple[list[dict[str, Any]], int]:
        """Payments not matched to an invoice (newest first), one page, and how many in all."""
        where = (
            payments.c.company_id == self.company_id,
            payments.c.status.in_(WAITING),
            visible_payment(),  # none of a bank file still being published
        )
        total = self.conn.execute(select(func.count()).select_from(payments).where(*where))
        rows = self.conn.execute(
            select(*_payment_columns())
            .outerjoin(customers, customers.c.id == payments.c.customer_id)
            .where(*where)
            .order_by(payments.c.payment_date.desc(), payments.c.id.desc())
            .offset(offset)
            .limit(limit)
        )
        return [dict(r._mapping) for r in rows], int(total.scalar_one())

    def ignored(self, *, limit: int) -> list[dict[str, Any]]:
        """Payments a person ignored, newest first."""
        rows = self.conn.execute(
            select(*_payment_columns())
            .outerjoin(customers, customers.c.id == payments.c.customer_id)
            .where(
                payments.c.company_id == self.company_id,
                payments.c.status == "ignored",
                visible_payment(),
            )
            .order_by(payments.c.payment_date.desc(), payments.c.id.desc())
            .limit(limit)
        )
        return [dict(r._mapping) for r in rows]

    def payer_customers(self, account: str | None, name: str | None) -> tuple[str, list[int]]:
        """The customers a payer may be: by bank account when it names any, else by name
        (case and spacing aside). Returns how they were found ("account", "name" or "") and
        their ids."""
        if account:
            found = self.conn.execute(
                select(customers.c.id).where(
                    customers.c.company_id == self.company_id, customers.c.bank_account == account
                )
            ).all()
            if found:
                return "account", [r.id for r in found]
        typed = " ".join((name or "").split())
        if typed:
            # lower() of SQLite folds ASCII only: the name as typed finds "Ødegård AS" too.
            found = self.conn.execute(
                select(customers.c.id).where(
                    customers.c.company_id == self.company_id,
                    or_(func.lower(customers.c.name) == typed.lower(), customers.c.name == typed),
                )
            ).all()
            if found:
                return "name", [r.id for r in found]
        return "", []

    def open_candidates(
        self,
        *,
        kids: Collection[str] = (),
        numbers: Collection[str] = (),
        customer_ids: Collection[int] = (),
        limit: int = 50,
    ) -> list[InvoiceCandidate]:
        """Open invoices (something outstanding, claim open or at the agency) with one of these
        KIDs or numbers, or of one of these customers."""
        conds = []
        if kids:
            conds.append(invoices.c.kid.in_(list(kids)))
        if numbers:
            conds.append(invoices.c.number.in_(list(numbers)))
        if customer_ids:
            conds.append(invoices.c.customer_id.in_(list(customer_ids)))
        if not conds:
            return []
        return self._candidates(or_(*conds), limit)

    def open_with_amounts(
        self, amounts: Collection[int], *, per_amount: int
    ) -> dict[int, list[InvoiceCandidate]]:
        """Open invoices whose outstanding amount is exactly one of these, soonest due first,
        at most `per_amount` of each. One statement for a whole page of payments: no index
        serves an amount, so each statement reads the open invoices once."""
        found: dict[int, list[InvoiceCandidate]] = {a: [] for a in amounts}
        if not found:
            return found
        for c in self._candidates(
            invoices.c.outstanding_ore.in_(list(found)), per_amount * len(found) * 4
        ):
            if len(found[c.outstanding_ore]) < per_amount:
                found[c.outstanding_ore].append(c)
        return found

    def _candidates(self, cond: Any, limit: int) -> list[InvoiceCandidate]:
        rows = self.conn.execute(
            select(*_candidate_columns())
            .join(customers, customers.c.id == invoices.c.customer_id)
            .join(claims, claims.c.invoice_id == invoices.c.id)
            .where(
                invoices.c.company_id == self.company_id,
                claims.c.status.in_(("open", "handed_off")),
                invoices.c.outstanding_ore > 0,
                cond,
            )
            .order_by(invoices.c.due_date, invoices.c.id)
            .limit(limit)
        )
        return [InvoiceCandidate(**r._mapping) for r in rows]

    def invoice(self, number: str) -> InvoiceCandidate | None:
        """The invoice with this number, whatever its state."""
        row = self.conn.execute(
            select(*_candidate_columns())
            .join(customers, customers.c.id == invoices.c.customer_id)
            .join(claims, claims.c.invoice_id == invoices.c.id)
            .where(invoices.c.company_id == self.company_id, invoices.c.number == number)
            .order_by(invoices.c.id)
            .limit(1)
        ).first()
        return InvoiceCandidate(**row._mapping) if row else None

    def ledger_sends(self, payment_id: int) -> list[tuple[int, str]]:
        """(id, status) of the sends that register the payment in Tripletex or forward it to
        the agency."""
        rows = self.conn.execute(
            select(outbox.c.id, outbox.c.status).where(
                outbox.c.company_id == self.company_id,
                outbox.c.kind.in_(("tripletex.payment", "kravia.payment")),
                outbox.c.payload["payment_id"].as_integer() == payment_id,
            )
        )
        return [(r.id, r.status) for r in rows]

    def undo_allocations(self, payment_id: int, send_ids: Collection[int]) -> list[int]:
        """Delete the payment's allocations and its sends not yet made; reopen the claims the
        payment had closed. Returns the invoices it was allocated to (their outstanding
        amounts are for the caller to recompute)."""
        invoice_ids = sorted(
            {
                r.invoice_id
                for r in self.conn.execute(
                    select(allocations.c.invoice_id).where(
                        allocations.c.company_id == self.company_id,
                        allocations.c.payment_id == payment_id,
                        allocations.c.invoice_id.is_not(None),
                    )
                )
            }
        )
        if send_ids:
            self.conn.execute(delete(outbox).where(outbox.c.id.in_(list(send_ids))))
        self.conn.execute(
            delete(allocations).where(
                allocations.c.company_id == self.company_id,
                allocations.c.payment_id == payment_id,
            )
        )
        if invoice_ids:
            self.conn.execute(
                update(claims)
                .where(
                    claims.c.company_id == self.company_id,
                    claims.c.invoice_id.in_(invoice_ids),
                    claims.c.status == "closed",
                )
                .values(status="open", closed_at=None)
            )
        return invoice_ids
