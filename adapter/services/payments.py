"""Manual work on payments: the payments page (what waits, a page at a time, with the invoices
each may belong to), match one to an invoice (a match that would put money anywhere but on
the payer's open invoice is shown first and done only when confirmed), move it to another
customer, unmatch it, ignore it with a reason and undo that, register a payment that never
came through a file. Each change is one transaction, logged."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from adapter import company_settings
from adapter.domain import MatchStatus, Money, Payment
from adapter.errors import InputError
from adapter.i18n import N_, Message
from adapter.services.allocation import apply_payment, owed, split
from adapter.services.bank_import import add_customers, register_with_ledger, unknown_kid_customer
from adapter.services.matching import MatchIndex, payer
from adapter.store.events import Event
from adapter.store.repositories.payment_desk import InvoiceCandidate, PaymentDeskRepository
from adapter.store.uow import UnitOfWork
from connectors.bank.transactions import BankTransaction

PER_PAGE = 25
# The fictitious customer "Betaling med ukjent KID" (bank_import.unknown_kid_customer): a
# payment booked there has no payer yet.
UNKNOWN_KID = "unknown-kid"
SUGGESTIONS = 5
# Why an invoice is suggested, strongest first (words in adapter/i18n/labels.py "suggestion").
_WEIGHT = {
    "kid": 16,
    "message": 8,
    "customer": 6,
    "booked": 3,
    "account": 3,
    "name": 2,
    "amount": 2,
}
_NUMBER = re.compile(r"\d(?:[\d ]*\d)?")


def _desk(uow: UnitOfWork) -> PaymentDeskRepository:
    return PaymentDeskRepository(uow.conn, uow.require_company(), uow.clock)


@dataclass(frozen=True)
class Suggestion:
    """An open invoice a payment may belong to, and why (codes of the "suggestion" words)."""

    number: str
    customer: str
    outstanding_ore: int
    due_date: date
    why: tuple[str, ...]


@dataclass
class PaymentsPage:
    """One page of the payments that wait for a person, each with its suggestions, and the
    payments a person ignored (with the reason, to undo)."""

    rows: list[dict[str, Any]]
    total: int
    page: int
    per_page: int
    ignored: list[dict[str, Any]] = field(default_factory=list)

    @property
    def more(self) -> bool:
        """Whether a next page has payments."""
        return (self.page + 1) * self.per_page < self.total


def _tokens(text: str | None) -> list[str]:
    """The numbers in a payment's message ("faktura 10 161" reads as 10161)."""
    found = [m.group(0).replace(" ", "") for m in _NUMBER.finditer(text or "")]
    return [t for t in dict.fromkeys(found) if len(t) >= 3]


def suggest(
    uow: UnitOfWork,
    p: dict[str, Any],
    *,
    limit: int = SUGGESTIONS,
    same_amount: list[InvoiceCandidate] | None = None,
) -> list[Suggestion]:
    """The open invoices payment `p` (a row of `PaymentDeskRepository.waiting`) may belong to:
    its KID (or a KID in the message), an invoice number in the message, the payer's customer
    (by account, else by name; the payer's only open invoice first) and the exact amount."""
    desk = _desk(uow)
    tokens = _tokens(p.get("message"))
    kids = [k for k in {p.get("kid"), *tokens} if k]
    how, payer_ids = desk.payer_customers(p.get("payer_account"), p.get("payer_name"))
    if p.get("customer_id") and p.get("customer_external_id") != UNKNOWN_KID:
        # booked on a customer already: that is the payer
        how, payer_ids = "booked", [p["customer_id"]]
    found: dict[str, InvoiceCandidate] = {}
    for c in desk.open_candidates(kids=kids, numbers=tokens, customer_ids=payer_ids):
        found[c.number] = c
    if same_amount is None:  # one payment alone; a page reads them for all its payments
        amount = int(p["amount_ore"])
        same_amount = desk.open_with_amounts([amount], per_amount=limit)[amount]
    for c in same_amount:
        found.setdefault(c.number, c)
    of_payer = [c for c in found.values() if c.customer_id in payer_ids]
    scored = []
    for c in found.values():
        why = []
        if c.outstanding_ore == p["amount_ore"]:
            why.append("amount")
        if c.number in tokens:
            why.append("message")
        if c.kid and c.kid in kids:
            why.append("kid")
        if c.customer_id in payer_ids:
            why.append("customer" if len(of_payer) == 1 and len(payer_ids) == 1 else how)
        if why:
            score = sum(_WEIGHT[w] for w in why)
            scored.append(
                (
                    -score,
                    c.due_date,
                    c.number,
                    Suggestion(c.number, c.customer, c.outstanding_ore, c.due_date, tuple(why)),
                )
            )
    scored.sort(key=lambda x: x[:3])
    return [s[-1] for s in scored[:limit]]


