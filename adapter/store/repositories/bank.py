"""What a bank import reads: the company's open claims with what allocation needs of them, the
notices charged and already paid, its customers by account and name, the fictitious
"Betaling med ukjent KID" customer, whether a file was imported, and the targets a generated
bank file pays. Read with plain driver rows where a company may have a million of them."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date
from typing import Any

from sqlalchemy import func, select

from adapter.store.bank_stage import NOTICE_STATUSES, marks
from adapter.store.repositories.base import CompanyScoped
from adapter.store.tables import (
    allocations,
    bank_files,
    claims,
    customers,
    invoices,
    letters,
    payments,
)

# Claims first, through the company's (company_id, status) index, then each one's invoice by its
# key: the company's invoices through its KID index (the plan SQLite chose) read every invoice
# it ever had, in KID order, each a jump in the table (1.44 -> 1.21 CPU-s at 1,000,000 open).
# A row is what matching and allocation need of an open claim, in `OpenInvoice`'s order (the
# outstanding twice: as what is due, notices added by the caller, and as the principal).
_OPEN = """
SELECT i.id, i.customer_id, i.number, i.kid, i.outstanding_ore, i.currency, i.outstanding_ore,
       CASE WHEN i.source = 'tripletex' THEN i.external_id END, c.status
FROM claims c CROSS JOIN invoices i
WHERE c.company_id = {company} AND c.status IN ('open', 'handed_off')
  AND i.id = c.invoice_id AND i.company_id = {company}
"""
_CUSTOMERS = "SELECT id, name, bank_account FROM customers WHERE company_id = {company}"


class BankRepository(CompanyScoped):
    """One company's rows as a bank import reads them."""

    def marks(self) -> tuple[tuple[int, int], int]:
        """What a plan is made from and must still hold at publish (`bank_stage.marks`)."""
        return marks(self.conn, self.company_id)

    def notices_charged(self) -> dict[int, list[int]]:
        """Per invoice, [fees and compensation, interest] of the notices sent on its claim."""
        notices: dict[int, list[int]] = {}
        for row in self.conn.execute(
            select(
                claims.c.invoice_id,
                letters.c.fee_ore,
                letters.c.interest_ore,
                letters.c.compensation_ore,
            )
            .join(claims, claims.c.id == letters.c.claim_id)
            .where(letters.c.company_id == self.company_id, letters.c.status.in_(NOTICE_STATUSES))
        ):
            charged = notices.setdefault(row.invoice_id, [0, 0])
            charged[0] += row.fee_ore + row.compensation_ore
            charged[1] += row.interest_ore
        return notices

    def fees_and_interest_paid(self) -> dict[tuple[int, str], int]:
        """Per (invoice, 'fee' or 'interest'), what payments have covered of it."""
        paid: dict[tuple[int, str], int] = {}
        for row in self.conn.execute(
            select(allocations.c.invoice_id, allocations.c.kind, allocations.c.amount_ore).where(
                allocations.c.company_id == self.company_id,
                allocations.c.kind.in_(("fee", "interest")),
            )
        ):
            key = (row.invoice_id, row.kind)
            paid[key] = paid.get(key, 0) + row.amount_ore
        return paid

    def open_claims(self, batch: int = 10_000) -> Iterator[Sequence[Any]]:
        """The open and handed-off claims, in lists of driver rows: (invoice id, customer id,
        number, KID, outstanding, currency, outstanding, the ledger's id or None, status), as
        `matching.OpenInvoice` orders them."""
        return self._rows(_OPEN.format(company=int(self.company_id)), batch)

    def _rows(self, statement: str, batch: int) -> Iterator[Sequence[Any]]:
        # The driver's own cursor: its tuples as they come (a result's rows cost twice the
        # fetch itself, a million times).
        cursor = self.conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(statement)
            while rows := cursor.fetchmany(batch):
                yield rows
        finally:
            cursor.close()

    def notices_paid(self, invoice_id: int) -> dict[str, int]:
        """What payments have covered of the invoice's fees and interest: {'fee': øre,
        'interest': øre} (a kind left out when nothing was)."""
        return {
            kind: int(total)
            for kind, total in self.conn.execute(
                select(allocations.c.kind, func.sum(allocations.c.amount_ore))
                .where(
                    allocations.c.invoice_id == invoice_id,
                    allocations.c.kind.in_(("fee", "interest")),
                )
                .group_by(allocations.c.kind)
            )
        }

    def add_credit(
        self,
        payment_id: int | None,
        customer_id: int,
        amount_ore: int,
        *,
        on: date,
        order_used: str,
        actor: str,
    ) -> None:
        """Keep an overpayment as the customer's credit: an allocation to no invoice."""
        self.conn.execute(
            allocations.insert().values(
                company_id=self.company_id,
                payment_id=payment_id,
                invoice_id=None,
                customer_id=customer_id,
                kind="credit",
                amount_ore=amount_ore,
                allocated_on=on,
                order_used=order_used,
                actor=actor,
                created_at=self.clock.now(),
            )
        )

    def customers_for_matching(self, batch: int = 10_000) -> Iterator[Sequence[Any]]:
        """Each customer's id, name and bank account (to tell who paid), in lists of driver
        rows (a company may have hundreds of thousands)."""
        return self._rows(_CUSTOMERS.format(company=int(self.company_id)), batch)

    def customer_by_external_id(self, external_id: str) -> int | None:
        """The company's customer with this external id, if there is one."""
        row = self.conn.execute(
            select(customers.c.id).where(
                customers.c.company_id == self.company_id,
                customers.c.external_id == external_id,
            )
        ).first()
        return int(row.id) if row else None

    def claim_status(self, invoice_id: int) -> str | None:
        """The status of the invoice's claim."""
        return self.conn.execute(
            select(claims.c.status).where(claims.c.invoice_id == invoice_id)
        ).scalar_one_or_none()

    def file_status(self, sha256: str) -> str | None:
        """The status of the company's file with this SHA-256: 'published', 'publishing' (an
        import of it under way, or stopped and not yet rolled back), or None."""
        return self.conn.execute(
            select(bank_files.c.status).where(
                bank_files.c.company_id == self.company_id, bank_files.c.sha256 == sha256
            )
        ).scalar_one_or_none()

    def file_totals(self, sha256: str) -> dict[str, int]:
        """The amounts of the payments the company's file with this SHA-256 brought in, by
        currency (for its import report: a file may hold more than kroner)."""
        rows = self.conn.execute(
            select(payments.c.currency, func.sum(payments.c.amount_ore))
            .join(bank_files, bank_files.c.id == payments.c.bank_file_id)
            .where(bank_files.c.company_id == self.company_id, bank_files.c.sha256 == sha256)
            .group_by(payments.c.currency)
        )
        return {currency: int(total) for currency, total in rows}

    def open_targets(self) -> list[tuple[str | None, int, str, str | None, str]]:
        """Open invoices with principal left, oldest first: (KID, outstanding, number, the
        customer's bank account, name), the payments a generated bank file makes."""
        rows = self.conn.execute(
            select(
                invoices.c.kid,
                invoices.c.outstanding_ore,
                invoices.c.number,
                customers.c.bank_account,
                customers.c.name,
            )
            .join(customers, customers.c.id == invoices.c.customer_id)
            .join(claims, claims.c.invoice_id == invoices.c.id)
            .where(
                invoices.c.company_id == self.company_id,
                invoices.c.outstanding_ore > 0,
                claims.c.status == "open",
            )
            .order_by(invoices.c.id)
        )
        return [(r.kid, r.outstanding_ore, r.number, r.bank_account, r.name) for r in rows]
