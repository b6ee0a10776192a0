"""Finding claims the way a debtor names them on the phone: invoice number, KID, customer
name, customer number, organisation number (or a private person's birth date) or amount."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from adapter.domain import Money
from adapter.errors import InputError
from adapter.i18n import name_key
from adapter.store.uow import UnitOfWork

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


def find(uow: UnitOfWork, text: str, *, limit: int = LIMIT) -> list[Hit]:
    """The company's invoices that match `text` (exact number or KID first, then by customer,
    then by amount, each in Norwegian name order)."""
    asked = text.strip()
    if not asked:
        return []
    compact = re.sub(r"[\s.]", "", asked)
    with uow:
        found: list[tuple[str, dict[str, Any]]] = []
        found += [("number", r) for r in uow.search.with_number(asked)]
        if compact.isdigit():
            found += [("kid", r) for r in uow.search.with_kid(compact)]
        if not found:
            who = _customers(uow, asked, compact)
            if who:
                found += [("customer", r) for r in uow.search.of_customers(who)]
            ore = _amount(asked)
            if ore is not None and ore > 0:
                found += [("amount", r) for r in uow.search.with_amount(ore, limit=limit)]
    hits: dict[str, Hit] = {}
    for by, r in found:
        hits.setdefault(r["number"], Hit(**r, by=by))
    order = {"number": 0, "kid": 0, "customer": 1, "amount": 2}
    ranked = sorted(
        hits.values(),
        key=lambda h: (order[h.by], name_key(h.customer), h.number.zfill(40)),
    )
    return ranked[:limit]


def _customers(uow: UnitOfWork, asked: str, compact: str) -> list[int]:
    """Ids of customers whose number, organisation number or birth date is `asked`, or whose
    name contains it (case-blind, Æ Ø Å included: compared in Python, not by the database)."""
    if compact.isdigit():
        return uow.search.customers_numbered(compact)
    wanted = asked.casefold()
    return [id_ for id_, name in uow.search.customer_names() if wanted in name.casefold()]
