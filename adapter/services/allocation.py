"""Apply a payment to a claim: fees, interest and principal in the company's order (recorded
on every allocation), an overpayment kept as the customer's credit, a residual under the
write-off limit written off and logged, a settled claim closed.

Fees and interest are notices (seed 001): a later payment with the same KID settles them and
closes the claim, which Tripletex leaves open and we do not.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import NamedTuple

from adapter.domain import Allocation, AllocationKind, ClaimStatus, Money
from adapter.store.events import Event
from adapter.store.uow import UnitOfWork

PARTS = {
    "fees": AllocationKind.FEE,
    "interest": AllocationKind.INTEREST,
    "principal": AllocationKind.PRINCIPAL,
}


class Outstanding(NamedTuple):
    """What is left on a claim: principal, fees and interest (notices kept apart). A named
    tuple: the bank import makes one per payment."""

    principal: int
    fees: int
    interest: int

    @property
    def total(self) -> int:
        """All three."""
        return self.principal + self.fees + self.interest


def owed(uow: UnitOfWork, invoice_id: int) -> Owed:
    """What is left on the claim: the invoice's own outstanding principal (our view; negative
    when overpaid) and its unpaid notices."""
    invoice = uow.invoices.get(invoice_id)
    claim = uow.claims.for_invoice(invoice_id)
    paid = uow.bank.notices_paid(invoice_id)
    return Owed(
        principal=invoice.outstanding.ore,
        fees=max(
            0, claim.fees_charged.ore + claim.compensation_charged.ore - int(paid.get("fee") or 0)
        ),
        interest=max(0, claim.interest_charged.ore - int(paid.get("interest") or 0)),
        handed_off=claim.status is ClaimStatus.HANDED_OFF,
    )


@dataclass(slots=True)
class Owed:
    """What a claim owes, as allocation sees it: the invoice's outstanding principal as stored
    (amount less credit notes and principal allocations; below zero when overpaid), fees and
    interest not yet paid. At the agency only the principal is claimed (our fees and interest
    stayed behind)."""

    principal: int
    fees: int
    interest: int
    handed_off: bool = False

    def left(self) -> Outstanding:
        """What is still to pay, part by part."""
        if self.handed_off:
            return Outstanding(max(0, self.principal), 0, 0)
        return Outstanding(max(0, self.principal), self.fees, self.interest)


class Split(NamedTuple):
    """How a payment divides over a claim (see `split`). A named tuple: the bank import makes
    one per payment."""

    credit_note: int
    principal: int
    fees: int
    interest: int
    credit: int  # beyond what the claim owes: the customer's credit
    written_off: int  # the residual under the limit, all parts
    write_off_principal: int  # of which principal (allocated as a write-off)
    closed: bool
    left_before_write_off: Outstanding


def split(
    owed: Owed,
    amount_ore: int,
    *,
    credit_note_ore: int,
    order: tuple[str, ...],
    write_off_limit_ore: int,
) -> Split:
    """Divide a payment (and a credit note listed with it) over a claim in the company's order,
    and update `owed` to what is left. Pure: both the bank import (a million at a time) and
    the manual match allocate with it."""
    owed.principal -= credit_note_ore
    handed_off = owed.handed_off
    # Plain locals, no dicts: the bank import splits a million payments.
    room_principal = max(0, owed.principal)
    room_fees = 0 if handed_off else owed.fees
    room_interest = 0 if handed_off else owed.interest
    principal = fees = interest = 0
    remaining = amount_ore
    if room_fees or room_interest:
        for part in order:
            if part == "principal":
                take = min(remaining, room_principal)
                if take > 0:
                    principal, remaining = take, remaining - take
            elif part == "fees":
                take = min(remaining, room_fees)
                if take > 0:
                    fees, remaining = take, remaining - take
            else:
                take = min(remaining, room_interest)
                if take > 0:
                    interest, remaining = take, remaining - take
    elif "principal" in order:  # nothing but principal owed: the order does not matter
        take = min(remaining, room_principal)
        if take > 0:
            principal, remaining = take, remaining - take
    owed.principal -= principal
    if not handed_off:
        owed.fees -= fees
        owed.interest -= interest
    after = Outstanding(room_principal - principal, room_fees - fees, room_interest - interest)
    total = after.principal + after.fees + after.interest
    written_off = write_off_principal = 0
    if 0 < total < write_off_limit_ore:
        written_off, write_off_principal = total, after.principal
        owed.principal -= write_off_principal
    return Split(
        credit_note_ore,
        principal,
        fees,
        interest,
        max(0, remaining),
        written_off,
        write_off_principal,
        written_off > 0 or total == 0,
        after,
    )


@dataclass(frozen=True)
class Applied:
    """How a payment was applied to one claim."""

    principal: int = 0
    fees: int = 0
    interest: int = 0
    credit: int = 0  # overpayment kept as the customer's credit
    written_off: int = 0
    closed: bool = False
    written_off_principal: int = 0  # the part of `written_off` that was principal

    @property
    def to_invoice(self) -> int:
        """What was applied to the invoice (and goes to the ledger as its payment)."""
        return self.principal + self.fees + self.interest


def write_off_line(
    invoice_id: int, cut: Split, limit_ore: int
) -> tuple[tuple[str, int], str, dict[str, int]]:
    """The audit line of a residual written off: (subject, message, data)."""
    after = cut.left_before_write_off
    return (
        ("invoice", invoice_id),
        f"residual {Money(cut.written_off)} kr is below the write-off limit {Money(limit_ore)} kr: written off",
        {
            "amount_ore": cut.written_off,
            "principal_ore": after.principal,
            "fees_ore": after.fees,
            "interest_ore": after.interest,
        },
    )


def apply_payment(
    uow: UnitOfWork,
    *,
    payment_id: int | None,
    customer_id: int,
    invoice_id: int,
    amount_ore: int,
    on: date,
    order: tuple[str, ...],
    write_off_limit_ore: int,
    actor: str,
    credit_note_ore: int = 0,
) -> Applied:
    """Allocate `amount_ore` (and a credit note listed with it) to the invoice's claim."""
    company = uow.require_company()
    cut = split(
        owed(uow, invoice_id),
        amount_ore,
        credit_note_ore=credit_note_ore,
        order=order,
        write_off_limit_ore=write_off_limit_ore,
    )
    order_text = ",".join(order)
    parts = [("credit_note", AllocationKind.PRINCIPAL, cut.credit_note)]
    parts += [(order_text, PARTS[part], getattr(cut, part)) for part in order]
    parts.append(("write_off", AllocationKind.WRITE_OFF, cut.write_off_principal))
    for used, kind, amount in parts:
        if amount > 0:
            uow.payments.allocate(
                Allocation(
                    None,
                    company,
                    payment_id,
                    invoice_id,
                    kind,
                    Money(amount),
                    on,
                    order_used=used,
                    actor=actor,
                )
            )
    if cut.credit:
        uow.bank.add_credit(
            payment_id, customer_id, cut.credit, on=on, order_used=order_text, actor=actor
        )
    uow.payments.recompute_outstanding([invoice_id])
    if cut.written_off:
        subject, message, data = write_off_line(invoice_id, cut, write_off_limit_ore)
        uow.record(
            Event(
                actor=actor,
                action="claim.write_off",
                subject=subject,
                rules=["G4"],
                message=message,
                data=data,
            )
        )
    if cut.closed:
        if uow.bank.claim_status(invoice_id) == ClaimStatus.OPEN.value:
            uow.claims.set_status(invoice_id, ClaimStatus.CLOSED, closed_at=uow.clock.now())
    return Applied(
        cut.principal,
        cut.fees,
        cut.interest,
        cut.credit,
        cut.written_off,
        cut.closed,
        cut.write_off_principal,
    )
