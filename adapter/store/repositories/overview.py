"""What the overview and a claim's page read: the open receivables, what was collected, and one
claim's row, allocations, letters and audit lines."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import and_, func, select

from adapter.store.bank_stage import visible_allocation, visible_payment
from adapter.store.repositories.base import CompanyScoped
from adapter.store.tables import allocations, audit_log, claims, invoices, letters, payments


def _rows(result: Any) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in result]


class OverviewRepository(CompanyScoped):
    """Read-only queries behind the overview figures and the claim page."""

    def receivables(self) -> list[dict[str, Any]]:
        """Each open or handed-off claim with something outstanding: due_date, outstanding_ore,
        ledger_outstanding_ore (None when the ledger said nothing) and status."""
        return _rows(
            self.conn.execute(
                select(
                    invoices.c.due_date,
                    invoices.c.outstanding_ore,
                    invoices.c.ledger_outstanding_ore,
                    claims.c.status,
                )
                .join(claims, claims.c.invoice_id == invoices.c.id)
                .where(
                    invoices.c.company_id == self.company_id,
                    claims.c.status.in_(("open", "handed_off")),
                    invoices.c.outstanding_ore > 0,
                )
            )
        )

    def collected(self, first: date, last: date) -> int:
        """Øre of payments allocated to principal, fees and interest from `first` to `last`
        (both included); credit and write-offs without a payment are not collected money."""
        return int(
            self.conn.execute(
                select(func.coalesce(func.sum(allocations.c.amount_ore), 0)).where(
                    allocations.c.company_id == self.company_id,
                    allocations.c.kind.in_(("principal", "fee", "interest")),
                    allocations.c.payment_id.is_not(None),
                    allocations.c.allocated_on >= first,
                    allocations.c.allocated_on <= last,
                    visible_allocation(),  # none of a bank file still being published
                )
            ).scalar_one()
        )

    def claim_row(self, invoice_id: int) -> dict[str, Any]:
        """The invoice's claim row as stored (every column)."""
        row = self.conn.execute(select(claims).where(claims.c.invoice_id == invoice_id)).one()
        return dict(row._mapping)

    def allocations(self, invoice_id: int) -> list[dict[str, Any]]:
        """The invoice's allocations in the order made, each with its payment's date, source
        and match method (None for an allocation without a payment)."""
        return _rows(
            self.conn.execute(
                select(
                    allocations,
                    payments.c.payment_date,
                    payments.c.source,
                    payments.c.match_method,
                )
                .outerjoin(payments, payments.c.id == allocations.c.payment_id)
                # None of a bank file still being published.
                .where(allocations.c.invoice_id == invoice_id, visible_payment())
                .order_by(allocations.c.id)
            )
        )

    def letters(self, claim_id: int) -> list[dict[str, Any]]:
        """Every letter of the claim, whatever its status, by date."""
        return _rows(
            self.conn.execute(
                select(letters)
                .where(letters.c.claim_id == claim_id)
                .order_by(letters.c.sent_on, letters.c.id)
            )
        )

    def invoice_story(self, invoice_id: int) -> list[dict[str, Any]]:
        """The audit lines about the invoice in order, but for the dunning run's own lines
        and the ledger's payments (the letters and allocations tell those)."""
        return _rows(
            self.conn.execute(
                select(audit_log)
                .where(
                    audit_log.c.company_id == self.company_id,
                    audit_log.c.subject_type == "invoice",
                    audit_log.c.subject_id == str(invoice_id),
                    and_(
                        ~audit_log.c.action.startswith("dunning."),
                        audit_log.c.action != "payment.ledger",
                    ),
                )
                .order_by(audit_log.c.id)
            )
        )
