"""One customer's history for the customer page: claims, payments, letters, own ladder."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from adapter.store.bank_stage import visible_payment
from adapter.store.repositories.base import CompanyScoped
from adapter.store.tables import claims, customers, invoices, letters, payments


def _rows(result: Any) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in result]


class CustomerHistoryRepository(CompanyScoped):
    """Reads what one customer of the company owed, paid and was sent."""

    def claims(self, customer_id: int) -> list[dict[str, Any]]:
        """Every claim of the customer, newest due date first."""
        return _rows(
            self.conn.execute(
                select(
                    invoices.c.number,
                    invoices.c.invoice_date,
                    invoices.c.due_date,
                    invoices.c.amount_ore,
                    invoices.c.outstanding_ore,
                    claims.c.status,
                    claims.c.disputed,
                    claims.c.stopped,
                    claims.c.hold_until,
                    claims.c.agency_status,
                )
                .join(claims, claims.c.invoice_id == invoices.c.id)
                .where(
                    invoices.c.company_id == self.company_id,
                    invoices.c.customer_id == customer_id,
                )
                .order_by(invoices.c.due_date.desc(), invoices.c.number.desc())
            )
        )

    def payments(self, customer_id: int, *, limit: int = 200) -> list[dict[str, Any]]:
        """The customer's latest payments."""
        return _rows(
            self.conn.execute(
                select(payments)
                .where(
                    payments.c.company_id == self.company_id,
                    payments.c.customer_id == customer_id,
                    visible_payment(),  # none of a bank file still being published
                )
                .order_by(payments.c.payment_date.desc(), payments.c.id.desc())
                .limit(limit)
            )
        )

    def letters(self, customer_id: int, *, limit: int = 200) -> list[dict[str, Any]]:
        """The latest letters on the customer's claims, with the invoice number."""
        return _rows(
            self.conn.execute(
                select(letters, invoices.c.number)
                .join(claims, claims.c.id == letters.c.claim_id)
                .join(invoices, invoices.c.id == claims.c.invoice_id)
                .where(
                    invoices.c.company_id == self.company_id,
                    invoices.c.customer_id == customer_id,
                )
                .order_by(letters.c.sent_on.desc(), letters.c.id.desc())
                .limit(limit)
            )
        )

    def ladder_override(self, customer_id: int) -> Any:
        """The customer's own dunning ladder, if it has one."""
        return self.conn.execute(
            select(customers.c.ladder_override).where(
                customers.c.company_id == self.company_id, customers.c.id == customer_id
            )
        ).scalar_one_or_none()
