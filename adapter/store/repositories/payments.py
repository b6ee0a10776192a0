"""Payments and their allocations; an invoice's own outstanding amount follows from them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from sqlalchemy import Row, and_, case, func, insert, select, update

from adapter.domain import Allocation, AllocationKind, MatchStatus, Money, Payment
from adapter.errors import NotFoundError
from adapter.store.bank_stage import visible_allocation, visible_payment
from adapter.store.repositories.base import CompanyScoped
from adapter.store.repositories.bulk import insert_rows
from adapter.store.sql import insert_on_conflict
from adapter.store.tables import allocations, invoices, payments

_LEDGER_PAYMENT_COLUMNS = ("natural_key", "ledger_ref", "amount_ore", "payment_date", "kid")


def payment_from_row(row: Row[Any]) -> Payment:
    """A domain `Payment` from a `payments` row."""
    return Payment(
        id=row.id,
        company_id=row.company_id,
        natural_key=row.natural_key,
        source=row.source,
        amount=Money(row.amount_ore),
        payment_date=row.payment_date,
        kid=row.kid,
        message=row.message,
        payer_account=row.payer_account,
        payer_name=row.payer_name,
        bank_reference=row.bank_reference,
        is_credit_note=row.is_credit_note,
        status=MatchStatus(row.status),
        match_method=row.match_method,
        unmatched_reason=row.unmatched_reason,
        customer_id=row.customer_id,
        currency=row.currency,
        references=row.references,
    )


class PaymentRepository(CompanyScoped):
    """Reads and writes one company's payments and allocations."""

    def add(
        self,
        payment: Payment,
        *,
        bank_file_id: int | None = None,
        ledger_ref: str | None = None,
        currency: str = "NOK",
    ) -> int | None:
        """Store a payment; None when one with the same natural key exists (stored once)."""
        stmt = (
            insert_on_conflict(self.conn, payments)
            .values(
                company_id=self.company_id,
                natural_key=payment.natural_key,
                source=payment.source,
                bank_file_id=bank_file_id,
                amount_ore=payment.amount.ore,
                currency=currency,
                payment_date=payment.payment_date,
                kid=payment.kid,
                message=payment.message,
                payer_account=payment.payer_account,
                payer_name=payment.payer_name,
                bank_reference=payment.bank_reference,
                is_credit_note=payment.is_credit_note,
                status=payment.status.value,
                match_method=payment.match_method,
                unmatched_reason=payment.unmatched_reason,
                customer_id=payment.customer_id,
                ledger_ref=ledger_ref,
                created_at=self.clock.now(),
            )
            .on_conflict_do_nothing(index_elements=["company_id", "natural_key"])
            .returning(payments.c.id)
        )
        row = self.conn.execute(stmt).first()
        return int(row.id) if row else None

    def get(self, payment_id: int) -> Payment:
        """One payment of this company."""
        row = self.conn.execute(
            select(payments).where(
                payments.c.company_id == self.company_id, payments.c.id == payment_id
            )
        ).first()
        if row is None:
            raise NotFoundError(f"payment {payment_id} not found in company {self.company_id}")
        return payment_from_row(row)

    def recent(self, *, status: str | None = None, limit: int = 500) -> list[Payment]:
        """Payments, newest first, optionally by match status."""
        q = select(payments).where(payments.c.company_id == self.company_id, visible_payment())
        if status:
            q = q.where(payments.c.status == status)
        return [
            payment_from_row(r)
            for r in self.conn.execute(q.order_by(payments.c.id.desc()).limit(limit))
        ]

    def set_match(self, payment_id: int, **values: Any) -> None:
        """Change a payment's match fields (status, match_method, unmatched_reason, customer_id, ledger_ref)."""
        self.conn.execute(
            update(payments)
            .where(payments.c.company_id == self.company_id, payments.c.id == payment_id)
            .values(**values)
        )

    def known_ledger_refs(self, refs: Iterable[str]) -> set[str]:
        """Which ledger postings are already a payment of ours."""
        refs = list(refs)
        if not refs:
            return set()
        rows = self.conn.execute(
            select(payments.c.ledger_ref).where(
                payments.c.company_id == self.company_id, payments.c.ledger_ref.in_(refs)
            )
        )
        return {r.ledger_ref for r in rows}

    def own_unlinked(self, invoice_id: int, on: date, amount_ore: int) -> int | None:
        """A payment of ours allocated to this invoice with this date and total, not yet tied to a
        ledger posting: the posting Tripletex made for our `:payment`."""
        total = func.sum(allocations.c.amount_ore)
        q = (
            select(payments.c.id)
            .join(allocations, allocations.c.payment_id == payments.c.id)
            .where(
                payments.c.company_id == self.company_id,
                payments.c.ledger_ref.is_(None),
                payments.c.source != "tripletex",
                payments.c.payment_date == on,
                allocations.c.invoice_id == invoice_id,
                allocations.c.kind.in_(("principal", "fee", "interest")),
                visible_payment(),
            )
            .group_by(payments.c.id)
            .having(total == amount_ore)
            .order_by(payments.c.id)
            .limit(1)
        )
        row = self.conn.execute(q).first()
        return int(row.id) if row else None

    def own_unlinked_by_invoice(
        self, invoice_ids: Iterable[int]
    ) -> dict[tuple[int, date, int], list[int]]:
        """`own_unlinked` for many invoices at once: (invoice, date, total) -> payment ids."""
        ids = sorted(set(invoice_ids))
        if not ids:
            return {}
        total = func.sum(allocations.c.amount_ore).label("total")
        q = (
            select(payments.c.id, allocations.c.invoice_id, payments.c.payment_date, total)
            .join(allocations, allocations.c.payment_id == payments.c.id)
            .where(
                payments.c.company_id == self.company_id,
                payments.c.ledger_ref.is_(None),
                payments.c.source != "tripletex",
                allocations.c.invoice_id.in_(ids),
                allocations.c.kind.in_(("principal", "fee", "interest")),
                visible_payment(),
            )
            .group_by(payments.c.id, allocations.c.invoice_id, payments.c.payment_date)
            .order_by(payments.c.id)
        )
        out: dict[tuple[int, date, int], list[int]] = {}
        for r in self.conn.execute(q):
            out.setdefault((r.invoice_id, r.payment_date, int(r.total)), []).append(r.id)
        return out

    def add_ledger_payments(
        self, rows: Sequence[tuple[str, str, int, date, str | None]], *, source: str
    ) -> dict[str, int]:
        """Store payments the ledger booked, matched there, in one statement: rows are
        (natural key, ledger ref, amount in øre, date, KID), plain tuples because a first sync
        stores a hundred thousand. Returns the ids of the payments stored now by ledger ref; a
        row whose natural key is stored already is skipped (and not in the answer)."""
        if not rows:
            return {}
        stored = insert_rows(
            self.conn,
            payments,
            _LEDGER_PAYMENT_COLUMNS,
            rows,
            same={
                "source": source,
                "status": MatchStatus.MATCHED.value,
                "match_method": "ledger",
                "company_id": self.company_id,
                "currency": "NOK",
                "is_credit_note": False,
                "created_at": self.clock.now(),
            },
            key=("company_id", "natural_key"),
            returning=("ledger_ref", "id"),
        )
        return {ref: int(payment_id) for ref, payment_id in stored}

    def allocate_many(
        self,
        rows: Sequence[tuple[int, int, int, date]],
        *,
        kind: AllocationKind,
        order_used: str,
        actor: str,
    ) -> None:
        """Record many allocations of one kind in one statement: rows are (payment, invoice,
        amount in øre, allocated on)."""
        if not rows:
            return
        insert_rows(
            self.conn,
            allocations,
            ("payment_id", "invoice_id", "amount_ore", "allocated_on"),
            rows,
            same={
                "kind": kind.value,
                "order_used": order_used,
                "actor": actor,
                "company_id": self.company_id,
                "created_at": self.clock.now(),
            },
        )

    def allocate(self, allocation: Allocation) -> None:
        """Record one allocation (the caller keeps the invoice's outstanding in step)."""
        self.conn.execute(
            insert(allocations).values(
                company_id=self.company_id,
                payment_id=allocation.payment_id,
                invoice_id=allocation.invoice_id,
                kind=allocation.kind.value,
                amount_ore=allocation.amount.ore,
                allocated_on=allocation.allocated_on,
                order_used=allocation.order_used,
                actor=allocation.actor,
                created_at=self.clock.now(),
            )
        )

    def allocate_credit_notes(self, items: Sequence[tuple[int, int, int, date]]) -> set[int]:
        """Reduce invoices by credit notes, each note once, in two statements: items are
        (invoice, credit note, amount, date); returns the credit notes applied now."""
        if not items:
            return set()
        done = self.conn.execute(
            select(allocations.c.credit_note_id).where(
                allocations.c.company_id == self.company_id,
                # By invoice, which is indexed; a note only ever reduces the invoice it credits.
                allocations.c.invoice_id.in_(sorted({invoice for invoice, *_ in items})),
                allocations.c.credit_note_id.in_([note for _i, note, *_ in items]),
            )
        )
        applied = {note for _i, note, *_ in items} - {r.credit_note_id for r in done}
        insert_rows(
            self.conn,
            allocations,
            ("invoice_id", "credit_note_id", "amount_ore", "allocated_on"),
            (item for item in items if item[1] in applied),
            same={
                "company_id": self.company_id,
                "kind": AllocationKind.PRINCIPAL.value,
                "order_used": "credit_note",
                "actor": "system",
                "created_at": self.clock.now(),
            },
        )
        return applied

    def for_invoice(self, invoice_id: int) -> list[tuple[Allocation, date | None]]:
        """An invoice's allocations, each with its payment's date (None for a credit note)."""
        q = (
            select(allocations, payments.c.payment_date)
            .outerjoin(payments, payments.c.id == allocations.c.payment_id)
            .where(
                allocations.c.company_id == self.company_id, allocations.c.invoice_id == invoice_id
            )
            .order_by(allocations.c.allocated_on, allocations.c.id)
        )
        return [
            (
                Allocation(
                    id=r.id,
                    company_id=r.company_id,
                    payment_id=r.payment_id,
                    invoice_id=r.invoice_id,
                    kind=AllocationKind(r.kind),
                    amount=Money(r.amount_ore),
                    allocated_on=r.allocated_on,
                    order_used=r.order_used,
                    actor=r.actor,
                ),
                r.payment_date,
            )
            for r in self.conn.execute(q)
        ]

    def recompute_outstanding(self, invoice_ids: Sequence[int]) -> None:
        """Set each invoice's outstanding principal to its amount less its principal allocations."""
        if not invoice_ids:
            return
        paid = (
            select(func.coalesce(func.sum(allocations.c.amount_ore), 0))
            .where(
                allocations.c.invoice_id == invoices.c.id,
                allocations.c.kind.in_(("principal", "write_off")),
                allocations.c.company_id == self.company_id,
                visible_allocation(),  # a file being published changes it at its flip
            )
            .scalar_subquery()
        )
        self.conn.execute(
            update(invoices)
            .where(
                # `+ 0` keeps the company check off the indexes: SQLite (without statistics)
                # would walk an index on company_id, every invoice of the company, for each
                # call, rather than look the ids up by primary key.
                and_(
                    invoices.c.company_id + 0 == self.company_id,
                    invoices.c.id.in_(list(invoice_ids)),
                )
            )
            .values(
                outstanding_ore=case(
                    (invoices.c.is_credit_note.is_(True), 0), else_=invoices.c.amount_ore - paid
                )
            )
        )
