"""Outbox senders for Tripletex: reminders (`:createReminder`), payments (`:payment`), and
switching a customer's own automatic reminders off (`PUT /customer/{id}`).

`:createReminder` and `:payment` are not idempotent, and Tripletex keeps no marker of ours on
either. When an earlier try's outcome is unknown, `lookup` asks Tripletex whether the effect
exists, and takes only one that is no other row's: a reminder of that type and date on the
invoice whose id no other letter holds; a payment posting of that date and amount on the
invoice that is neither tied to another payment of ours nor made by another sent row (each
send keeps the ids of the postings its write made).
Each reminder is read back after its letter is recorded sent, many in one request
(`ReminderSender.follow_up`, `record_follow_up`): what Tripletex put on it is what the debtor was told
(`tripletex_letters.record_told_many`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from adapter.services import delivery, tripletex_letters
from adapter.services.context import EffectClaimed, WorkContext
from adapter.store.events import Event
from adapter.store.repositories.remote_writes import RemoteWriteRepository, notice_addresses
from adapter.store.uow import UnitOfWork
from connectors.errors import ConnectorError, FatalError, OutcomeUnknownError
from policies.money import figure

NOTICE = "NOTICE_OF_DEBT_COLLECTION"


def dispatch_for(kind: str, setting: str) -> str:
    """The dispatch type for a reminder of `kind`: NETS_PRINT "must have type
    NOTICE_OF_DEBT_COLLECTION" (spec 2.72.00, :createReminder), so other letters under
    NETS_PRINT are printed by the company instead (OWN_PRINTER)."""
    return "OWN_PRINTER" if setting == "NETS_PRINT" and kind != NOTICE else setting


def _writes(uow: UnitOfWork) -> RemoteWriteRepository:
    return RemoteWriteRepository(uow.conn, uow.require_company(), uow.clock)


def _invoice(ctx: WorkContext, company_id: int, external_id: str) -> Any:
    with ctx.db.uow(company_id, read_only=True) as uow:
        return _writes(uow).invoice_to_send(external_id)


class ReminderSender:
    """`tripletex.reminder`: payload {letter_id, invoice_external_id, type, date, include_charge,
    include_interest, dispatch}."""

    # How long an address read ahead (`prepare`) is used by the send it was read for.
    AHEAD_S = 60.0

    def __init__(self) -> None:
        # (id of the database, company, invoice) -> (the database, when read, the address)
        self._ahead: dict[tuple[int, int, str], tuple[Any, float, str | None]] = {}
        self._ahead_lock = threading.Lock()

    def prepare(self, ctx: WorkContext, rows: Sequence[tuple[int, dict[str, Any]]]) -> None:
        """Read the overdue-notice addresses of rows about to be sent (company id, payload),
        of every company in one statement (the sender pool calls it as it takes rows); each
        send takes its own within `AHEAD_S`, else reads it itself."""
        wanted = {(company_id, str(p["invoice_external_id"])) for company_id, p in rows}
        with ctx.db.uow(read_only=True) as uow:
            found = notice_addresses(uow.conn, wanted)
        now = time.monotonic()
        with self._ahead_lock:
            if len(self._ahead) > 10_000:  # rows taken and never sent (looked up instead)
                self._ahead.clear()
            for (company_id, external_id), address in found.items():
                self._ahead[(id(ctx.db), company_id, external_id)] = (ctx.db, now, address)

    def _notice_address(self, ctx: WorkContext, company_id: int, external_id: str) -> str | None:
        with self._ahead_lock:
            hit = self._ahead.pop((id(ctx.db), company_id, external_id), None)
        if hit is not None and hit[0] is ctx.db and time.monotonic() - hit[1] < self.AHEAD_S:
            return hit[2]
        return _invoice(ctx, company_id, external_id).overdue_notice_email

    def send(self, ctx: WorkContext, company_id: int, payload: dict[str, Any]) -> dict[str, Any]:
        """Create the reminder in Tripletex (to the customer's overdue-notice address when it
        has one). What Tripletex put on it is read back after the letter is recorded sent
        (`follow_up`), many reminders in one request."""
        client = ctx.clients.tripletex(company_id)
        email = self._notice_address(ctx, company_id, str(payload["invoice_external_id"]))
        rid = client.create_reminder(
            int(payload["invoice_external_id"]),
            type=payload["type"],
            on=date.fromisoformat(payload["date"]),
            include_charge=payload["include_charge"],
            include_interest=payload["include_interest"],
            dispatch_types=(dispatch_for(payload["type"], payload.get("dispatch") or "API"),),
            email=email,
        )
        return {"reminder_id": rid, "told": None}

    # Reminders read back in one request at most (their ids in the query string).
    FOLLOW_UP_BATCH = 100

    def follow_up(
        self, ctx: WorkContext, company_id: int, sent: Sequence[tuple[dict[str, Any], Any]]
    ) -> dict[int, dict[str, Any]]:
        """What Tripletex put on reminders recorded sent without it, read back (`GET /reminder`
        with a list of ids: one request for up to `FOLLOW_UP_BATCH`): letter id -> told, for
        `record_follow_up`. The reminders exist whatever this does: a failed read leaves them
        to the next sync, which reads every invoice's reminders."""
        wanted = {
            int(r["reminder_id"]): p
            for p, r in sent
            if r.get("told") is None and r.get("reminder_id")
        }
        ids = sorted(wanted)
        client = ctx.clients.tripletex(company_id)
        told: dict[int, dict[str, Any]] = {}
        for start in range(0, len(ids), self.FOLLOW_UP_BATCH):
            chunk = ids[start : start + self.FOLLOW_UP_BATCH]
            days = [date.fromisoformat(wanted[i]["date"]) for i in chunk]
            try:
                found = client.reminders(
                    ids=chunk, date_from=min(days), date_to=max(days) + timedelta(days=1)
                )
            except ConnectorError:
                continue
            told.update(
                (int(wanted[r.id]["letter_id"]), r.told())
                for r in found
                if r.id in wanted
                and r.type == wanted[r.id]["type"]
                and r.reminder_date.isoformat() == wanted[r.id]["date"]
            )
        return told

    def record_follow_up(self, uow: UnitOfWork, told: dict[int, dict[str, Any]]) -> None:
        """Store what Tripletex put on the letters (`tripletex_letters.record_told_many`),
        unless a sync did so meanwhile."""
        untold = {r.id for r in uow.letters.rows(told) if r.told_at is None}
        if untold:
            tripletex_letters.record_told_many(uow, {i: t for i, t in told.items() if i in untold})

    def lookup(
        self, ctx: WorkContext, company_id: int, payload: dict[str, Any]
    ) -> dict[str, Any] | None:
        """The reminder an earlier try created, if it exists: one of this type and date on the
        invoice that is not already another letter's (Tripletex's own, or ours)."""
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
        with ctx.db.uow(company_id, read_only=True) as uow:
            others = _writes(uow).letters_holding(
                [str(r.id) for r in found], other_than=int(payload["letter_id"])
            )
        mine = [r for r in found if str(r.id) not in others]
        return {"reminder_id": mine[0].id, "told": mine[0].told()} if mine else None

    def record(self, uow: UnitOfWork, payload: dict[str, Any], result: dict[str, Any]) -> None:
        """Mark our letter sent, with Tripletex's reminder id and what it put on the letter."""
        self.record_many(uow, [(payload, result)])

    def record_many(
        self, uow: UnitOfWork, sent: Sequence[tuple[dict[str, Any], dict[str, Any]]]
    ) -> None:
        """`record` for many rows of one company, in a few statements whatever their number."""
        delivery.mark_sent(
            uow, {int(payload["letter_id"]): str(result["reminder_id"]) for payload, result in sent}
        )
        told = {int(p["letter_id"]): r["told"] for p, r in sent if r.get("told")}
        if told:
            tripletex_letters.record_told_many(uow, told)