def payments_page(uow: UnitOfWork, page: int = 0, *, per_page: int = PER_PAGE) -> PaymentsPage:
    """The payments page: only the payments shown are read, and only their suggestions made
    (a reader's unit of work is enough)."""
    with uow:
        desk = _desk(uow)
        rows, total = desk.waiting(offset=page * per_page, limit=per_page)
        by_amount = desk.open_with_amounts(
            {int(p["amount_ore"]) for p in rows if p["amount_ore"] > 0}, per_amount=SUGGESTIONS
        )
        for p in rows:
            p["suggestions"] = suggest(uow, p, same_amount=by_amount.get(int(p["amount_ore"]), []))
        ignored = desk.ignored(limit=per_page)
        for p in ignored:
            last = uow.audit.entries(subject=("payment", p["id"]), action="payment.ignore", limit=1)
            p["reason"] = last[0].data.get("reason", "") if last else ""
    return PaymentsPage(rows, total, page, per_page, ignored)


@dataclass(frozen=True)
class MatchPreview:
    """What matching a payment to an invoice would do, before it is done."""

    payment_id: int
    amount_ore: int
    number: str
    customer: str  # whose invoice it is
    payer: str | None  # the customer the payment came from, when known
    to_invoice_ore: int
    credit_ore: int
    closed: bool
    other_customer: bool
    at_agency: bool

    @property
    def needs_confirmation(self) -> bool:
        """Money would not simply go to the payer's open invoice: a person confirms first."""
        return self.closed or self.other_customer or self.credit_ore > 0

    def warnings(self) -> list[Message]:
        """Why it needs confirmation, and what will happen."""
        out = []
        if self.closed:
            out.append(
                N_("Invoice %(number)s is closed: nothing is owed on it", number=self.number)
            )
        if self.other_customer:
            out.append(
                N_(
                    "Invoice %(number)s belongs to %(customer)s, not to the payer %(payer)s",
                    number=self.number,
                    customer=self.customer,
                    payer=self.payer,
                )
            )
        return out

    def outcome(self) -> list[Message]:
        """What the match will do with the money."""
        out = []
        if self.to_invoice_ore:
            out.append(
                N_(
                    "%(paid_ore)s is paid on invoice %(number)s",
                    paid_ore=self.to_invoice_ore,
                    number=self.number,
                )
            )
        if self.at_agency and self.to_invoice_ore:
            out.append(
                N_(
                    "The invoice is at the collection agency: the payment is forwarded to the agency"
                )
            )
        if self.credit_ore:
            out.append(
                N_(
                    "The payment gives a credit of %(credit_ore)s to %(customer)s",
                    credit_ore=self.credit_ore,
                    customer=self.customer,
                )
            )
        return out


def _payer_name(uow: UnitOfWork, payment: Payment) -> tuple[int | None, str | None]:
    """The customer a payment came from, when the booking, the account or the name tells one."""
    if payment.customer_id:
        booked = uow.customers.get(payment.customer_id)
        if booked.external_id != UNKNOWN_KID:
            return payment.customer_id, booked.name
    _how, ids = _desk(uow).payer_customers(payment.payer_account, payment.payer_name)
    if len(ids) == 1:
        return ids[0], uow.customers.get(ids[0]).name
    return None, None


def _check_matchable(payment: Payment, payment_id: int) -> None:
    if payment.status is MatchStatus.MATCHED:
        raise InputError(
            "--payment",
            f"payment {payment_id} is already matched; unmatch it first",
            said=N_("The payment is already matched to an invoice"),
        )
    if payment.amount.ore <= 0:
        raise InputError(
            "--payment",
            f"payment {payment_id} is a credit note or reversal ({payment.amount} kr): book it by hand",
            said=N_("The payment is a credit note or a reversal: book it by hand"),
        )


