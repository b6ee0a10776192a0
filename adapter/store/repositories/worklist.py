"""What the worklist reads: payments to match, disputed claims, claims near limitation, claims at
the agency that need a person, letters Tripletex filled in otherwise, customers Tripletex dunns
itself, webhooks Tripletex stopped. Each query of one company; counts without reading rows."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import func, or_, select

from adapter.store.bank_stage import visible_payment
from adapter.store.repositories.base import CompanyScoped
from adapter.store.tables import audit_log, claims, customers, invoices, letters, payments

# agency_status prefixes (connectors.kravia.status.AgencyState) a person must look at.
AGENCY_NEEDS_A_PERSON = ("unknown:", "action:", "closed_withdrawn:", "closed_written_off:")
TO_MATCH = ("unmatched", "on_account")


def _rows(result: Any) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in result]


class WorklistRepository(CompanyScoped):
    """One company's worklist, a section at a time."""

    def _count(self, q: Any) -> int:
        return int(self.conn.execute(select(func.count()).select_from(q.subquery())).scalar_one())

    # ------------------------------------------------------------ payments to match

    def _unmatched(self, text: str | None) -> Any:
        q = (
            select(
                payments.c.id,
                payments.c.payment_date,
                payments.c.amount_ore,
                payments.c.kid,
                payments.c.message,
                payments.c.payer_name,
                payments.c.status,
                payments.c.unmatched_reason,
                payments.c.currency,
                payments.c.references,
                customers.c.name.label("customer"),
            )
            .outerjoin(customers, customers.c.id == payments.c.customer_id)
            .where(
                payments.c.company_id == self.company_id,
                payments.c.status.in_(TO_MATCH),
                visible_payment(),  # none of a bank file still being published
            )
        )
        if text:
            like = f"%{text}%"
            q = q.where(
                or_(
                    payments.c.kid == text,
                    payments.c.message.ilike(like),
                    payments.c.payer_name.ilike(like),
                )
            )
        return q

    def unmatched(
        self, *, text: str | None = None, offset: int = 0, limit: int | None = 500
    ) -> list[dict[str, Any]]:
        """Payments no invoice took (or booked on the customer), newest first."""
        q = (
            self._unmatched(text)
            .order_by(payments.c.payment_date.desc(), payments.c.id.desc())
            .offset(offset)
        )
        return _rows(self.conn.execute(q if limit is None else q.limit(limit)))

    def unmatched_count(self, *, text: str | None = None) -> int:
        """How many payments wait to be matched."""
        return self._count(self._unmatched(text))

    # ------------------------------------------------------------ disputed claims

    def _disputed(self, text: str | None) -> Any:
        q = (
            select(
                invoices.c.id.label("invoice_id"),
                invoices.c.number,
                invoices.c.due_date,
                invoices.c.outstanding_ore,
                claims.c.dispute_reason,
                customers.c.id.label("customer_id"),
                customers.c.name.label("customer"),
            )
            .join(claims, claims.c.invoice_id == invoices.c.id)
            .join(customers, customers.c.id == invoices.c.customer_id)
            .where(
                invoices.c.company_id == self.company_id,
                claims.c.disputed.is_(True),
                claims.c.status == "open",
            )
        )
        if text:
            q = q.where(or_(invoices.c.number == text, customers.c.name.ilike(f"%{text}%")))
        return q

    def disputed(
        self, *, text: str | None = None, offset: int = 0, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """Open claims the debtor disputes, oldest due date first."""
        q = self._disputed(text).order_by(invoices.c.due_date, invoices.c.id).offset(offset)
        return _rows(self.conn.execute(q if limit is None else q.limit(limit)))

    def disputed_count(self, *, text: str | None = None) -> int:
        """How many open claims are disputed."""
        return self._count(self._disputed(text))

    # ------------------------------------------------------------ the rest

    def at_agency_needing_a_person(self) -> list[dict[str, Any]]:
        """Handed-off claims whose Kravia status needs a person."""
        rows = self.conn.execute(
            select(
                invoices.c.id.label("invoice_id"),
                invoices.c.number,
                claims.c.agency_case_id,
                claims.c.agency_status,
                claims.c.agency_actions,
                customers.c.name.label("customer"),
            )
            .join(claims, claims.c.invoice_id == invoices.c.id)
            .join(customers, customers.c.id == invoices.c.customer_id)
            .where(
                invoices.c.company_id == self.company_id,
                claims.c.status == "handed_off",
                or_(*(claims.c.agency_status.startswith(p) for p in AGENCY_NEEDS_A_PERSON)),
            )
            .order_by(invoices.c.id)
        )
        return [
            dict(r._mapping)
            | {"actions": (r.agency_actions or "").split(",") if r.agency_actions else []}
            for r in rows
        ]

    def open_due_by(self, latest_due: date) -> list[dict[str, Any]]:
        """Open claims with something outstanding whose due date is on or before `latest_due`
        (the candidates for the limitation warning)."""
        return _rows(
            self.conn.execute(
                select(
                    invoices.c.id.label("invoice_id"),
                    invoices.c.number,
                    invoices.c.due_date,
                    invoices.c.outstanding_ore,
                    claims.c.limitation_renewed_on,
                    customers.c.name.label("customer"),
                )
                .join(claims, claims.c.invoice_id == invoices.c.id)
                .join(customers, customers.c.id == invoices.c.customer_id)
                .where(
                    invoices.c.company_id == self.company_id,
                    claims.c.status == "open",
                    invoices.c.outstanding_ore > 0,
                    invoices.c.due_date <= latest_due,
                )
            )
        )

    def letters_told_otherwise(self, *, limit: int = 500) -> list[dict[str, Any]]:
        """Letters on which Tripletex put other figures than Kravflyt decided, or that break a
        legal rule, newest first."""
        return _rows(
            self.conn.execute(
                select(
                    letters.c.id,
                    letters.c.stage,
                    letters.c.sent_on,
                    letters.c.origin,
                    letters.c.fee_ore,
                    letters.c.interest_ore,
                    letters.c.deadline,
                    letters.c.decided,
                    letters.c.breaches,
                    invoices.c.id.label("invoice_id"),
                    invoices.c.number,
                    customers.c.name.label("customer"),
                )
                .join(claims, claims.c.id == letters.c.claim_id)
                .join(invoices, invoices.c.id == claims.c.invoice_id)
                .join(customers, customers.c.id == invoices.c.customer_id)
                .where(
                    letters.c.company_id == self.company_id,
                    claims.c.status.in_(("open", "handed_off")),
                    or_(letters.c.decided.is_not(None), letters.c.breaches.is_not(None)),
                )
                .order_by(letters.c.sent_on.desc(), letters.c.id.desc())
                .limit(limit)
            )
        )

    def customers_dunned_by_tripletex(self, today: date) -> list[dict[str, Any]]:
        """Customers with overdue open claims whom Tripletex's own automation dunns."""
        return _rows(
            self.conn.execute(
                select(customers.c.id, customers.c.name, func.count(claims.c.id).label("claims"))
                .join(invoices, invoices.c.customer_id == customers.c.id)
                .join(claims, claims.c.invoice_id == invoices.c.id)
                .where(
                    customers.c.company_id == self.company_id,
                    customers.c.ledger_automation.is_(True),
                    claims.c.status == "open",
                    invoices.c.due_date < today,
                )
                .group_by(customers.c.id, customers.c.name)
                .order_by(customers.c.name)
            )
        )

    def webhooks_stopped_since(self, since: datetime) -> list[dict[str, Any]]:
        """Tripletex webhook subscriptions found disabled since `since`."""
        return _rows(
            self.conn.execute(
                select(audit_log.c.at, audit_log.c.message)
                .where(
                    audit_log.c.company_id == self.company_id,
                    audit_log.c.action == "tripletex.webhook_disabled",
                    audit_log.c.at >= since,
                )
                .order_by(audit_log.c.id.desc())
            )
        )

    def letters_by_id(self, letter_ids: list[int]) -> dict[int, dict[str, Any]]:
        """Which letter each id is: stage, status, invoice number and customer."""
        if not letter_ids:
            return {}
        rows = self.conn.execute(
            select(
                letters.c.id,
                letters.c.stage,
                letters.c.status,
                letters.c.delivery,
                letters.c.delivery_error,
                invoices.c.number,
                customers.c.name.label("customer"),
            )
            .join(claims, claims.c.id == letters.c.claim_id)
            .join(invoices, invoices.c.id == claims.c.invoice_id)
            .join(customers, customers.c.id == invoices.c.customer_id)
            .where(letters.c.company_id == self.company_id, letters.c.id.in_(letter_ids[:1000]))
        )
        return {r.id: dict(r._mapping) for r in rows}
