"""Outbox senders for Tripletex: reminders (`:createReminder`), payments (`:payment`), and
switching a customer's own automatic reminders off (`PUT /customer/{id}`).

`:createReminder` and `:payment` are not idempotent. When an earlier try's outcome is unknown,
`lookup` asks Tripletex whether the effect exists (the invoice's reminders of that type and
date; the invoice's payment postings of that date and amount) before the worker sends again.
Each reminder is read back after it is made: what Tripletex put on it is what the debtor was
told (`tripletex_letters.record_told`).
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import func, select, update

from adapter.jobs.registry import WorkContext
from adapter.services import tripletex_letters
from adapter.services.dunning import mark_letter_sent
from adapter.store.tables import customers, invoices, outbox
from adapter.store.uow import UnitOfWork
from connectors.errors import ConnectorError, FatalError

NOTICE = "NOTICE_OF_DEBT_COLLECTION"


def dispatch_for(kind: str, setting: str) -> str:
    """The dispatch type for a reminder of `kind`: NETS_PRINT "must have type
    NOTICE_OF_DEBT_COLLECTION" (spec 2.72.00, :createReminder), so other letters under
    NETS_PRINT are printed by the company instead (OWN_PRINTER)."""
    return "OWN_PRINTER" if setting == "NETS_PRINT" and kind != NOTICE else setting


def _invoice(ctx: WorkContext, company_id: int, external_id: str) -> Any:
    with ctx.db.uow(company_id, read_only=True) as uow:
        return uow.conn.execute(
            select(
                invoices.c.currency,
                invoices.c.amount_ore,
                invoices.c.company_amount_ore,
                customers.c.overdue_notice_email,
            )
            .join(customers, customers.c.id == invoices.c.customer_id)
            .where(invoices.c.company_id == company_id, invoices.c.external_id == external_id)
        ).one()


class ReminderSender:
    """`tripletex.reminder`: payload {letter_id, invoice_external_id, type, date, include_charge,
    include_interest, dispatch}."""

    def send(self, ctx: WorkContext, company_id: int, payload: dict[str, Any]) -> dict[str, Any]:
        """Create the reminder in Tripletex (to the customer's overdue-notice address when it
        has one), then read back what Tripletex put on it."""
        client = ctx.clients.tripletex(company_id)
        invoice_id = int(payload["invoice_external_id"])
        row = _invoice(ctx, company_id, payload["invoice_external_id"])
        rid = client.create_reminder(
            invoice_id,
            type=payload["type"],
            on=date.fromisoformat(payload["date"]),
            include_charge=payload["include_charge"],
            include_interest=payload["include_interest"],
            dispatch_types=(dispatch_for(payload["type"], payload.get("dispatch") or "API"),),
            email=row.overdue_notice_email,
        )
        return {"reminder_id": rid, "told": self._read_back(client, invoice_id, rid, payload)}

    @staticmethod
    def _read_back(client: Any, invoice_id: int, rid: int, payload: dict[str, Any]) -> Any:
        # The reminder exists whatever this read does: a failed read leaves it to the next sync.
        day = date.fromisoformat(payload["date"])
        try:
            found = client.reminders(
                invoice_id=invoice_id, date_from=day, date_to=day + timedelta(days=1)
            )
        except ConnectorError:
            return None
        mine = [r for r in found if r.id == rid] or [r for r in found if r.type == payload["type"]]
        return mine[-1].told() if mine else None

    def lookup(
        self, ctx: WorkContext, company_id: int, payload: dict[str, Any]
    ) -> dict[str, Any] | None:
        """The reminder of this type and date, if an earlier try created it."""
        day = date.fromisoformat(payload["date"])
        found = [
            r
            for r in ctx.clients.tripletex(company_id).reminders(
                invoice_id=int(payload["invoice_external_id"]),
                date_from=day,
                date_to=day + timedelta(days=1),
            )
            if r.type == payload["type"]
        ]
        return {"reminder_id": found[0].id, "told": found[0].told()} if found else None

    def record(self, uow: UnitOfWork, payload: dict[str, Any], result: dict[str, Any]) -> None:
        """Mark our letter sent, with Tripletex's reminder id and what it put on the letter."""
        letter_id = int(payload["letter_id"])
        mark_letter_sent(uow, letter_id, str(result["reminder_id"]))
        if result.get("told"):
            tripletex_letters.record_told(uow, letter_id, result["told"])