def _preview(uow: UnitOfWork, payment: Payment, invoice_number: str) -> MatchPreview:
    assert payment.id is not None
    found = _desk(uow).invoice(invoice_number)
    if found is None:
        raise InputError(
            "invoice",
            f"no invoice {invoice_number!r}",
            said=N_("Could not find invoice %(number)s", number=invoice_number),
        )
    bank = _bank(uow)
    cut = split(
        owed(uow, found.invoice_id),
        payment.amount.ore,
        credit_note_ore=0,
        order=tuple(bank.allocation_order),
        write_off_limit_ore=bank.write_off_limit,
    )
    payer_id, payer_name = _payer_name(uow, payment)
    return MatchPreview(
        payment_id=payment.id,
        amount_ore=payment.amount.ore,
        number=found.number,
        customer=found.customer,
        payer=payer_name,
        to_invoice_ore=cut.principal + cut.fees + cut.interest,
        credit_ore=cut.credit,
        closed=found.claim_status == "closed",
        other_customer=payer_id is not None and payer_id != found.customer_id,
        at_agency=found.claim_status == "handed_off",
    )


def preview_match(uow: UnitOfWork, payment_id: int, invoice_number: str) -> MatchPreview:
    """What matching the payment to the invoice would do (nothing is changed)."""
    with uow:
        payment = uow.payments.get(payment_id)
        _check_matchable(payment, payment_id)
        return _preview(uow, payment, invoice_number)


def _bank(uow: UnitOfWork) -> company_settings.BankSettings:
    return company_settings.effective(company_settings.BankSettings, uow.settings.get("bank"))


def match_payment(
    uow: UnitOfWork, payment_id: int, invoice_number: str, *, actor: str, confirmed: bool = False
) -> Payment:
    """Allocate an unmatched (or on-account) payment to an invoice. A match to a closed invoice,
    to another customer's invoice, or one that leaves a credit is refused unless `confirmed`
    (the refusal says what would happen); the audit line says what was confirmed."""
    with uow:
        payment = uow.payments.get(payment_id)
        _check_matchable(payment, payment_id)
        preview = _preview(uow, payment, invoice_number)
        if preview.needs_confirmation and not confirmed:
            what = [*preview.warnings(), *preview.outcome()]
            raise InputError(
                "confirmed",
                "; ".join(m.text("en") for m in what) + ": confirm to match anyway",
                said=N_("Not matched: %(what)s. Confirm to match anyway", what=what[0]),
            )
        invoice = uow.invoices.by_number(invoice_number)
        assert invoice.id is not None
        bank = _bank(uow)
        applied = apply_payment(
            uow,
            payment_id=payment_id,
            customer_id=invoice.customer_id,
            invoice_id=invoice.id,
            amount_ore=payment.amount.ore,
            on=payment.payment_date,
            order=tuple(bank.allocation_order),
            write_off_limit_ore=bank.write_off_limit,
            actor=actor,
        )
        uow.payments.set_match(
            payment_id,
            status=MatchStatus.MATCHED.value,
            match_method="manual",
            unmatched_reason=None,
            customer_id=invoice.customer_id,
        )
        register_with_ledger(
            uow, payment_id, invoice.id, applied, payment.payment_date, bank.payment_type_id
        )
        uow.record(
            Event(
                actor=actor,
                action="payment.match",
                subject=("invoice", invoice.id),
                message=f"payment {payment_id} of {payment.amount} kr matched by hand to invoice {invoice.number}",
                said=N_(
                    "Payment of %(amount_ore)s matched by hand to invoice %(number)s, confirmed: %(what)s",
                    amount_ore=payment.amount.ore,
                    number=invoice.number,
                    what=[*preview.warnings(), *preview.outcome()][0],
                )
                if preview.needs_confirmation
                else N_(
                    "Payment of %(amount_ore)s matched by hand to invoice %(number)s",
                    amount_ore=payment.amount.ore,
                    number=invoice.number,
                ),
                data={
                    "payment_id": payment_id,
                    "principal_ore": applied.principal,
                    "fees_ore": applied.fees,
                    "interest_ore": applied.interest,
                    "credit_ore": applied.credit,
                    # what the person confirmed they knew (empty for a plain match)
                    "confirmed": [m.as_json() for m in [*preview.warnings(), *preview.outcome()]]
                    if preview.needs_confirmation
                    else [],
                },
            )
        )
        uow.commit()
        return uow.payments.get(payment_id)