class PaymentSender:
    """`tripletex.payment`: payload {payment_id, invoice_external_id, date, amount_ore,
    payment_type_id}; the amount is in the invoice's currency."""

    def send(self, ctx: WorkContext, company_id: int, payload: dict[str, Any]) -> dict[str, Any]:
        """Register the payment on the invoice (`paidAmount` in the company's currency and, for
        an invoice in another currency, `paidAmountCurrency` in the invoice's). The postings
        the answer shows that were not there before the write, of its date and amount, the
        newest is this payment's own."""
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
        before = {p.id for p in client.invoice_payments(invoice_id)}
        answer = client.register_payment(
            invoice_id,
            payment_date=date.fromisoformat(payload["date"]),
            payment_type_id=int(type_id),
            paid_ore=paid_ore,
            paid_currency_ore=paid_currency_ore,
        )
        new = {p.id for p in answer.postings if p.id not in before}
        # The answer's postings are {id, url} stubs (`:payment` has no `fields`): their dates
        # and amounts are read back. A posting new since the read before the write may also be
        # another send's that landed in between (another worker, the same invoice): only one of
        # this date and amount is this payment's, the newest. When the read back fails, which
        # one is ours is not known: the outcome is unknown, and the lookup takes one no other
        # row holds (the payment is booked either way; it is never sent again unless no such
        # posting exists).
        try:
            postings = client.invoice_payments(invoice_id)
        except ConnectorError as exc:
            raise OutcomeUnknownError(
                f"invoice {invoice_id}: the payment was booked, but its posting could not be "
                f"read back ({exc}); look it up"
            ) from exc
        posting = _newest_matching([p for p in postings if p.id in new], payload)
        if posting is None:
            raise OutcomeUnknownError(
                f"invoice {invoice_id}: no new posting of {payload['date']} and "
                f"{figure(int(payload['amount_ore']), '', '.')} in the answer; look it up"
            )
        return {"posting_id": posting.id, "posting_ids": [posting.id]}

    def lookup(
        self, ctx: WorkContext, company_id: int, payload: dict[str, Any]
    ) -> dict[str, Any] | None:
        """The payment posting an earlier try made, if it exists: a posting of this date and
        amount on the invoice that is not already another payment's (tied to one of our
        payments, or made by another sent row). Several look-alikes: the first free one, each
        row takes one (`record` refuses a posting another row took meanwhile)."""
        postings = ctx.clients.tripletex(company_id).invoice_payments(
            int(payload["invoice_external_id"])
        )
        alike = {p.id for p in postings if _matches(p, payload)}
        with ctx.db.uow(company_id, read_only=True) as uow:
            free = sorted(alike - _others(uow, payload, alike))
        return {"posting_id": free[0], "posting_ids": free[:1]} if free else None

    def record(self, uow: UnitOfWork, payload: dict[str, Any], result: dict[str, Any]) -> None:
        """Tie our payment to Tripletex's posting, so a sync does not count it again."""
        posting_id = result.get("posting_id")
        if posting_id is None:
            return
        # One writer at a time per invoice, so two rows cannot both take one posting.
        _writes(uow).lock_invoice(str(payload["invoice_external_id"]))
        if _others(uow, payload, {int(posting_id)}):
            raise EffectClaimed(f"Tripletex posting {posting_id} is another payment's")
        if payload.get("payment_id") is not None:
            uow.payments.set_match(int(payload["payment_id"]), ledger_ref=str(posting_id))


