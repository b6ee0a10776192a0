"""The agency side after confirmation: send the case, forward payments and credit notes, keep
the case status current (webhooks and polling), and reconcile ledger, store and agency."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from adapter.domain import ClaimStatus
from adapter.i18n import N_
from adapter.i18n.labels import agency_message
from adapter.log import get_logger
from adapter.services.context import WorkContext
from adapter.store.events import Event
from adapter.store.uow import UnitOfWork
from connectors.errors import FatalError
from connectors.kravia import status
from connectors.kravia.client import KraviaClient
from connectors.kravia.mapping import credit_note_payload, payment_payload, register_payloads
from connectors.kravia.models import case_from_json
from policies.money import figure

log = get_logger(__name__)


def _plain(ore: int) -> str:
    """Øre as the log and API lines write kroner: "1250.50" (the one formatter, ungrouped)."""
    return figure(ore, thousands="", decimal=".")


class RegisterCaseSender:
    """`kravia.register`: payload {case_id}. Each invoice of the case is looked up by our
    reference before it is registered, so a retry after a crash never creates a second claim;
    a lookup that is not sure stops the case for a person (see `KraviaClient.find_claim`)."""

    def _case(self, ctx: WorkContext, company_id: int, case_id: int) -> tuple[Any, str]:
        """The confirmed case and the search bookmark its claims are found after: a claim we
        registered was updated at Kravia after the confirmation (a day's margin for clocks)."""
        with ctx.db.uow(company_id, read_only=True) as uow:
            snapshot, confirmed_at = uow.handoff.case_snapshot(case_id)
        since = (confirmed_at - timedelta(days=1)).astimezone(UTC)
        return case_from_json(snapshot), f"{since:%Y-%m-%dT%H:%M:%S}"

    def _register(
        self, ctx: WorkContext, company_id: int, payload: dict[str, Any], *, look_first: bool
    ) -> dict[str, Any]:
        case, since = self._case(ctx, company_id, payload["case_id"])
        client: KraviaClient = ctx.clients.kravia(company_id)
        found: dict[str, int] = {}
        answers: dict[str, Any] = {}
        for body in register_payloads(case):
            ref = body["accountingInvoiceId"]
            existing = (
                client.find_claim(ref, body["invoiceNo"], since=since) if look_first else None
            )
            if existing is None:
                found[ref], answers[ref] = client.register_case(body)
            else:
                found[ref] = existing
        return {"claims": found, "answers": json.loads(json.dumps(answers, default=str))}

    def send(self, ctx: WorkContext, company_id: int, payload: dict[str, Any]) -> dict[str, Any]:
        """Register every invoice of the case (looking each up first: partial progress is safe)."""
        return self._register(ctx, company_id, payload, look_first=True)

    def lookup(
        self, ctx: WorkContext, company_id: int, payload: dict[str, Any]
    ) -> dict[str, Any] | None:
        """Whether every invoice was registered already."""
        case, since = self._case(ctx, company_id, payload["case_id"])
        client: KraviaClient = ctx.clients.kravia(company_id)
        found = {}
        for body in register_payloads(case):
            claim = client.find_claim(body["accountingInvoiceId"], body["invoiceNo"], since=since)
            if claim is None:
                return None
            found[body["accountingInvoiceId"]] = claim
        return {"claims": found}

    def record(self, uow: UnitOfWork, payload: dict[str, Any], result: dict[str, Any]) -> None:
        """Keep the agency's claim ids; the case is sent."""
        ids = result["claims"]
        uow.handoff.mark_registered(payload["case_id"], ids)
        uow.record(
            Event(
                actor="kravia",
                action="handoff.sent",
                subject=("handoff_case", payload["case_id"]),
                message=f"case {payload['case_id']} registered at Kravia: claims {', '.join(str(v) for v in ids.values())}",
                data=result,
                said=N_(
                    "Case %(case)s registered at Kravia: claims %(claims)s",
                    case=payload["case_id"],
                    claims=", ".join(str(v) for v in ids.values()),
                ),
            )
        )


def _agency_claim(ctx: WorkContext, company_id: int, invoice_id: int) -> int:
    with ctx.db.uow(company_id, read_only=True) as uow:
        claim = uow.handoff.agency_claim_of(invoice_id)
    if not claim:
        raise FatalError(
            f"invoice id {invoice_id} has no claim at Kravia yet: the case is not registered"
        )
    return int(claim)


class ForwardPaymentSender:
    """`kravia.payment`: payload {payment_id, invoice_id, amount_ore, date}: a payment that reached
    the company for a handed-off claim, forwarded once (AccountingPaymentId is our reference)."""

    kind = "payment"

    def _reference(self, company_id: int, payload: dict[str, Any]) -> str:
        return f"kravflyt:{company_id}:{self.kind}:{payload['payment_id']}:{payload['invoice_id']}"

    def send(self, ctx: WorkContext, company_id: int, payload: dict[str, Any]) -> dict[str, Any]:
        """Tell Kravia; but first read Kravia's settlements again: a payment that turns out to
        be Kravia's own payout (its settlement came after the import) is never sent back."""
        claim = _agency_claim(ctx, company_id, int(payload["invoice_id"]))
        on = datetime.fromisoformat(payload["date"]).date()
        ref = self._reference(company_id, payload)
        client: KraviaClient = ctx.clients.kravia(company_id)
        if self.kind == "payment" and _is_payout(ctx, company_id, payload.get("payment_id")):
            return {"claim": claim, "reference": ref, "agency_payout": True}
        if self.kind == "payment":
            client.register_payment(
                payment_payload(
                    ref, on, [(claim, int(payload["amount_ore"]))], "Innbetalt til kreditor"
                )
            )
        else:
            client.register_credit_note(
                credit_note_payload(
                    ref,
                    on,
                    [(claim, int(payload["amount_ore"]))],
                    payload.get("text", "Kreditnota"),
                )
            )
        return {"claim": claim, "reference": ref}

    def lookup(
        self, ctx: WorkContext, company_id: int, payload: dict[str, Any]
    ) -> dict[str, Any] | None:
        """Whether Kravia has it already."""
        claim = _agency_claim(ctx, company_id, int(payload["invoice_id"]))
        ref = self._reference(company_id, payload)
        return (
            {"claim": claim, "reference": ref}
            if ctx.clients.kravia(company_id).payment_exists(claim, ref)
            else None
        )

    def record(self, uow: UnitOfWork, payload: dict[str, Any], result: dict[str, Any]) -> None:
        """Log it (a payout found at the last check is marked as one, not forwarded)."""
        if result.get("agency_payout"):
            uow.agency.mark_payout(payload["payment_id"])
            uow.record(
                Event(
                    actor="kravia",
                    action="handoff.payout",
                    subject=("invoice", payload["invoice_id"]),
                    message=f"payment {payload['payment_id']} is Kravia's payout (a settlement "
                    "lists it): collected through the agency, not forwarded to Kravia",
                    said=N_(
                        "The payment is the agency's payout (a settlement lists it): collected "
                        "through the agency, not forwarded"
                    ),
                    data=result,
                )
            )
            return
        uow.record(
            Event(
                actor="kravia",
                action=f"handoff.{self.kind}",
                subject=("invoice", payload["invoice_id"]),
                message=f"{self.kind} of {_plain(payload['amount_ore'])} kr forwarded to Kravia (claim {result['claim']})",
                said=(
                    N_(
                        "Payment of %(amount_ore)s forwarded to the agency (case %(claim)s)",
                        amount_ore=payload["amount_ore"],
                        claim=result["claim"],
                    )
                    if self.kind == "payment"
                    else N_(
                        "Credit note of %(amount_ore)s forwarded to the agency (case %(claim)s)",
                        amount_ore=payload["amount_ore"],
                        claim=result["claim"],
                    )
                ),
                data=result,
            )
        )


def _is_payout(ctx: WorkContext, company_id: int, payment_id: Any) -> bool:
    """Whether our payment `payment_id` is Kravia's payout, by settlements read just now."""
    if payment_id is None:
        return False
    store_settlements(ctx.db.uow(company_id), ctx.clients.kravia(company_id).settlements())
    with ctx.db.uow(company_id, read_only=True) as uow:
        row = uow.agency.payment(int(payment_id))
        if row is None:
            return False
        return load_payouts(uow).is_agency_payout(
            row.payer_account, row.kid, row.amount_ore, row.payment_date
        )


class CreditNoteSender(ForwardPaymentSender):
    """`kravia.creditnote`: payload {payment_id: credit note invoice id, invoice_id, amount_ore, date, text}."""

    kind = "creditnote"


CLOSING = (status.AgencyState.PAID, status.AgencyState.CREDITED)


def apply_status(uow: UnitOfWork, claim_id: int, details: dict[str, Any]) -> None:
    """Store one claim's status from the documented details (`connectors.kravia.status`): the
    latest status code as it came, with its meaning; only a code that means paid or credited
    closes our claim. Anything else (an unknown code, legal steps waiting for approval, a case
    withdrawn or written off) is kept and shown in the worklist; nothing else changes."""
    found = status.read(details)
    stored = found.stored
    actions = ",".join(found.actions)[:300] or None
    with uow:
        row = uow.agency.claim_at_agency(str(claim_id))
        if row is None or (row.agency_status, row.agency_actions) == (stored, actions):
            return
        values: dict[str, Any] = {"agency_status": stored, "agency_actions": actions}
        if found.state in CLOSING and row.status != ClaimStatus.CLOSED.value:
            values |= {"status": ClaimStatus.CLOSED.value, "closed_at": uow.clock.now()}
        uow.agency.set_agency_state(row.invoice_id, **values)
        uow.record(
            Event(
                actor="kravia",
                action="handoff.status",
                subject=("invoice", row.invoice_id),
                message=f"Kravia claim {claim_id}: {row.agency_status or 'new'} -> {stored}",
                said=N_(
                    "Kravia claim %(claim)s: %(before)s → %(after)s",
                    claim=claim_id,
                    before=agency_message(row.agency_status) or N_("new at the agency"),
                    after=agency_message(stored),
                ),
                # What Kravia sent, as it came: the documented parts of the details.
                data={
                    "statusCodeHistory": details.get("statusCodeHistory"),
                    "availableActions": details.get("availableActions"),
                },
            )
        )
        uow.commit()


POLL_BOOKMARK = "kravia.cases"


def poll_bookmark(uow: UnitOfWork) -> str | None:
    """Where the last poll of Kravia's updated claims stopped (its `lastUpdatedTime`)."""
    with uow:
        value, _state = uow.bookmarks.get(POLL_BOOKMARK)
    return value


def move_poll_bookmark(uow: UnitOfWork, newest: str) -> None:
    """Remember where a poll stopped, as Kravia wrote it."""
    with uow:
        uow.bookmarks.put(POLL_BOOKMARK, newest)
        uow.commit()


def handed_off_claims(uow: UnitOfWork) -> list[Any]:
    """Every handed-off claim with its figures in the ledger, our store and its agency case."""
    with uow:
        return list(uow.agency.handed_off_claims())


def compare(row: Any, details: dict[str, Any]) -> dict[str, Any]:
    """One handed-off claim compared in the ledger (Tripletex), our store and the agency's
    `details`; `differences` is empty when all agree. The agency's amount is compared only
    when its details show one (`status.outstanding_ore`)."""
    found = status.read(details)
    agency = status.outstanding_ore(details)
    differences = []
    if row.ledger_outstanding_ore is not None and row.ledger_outstanding_ore != row.outstanding_ore:
        differences.append(
            f"ledger {_plain(row.ledger_outstanding_ore)} kr, ours {_plain(row.outstanding_ore)} kr"
        )
    if agency is not None and agency != max(0, row.outstanding_ore):
        differences.append(f"agency {_plain(agency)} kr, ours {_plain(row.outstanding_ore)} kr")
    if (found.state in CLOSING) != (row.status == "closed"):
        differences.append(f"agency status {found.stored}, ours {row.status}")
    return {
        "invoice": row.number,
        "agency_claim": row.agency_case_id,
        "ours_ore": row.outstanding_ore,
        "ledger_ore": row.ledger_outstanding_ore,
        "agency_ore": agency,
        "status": row.status,
        "agency_status": found.stored,
        "differences": differences,
    }


def kravia_connected(uow: UnitOfWork) -> bool:
    """Whether the company has Kravia connected."""
    with uow:
        return "kravia" in uow.connections.configured()


# ------------------------------------------------------------------ payouts (settlements)

# A payout reaches the bank on the settlement's date or a few banking days later (UNCONFIRMED:
# the guides give no timing; a wider window only risks taking a debtor's payment of the very
# same amount, on the same KID, for a payout).
PAYOUT_BOOKING_DAYS = 4


def _ore(value: Any) -> int:
    """A Kravia amount (a JSON number in kroner, read as Decimal) in øre."""
    return int((Decimal(str(value)) * 100).quantize(Decimal(1)))


def _digits(value: str | None) -> str:
    return "".join(ch for ch in value or "" if ch.isdigit())


@dataclass(frozen=True)
class Payouts:
    """What tells a bank payment from Kravia apart from a debtor's: Kravia's paying accounts
    (`kravia.payout_accounts`) and the payouts its settlements list. Read once per import."""

    accounts: frozenset[str] = frozenset()
    # (amount, booking date, KID) for each settlement and each day it may be booked; a
    # settlement also answers for a payment without a KID (a daily batch has none).
    keys: frozenset[tuple[int, date, str | None]] = frozenset()
    # settlement key -> {our invoice id: Kravia's deductions on it}
    deductions: dict[tuple[int, date, str | None], dict[int, int]] = field(default_factory=dict)

    def is_agency_payout(
        self, payer_account: str | None, kid: str | None, amount_ore: int, on: date
    ) -> bool:
        """Whether this payment is Kravia paying out money it collected (kravia-api.md §2.4:
        such payouts "must be filtered out and never registered back"). The one place that
        decides it: bank import and the forwarding sender both ask here."""
        if payer_account and _digits(payer_account) in self.accounts:
            return True
        return (amount_ore, on, kid) in self.keys

    def deductions_on(self, kid: str | None, amount_ore: int, on: date) -> dict[int, int]:
        """Kravia's deductions the matching settlement lists, per invoice of ours."""
        return self.deductions.get((amount_ore, on, kid), {})


def load_payouts(uow: UnitOfWork) -> Payouts:
    """The company's payout accounts and stored settlements, as `Payouts`."""
    from adapter import company_settings

    settings = company_settings.effective(
        company_settings.KraviaSettings, uow.settings.get("kravia")
    )
    lines: dict[tuple[str, date, int], list[Any]] = {}
    for row in uow.agency.settlement_lines():
        lines.setdefault((row.settlement_id, row.paid_on, row.amount_ore), []).append(row)
    keys: set[tuple[int, date, str | None]] = set()
    deductions: dict[tuple[int, date, str | None], dict[int, int]] = {}
    for (_sid, paid_on, amount), rows in lines.items():
        kids = {r.kid for r in rows if r.kid} | {None}
        cut = {r.invoice_id: r.deductions_ore for r in rows if r.invoice_id and r.deductions_ore}
        for day in range(PAYOUT_BOOKING_DAYS + 1):
            for kid in kids:
                key = (amount, paid_on + timedelta(days=day), kid)
                keys.add(key)
                if cut:
                    deductions[key] = cut
    return Payouts(
        frozenset(_digits(a) for a in settings.payout_accounts), frozenset(keys), deductions
    )


def store_settlements(uow: UnitOfWork, found: list[dict[str, Any]]) -> int:
    """Store Kravia's payouts not yet bookkept (`found`: what `GET
    /settlements?ExcludeClosed=true` answered, read before this unit of work begins), each line
    tied to our invoice by our reference (or Kravia's claim id) and its KID; returns how many
    settlements were new. A settlement without an id, a date or an amount is kept out, and its
    raw body goes to the audit log for a person."""
    new = 0
    with uow:
        company_id = uow.require_company()
        known = uow.agency.settlement_ids()
        items = uow.handoff.invoices_by_agency_reference()
        for raw in found:
            sid = str(raw.get("id") or "")
            if sid and sid in known:
                continue
            try:
                paid_on = date.fromisoformat(str(raw["date"])[:10])
                amount = _ore(raw["amount"])
                lines = list(raw.get("invoices") or [])
            except (KeyError, ValueError, ArithmeticError, TypeError):
                paid_on, amount, lines = None, 0, []
            if not sid or paid_on is None:
                uow.record(
                    Event(
                        actor="kravia",
                        action="agency.settlement_unread",
                        subject=("company", company_id),
                        message="a Kravia settlement without an id, a date or an amount was not used",
                        data={"raw": raw},
                    )
                )
                continue
            for n, line in enumerate(lines or [{}]):
                ours = items.get(str(line.get("accountingInvoiceId"))) or items.get(
                    f"claim:{line.get('invoiceId')}"
                )
                uow.agency.add_settlement_line(
                    sid,
                    n,
                    paid_on=paid_on,
                    amount_ore=amount,
                    invoice_id=ours[0] if ours else None,
                    kid=(ours[1] if ours else None) or raw.get("kid"),
                    line_ore=_ore(line.get("amount") or 0),
                    deductions_ore=_ore(line.get("deductions") or 0),
                    raw=json.loads(json.dumps(raw, default=str)),
                    fetched_at=uow.clock.now(),
                )
            uow.record(
                Event(
                    actor="kravia",
                    action="agency.settlement",
                    subject=("company", company_id),
                    message=f"Kravia payout {sid} of {_plain(amount)} kr on {paid_on}",
                    data={"raw": json.loads(json.dumps(raw, default=str))},
                )
            )
            new += 1
        uow.commit()
    return new
