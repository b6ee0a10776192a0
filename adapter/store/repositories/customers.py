"""Customers (debtors) of one company."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, insert, select, update

from adapter.domain import Address, Customer, DebtorKind, NationalId
from adapter.errors import NotFoundError
from adapter.store.repositories.base import CompanyScoped
from adapter.store.tables import customers


def customer_from_row(row: Row[Any]) -> Customer:
    """A domain `Customer` from a `customers` row."""
    return Customer(
        id=row.id,
        company_id=row.company_id,
        name=row.name,
        kind=DebtorKind(row.kind),
        customer_number=row.customer_number,
        external_id=row.external_id,
        org_number=row.org_number,
        national_id=NationalId(row.national_id) if row.national_id else None,
        email=row.email,
        phone=row.phone,
        address=Address(
            line1=row.address_line1 or "",
            line2=row.address_line2 or "",
            postal_code=row.postal_code or "",
            city=row.city or "",
            country=row.country or "NO",
        ),
        bank_account=row.bank_account,
        blocked=row.blocked,
        blocked_reason=row.blocked_reason,
        dunning_excluded=row.dunning_excluded,
    )


def customer_to_row(customer: Customer) -> dict[str, Any]:
    """The `customers` columns of a domain `Customer` (without id and company)."""
    return {
        "external_id": customer.external_id,
        "customer_number": customer.customer_number,
        "name": customer.name,
        "kind": customer.kind.value,
        "org_number": customer.org_number,
        "national_id": customer.national_id.reveal() if customer.national_id else None,
        "email": customer.email,
        "phone": customer.phone,
        "address_line1": customer.address.line1,
        "address_line2": customer.address.line2,
        "postal_code": customer.address.postal_code,
        "city": customer.address.city,
        "country": customer.address.country,
        "bank_account": customer.bank_account,
        "blocked": customer.blocked,
        "blocked_reason": customer.blocked_reason,
        "dunning_excluded": customer.dunning_excluded,
    }


class CustomerRepository(CompanyScoped):
    """Reads and writes one company's customers."""

    def _select(self) -> Any:
        return select(customers).where(customers.c.company_id == self.company_id)

    def add(self, customer: Customer) -> Customer:
        """Store a new customer and return it with its id."""
        new_id = self.conn.execute(
            insert(customers)
            .values(
                company_id=self.company_id, updated_at=self.clock.now(), **customer_to_row(customer)
            )
            .returning(customers.c.id)
        ).scalar_one()
        return self.get(new_id)

    def get(self, customer_id: int) -> Customer:
        """The customer with this id (only within this company)."""
        row = self.conn.execute(self._select().where(customers.c.id == customer_id)).first()
        if row is None:
            raise NotFoundError(f"customer {customer_id} not found in company {self.company_id}")
        return customer_from_row(row)

    def find(self, ref: str) -> Customer:
        """A customer by id, customer number or external id, as a person would type it."""
        clauses = [customers.c.customer_number == ref, customers.c.external_id == ref]
        if ref.isdigit():
            clauses.insert(0, customers.c.id == int(ref))
        for clause in clauses:
            row = self.conn.execute(self._select().where(clause)).first()
            if row is not None:
                return customer_from_row(row)
        raise NotFoundError(f"customer {ref!r} not found in company {self.company_id}")

    def by_external_id(self, external_id: str) -> Customer | None:
        """The customer the ledger knows by `external_id`, if synced."""
        row = self.conn.execute(
            self._select().where(customers.c.external_id == external_id)
        ).first()
        return customer_from_row(row) if row else None

    def by_bank_account(self, account: str) -> list[Customer]:
        """Customers known to pay from `account`."""
        rows = self.conn.execute(self._select().where(customers.c.bank_account == account))
        return [customer_from_row(r) for r in rows]

    def list(self, *, blocked: bool | None = None) -> list[Customer]:
        """The company's customers by name (only blocked ones with blocked=True)."""
        q = self._select().order_by(customers.c.name, customers.c.id)
        if blocked is not None:
            q = q.where(customers.c.blocked == blocked)
        return [customer_from_row(r) for r in self.conn.execute(q)]

    def external_ids(self, customer_ids: Sequence[int]) -> dict[int, str | None]:
        """The Tripletex id of each of these customers."""
        return dict(
            self.conn.execute(
                select(customers.c.id, customers.c.external_id).where(
                    customers.c.company_id == self.company_id, customers.c.id.in_(customer_ids)
                )
            ).all()
        )

    def set_fields(self, customer_id: int, **values: Any) -> None:
        """Change columns of one customer (blocked, dunning_excluded, ladder_override, ...)."""
        self.get(customer_id)
        self.conn.execute(
            update(customers)
            .where(customers.c.company_id == self.company_id, customers.c.id == customer_id)
            .values(updated_at=self.clock.now(), **values)
        )

    def ladder_override(self, customer_id: int) -> dict[str, Any] | None:
        """The customer's own ladder settings as stored (None: the company's ladder)."""
        found: dict[str, Any] | None = self.conn.execute(
            select(customers.c.ladder_override).where(
                customers.c.company_id == self.company_id, customers.c.id == customer_id
            )
        ).scalar_one()
        return found

    def blocked_rows(self) -> builtins.list[dict[str, Any]]:
        """Customers blocked from new sales (id, number, name, reason), by name."""
        rows = self.conn.execute(
            select(
                customers.c.id,
                customers.c.customer_number,
                customers.c.name,
                customers.c.blocked_reason,
            )
            .where(customers.c.company_id == self.company_id, customers.c.blocked.is_(True))
            .order_by(customers.c.name)
        )
        return [
            {
                "id": r.id,
                "customer_number": r.customer_number,
                "name": r.name,
                "reason": r.blocked_reason,
            }
            for r in rows
        ]

    def without_own_ladder(self) -> builtins.list[int]:
        """Ids of the customers that follow the company's ladder."""
        return builtins.list(
            self.conn.execute(
                select(customers.c.id).where(
                    customers.c.company_id == self.company_id,
                    customers.c.ladder_override.is_(None),
                )
            ).scalars()
        )