def _others(uow: UnitOfWork, payload: dict[str, Any], candidates: set[int]) -> set[int]:
    """Which of `candidates` (postings on the invoice) are known to be another payment's:
    tied to another of our payments (by a sync or an earlier send), or made by another sent
    row of this invoice."""
    if not candidates:
        return set()
    own = payload.get("payment_id")
    repo = _writes(uow)
    tied = repo.postings_tied([str(c) for c in candidates], other_than=own)
    ids = {int(r) for r in tied}
    for result in repo.sent_payment_results(str(payload["invoice_external_id"])):
        made = set(result.get("posting_ids") or [])
        if result.get("posting_id") is not None:
            made.add(result["posting_id"])
        ids |= {int(i) for i in made} & candidates
    return ids


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
        _writes(uow).automation_off(customer_id)
        uow.record(
            Event(
                actor="tripletex",
                action="customer.automation_off",
                subject=("customer", customer_id),
                message="Tripletex's own automatic reminders switched off for this customer "
                "(tripletex.own_automation = take_over): Kravflyt dunns from now on, counting "
                "Tripletex's earlier reminders",
            )
        )


def _matches(posting: Any, payload: dict[str, Any]) -> bool:
    return posting.date == date.fromisoformat(
        payload["date"]
    ) and -posting.invoice_amount == Decimal(int(payload["amount_ore"])).scaleb(-2)


def _newest_matching(postings: list[Any], payload: dict[str, Any]) -> Any:
    matching = [p for p in postings if _matches(p, payload)]
    return sorted(matching, key=lambda p: p.id)[-1] if matching else None