class PaymentSender:
    """`tripletex.payment`: payload {payment_id, invoice_external_id, date, amount_ore,
    payment_type_id}; the amount is in the invoice's currency."""

    def send(self, ctx: WorkContext, company_id: int, payload: dict[str, Any]) -> dict[str, Any]:
        """Register the payment on the invoice (`paidAmount` in the company's currency and, for
        an invoice in another currency, `paidAmountCurrency` in the invoice's)."""
        client = ctx.clients.tripletex(company_id)
        type_id = payload.get("payment_type_id")
        if type_id is None:
            # No bank.payment_type_id set: Tripletex's first incoming payment type (its bank account).
            types = client.payment_types()
            if not types:
                raise FatalError("Tripletex has no incoming payment type: set bank.payment_type_id")
            type_id = types[0].id
        invoice_id = int(payload["invoice_external_id"])
        paid_ore, paid_currency_ore = _paid(
            _invoice(ctx, company_id, payload["invoice_external_id"]), int(payload["amount_ore"])
        )
        answer = client.register_payment(
            invoice_id,
            payment_date=date.fromisoformat(payload["date"]),
            payment_type_id=int(type_id),
            paid_ore=paid_ore,
            paid_currency_ore=paid_currency_ore,
        )
        # The answer's postings are {id, url} stubs (`:payment` has no `fields`): their dates
        # and amounts are read back. The payment is booked whatever this read does, so a
        # failed read only leaves the posting for the next sync to tie to our payment.
        try:
            postings = client.invoice_payments(invoice_id)
        except ConnectorError:
            return {"posting_id": None}
        ids = {p.id for p in answer.postings}
        posting = _newest_matching([p for p in postings if p.id in ids], payload)
        return {"posting_id": posting.id if posting else None}

    def lookup(
        self, ctx: WorkContext, company_id: int, payload: dict[str, Any]
    ) -> dict[str, Any] | None:
        """The payment posting an earlier try made, if it exists: Tripletex shows more postings of
        this date and amount than we have recorded as sent."""
        postings = ctx.clients.tripletex(company_id).invoice_payments(
            int(payload["invoice_external_id"])
        )
        matching = [p for p in postings if _matches(p, payload)]
        with ctx.db.uow(company_id, read_only=True) as uow:
            ours = uow.conn.execute(
                select(func.count())
                .select_from(outbox)
                .where(
                    outbox.c.company_id == company_id,
                    outbox.c.kind == "tripletex.payment",
                    outbox.c.status == "sent",
                    outbox.c.payload["invoice_external_id"].as_string()
                    == str(payload["invoice_external_id"]),
                )
            ).scalar_one()
        if len(matching) > ours:
            return {"posting_id": sorted(matching, key=lambda p: p.id)[-1].id}
        return None

    def record(self, uow: UnitOfWork, payload: dict[str, Any], result: dict[str, Any]) -> None:
        """Tie our payment to Tripletex's posting, so a sync does not count it again."""
        if result.get("posting_id") is not None and payload.get("payment_id") is not None:
            uow.payments.set_match(int(payload["payment_id"]), ledger_ref=str(result["posting_id"]))


def _paid(invoice: Any, amount_ore: int) -> tuple[int, int | None]:
    """`paidAmount` (company currency) and `paidAmountCurrency` (the invoice's, only for an
    invoice in another currency) for `amount_ore` in the invoice's currency, at the invoice's
    own rate (its amount in both currencies)."""
    if invoice.currency == "NOK" or not invoice.company_amount_ore or not invoice.amount_ore:
        return amount_ore, None
    rate = Decimal(invoice.company_amount_ore) / Decimal(invoice.amount_ore)
    return int((amount_ore * rate).to_integral_value(ROUND_HALF_UP)), amount_ore


class AutomationOffSender:
    """`tripletex.automation_off`: payload {customer_id, customer_external_id}. Switches
    Tripletex's own automatic reminders off for a customer (tripletex.own_automation =
    take_over); idempotent, so a retry is harmless."""

    def send(self, ctx: WorkContext, company_id: int, payload: dict[str, Any]) -> dict[str, Any]:
        """Read the customer's version, then set its three flags off."""
        client = ctx.clients.tripletex(company_id)
        external = int(payload["customer_external_id"])
        current = client.customer(external)
        after = client.set_customer_automation(external, version=current.version, enabled=False)
        return {"automation": after.own_automation}

    def lookup(
        self, ctx: WorkContext, company_id: int, payload: dict[str, Any]
    ) -> dict[str, Any] | None:
        """Done when Tripletex shows the flags off."""
        customer = ctx.clients.tripletex(company_id).customer(int(payload["customer_external_id"]))
        return None if customer.own_automation else {"automation": False}

    def record(self, uow: UnitOfWork, payload: dict[str, Any], result: dict[str, Any]) -> None:
        """Our customer no longer has the ledger's automation; logged in the audit log."""
        if result.get("automation"):
            raise FatalError("Tripletex still shows automatic reminders on for the customer")
        customer_id = int(payload["customer_id"])
        uow.conn.execute(
            update(customers).where(customers.c.id == customer_id).values(ledger_automation=False)
        )
        uow.audit.record(
            actor="tripletex",
            action="customer.automation_off",
            subject=("customer", customer_id),
            message="Tripletex's own automatic reminders switched off for this customer "
            "(tripletex.own_automation = take_over): Kravflyt dunns from now on, counting "
            "Tripletex's earlier reminders",
        )


def _matches(posting: Any, payload: dict[str, Any]) -> bool:
    return posting.date == date.fromisoformat(
        payload["date"]
    ) and -posting.invoice_amount == Decimal(int(payload["amount_ore"])).scaleb(-2)


def _newest_matching(postings: list[Any], payload: dict[str, Any]) -> Any:
    matching = [p for p in postings if _matches(p, payload)]
    return sorted(matching, key=lambda p: p.id)[-1] if matching else None