def move_payment(uow: UnitOfWork, payment_id: int, customer_ref: str, *, actor: str) -> Payment:
    """Move an unallocated payment (e.g. from "Betaling med ukjent KID") to the real customer."""
    with uow:
        payment = uow.payments.get(payment_id)
        if payment.status is MatchStatus.MATCHED:
            raise InputError(
                "--payment", f"payment {payment_id} is allocated to an invoice; unmatch it first"
            )
        customer = uow.customers.find(customer_ref)
        uow.payments.set_match(
            payment_id, status=MatchStatus.ON_ACCOUNT.value, customer_id=customer.id
        )
        uow.record(
            Event(
                actor=actor,
                action="payment.move",
                subject=("payment", payment_id),
                message=f"payment {payment_id} of {payment.amount} kr moved to customer {customer.name}",
            )
        )
        uow.commit()
        return uow.payments.get(payment_id)


def unmatch_payment(uow: UnitOfWork, payment_id: int, *, actor: str) -> Payment:
    """Undo a payment's allocations (refused once the ledger has registered it)."""
    with uow:
        payment = uow.payments.get(payment_id)
        desk = _desk(uow)
        sends = desk.ledger_sends(payment_id)
        if any(status in ("sent", "sending", "unknown") for _id, status in sends):
            raise InputError(
                "--payment",
                f"payment {payment_id} is registered in Tripletex or forwarded already: reverse it there first",
                said=N_(
                    "The payment is registered in Tripletex or forwarded to the agency already: "
                    "reverse it there first"
                ),
            )
        invoice_ids = desk.undo_allocations(payment_id, [i for i, _status in sends])
        uow.payments.recompute_outstanding(invoice_ids)
        uow.payments.set_match(
            payment_id,
            status=MatchStatus.UNMATCHED.value,
            match_method=None,
            unmatched_reason="unmatched_by_hand",
        )
        uow.record(
            Event(
                actor=actor,
                action="payment.unmatch",
                subject=("payment", payment_id),
                message=f"payment {payment_id} of {payment.amount} kr unmatched; it waits in the worklist",
            )
        )
        uow.commit()
        return uow.payments.get(payment_id)


def register_payment(
    uow: UnitOfWork, invoice_number: str, amount: Money, on: date, *, actor: str
) -> Payment:
    """A payment that never came through a file (cash, a bank without files): matched to the invoice."""
    if amount.ore <= 0:
        raise InputError("--amount", "must be more than 0")
    with uow:
        invoice = uow.invoices.by_number(invoice_number)
        assert invoice.id is not None
        payment_id = uow.payments.add(
            Payment(
                None,
                uow.require_company(),
                f"manual:{uuid.uuid4().hex}",
                "manual",
                amount,
                on,
                kid=invoice.kid.value if invoice.kid else None,
                status=MatchStatus.MATCHED,
                match_method="manual",
                customer_id=invoice.customer_id,
            )
        )
        assert payment_id is not None
        bank = _bank(uow)
        applied = apply_payment(
            uow,
            payment_id=payment_id,
            customer_id=invoice.customer_id,
            invoice_id=invoice.id,
            amount_ore=amount.ore,
            on=on,
            order=tuple(bank.allocation_order),
            write_off_limit_ore=bank.write_off_limit,
            actor=actor,
        )
        register_with_ledger(uow, payment_id, invoice.id, applied, on, bank.payment_type_id)
        uow.record(
            Event(
                actor=actor,
                action="payment.register",
                subject=("invoice", invoice.id),
                message=f"payment of {amount} kr on {on} registered by hand on invoice {invoice.number}",
                data={
                    "payment_id": payment_id,
                    "principal_ore": applied.principal,
                    "fees_ore": applied.fees,
                    "interest_ore": applied.interest,
                    "credit_ore": applied.credit,
                },
            )
        )
        uow.commit()
        return uow.payments.get(payment_id)


