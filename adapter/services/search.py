"""Finding claims the way a debtor names them on the phone: invoice number, KID, customer
name, customer number, organisation number (or a private person's birth date) or amount."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import or_, select

from adapter.domain import Money
from adapter.errors import InputError
from adapter.i18n import name_key
from adapter.store.database import Database
from adapter.store.tables import claims, customers, invoices

LIMIT = 100  # hits shown at once: a narrower search finds the rest


@dataclass(frozen=True)
class Hit:
    """An invoice that matches, with its customer, and how it matched."""

    number: str
    kid: str | None
    customer_id: int
    customer: str
    customer_number: str | None
    org_number: str | None
    amount_ore: int
    outstanding_ore: int
    due_date: date
    status: str
    disputed: bool
    by: str  # "number", "kid", "customer", "amount"

    @property
    def exact(self) -> bool:
        """Matched by the invoice's own number or KID: the one the caller meant."""
        return self.by in ("number", "kid")


def _amount(text: str) -> int | None:
    try:
        return Money.parse(text).ore
    except InputError:
        return None


def find(db: Database, company_id: int, text: str, *, limit: int = LIMIT) -> list[Hit]:
    """The company's invoices that match `text` (exact number or KID first, then by customer,
    then by amount, each in Norwegian name order)."""
    asked = text.strip()
    if not asked:
        return []
    compact = re.sub(r"[\s.]", "", asked)
    base = (
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
        .where(invoices.c.company_id == company_id)
    )
    with db.uow(company_id, read_only=True) as uow:
        found: list[tuple[str, Any]] = []
        found += [("number", r) for r in uow.conn.execute(base.where(invoices.c.number == asked))]
        if compact.isdigit():
            found += [("kid", r) for r in uow.conn.execute(base.where(invoices.c.kid == compact))]
        if not found:
            who = _customers(uow.conn, company_id, asked, compact)
            if who:
                rows = uow.conn.execute(base.where(invoices.c.customer_id.in_(who)))
                found += [("customer", r) for r in rows]
            ore = _amount(asked)
            if ore is not None and ore > 0:
                rows = uow.conn.execute(
                    base.where(
                        or_(invoices.c.amount_ore == ore, invoices.c.outstanding_ore == ore)
                    ).limit(limit)
                )
                found += [("amount", r) for r in rows]
    hits: dict[str, Hit] = {}
    for by, r in found:
        hits.setdefault(r.number, Hit(**dict(r._mapping), by=by))
    order = {"number": 0, "kid": 0, "customer": 1, "amount": 2}
    ranked = sorted(
        hits.values(),
        key=lambda h: (order[h.by], name_key(h.customer), h.number.zfill(40)),
    )
    return ranked[:limit]


def _customers(conn: Any, company_id: int, asked: str, compact: str) -> list[int]:
    """Ids of customers whose number, organisation number or birth date is `asked`, or whose
    name contains it (case-blind, Æ Ø Å included: compared in Python, not by the database)."""
    if compact.isdigit():
        same = [customers.c.customer_number == compact, customers.c.org_number == compact]
        if len(compact) == 6:  # a private person's birth date, DDMMYY
            same.append(customers.c.national_id.startswith(compact))
        rows = conn.execute(
            select(customers.c.id).where(customers.c.company_id == company_id, or_(*same))
        )
        return [r.id for r in rows]
    wanted = asked.casefold()
    rows = conn.execute(
        select(customers.c.id, customers.c.name).where(customers.c.company_id == company_id)
    )
    return [r.id for r in rows if wanted in r.name.casefold()]
