"""Apply a payment to a claim: fees, interest and principal in the company's order (recorded
on every allocation), an overpayment kept as the customer's credit, a residual under the
write-off limit written off and logged, a settled claim closed.

Fees and interest are notices (seed 001): a later payment with the same KID settles them and
closes the claim, which Tripletex leaves open and we do not.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select

from adapter.domain import Allocation, AllocationKind, ClaimStatus, Money
from adapter.store.tables import allocations, claims
from adapter.store.uow import UnitOfWork

PARTS = {
    "fees": AllocationKind.FEE,
    "interest": AllocationKind.INTEREST,
    "principal": AllocationKind.PRINCIPAL,
}


@dataclass(frozen=True)
class Outstanding:
    """What is left on a claim: principal, fees and interest (notices kept apart)."""

    principal: int
    fees: int
    interest: int

    @property
    def total(self) -> int:
        """All three."""
        return self.principal + self.fees + self.interest


def outstanding(uow: UnitOfWork, invoice_id: int) -> Outstanding:
    """The claim's principal (our view) and its unpaid notices."""
    invoice = uow.invoices.get(invoice_id)
    claim = uow.claims.for_invoice(invoice_id)
    paid = {
        kind: total
        for kind, total in uow.conn.execute(
            select(allocations.c.kind, func.sum(allocations.c.amount_ore))
            .where(
                allocations.c.invoice_id == invoice_id, allocations.c.kind.in_(("fee", "interest"))
            )
            .group_by(allocations.c.kind)
        )
    }
    if claim.status is ClaimStatus.HANDED_OFF:
        # At the agency only the principal is claimed (our fees and interest stayed behind).
        return Outstanding(principal=max(0, invoice.outstanding.ore), fees=0, interest=0)
    fees = claim.fees_charged.ore + claim.compensation_charged.ore
    return Outstanding(
        principal=max(0, invoice.outstanding.ore),
        fees=max(0, fees - int(paid.get("fee") or 0)),
        interest=max(0, claim.interest_charged.ore - int(paid.get("interest") or 0)),
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
    order_text = ",".join(order)
    if credit_note_ore:
        uow.payments.allocate(
            Allocation(
                None,
                company,
                payment_id,
                invoice_id,
                AllocationKind.PRINCIPAL,
                Money(credit_note_ore),
                on,
                order_used="credit_note",
                actor=actor,
            )
        )
        uow.payments.recompute_outstanding([invoice_id])
    left = outstanding(uow, invoice_id)
    room = {"fees": left.fees, "interest": left.interest, "principal": left.principal}
    remaining = amount_ore
    applied = {"fees": 0, "interest": 0, "principal": 0}
    for part in order:
        take = min(remaining, room[part])
        if take > 0:
            uow.payments.allocate(
                Allocation(
                    None,
                    company,
                    payment_id,
                    invoice_id,
                    PARTS[part],
                    Money(take),
                    on,
                    order_used=order_text,
                    actor=actor,
                )
            )
            applied[part] = take
            remaining -= take
    credit = 0
    if remaining > 0:
        credit = remaining
        uow.conn.execute(
            allocations.insert().values(
                company_id=company,
                payment_id=payment_id,
                invoice_id=None,
                customer_id=customer_id,
                kind=AllocationKind.CREDIT.value,
                amount_ore=credit,
                allocated_on=on,
                order_used=order_text,
                actor=actor,
                created_at=uow.clock.now(),
            )
        )
    uow.payments.recompute_outstanding([invoice_id])
    after = outstanding(uow, invoice_id)
    written_off = 0
    closed = False
    if 0 < after.total < write_off_limit_ore:
        written_off = after.total
        if after.principal:
            uow.payments.allocate(
                Allocation(
                    None,
                    company,
                    payment_id,
                    invoice_id,
                    AllocationKind.WRITE_OFF,
                    Money(after.principal),
                    on,
                    order_used="write_off",
                    actor=actor,
                )
            )
            uow.payments.recompute_outstanding([invoice_id])
        uow.audit.record(
            actor=actor,
            action="claim.write_off",
            subject=("invoice", invoice_id),
            rules=["G4"],
            message=f"residual {Money(written_off)} kr is below the write-off limit {Money(write_off_limit_ore)} kr: written off",
            data={
                "amount_ore": written_off,
                "principal_ore": after.principal,
                "fees_ore": after.fees,
                "interest_ore": after.interest,
            },
        )
        closed = True
    elif after.total == 0:
        closed = True
    if closed:
        status = uow.conn.execute(
            select(claims.c.status).where(claims.c.invoice_id == invoice_id)
        ).scalar_one_or_none()
        if status == ClaimStatus.OPEN.value:
            uow.claims.set_status(invoice_id, ClaimStatus.CLOSED, closed_at=uow.clock.now())
    return Applied(
        applied["principal"],
        applied["fees"],
        applied["interest"],
        credit,
        written_off,
        closed,
        after.principal if written_off else 0,
    )
