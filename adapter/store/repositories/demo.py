"""What the demo's report counts and looks up (`kravflyt demo`): read-only, across tables.

Counts are of the whole database, as the demo's report has always given them: the demo's
database holds the demo company only.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, select

from adapter.store.tables import claims, customers, invoices, letters, outbox, payments, users


class DemoRepository:
    """The demo's figures."""

    def __init__(self, conn: Connection):
        self.conn = conn

    def _count(self, table: Any, *where: Any) -> int:
        return int(
            self.conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one()
        )

    def invoices(self, company_id: int) -> int:
        """How many invoices the company has."""
        return self._count(invoices, invoices.c.company_id == company_id)

    def letters(self, company_id: int) -> int:
        """How many letters the company has."""
        return self._count(letters, letters.c.company_id == company_id)

    def unmatched_payments(self, company_id: int) -> int:
        """How many of the company's payments wait for a person."""
        return self._count(
            payments, payments.c.company_id == company_id, payments.c.status == "unmatched"
        )

    def sends(self, status: str, kind: str | None = None) -> int:
        """How many outbox rows have `status` (of `kind`, when given)."""
        where = [outbox.c.status == status]
        if kind is not None:
            where.append(outbox.c.kind == kind)
        return self._count(outbox, *where)

    def invoice_stored(self, company_id: int, number: str) -> bool:
        """Whether the company has the invoice numbered `number`."""
        return (
            self._count(invoices, invoices.c.company_id == company_id, invoices.c.number == number)
            > 0
        )

    def handed_off_with_kid(self, company_id: int) -> Any:
        """The first claim at the agency whose invoice has a KID: (kid, number,
        outstanding_ore, name), or None."""
        return self.conn.execute(
            select(
                invoices.c.kid,
                invoices.c.number,
                invoices.c.outstanding_ore,
                customers.c.name,
            )
            .join(claims, claims.c.invoice_id == invoices.c.id)
            .join(customers, customers.c.id == invoices.c.customer_id)
            .where(
                invoices.c.company_id == company_id,
                claims.c.status == "handed_off",
                invoices.c.kid.is_not(None),
            )
            .order_by(invoices.c.id)
        ).first()

    def agency_statuses(self) -> list[str]:
        """The agency's status of every claim that has one."""
        return list(
            self.conn.execute(
                select(claims.c.agency_status).where(claims.c.agency_status.is_not(None))
            ).scalars()
        )

    def agency_status_by_case(self) -> dict[str, str | None]:
        """Each handed-off claim's status at the agency as we stored it, by the agency's id."""
        return {
            r.agency_case_id: r.agency_status
            for r in self.conn.execute(
                select(claims.c.agency_case_id, claims.c.agency_status).where(
                    claims.c.agency_case_id.is_not(None)
                )
            )
        }

    def user_exists(self, email: str) -> bool:
        """Whether a user with this e-mail exists."""
        return self._count(users, users.c.email == email) > 0
