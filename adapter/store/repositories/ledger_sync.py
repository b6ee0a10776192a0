"""What the Tripletex sync's store step writes: customers and invoices upserted by their
Tripletex id a page at a time, claims opened for new invoices, credit notes tied to the
invoices they credit. A page costs a fixed handful of statements, whatever its size."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select

from adapter.store.repositories.base import CompanyScoped
from adapter.store.repositories.bulk import insert_rows
from adapter.store.sql import upsert
from adapter.store.tables import claims, customers, invoices


class LedgerSyncRepository(CompanyScoped):
    """One company's customers, invoices and claims as the ledger sync stores them. Rows read
    back are attribute rows (`row.external_id`, `row.name` ...)."""

    def customers_by_external_id(self, external_ids: Sequence[str]) -> dict[str, Any]:
        """The stored customers with these Tripletex ids, whole rows, by Tripletex id."""
        q = select(customers).where(
            customers.c.company_id == self.company_id, customers.c.external_id.in_(external_ids)
        )
        return {r.external_id: r for r in self.conn.execute(q)}

    def upsert_customers(self, rows: Sequence[dict[str, Any]], *, update: Sequence[str]) -> None:
        """Insert customers (rows with company_id and external_id), or update the `update`
        columns of those stored by (company, Tripletex id)."""
        upsert(self.conn, customers, rows, key=["company_id", "external_id"], update=update)

    def customer_ids(self, external_ids: Iterable[str]) -> dict[str, int]:
        """Our ids of the stored customers with these Tripletex ids."""
        q = select(customers.c.external_id, customers.c.id).where(
            customers.c.company_id == self.company_id,
            customers.c.external_id.in_(list(external_ids)),
        )
        return {r.external_id: r.id for r in self.conn.execute(q)}

    def invoices_by_external_id(
        self, external_ids: Sequence[str], columns: Sequence[str]
    ) -> dict[str, Any]:
        """The stored invoices with these Tripletex ids (id, external_id, outstanding_ore and
        `columns`), by Tripletex id."""
        q = (
            select(invoices.c.id, invoices.c.external_id, invoices.c.outstanding_ore)
            .add_columns(*(invoices.c[k] for k in columns))
            .where(
                invoices.c.company_id == self.company_id,
                invoices.c.external_id.in_(external_ids),
            )
        )
        return {r.external_id: r for r in self.conn.execute(q)}

    def write_invoices(
        self,
        columns: Sequence[str],
        rows: Iterable[Sequence[Any]],
        *,
        update: Sequence[str],
        now: datetime,
    ) -> dict[str, int]:
        """Insert invoices (values in `columns` order, external_id among them), or update the
        `update` columns of those stored by (company, Tripletex id); returns our id of each
        row written, by Tripletex id."""
        written = insert_rows(
            self.conn,
            invoices,
            columns,
            rows,
            same={"company_id": self.company_id, "updated_at": now},
            key=("company_id", "external_id"),
            update=update,
            returning=("external_id", "id"),
        )
        return {external_id: id_ for external_id, id_ in written}

    def invoice_ids(self, external_ids: Sequence[str]) -> dict[str, int]:
        """Our ids of the stored invoices with these Tripletex ids."""
        rows = self.conn.execute(
            select(invoices.c.external_id, invoices.c.id).where(
                invoices.c.company_id == self.company_id,
                invoices.c.external_id.in_(external_ids),
            )
        )
        return {r.external_id: r.id for r in rows}

    def open_claims(self, invoice_ids: Sequence[int], now: datetime) -> None:
        """An open claim for each of these invoices that has none, in a few multi-row
        statements."""
        insert_rows(
            self.conn,
            claims,
            ("invoice_id",),
            ((i,) for i in invoice_ids),
            same={"company_id": self.company_id, "status": "open", "updated_at": now},
            key=("invoice_id",),
        )

    def link_credit_notes(self, links: Sequence[tuple[int, int]]) -> None:
        """Tie each credit note (our id) to the invoice it credits: (note id, original id)."""
        self.conn.execute(
            invoices.update()
            .where(invoices.c.id == bindparam("note_id"))
            .values(credit_note_for_id=bindparam("original_id")),
            [{"note_id": note_id, "original_id": original} for note_id, original in links],
        )

    def at_agency(self, invoice_ids: Sequence[int]) -> set[int]:
        """Which of these invoices are handed off and not closed at the agency."""
        rows = self.conn.execute(
            select(claims.c.invoice_id, claims.c.agency_status).where(
                claims.c.invoice_id.in_(invoice_ids), claims.c.status == "handed_off"
            )
        )
        return {r.invoice_id for r in rows if not str(r.agency_status or "").startswith("closed")}
