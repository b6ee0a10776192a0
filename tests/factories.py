"""Small builders for test data that several test modules need."""

from __future__ import annotations

from datetime import date

from sqlalchemy import insert

from adapter.domain import Allocation, AllocationKind, MatchStatus, Money, Payment
from adapter.store.tables import letters
from adapter.store.uow import UnitOfWork


def paid(uow: UnitOfWork, invoice_id: int, amount_ore: int, on: date, key: str) -> int:
    """A matched bank payment of `amount_ore` on the invoice's principal; returns its id."""
    company_id = uow.require_company()
    payment_id = uow.payments.add(
        Payment(None, company_id, key, "ocr", Money(amount_ore), on, status=MatchStatus.MATCHED)
    )
    assert payment_id is not None
    uow.payments.allocate(
        Allocation(
            None,
            company_id,
            payment_id,
            invoice_id,
            AllocationKind.PRINCIPAL,
            Money(amount_ore),
            on,
        )
    )
    uow.payments.recompute_outstanding([invoice_id])
    return payment_id


def letter_sent(
    uow: UnitOfWork,
    claim_id: int,
    stage: str,
    sent_on: date,
    deadline: date,
    fee_ore: int = 0,
    reasons: list[dict[str, str]] | None = None,
) -> None:
    """A letter of `stage` already sent on the claim."""
    uow.conn.execute(
        insert(letters).values(
            company_id=uow.require_company(),
            claim_id=claim_id,
            stage=stage,
            sent_on=sent_on,
            deadline=deadline,
            fee_ore=fee_ore,
            status="sent",
            reasons=reasons,
            created_at=uow.clock.now(),
        )
    )
