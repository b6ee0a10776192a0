"""One customer on one page: contact, blocks and overrides, every claim, payment and letter."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from adapter.domain import Customer
from adapter.store.database import Database
from adapter.store.tables import claims, customers, invoices, letters, payments


@dataclass(frozen=True)
class CustomerPage:
    """What the customer page shows."""

    customer: Customer
    birth_date: str  # "DD.MM.YY" of a private person's national identity number, else ""
    ladder_override: Any
    claims: list[dict[str, Any]]
    payments: list[dict[str, Any]]
    letters: list[dict[str, Any]]

    @property
    def outstanding_ore(self) -> int:
        """What the customer owes on open claims."""
        return sum(c["outstanding_ore"] for c in self.claims if c["status"] != "closed")


def customer_page(db: Database, company_id: int, customer_id: int) -> CustomerPage:
    """The customer's page (NotFoundError when the company has no such customer)."""
    with db.uow(company_id, read_only=True) as uow:
        customer = uow.customers.get(customer_id)
        claim_rows = uow.conn.execute(
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
            .where(invoices.c.company_id == company_id, invoices.c.customer_id == customer_id)
            .order_by(invoices.c.due_date.desc(), invoices.c.number.desc())
        )
        payment_rows = uow.conn.execute(
            select(payments)
            .where(payments.c.company_id == company_id, payments.c.customer_id == customer_id)
            .order_by(payments.c.payment_date.desc(), payments.c.id.desc())
            .limit(200)
        )
        letter_rows = uow.conn.execute(
            select(letters, invoices.c.number)
            .join(claims, claims.c.id == letters.c.claim_id)
            .join(invoices, invoices.c.id == claims.c.invoice_id)
            .where(invoices.c.company_id == company_id, invoices.c.customer_id == customer_id)
            .order_by(letters.c.sent_on.desc(), letters.c.id.desc())
            .limit(200)
        )
        override = uow.conn.execute(
            select(customers.c.ladder_override).where(customers.c.id == customer_id)
        ).scalar_one_or_none()
        found = CustomerPage(
            customer=customer,
            birth_date=_birth_date(customer),
            ladder_override=override,
            claims=[dict(r._mapping) for r in claim_rows],
            payments=[dict(r._mapping) for r in payment_rows],
            letters=[dict(r._mapping) for r in letter_rows],
        )
    return found


def _birth_date(customer: Customer) -> str:
    """The birth date in a private person's national identity number (never the whole number)."""
    if customer.national_id is None:
        return ""
    digits = customer.national_id.reveal()
    return f"{digits[0:2]}.{digits[2:4]}.{digits[4:6]}"
