"""One customer on one page: contact, blocks and overrides, every claim, payment and letter."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from adapter.domain import Customer
from adapter.services.handoff import birth_date
from adapter.store.uow import UnitOfWork


@dataclass(frozen=True)
class CustomerPage:
    """What the customer page shows."""

    customer: Customer
    birth_date: date | None  # of a private person, from the national identity number
    ladder_override: Any
    claims: list[dict[str, Any]]
    payments: list[dict[str, Any]]
    letters: list[dict[str, Any]]

    @property
    def outstanding_ore(self) -> int:
        """What the customer owes on open claims."""
        return sum(c["outstanding_ore"] for c in self.claims if c["status"] != "closed")


def customer_page(uow: UnitOfWork, customer_id: int) -> CustomerPage:
    """The customer's page (NotFoundError when the company has no such customer)."""
    with uow:
        customer = uow.customers.get(customer_id)
        history = uow.customer_history
        return CustomerPage(
            customer=customer,
            birth_date=birth_date(customer.national_id.reveal() if customer.national_id else None),
            ladder_override=history.ladder_override(customer_id),
            claims=history.claims(customer_id),
            payments=history.payments(customer_id),
            letters=history.letters(customer_id),
        )
