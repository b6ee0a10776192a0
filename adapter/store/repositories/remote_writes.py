"""What the outbox's senders to Tripletex read and write of one company: the invoice a write
is about, which remote effects (reminders, payment postings) are already another row's, and a
customer's own automation switched off."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import Connection, bindparam, select, true, update

from adapter.store.repositories.base import CompanyScoped
from adapter.store.tables import customers, invoices, letters, outbox, payments


class RemoteWriteRepository(CompanyScoped):
    """Reads and writes of one company's senders to Tripletex."""

    def invoice_to_send(self, external_id: str) -> Any:
        """The invoice (by its Tripletex id) a write is about: currency, amount_ore,
        company_amount_ore and its customer's overdue_notice_email."""
        return self.conn.execute(
            select(
                invoices.c.currency,
                invoices.c.amount_ore,
                invoices.c.company_amount_ore,
                customers.c.overdue_notice_email,
            )
            .join(customers, customers.c.id == invoices.c.customer_id)
            .where(invoices.c.company_id == self.company_id, invoices.c.external_id == external_id)
        ).one()

    def letters_holding(self, remote_ids: Collection[str], *, other_than: int) -> set[str]:
        """Which of the remote ids (Tripletex reminders) a letter other than `other_than` holds."""
        return set(
            self.conn.execute(
                select(letters.c.remote_id).where(
                    letters.c.company_id == self.company_id,
                    letters.c.remote_id.in_(list(remote_ids)),
                    letters.c.id != other_than,
                )
            ).scalars()
        )

    def lock_invoice(self, external_id: str) -> None:
        """Lock the invoice's row until the transaction ends (one writer at a time)."""
        self.conn.execute(
            select(invoices.c.id)
            .where(invoices.c.company_id == self.company_id, invoices.c.external_id == external_id)
            .with_for_update()
        ).first()

    def postings_tied(self, refs: Collection[str], *, other_than: int | None) -> set[str]:
        """Which of the ledger references (payment postings) a payment other than
        `other_than` is tied to."""
        return set(
            self.conn.execute(
                select(payments.c.ledger_ref).where(
                    payments.c.company_id == self.company_id,
                    payments.c.ledger_ref.in_(list(refs)),
                    payments.c.id != other_than if other_than is not None else true(),
                )
            ).scalars()
        )

    def sent_payment_results(self, invoice_external_id: str) -> list[dict[str, Any]]:
        """The results of every sent `tripletex.payment` row of the invoice."""
        return [
            r or {}
            for r in self.conn.execute(
                select(outbox.c.result).where(
                    outbox.c.company_id == self.company_id,
                    outbox.c.kind == "tripletex.payment",
                    outbox.c.status == "sent",
                    outbox.c.payload["invoice_external_id"].as_string() == invoice_external_id,
                )
            ).scalars()
        ]

    def automation_off(self, customer_id: int) -> None:
        """The customer no longer has the ledger's own automatic reminders."""
        self.conn.execute(
            update(customers)
            .where(customers.c.company_id == self.company_id, customers.c.id == customer_id)
            .values(ledger_automation=False)
        )


def notice_addresses(
    conn: Connection, invoices_of: Collection[tuple[int, str]]
) -> dict[tuple[int, str], str | None]:
    """The overdue-notice address of each invoice's customer (None: it has none), by (company
    id, the invoice's Tripletex id), for invoices of many companies in one statement (a worker
    about to send reminders of several companies). The companies and the ids as two lists,
    not the pairs: SQLite reads a list of pairs by scanning every invoice (3 ms a take at the
    demo's 10,000), two lists through the unique index on both; a pair read that was not
    asked for (an id of another of the companies) is left out here."""
    if not invoices_of:
        return {}
    wanted = set(invoices_of)
    return {
        (r.company_id, r.external_id): r.overdue_notice_email
        for r in conn.execute(
            _NOTICE_ADDRESSES,
            {
                "companies": sorted({c for c, _e in wanted}),
                "ids": sorted({e for _c, e in wanted}),
            },
        )
        if (r.company_id, r.external_id) in wanted
    }


# Built once: the sender pool reads ahead at every take (its cache key computed once).
_NOTICE_ADDRESSES = (
    select(invoices.c.company_id, invoices.c.external_id, customers.c.overdue_notice_email)
    .join(customers, customers.c.id == invoices.c.customer_id)
    .where(
        invoices.c.company_id.in_(bindparam("companies", expanding=True)),
        invoices.c.external_id.in_(bindparam("ids", expanding=True)),
    )
)
