"""Claims from other systems (seed 003): a debtor and an overdue invoice registered by hand,
with what already happened to it, then handed off through the same preview, bundling and
confirmation as ledger claims."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta

from adapter.domain import (
    Address,
    Allocation,
    AllocationKind,
    Customer,
    DebtorKind,
    Invoice,
    Kid,
    MatchStatus,
    Money,
    NationalId,
    Payment,
)
from adapter.errors import InputError
from adapter.services import rates
from adapter.services.claim_facts import company_context
from adapter.store.events import Event
from adapter.store.repositories.letters import LetterRepository
from adapter.store.uow import UnitOfWork
from policies.fees import earlier_fees
from policies.ladder import Stage


@dataclass(frozen=True)
class NewDebtor:
    """A debtor not yet known to Kravflyt."""

    name: str
    private: bool
    org_number: str | None = None
    national_id: str | None = None
    address: str = ""
    postal_code: str = ""
    city: str = ""
    email: str | None = None


def create_manual_claim(
    uow: UnitOfWork,
    *,
    customer_ref: str | None,
    new_debtor: NewDebtor | None,
    invoice_number: str,
    amount: Money,
    due_date: date,
    invoice_date: date | None,
    kid: str | None,
    fees: list[tuple[date, Money]],
    payments: list[tuple[date, Money]],
    varsel_sent: date | None,
    pdf: bytes | None,
    actor: str,
) -> int:
    """Register the claim; returns its invoice id. Nothing is written when any part is wrong."""
    if (customer_ref is None) == (new_debtor is None):
        raise InputError(
            "--customer", "give an existing customer, or the new debtor's details, not both"
        )
    if amount.ore <= 0:
        raise InputError("--amount", "must be more than 0")
    paid = sum(p.ore for _, p in payments)
    if paid >= amount.ore:
        raise InputError(
            "--paid", "the partial payments cover the whole amount: nothing to collect"
        )
    with uow:
        company_id = uow.require_company()
        # The fees another system charged, against the law on each letter's date (C3-C5, E2).
        fee_letters, breach = earlier_fees(
            due_date,
            [(on, fee.ore) for on, fee in fees],
            company_context(uow.settings.all(), rates.current(uow)).rates,
        )
        if breach:
            raise InputError("--fees", breach)
        fees_ore = sum(x.fee_ore for x in fee_letters)
        if customer_ref is not None:
            customer = uow.customers.find(customer_ref)
        else:
            assert new_debtor is not None
            kind = DebtorKind.PRIVATE if new_debtor.private else DebtorKind.BUSINESS
            if kind is DebtorKind.BUSINESS and not new_debtor.org_number:
                raise InputError(
                    "--org-number",
                    "a business debtor needs its organisation number (the agency requires it)",
                )
            if not (new_debtor.address and new_debtor.postal_code and new_debtor.city):
                raise InputError(
                    "--address",
                    "the agency needs the debtor's postal address (--address, --postal-code, --city)",
                )
            customer = uow.customers.add(
                Customer(
                    None,
                    company_id,
                    new_debtor.name,
                    kind,
                    customer_number=f"M{uuid.uuid4().hex[:8].upper()}",
                    external_id=None,
                    org_number=new_debtor.org_number,
                    national_id=NationalId(new_debtor.national_id)
                    if new_debtor.national_id
                    else None,
                    email=new_debtor.email,
                    address=Address(
                        new_debtor.address, "", new_debtor.postal_code, new_debtor.city
                    ),
                )
            )
        assert customer.id is not None
        invoice = uow.invoices.add(
            Invoice(
                None,
                company_id,
                customer.id,
                invoice_number,
                invoice_date or due_date,
                due_date,
                amount,
                amount,
                kid=Kid(kid) if kid else None,
                source="manual",
            )
        )
        assert invoice.id is not None
        if pdf:
            uow.invoices.set_pdf(invoice.id, _checked_pdf(pdf))
        claim = uow.claims.for_invoice(invoice.id)
        assert claim.id is not None
        varsel_fee = 0
        for x in fee_letters:  # the letters that carried the fees charged before
            if x.sent_on == varsel_sent and x.stage is not Stage.BETALINGSOPPFORDRING:
                varsel_fee = x.fee_ore  # the inkassovarsel itself carried this fee
                continue
            _earlier_letter(uow, claim.id, x.stage.value, x.sent_on, x.fee_ore, actor)
        if varsel_sent:
            if varsel_sent <= due_date:
                raise InputError(
                    "--inkassovarsel-sent", "an inkassovarsel is sent after the due date (INKL § 9)"
                )
            _earlier_letter(uow, claim.id, "inkassovarsel", varsel_sent, varsel_fee, actor)
        for n, (on, money) in enumerate(payments, 1):
            pid = uow.payments.add(
                Payment(
                    None,
                    company_id,
                    f"manual-claim:{invoice.id}:{n}",
                    "manual",
                    money,
                    on,
                    status=MatchStatus.MATCHED,
                    match_method="manual",
                    customer_id=customer.id,
                )
            )
            uow.payments.allocate(
                Allocation(
                    None,
                    company_id,
                    pid,
                    invoice.id,
                    AllocationKind.PRINCIPAL,
                    money,
                    on,
                    order_used="manual",
                    actor=actor,
                )
            )
        uow.payments.recompute_outstanding([invoice.id])
        uow.record(
            Event(
                actor=actor,
                action="claim.manual",
                subject=("invoice", invoice.id),
                message=f"claim {invoice_number} from another system registered for {customer.name}: {amount} kr due "
                f"{due_date}, paid {Money(paid)} kr, fees {Money(fees_ore)} kr"
                + (
                    f", inkassovarsel sent {varsel_sent}"
                    if varsel_sent
                    else ", the agency sends the inkassovarsel"
                ),
                data={
                    "invoice": invoice_number,
                    "amount_ore": amount.ore,
                    "paid_ore": paid,
                    "fees_ore": fees_ore,
                    "varsel_sent": varsel_sent.isoformat() if varsel_sent else None,
                },
            )
        )
        uow.commit()
    return invoice.id


def _checked_pdf(pdf: bytes) -> bytes:
    """An invoice copy, refused unless it is a PDF file."""
    if not pdf.startswith(b"%PDF"):
        raise InputError("--pdf", "is not a PDF file")
    return pdf


def _earlier_letter(
    uow: UnitOfWork, claim_id: int, stage: str, on: date, fee_ore: int, actor: str
) -> None:
    """A letter the other system sent before the claim was registered (14 days to pay)."""
    LetterRepository(uow.conn, uow.require_company(), uow.clock).add(
        claim_id=claim_id,
        stage=stage,
        sent_on=on,
        deadline=on + timedelta(days=14),
        fee_ore=fee_ore,
        delivery="print",
        status="sent",
        actor=actor,
        reasons=[{"rule": "MANUAL", "text": "sent before the claim was registered"}],
    )
