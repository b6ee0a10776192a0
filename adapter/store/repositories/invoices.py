"""Invoices and credit notes of one company; each invoice has a claim row for its dunning state."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

from sqlalchemy import Row, insert, or_, select

from adapter.domain import Invoice, Kid, Money
from adapter.errors import NotFoundError
from adapter.store.repositories.base import CompanyScoped
from adapter.store.tables import claims, invoices


def invoice_from_row(row: Row[Any]) -> Invoice:
    """A domain `Invoice` from an `invoices` row."""
    return Invoice(
        id=row.id,
        company_id=row.company_id,
        customer_id=row.customer_id,
        number=row.number,
        invoice_date=row.invoice_date,
        due_date=row.due_date,
        amount=Money(row.amount_ore),
        outstanding=Money(row.outstanding_ore),
        currency=row.currency,
        kid=Kid(row.kid) if row.kid else None,
        external_id=row.external_id,
        is_credit_note=row.is_credit_note,
        credit_note_for=row.credit_note_for_id,
        department=row.department,
        project=row.project,
        source=row.source,
    )


def invoice_to_row(invoice: Invoice) -> dict[str, Any]:
    """The `invoices` columns of a domain `Invoice` (without id and company)."""
    return {
        "customer_id": invoice.customer_id,
        "external_id": invoice.external_id,
        "source": invoice.source,
        "number": invoice.number,
        "invoice_date": invoice.invoice_date,
        "due_date": invoice.due_date,
        "kid": invoice.kid.value if invoice.kid else None,
        "currency": invoice.currency,
        "amount_ore": invoice.amount.ore,
        "outstanding_ore": invoice.outstanding.ore,
        "is_credit_note": invoice.is_credit_note,
        "credit_note_for_id": invoice.credit_note_for,
        "department": invoice.department,
        "project": invoice.project,
    }


class InvoiceRepository(CompanyScoped):
    """Reads and writes one company's invoices."""

    def _select(self) -> Any:
        return select(invoices).where(invoices.c.company_id == self.company_id)

    def add(self, invoice: Invoice) -> Invoice:
        """Store a new invoice and open its claim (credit notes have no claim)."""
        now = self.clock.now()
        new_id = self.conn.execute(
            insert(invoices)
            .values(company_id=self.company_id, updated_at=now, **invoice_to_row(invoice))
            .returning(invoices.c.id)
        ).scalar_one()
        if not invoice.is_credit_note:
            self.conn.execute(
                insert(claims).values(company_id=self.company_id, invoice_id=new_id, updated_at=now)
            )
        return self.get(new_id)

    def get(self, invoice_id: int) -> Invoice:
        """The invoice with this id (only within this company)."""
        row = self.conn.execute(self._select().where(invoices.c.id == invoice_id)).first()
        if row is None:
            raise NotFoundError(f"invoice id {invoice_id} not found in company {self.company_id}")
        return invoice_from_row(row)

    def by_number(self, number: str) -> Invoice:
        """The invoice with this number (ledger invoices before those from other systems)."""
        row = self.conn.execute(
            self._select().where(invoices.c.number == number).order_by(invoices.c.source.desc())
        ).first()
        if row is None:
            raise NotFoundError(f"invoice {number} not found in company {self.company_id}")
        return invoice_from_row(row)

    def open_by_kid(self, kid: str) -> list[Invoice]:
        """Invoices with this KID that still have money outstanding."""
        rows = self.conn.execute(
            self._select().where(invoices.c.kid == kid, invoices.c.outstanding_ore != 0)
        )
        return [invoice_from_row(r) for r in rows]

    def open_for_customer(self, customer_id: int) -> list[Invoice]:
        """A customer's invoices with money outstanding, oldest due first."""
        rows = self.conn.execute(
            self._select()
            .where(invoices.c.customer_id == customer_id, invoices.c.outstanding_ore != 0)
            .order_by(invoices.c.due_date, invoices.c.id)
        )
        return [invoice_from_row(r) for r in rows]

    def iter_open(self, *, due_before: date | None = None, batch: int = 5000) -> Iterator[Invoice]:
        """Stream every open invoice (flat memory: rows are fetched in batches)."""
        q = self._select().where(
            invoices.c.outstanding_ore > 0, invoices.c.is_credit_note.is_(False)
        )
        if due_before is not None:
            q = q.where(invoices.c.due_date < due_before)
        result = self.conn.execute(q.order_by(invoices.c.id).execution_options(yield_per=batch))
        for row in result:
            yield invoice_from_row(row)

    def tripletex_ids(self, numbers: list[str], *, chunk: int = 500) -> list[int]:
        """The Tripletex ids of the company's ledger invoices with these numbers, sorted
        (asked in chunks: a list of numbers may be long)."""
        ids: list[int] = []
        for start in range(0, len(numbers), chunk):
            rows = self.conn.execute(
                select(invoices.c.external_id).where(
                    invoices.c.company_id == self.company_id,
                    invoices.c.source == "tripletex",
                    invoices.c.number.in_(numbers[start : start + chunk]),
                )
            )
            ids += [int(r.external_id) for r in rows]
        return sorted(ids)

    def ledger_not_settled(self) -> list[int]:
        """Ids of the ledger invoices whose claim is not closed, or that the ledger still shows
        something outstanding on (with or without its reminders)."""
        rows = self.conn.execute(
            select(invoices.c.id)
            .join(claims, claims.c.invoice_id == invoices.c.id)
            .where(
                invoices.c.company_id == self.company_id,
                invoices.c.source == "tripletex",
                or_(
                    claims.c.status != "closed",
                    invoices.c.ledger_outstanding_ore != 0,
                    invoices.c.ledger_outstanding_total_ore != 0,
                ),
            )
        )
        return [r.id for r in rows]

    def ledger_outstanding(self, ids: list[int]) -> dict[int, tuple[int | None, int | None]]:
        """Per invoice id: what the ledger says is outstanding without and with reminders."""
        rows = self.conn.execute(
            select(
                invoices.c.id,
                invoices.c.ledger_outstanding_ore,
                invoices.c.ledger_outstanding_total_ore,
            ).where(invoices.c.company_id == self.company_id, invoices.c.id.in_(ids))
        )
        return {r.id: (r.ledger_outstanding_ore, r.ledger_outstanding_total_ore) for r in rows}

    def pdf(self, invoice_id: int) -> bytes | None:
        """The invoice's own PDF, when stored."""
        found: bytes | None = self.conn.execute(
            select(invoices.c.pdf).where(
                invoices.c.company_id == self.company_id, invoices.c.id == invoice_id
            )
        ).scalar()
        return found

    def set_pdf(self, invoice_id: int, pdf: bytes) -> None:
        """Keep a copy of the invoice (a PDF) to attach to its letters."""
        self.conn.execute(
            invoices.update()
            .where(invoices.c.company_id == self.company_id, invoices.c.id == invoice_id)
            .values(pdf=pdf)
        )
