"""The claims list: one company's claims filtered, sorted and paged, as the accountant's list and
its exports read them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import and_, case, false, func, or_, select

from adapter.i18n import name_key
from adapter.store.repositories.base import CompanyScoped
from adapter.store.tables import LETTER_COUNTS, claims, customers, invoices, letters

# The stages a claim can be at, in the order of the ladder: "none" before the first letter.
STAGE_ORDER = (
    "none",
    "soft_reminder",
    "reminder_1",
    "reminder_2",
    "inkassovarsel",
    "betalingsoppfordring",
    "rentenota",
)
SORTS = ("number", "due", "amount", "customer", "stage")


@dataclass(frozen=True)
class ClaimFilter:
    """What the list shows; None means "any"."""

    stage: str | None = None  # "none" (no letter yet) or a letter stage
    overdue_days: int | None = None  # at least this many days past the due date
    amount_from_ore: int | None = None  # outstanding at least
    amount_to_ore: int | None = None  # outstanding at most
    disputed: bool | None = None
    at_agency: bool | None = None
    held: bool | None = None  # dunning stopped, or postponed past today
    closed: bool = False  # closed claims too


@dataclass(frozen=True)
class ClaimLine:
    """One claim as the list shows it."""

    invoice_id: int
    number: str
    customer_id: int
    customer: str
    customer_number: str | None
    invoice_date: date
    due_date: date
    amount_ore: int
    outstanding_ore: int
    status: str
    stage: str  # "none" before the first letter
    disputed: bool
    stopped: bool
    hold_until: date | None
    agency_status: str | None
    days_overdue: int


class ClaimListRepository(CompanyScoped):
    """Reads one company's claims for the list."""

    def _stage(self) -> Any:
        """The stage of the claim: its latest letter known to be sent."""
        return (
            select(letters.c.stage)
            .where(letters.c.claim_id == claims.c.id, letters.c.status.in_(LETTER_COUNTS))
            .order_by(letters.c.sent_on.desc(), letters.c.id.desc())
            .limit(1)
            .correlate(claims)
            .scalar_subquery()
        )

    def _where(self, f: ClaimFilter, today: date) -> list[Any]:
        stage = self._stage()
        where: list[Any] = [invoices.c.company_id == self.company_id]
        if not f.closed:
            where.append(claims.c.status != "closed")
        if f.stage == "none":
            where.append(stage.is_(None))
        elif f.stage:
            where.append(stage == f.stage)
        if f.overdue_days is not None:
            where.append(invoices.c.due_date <= today - timedelta(days=f.overdue_days))
        if f.amount_from_ore is not None:
            where.append(invoices.c.outstanding_ore >= f.amount_from_ore)
        if f.amount_to_ore is not None:
            where.append(invoices.c.outstanding_ore <= f.amount_to_ore)
        if f.disputed is not None:
            where.append(claims.c.disputed.is_(f.disputed))
        if f.at_agency is not None:
            at = claims.c.status == "handed_off"
            where.append(at if f.at_agency else ~at)
        if f.held is not None:
            held = or_(claims.c.stopped.is_(True), claims.c.hold_until > today)
            free = and_(
                claims.c.stopped.is_(false()),
                or_(claims.c.hold_until.is_(None), claims.c.hold_until <= today),
            )
            where.append(held if f.held else free)
        return where

    def _select(self) -> Any:
        return select(
            invoices.c.id.label("invoice_id"),
            invoices.c.number,
            invoices.c.customer_id,
            customers.c.name.label("customer"),
            customers.c.customer_number,
            invoices.c.invoice_date,
            invoices.c.due_date,
            invoices.c.amount_ore,
            invoices.c.outstanding_ore,
            claims.c.status,
            func.coalesce(self._stage(), "none").label("stage"),
            claims.c.disputed,
            claims.c.stopped,
            claims.c.hold_until,
            claims.c.agency_status,
        ).select_from(
            invoices.join(claims, claims.c.invoice_id == invoices.c.id).join(
                customers, customers.c.id == invoices.c.customer_id
            )
        )

    def count(self, f: ClaimFilter, today: date) -> int:
        """How many claims the filter lets through."""
        q = (
            select(func.count())
            .select_from(invoices.join(claims, claims.c.invoice_id == invoices.c.id))
            .where(*self._where(f, today))
        )
        return int(self.conn.execute(q).scalar_one())

    def lines(
        self,
        f: ClaimFilter,
        today: date,
        *,
        sort: str = "due",
        descending: bool = False,
        offset: int = 0,
        limit: int | None = None,
    ) -> list[ClaimLine]:
        """The claims the filter lets through, sorted, from `offset` (all with limit=None).

        Names sort in Norwegian order (..., Z, Æ, Ø, Å), which neither database does by itself:
        by customer, the ids are sorted here and only the page's rows are read."""
        where = self._where(f, today)
        if sort == "customer":
            named = list(
                self.conn.execute(
                    select(invoices.c.id, customers.c.name, invoices.c.number)
                    .select_from(
                        invoices.join(claims, claims.c.invoice_id == invoices.c.id).join(
                            customers, customers.c.id == invoices.c.customer_id
                        )
                    )
                    .where(*where)
                )
            )
            named.sort(
                key=lambda r: (name_key(r.name), len(r.number), r.number), reverse=descending
            )
            ids = [r.id for r in named[offset : None if limit is None else offset + limit]]
            rows = {
                r.invoice_id: r
                for r in self.conn.execute(self._select().where(invoices.c.id.in_(ids)))
            }
            return [self._line(rows[i], today) for i in ids]
        q = self._select().where(*where).order_by(*self._order(sort, descending)).offset(offset)
        if limit is not None:
            q = q.limit(limit)
        return [self._line(r, today) for r in self.conn.execute(q)]

    def _order(self, sort: str, descending: bool) -> list[Any]:
        number = [func.length(invoices.c.number), invoices.c.number]
        if sort == "number":
            keys = number
        elif sort == "amount":
            keys = [invoices.c.outstanding_ore, *number]
        elif sort == "stage":
            rank = case(
                (claims.c.status == "handed_off", len(STAGE_ORDER)),
                *((self._stage() == s, i) for i, s in enumerate(STAGE_ORDER) if s != "none"),
                else_=0,
            )
            keys = [rank, invoices.c.due_date, *number]
        else:
            keys = [invoices.c.due_date, *number]
        return [k.desc() for k in keys] if descending else keys

    @staticmethod
    def _line(r: Any, today: date) -> ClaimLine:
        return ClaimLine(
            **{k: v for k, v in r._mapping.items()},
            days_overdue=max(0, (today - r.due_date).days),
        )
