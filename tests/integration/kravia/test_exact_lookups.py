"""Kravia direct payments and credit notes are looked up by something that is ours (issue 19):
our reference (`AccountingPaymentId`: company, kind, our payment or credit note, invoice),
never a payment of the same amount on the same day, on this claim or another, on SQLite and
PostgreSQL over real HTTP to the sandbox."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from adapter.bootstrap import worker as make_worker
from adapter.services import agency, handoff
from adapter.services.clients import Clients
from adapter.settings import AppSettings
from adapter.store.tables import handoff_items
from tests.integration.kravia.conftest import TODAY
from tests.integration.kravia.test_handoff import book, run_worker

__all__ = ["book"]


def _handed_off(db, company_id) -> dict[str, int]:
    """The case sent; our invoice ids by number."""
    handoff.confirm(db.uow(company_id), "10024", not_disputed=True, by="kari", on=TODAY)
    assert run_worker(db) == 1
    with db.engine.connect() as conn:
        return {
            r.reference.rsplit(":", 1)[-1]: r.invoice_id
            for r in conn.execute(select(handoff_items.c.reference, handoff_items.c.invoice_id))
        }


def _ctx(db):
    work = make_worker(db, AppSettings())
    work.ctx.clients = Clients(db, sleep=lambda _s: None)
    return work.ctx


def _at_kravia(kravia, invoice_no: str) -> list[tuple[str, Decimal, str]]:
    claim = next(c for c in kravia.claims.values() if c["invoiceNo"] == invoice_no)
    return [(p["accountingPaymentId"], p["amount"], p["date"]) for p in claim["payments"]]


def test_a_direct_payment_is_found_by_its_reference_not_by_amount_and_day(
    db, company_id, book, kravia
) -> None:
    _handed_off(db, company_id)
    ctx, sender = _ctx(db), agency.ForwardPaymentSender()
    day = TODAY.isoformat()
    first = {"payment_id": 71, "invoice_id": book["503"], "amount_ore": 20_000, "date": day}
    second = {**first, "payment_id": 72}  # the same amount on the same day: another payment
    other_claim = {**first, "payment_id": 73, "invoice_id": book["502"]}
    assert sender.send(ctx, company_id, first)["reference"].endswith(f":payment:71:{book['503']}")
    # The first reached Kravia; the second and the other claim's did not, whatever is alike.
    assert sender.lookup(ctx, company_id, first) is not None
    assert sender.lookup(ctx, company_id, second) is None
    assert sender.lookup(ctx, company_id, other_claim) is None
    sender.send(ctx, company_id, second)
    assert sender.lookup(ctx, company_id, second) is not None
    assert sender.lookup(ctx, company_id, other_claim) is None
    ref = f"kravflyt:{company_id}:payment"
    assert _at_kravia(kravia, "503") == [
        (f"{ref}:71:{book['503']}", Decimal("200.00"), day),
        (f"{ref}:72:{book['503']}", Decimal("200.00"), day),
    ]
    assert _at_kravia(kravia, "502") == []


def test_a_credit_note_is_found_by_its_reference_not_by_a_payment_of_the_same_id(
    db, company_id, book, kravia
) -> None:
    _handed_off(db, company_id)
    ctx = _ctx(db)
    notes, payments = agency.CreditNoteSender(), agency.ForwardPaymentSender()
    day = TODAY.isoformat()
    note = {
        "payment_id": 9001,
        "invoice_id": book["503"],
        "amount_ore": 10_000,
        "date": day,
        "text": "Kreditnota 900001",
    }
    notes.send(ctx, company_id, note)
    assert notes.lookup(ctx, company_id, note) is not None
    # Another credit note of the same amount and day, and a payment whose id is the note's.
    assert notes.lookup(ctx, company_id, {**note, "payment_id": 9002}) is None
    assert payments.lookup(ctx, company_id, {**note, "text": None}) is None
    assert notes.lookup(ctx, company_id, {**note, "invoice_id": book["502"]}) is None
    assert _at_kravia(kravia, "503") == [
        (f"kravflyt:{company_id}:creditnote:9001:{book['503']}", Decimal("100.00"), day)
    ]