def set_aside(
    uow: UnitOfWork, payment_id: int, action: str, *, actor: str, reason: str = ""
) -> Payment:
    """Apply the unknown-KID choice to one waiting payment by hand: book it on the payer's customer
    (or "Betaling med ukjent KID") as unallocated, or ignore it (see `ignore`: a reason is
    required)."""
    if action == "ignore":
        return ignore(uow, payment_id, reason, actor=actor)
    if action != "on_account":
        raise InputError("action", "on_account or ignore")
    with uow:
        payment = uow.payments.get(payment_id)
        if payment.status is MatchStatus.MATCHED:
            raise InputError(
                "--payment",
                f"payment {payment_id} is matched already",
                said=N_("The payment is already matched to an invoice"),
            )
        index = MatchIndex()
        add_customers(uow, index)
        tx = BankTransaction(
            payment.amount.ore,
            payment.kid,
            payment.payment_date,
            payment.bank_reference or "",
            payment.source,
            "",
            payer_account=payment.payer_account,
            payer_name=payment.payer_name,
        )
        customer_id = payment.customer_id or payer(tx, index) or unknown_kid_customer(uow)
        uow.payments.set_match(
            payment_id, status=MatchStatus.ON_ACCOUNT.value, customer_id=customer_id
        )
        name = uow.customers.get(customer_id).name
        uow.record(
            Event(
                actor=actor,
                action="payment.set_aside",
                subject=("payment", payment_id),
                message=f"payment {payment_id} of {payment.amount} kr booked on customer {name} as unallocated",
                said=N_(
                    "Payment of %(amount_ore)s booked on %(customer)s as unallocated",
                    amount_ore=payment.amount.ore,
                    customer=name,
                ),
            )
        )
        uow.commit()
        return uow.payments.get(payment_id)


def ignore(uow: UnitOfWork, payment_id: int, reason: str, *, actor: str) -> Payment:
    """Ignore a waiting payment (to be booked outside Kravflyt): a reason is required, and the
    status it had is kept in the audit line so that `undo_ignore` puts it back."""
    reason = " ".join(reason.split())
    if not reason:
        raise InputError(
            "reason",
            "say why the payment is ignored",
            said=N_("Say why the payment is ignored"),
        )
    with uow:
        payment = uow.payments.get(payment_id)
        if payment.status not in (MatchStatus.UNMATCHED, MatchStatus.ON_ACCOUNT):
            raise InputError(
                "--payment",
                f"payment {payment_id} is {payment.status.value}: only a waiting payment can be ignored",
                said=N_("Only a payment that waits for a person can be ignored"),
            )
        uow.payments.set_match(payment_id, status=MatchStatus.IGNORED.value)
        uow.record(
            Event(
                actor=actor,
                action="payment.ignore",
                subject=("payment", payment_id),
                message=f"payment {payment_id} of {payment.amount} kr ignored: {reason}",
                said=N_(
                    "Payment of %(amount_ore)s ignored: %(reason)s",
                    amount_ore=payment.amount.ore,
                    reason=reason,
                ),
                data={"reason": reason, "was": payment.status.value},
            )
        )
        uow.commit()
        return uow.payments.get(payment_id)


def undo_ignore(uow: UnitOfWork, payment_id: int, *, actor: str) -> Payment:
    """Put an ignored payment back where it was before (waiting for a person), logged."""
    with uow:
        payment = uow.payments.get(payment_id)
        if payment.status is not MatchStatus.IGNORED:
            raise InputError(
                "--payment",
                f"payment {payment_id} is not ignored",
                said=N_("The payment is not ignored"),
            )
        last = uow.audit.entries(subject=("payment", payment_id), action="payment.ignore", limit=1)
        was = last[0].data.get("was") if last else None
        if was not in (MatchStatus.UNMATCHED.value, MatchStatus.ON_ACCOUNT.value):
            was = (
                MatchStatus.ON_ACCOUNT.value if payment.customer_id else MatchStatus.UNMATCHED.value
            )
        uow.payments.set_match(payment_id, status=was)
        uow.record(
            Event(
                actor=actor,
                action="payment.unignore",
                subject=("payment", payment_id),
                message=f"payment {payment_id} of {payment.amount} kr no longer ignored: it waits in the worklist again",
                said=N_(
                    "Payment of %(amount_ore)s no longer ignored: it waits for a person again",
                    amount_ore=payment.amount.ore,
                ),
                data={"status": was},
            )
        )
        uow.commit()
        return uow.payments.get(payment_id)
