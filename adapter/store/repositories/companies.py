"""Companies: the only repository not scoped to one company."""

from __future__ import annotations

import builtins

from sqlalchemy import Connection, insert, select
from sqlalchemy.exc import IntegrityError

from adapter.clock import Clock
from adapter.domain import Company
from adapter.errors import InputError, NotFoundError
from adapter.store.tables import companies, connections


def _company(row: object) -> Company:
    return Company(id=row.id, name=row.name, org_number=row.org_number, created_at=row.created_at)  # type: ignore[attr-defined]


class CompanyRepository:
    """Add, find and list the creditor companies of this installation."""

    def __init__(self, conn: Connection, clock: Clock):
        self.conn, self.clock = conn, clock

    def add(self, name: str, org_number: str) -> Company:
        """Register a company; its organisation number must be new."""
        try:
            with self.conn.begin_nested():
                new_id = self.conn.execute(
                    insert(companies)
                    .values(name=name, org_number=org_number, created_at=self.clock.now())
                    .returning(companies.c.id)
                ).scalar_one()
        except IntegrityError as exc:
            raise InputError(
                "org_number", f"a company with organisation number {org_number} exists"
            ) from exc
        return self.get(new_id)

    def get(self, company_id: int) -> Company:
        """The company with this id."""
        row = self.conn.execute(select(companies).where(companies.c.id == company_id)).first()
        if row is None:
            raise NotFoundError(f"company {company_id} does not exist")
        return _company(row)

    def list(self) -> list[Company]:
        """Every company, by id."""
        return [_company(r) for r in self.conn.execute(select(companies).order_by(companies.c.id))]

    def tripletex_logins(self) -> dict[int, tuple[str, int | None]]:
        """Each company's stored Tripletex login (base URL, client company id), by company id;
        read from the connections' settings, never their secrets."""
        rows = self.conn.execute(
            select(connections.c.company_id, connections.c.config).where(
                connections.c.remote == "tripletex"
            )
        )
        return {
            r.company_id: (str(r.config["base_url"]), r.config.get("client_company_id"))
            for r in rows
        }

    def names(self, ids: builtins.list[int]) -> dict[int, str]:
        """The names of these companies, in name order."""
        rows = self.conn.execute(
            select(companies.c.id, companies.c.name)
            .where(companies.c.id.in_(ids))
            .order_by(companies.c.name)
        )
        return {r.id: r.name for r in rows}
