"""Kravia's payouts told apart from the debtor's payments (kravia-api.md §2.4 pitfall, §2.9):
Kravia pays the creditor on the original invoice's KID, and an OCR row has no payer name."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import insert, select

from adapter.bootstrap import worker as make_worker
from adapter.domain import Address, Customer, DebtorKind, Invoice, Kid, Money
from adapter.flows import agency_steps, bank_import, connections
from adapter.services import handoff
from adapter.services.clients import Clients
from adapter.settings import AppSettings
from adapter.store.tables import allocations, letters, outbox, payments
from connectors.bank.generate import Planned, write_file
from tests.integration.kravia.conftest import TODAY
from tests.integration.kravia.test_handoff import run_worker

KID = "60100000011"  # the original invoice's KID (MOD10)


@pytest.fixture
def handed_off(db, company_id, clock, kravia, kravia_served) -> dict[str, int]:
    """Invoice 601 (2 500,00 kr, its own KID) handed to Kravia after its inkassovarsel."""
    clock.instant = datetime(2026, 3, 20, 8, tzinfo=UTC)
    with db.uow(company_id) as uow:
        debtor = uow.customers.add(
            Customer(
                None,
                company_id,
                "Vik Rør AS",
                DebtorKind.BUSINESS,
                customer_number="20031",
                org_number="923609016",
                address=Address("Havnegata 2", "", "5003", "Bergen"),
            )
        )
        inv = uow.invoices.add(
            Invoice(
                None,
                company_id,
                debtor.id,
                "601",
                date(2026, 1, 1),
                date(2026, 1, 15),
                Money(250_000),
                Money(250_000),
                kid=Kid(KID),
            )
        )
        claim = uow.claims.for_invoice(inv.id)
        uow.conn.execute(
            insert(letters).values(
                company_id=company_id,
                claim_id=claim.id,
                stage="inkassovarsel",
                sent_on=date(2026, 2, 20),
                deadline=date(2026, 3, 6),
                status="sent",
                created_at=uow.clock.now(),
            )
        )
        uow.commit()
    connections.connect_kravia(
        db,
        company_id,
        base_url=f"{kravia_served.url}/api/v2",
        token="sandbox-kravia-token",
        creditor_id=10759,
        actor="test",
    )
    handoff.confirm(db.uow(company_id), "20031", not_disputed=True, by="kari", on=TODAY)
    assert run_worker(db) == 1
    [claim_at_kravia] = kravia.claims.values()
    return {"invoice": inv.id, "kravia_claim": claim_at_kravia["id"]}


def test_an_ocr_payout_on_the_original_kid_is_not_forwarded_to_kravia(
    db, company_id, handed_off, kravia, kravia_served, tmp_path
) -> None:
    # The debtor pays Kravia; Kravia pays the creditor out on the original invoice's KID, and
    # lists the payout in GET /settlements.
    payout = httpx.post(
        f"{kravia_served.url}/_sandbox/payout",
        json={"claimId": handed_off["kravia_claim"], "collected": "2500.00", "on": "2026-03-23"},
    )
    path = tmp_path / "OCR.20260324.txt"
    write_file(
        path, "ocr", [Planned(250_000, KID, None, None, None, "000088001")], on=date(2026, 3, 24)
    )
    summary = bank_import.import_file(db, company_id, path, actor="test")
    run_worker(db)
    with db.engine.connect() as conn:
        sent = [
            (r.kind, (r.result or {}).get("agency_payout"))
            for r in conn.execute(select(outbox.c.kind, outbox.c.result).order_by(outbox.c.id))
        ]
        row = conn.execute(select(payments.c.match_method, payments.c.payer_name)).one()
    # The import could not know yet (no settlements read); the sender read them before sending
    # and did not forward Kravia's own money.
    assert summary.matched == {"kid": 1}
    assert sent == [("kravia.register", None), ("kravia.payment", True)]
    assert [p["kind"] for p in kravia.claims[handed_off["kravia_claim"]]["payments"]] == [
        "debtor"
    ]  # only the debtor's payment to Kravia; nothing registered back as a direct payment
    assert payout.status_code == 200
    [settlement] = payout.json()["settlements"]
    assert Decimal(str(settlement["amount"])) == Decimal("2500.00")
    assert row.payer_name is None and row.match_method == "agency_payout"
    with db.uow(company_id, read_only=True) as uow:
        claim = uow.claims.for_invoice(handed_off["invoice"])
        invoice = uow.invoices.get(handed_off["invoice"])
    assert (claim.status.value, invoice.outstanding.ore) == ("handed_off", 0)
    agency_steps.poll(_ctx(db), company_id)  # Kravia closed its claim as paid: ours closes too
    with db.uow(company_id, read_only=True) as uow:
        assert uow.claims.for_invoice(handed_off["invoice"]).status.value == "closed"


def _ctx(db):
    work = make_worker(db, AppSettings())
    work.ctx.clients = Clients(db, sleep=lambda _s: None)
    return work.ctx


def test_a_payout_with_deductions_known_before_the_import_settles_the_claim(
    db, company_id, handed_off, kravia, tmp_path
) -> None:
    # Kravia collected 2 500,00 kr, kept 250,00 kr and paid out 2 250,00 kr on the KID.
    kravia.pay_out(
        handed_off["kravia_claim"], Decimal("2500.00"), date(2026, 3, 23), Decimal("250.00")
    )
    assert agency_steps.sync_settlements(_ctx(db), company_id) == 1
    assert agency_steps.sync_settlements(_ctx(db), company_id) == 0  # stored once
    path = tmp_path / "OCR.20260325.txt"
    write_file(
        path, "ocr", [Planned(225_000, KID, None, None, None, "000088002")], on=date(2026, 3, 25)
    )
    summary = bank_import.import_file(db, company_id, path, actor="test")
    assert summary.matched == {"agency_payout": 1}
    with db.engine.connect() as conn:
        kinds = [r.kind for r in conn.execute(select(outbox.c.kind))]
        parts = sorted(
            (r.kind, r.amount_ore, r.order_used)
            for r in conn.execute(
                select(allocations).where(allocations.c.invoice_id == handed_off["invoice"])
            )
        )
    assert kinds == ["kravia.register"]  # nothing queued for Kravia
    assert parts == [
        ("principal", 225_000, "fees,interest,principal"),
        ("write_off", 25_000, "agency_deduction"),
    ]
    with db.uow(company_id, read_only=True) as uow:
        assert uow.invoices.get(handed_off["invoice"]).outstanding.ore == 0


def test_a_payment_from_kravias_account_is_a_payout_without_any_settlement(
    db, company_id, handed_off, kravia, tmp_path, cli
) -> None:
    assert (
        cli(
            "company", "set", "--company", str(company_id), "kravia.payout_accounts=1503.12.34562"
        ).exit_code
        == 0
    )
    path = tmp_path / "p.xml"
    write_file(
        path,
        "camt054",
        [Planned(100_000, KID, None, "15031234562", None, "000000778")],
        on=date(2026, 3, 24),
    )
    assert bank_import.import_file(db, company_id, path, actor="test").matched == {
        "agency_payout": 1
    }
    run_worker(db)
    assert kravia.claims[handed_off["kravia_claim"]]["payments"] == []
    # Another payer on the same KID is the debtor's own payment: forwarded.
    other = tmp_path / "q.xml"
    write_file(
        other,
        "camt054",
        [Planned(50_000, KID, None, "12345678903", "Vik Rør AS", "000000779")],
        on=date(2026, 3, 24),
    )
    assert bank_import.import_file(db, company_id, other, actor="test").matched == {"kid": 1}
    run_worker(db)
    assert [
        (p["amount"], p["kind"]) for p in kravia.claims[handed_off["kravia_claim"]]["payments"]
    ] == [(Decimal("500.00"), "payment")]
