"""What the claim search reads: one company's invoices with their customer and claim, found
by invoice number, KID, customer or amount."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, or_, select

from adapter.store.repositories.base import CompanyScoped
from adapter.store.tables import claims, customers, invoices


class SearchRepository(CompanyScoped):
    """Invoices as search hits: number, KID, customer (id, name, numbers), amounts, due date,
    claim status and whether disputed."""

    def _hits(self) -> Select[Any]:
        return (
            select(
                invoices.c.number,
                invoices.c.kid,
                invoices.c.customer_id,
                customers.c.name.label("customer"),
                customers.c.customer_number,
                customers.c.org_number,
                invoices.c.amount_ore,
                invoices.c.outstanding_ore,
                invoices.c.due_date,
                claims.c.status,
                claims.c.disputed,
            )
            .join(customers, customers.c.id == invoices.c.customer_id)
            .join(claims, claims.c.invoice_id == invoices.c.id)
            .where(invoices.c.company_id == self.company_id)
        )

    def _run(self, q: Select[Any]) -> list[dict[str, Any]]:
        return [dict(r._mapping) for r in self.conn.execute(q)]

    def with_number(self, number: str) -> list[dict[str, Any]]:
        """Invoices whose number is exactly `number`."""
        return self._run(self._hits().where(invoices.c.number == number))

    def with_kid(self, kid: str) -> list[dict[str, Any]]:
        """Invoices whose KID is exactly `kid`."""
        return self._run(self._hits().where(invoices.c.kid == kid))

    def of_customers(self, customer_ids: Sequence[int]) -> list[dict[str, Any]]:
        """The invoices of these customers."""
        return self._run(self._hits().where(invoices.c.customer_id.in_(customer_ids)))

    def with_amount(self, ore: int, *, limit: int) -> list[dict[str, Any]]:
        """At most `limit` invoices whose amount or outstanding amount is `ore`."""
        q = self._hits().where(or_(invoices.c.amount_ore == ore, invoices.c.outstanding_ore == ore))
        return self._run(q.limit(limit))

    def customers_numbered(self, digits: str) -> list[int]:
        """Customers whose customer or organisation number is `digits`, or, for six digits (a
        private person's birth date, DDMMYY), whose national id starts with them."""
        same = [customers.c.customer_number == digits, customers.c.org_number == digits]
        if len(digits) == 6:
            same.append(customers.c.national_id.startswith(digits))
        q = select(customers.c.id).where(customers.c.company_id == self.company_id, or_(*same))
        return [r.id for r in self.conn.execute(q)]

    def customer_names(self) -> list[tuple[int, str]]:
        """Every customer's id and name (for matching names in Python, Æ Ø Å included)."""
        q = select(customers.c.id, customers.c.name).where(
            customers.c.company_id == self.company_id
        )
        return [(r.id, r.name) for r in self.conn.execute(q)]
