"""Outbox senders for Tripletex: reminders (`:createReminder`) and payments (`:payment`).

Neither call is idempotent. When an earlier try's outcome is unknown, `lookup` asks Tripletex
whether the effect exists (the invoice's reminders of that type and date; the invoice's
payment postings of that date and amount) before the worker sends again.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from adapter.jobs.registry import WorkContext
from adapter.services.dunning import mark_letter_sent
from adapter.store.tables import outbox
from adapter.store.uow import UnitOfWork
from connectors.errors import ConnectorError, FatalError


class ReminderSender:
    """`tripletex.reminder`: payload {letter_id, invoice_external_id, type, date, include_charge,
    include_interest, dispatch}."""

    def send(self, ctx: WorkContext, company_id: int, payload: dict[str, Any]) -> dict[str, Any]:
        """Create the reminder in Tripletex."""
        rid = ctx.clients.tripletex(company_id).create_reminder(
            int(payload["invoice_external_id"]),
            type=payload["type"],
            on=date.fromisoformat(payload["date"]),
            include_charge=payload["include_charge"],
            include_interest=payload["include_interest"],
            dispatch_types=(payload.get("dispatch") or "API",),
        )
        return {"reminder_id": rid}

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
        return {"reminder_id": found[0].id} if found else None

    def record(self, uow: UnitOfWork, payload: dict[str, Any], result: dict[str, Any]) -> None:
        """Mark our letter sent, with Tripletex's reminder id."""
        mark_letter_sent(uow, int(payload["letter_id"]), str(result["reminder_id"]))


class PaymentSender:
    """`tripletex.payment`: payload {payment_id, invoice_external_id, date, amount_ore, payment_type_id}."""

    def send(self, ctx: WorkContext, company_id: int, payload: dict[str, Any]) -> dict[str, Any]:
        """Register the payment on the invoice."""
        client = ctx.clients.tripletex(company_id)
        type_id = payload.get("payment_type_id")
        if type_id is None:
            # No bank.payment_type_id set: Tripletex's first incoming payment type (its bank account).
            types = client.payment_types()
            if not types:
                raise FatalError("Tripletex has no incoming payment type: set bank.payment_type_id")
            type_id = types[0].id
        invoice_id = int(payload["invoice_external_id"])
        answer = client.register_payment(
            invoice_id,
            payment_date=date.fromisoformat(payload["date"]),
            payment_type_id=int(type_id),
            paid_ore=int(payload["amount_ore"]),
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
        if result.get("posting_id") is not None:
            uow.payments.set_match(int(payload["payment_id"]), ledger_ref=str(result["posting_id"]))


def _matches(posting: Any, payload: dict[str, Any]) -> bool:
    return posting.date == date.fromisoformat(payload["date"]) and -posting.amount == Decimal(
        int(payload["amount_ore"])
    ).scaleb(-2)


def _newest_matching(postings: list[Any], payload: dict[str, Any]) -> Any:
    matching = [p for p in postings if _matches(p, payload)]
    return sorted(matching, key=lambda p: p.id)[-1] if matching else None
