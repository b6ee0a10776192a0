"""Hand-off end to end on SQLite and PostgreSQL, over real HTTP to the Kravia sandbox."""

from __future__ import annotations

import json
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from sqlalchemy import insert, select

from adapter.bootstrap import web_app
from adapter.bootstrap import worker as make_worker
from adapter.domain import (
    Address,
    Customer,
    DebtorKind,
    Invoice,
    Kid,
    Money,
)
from adapter.errors import InputError
from adapter.flows import agency_steps, bank_import, connections
from adapter.jobs.worker import OUTBOX
from adapter.services import agency, claims, handoff
from adapter.services.clients import Clients
from adapter.settings import AppSettings
from adapter.store import lease as leases
from adapter.store.tables import audit_log, letters, outbox
from adapter.store.tables import claims as claims_table
from connectors.bank.generate import Planned, write_file
from connectors.kravia import webhooks
from connectors.serving import serve_in_thread
from tests.factories import paid
from tests.integration.kravia.conftest import TODAY


@pytest.fixture
def book(db, company_id, clock, kravia_served):
    """Fjord Bygg AS owes four invoices past their inkassovarsel deadline; one is disputed."""
    clock.instant = datetime(2026, 3, 20, 8, tzinfo=UTC)
    with db.uow(company_id) as uow:
        bygg = uow.customers.add(
            Customer(
                None,
                company_id,
                "Fjord Bygg AS",
                DebtorKind.BUSINESS,
                customer_number="10024",
                org_number="923609016",
                address=Address("Storgata 1", "", "0155", "Oslo"),
                email="post@fjordbygg.no",
            )
        )
        ids = {}
        for number, amount in (
            ("501", 500_000),
            ("502", 125_050),
            ("503", 99_900),
            ("504", 40_000),
        ):
            inv = uow.invoices.add(
                Invoice(
                    None,
                    company_id,
                    bygg.id,
                    number,
                    date(2026, 1, 1),
                    date(2026, 1, 15),
                    Money(amount),
                    Money(amount),
                    kid=Kid("100230004572"),
                )
            )
            ids[number] = inv.id
            claim = uow.claims.for_invoice(inv.id)
            if number == "502":  # two fee-bearing letters: a reminder and the varsel
                uow.conn.execute(
                    insert(letters).values(
                        company_id=company_id,
                        claim_id=claim.id,
                        stage="reminder_1",
                        sent_on=date(2026, 1, 29),
                        deadline=date(2026, 2, 12),
                        fee_ore=3800,
                        status="sent",
                        created_at=uow.clock.now(),
                    )
                )
            uow.conn.execute(
                insert(letters).values(
                    company_id=company_id,
                    claim_id=claim.id,
                    stage="inkassovarsel",
                    sent_on=date(2026, 2, 20),
                    deadline=date(2026, 3, 6),
                    fee_ore=3800 if number == "502" else 0,
                    status="sent",
                    created_at=uow.clock.now(),
                )
            )
        paid(uow, ids["501"], 300_000, date(2026, 1, 30), "ocr:1")
        uow.commit()
    claims.set_dispute(
        db.uow(company_id), "504", disputed=True, reason="leveransen var mangelfull", actor="kari"
    )
    connections.connect_kravia(
        db,
        company_id,
        base_url=f"{kravia_served.url}/api/v2",
        token="sandbox-kravia-token",
        creditor_id=10759,
        actor="test",
    )
    return ids


def run_worker(db) -> int:
    work = make_worker(db, AppSettings())
    work.ctx.clients = Clients(db, sleep=lambda _s: None)
    return work.run_until_idle()


def test_preview_bundles_the_debtors_eligible_claims(db, company_id, book, cli) -> None:
    result = cli(
        "handoff", "preview", "--company", str(company_id), "--date", "2026-03-20", "--json"
    )
    [bundle] = json.loads(result.stdout)
    assert [i["invoice"] for i in bundle["invoices"]] == ["501", "502", "503"]  # 504 is disputed
    by = {i["invoice"]: i for i in bundle["invoices"]}
    assert (by["501"]["original_ore"], by["501"]["paid_ore"], by["501"]["principal_ore"]) == (
        500_000,
        300_000,
        200_000,
    )
    assert by["502"]["fees_ore"] == 7600
    # Interest from 16 January to 20 March at 12 % on the remaining principal (501 after its payment on 30 January).
    assert by["503"]["interest_ore"] == 2102  # 999,00 x 12 % x 64 / 365 = 21,02
    assert bundle["summary"]["principal_ore"] == 200_000 + 125_050 + 99_900


def test_confirm_sends_one_case_with_exact_amounts(db, company_id, book, kravia, cli) -> None:
    refused = cli(
        "handoff",
        "confirm",
        "--company",
        str(company_id),
        "--debtor",
        "10024",
        "--by",
        "Kari Regnskap",
        "--date",
        "2026-03-20",
    )
    assert refused.exit_code == 2
    assert "--not-disputed: " in refused.stderr and "«Kravet er ikke omtvistet»" in refused.stderr
    with time_machine.travel(db.clock.now(), tick=False):  # the CLI runs on the real clock
        ok = cli(
            "handoff",
            "confirm",
            "--company",
            str(company_id),
            "--debtor",
            "10024",
            "--not-disputed",
            "--by",
            "Kari Regnskap",
        )
    assert ok.exit_code == 0, ok.output
    assert run_worker(db) == 1
    assert len(kravia.cases) == 1
    claims_at_agency = sorted(kravia.claims.values(), key=lambda c: c["invoiceNo"])
    assert [(c["invoiceNo"], c["originalAmount"], c["stage"]) for c in claims_at_agency] == [
        ("501", Decimal("2000.00"), "betalingsoppfordring"),
        ("502", Decimal("1250.50"), "betalingsoppfordring"),
        ("503", Decimal("999.00"), "betalingsoppfordring"),
    ]
    assert (
        "Purregebyr belastet av kreditor (2 brev): 76,00 kr" in claims_at_agency[1]["description"]
    )
    assert "Delbetaling 2026-01-30: 3 000,00 kr" in claims_at_agency[0]["description"]
    with db.engine.connect() as conn:
        confirmation = conn.execute(
            select(audit_log.c.actor, audit_log.c.data).where(
                audit_log.c.action == "handoff.confirm"
            )
        ).all()
    assert {a for a, _ in confirmation} == {"Kari Regnskap"} and all(
        d["not_disputed"] for _, d in confirmation
    )
    listed = json.loads(cli("handoff", "list", "--company", str(company_id), "--json").stdout)
    assert listed[0]["status"] == "sent" and all(i["agency_claim_id"] for i in listed[0]["items"])
    # The disputed claim stayed behind, and nothing is eligible any more.
    assert handoff.candidates(db.uow(company_id, read_only=True), TODAY) == []
    with pytest.raises(InputError, match="no claims eligible"):
        handoff.confirm(db.uow(company_id), "10024", not_disputed=True, by="x", on=TODAY)


def test_a_crash_between_send_and_record_does_not_make_a_second_case(
    db, company_id, book, kravia, clock
) -> None:
    handoff.confirm(db.uow(company_id), "10024", not_disputed=True, by="kari", on=TODAY)
    taken = leases.take(
        db.engine, OUTBOX, owner="dead", now=clock.now(), lease=timedelta(seconds=60)
    )
    work = make_worker(db, AppSettings())
    work.ctx.clients = Clients(db, sleep=lambda _s: None)
    agency.RegisterCaseSender().send(
        work.ctx, company_id, dict(taken.row.payload)
    )  # sent, then the worker died
    assert len(kravia.claims) == 3
    clock.instant += timedelta(minutes=3)  # past the lease and the lookup's grace after it
    assert run_worker(db) == 1
    assert len(kravia.claims) == 3 and len(kravia.cases) == 1


def test_payment_after_handoff_is_forwarded_once(db, company_id, book, kravia, tmp_path) -> None:
    handoff.confirm(db.uow(company_id), "10024", not_disputed=True, by="kari", on=TODAY)
    run_worker(db)
    path = tmp_path / "p.xml"
    write_file(
        path,
        "camt054",
        [Planned(50_000, None, "Faktura 503", None, "Fjord Bygg AS", "000000777")],
        on=TODAY,
    )
    bank_import.import_file(db, company_id, path, actor="test")
    bank_import.import_file(db, company_id, path, actor="test")  # the same file again: nothing more
    assert run_worker(db) == 1
    claim_503 = next(c for c in kravia.claims.values() if c["invoiceNo"] == "503")
    assert [(p["amount"], p["kind"]) for p in claim_503["payments"]] == [
        (Decimal("500.00"), "payment")
    ]
    assert claim_503["remaining"] == Decimal("499.00")
    with db.engine.connect() as conn:
        kinds = sorted(r.kind for r in conn.execute(select(outbox.c.kind)))
    assert kinds == [
        "kravia.payment",
        "kravia.register",
    ]  # no :payment to Tripletex for a non-ledger invoice


def test_status_from_webhook_and_poll_closes_a_paid_claim(
    db, company_id, book, kravia, kravia_served, clock
) -> None:
    from fastapi.testclient import TestClient

    from adapter.bootstrap import web_app

    handoff.confirm(db.uow(company_id), "10024", not_disputed=True, by="kari", on=TODAY)
    run_worker(db)
    clients = Clients(db, sleep=lambda _s: None)
    connections.kravia_webhook(db, clients, company_id, url="http://127.0.0.1:1", actor="test")
    secret = kravia.creditors[10759]["webhook"]["secret"]
    with db.uow(company_id, read_only=True) as uow:
        stored = uow.connections.get("kravia").secrets
    # kravia.webhook_previous_secret_hours (4): the secret before a rotation expires then.
    assert stored["webhook_secret"] == secret
    assert stored["webhook_secret_previous_until"] == clock.instant.timestamp() + 4 * 3600
    claim_503 = next(c for c in kravia.claims.values() if c["invoiceNo"] == "503")
    from connectors.kravia.mapping import payment_payload

    clients.kravia(company_id).register_payment(
        payment_payload("direct-1", TODAY, [(claim_503["id"], 99_900)], "betalt til Kravia")
    )
    data = {"timestamp": int(time.time()), "eventType": "CaseUpdate", "claimId": claim_503["id"]}
    with TestClient(web_app(db, AppSettings())) as web:
        bad = web.post(
            f"/webhooks/kravia/{company_id}",
            content=json.dumps(webhooks.envelope("wrong", data)).encode(),
        )
        assert (bad.status_code, bad.json()["error"]) == (401, "wrong signature")
        old = dict(data, timestamp=int(time.time()) - 600)
        assert (
            web.post(
                f"/webhooks/kravia/{company_id}",
                content=json.dumps(webhooks.envelope(secret, old)).encode(),
            ).status_code
            == 401
        )
        good = web.post(
            f"/webhooks/kravia/{company_id}",
            content=json.dumps(webhooks.envelope(secret, data)).encode(),
        )
        assert good.status_code == 202
    run_worker(db)
    with db.uow(company_id) as uow:
        closed = uow.claims.for_invoice(book["503"])
    assert closed.status.value == "closed"
    ctx = make_worker(db, AppSettings()).ctx
    ctx.clients = clients
    assert agency_steps.poll(ctx, company_id) >= 3
    rows = {r["invoice"]: r for r in agency_steps.reconcile(ctx, company_id)}
    assert rows["503"]["differences"] == [
        "agency 0.00 kr, ours 999.00 kr"
    ]  # paid to Kravia: our books wait for the settlement
    assert rows["501"]["differences"] == []


def _delivered(kravia, count: int) -> None:
    """Wait until the sandbox has delivered `count` webhooks in all (each answered 2xx)."""
    deadline = time.monotonic() + 10
    while sum(200 <= d["status"] < 300 for d in kravia.deliveries) < count:
        assert time.monotonic() < deadline, kravia.deliveries
        time.sleep(0.01)


def test_a_claim_that_changes_twice_in_one_second_gets_its_second_status_by_webhook(
    db, company_id, book, kravia
) -> None:
    """Kravia's ping names the claim and the whole second, no event: two changes of one claim
    in one second come as the same body. The first, handled before the second change, must not
    make the second a duplicate (its status came only with the next poll)."""
    kravia.stage_days = dict.fromkeys(kravia.stage_days, 1000)  # only `advance` moves a case
    handoff.confirm(db.uow(company_id), "10024", not_disputed=True, by="kari", on=TODAY)
    run_worker(db)
    clients = Clients(db, sleep=lambda _s: None)
    with serve_in_thread(web_app(db, AppSettings())) as web:
        connections.kravia_webhook(db, clients, company_id, url=web.url, actor="test")
        claim = next(c for c in kravia.claims.values() if c["invoiceNo"] == "503")
        with time_machine.travel(datetime(2026, 3, 20, 9, 0, 0, 250_000, tzinfo=UTC), tick=False):
            kravia.advance(claim["id"])
            _delivered(kravia, 1)
            assert run_worker(db) == 1
            assert agency_status(db, company_id, book["503"]) == "action:Venter godkjenning"
            kravia.advance(claim["id"])  # the same second: the same body
            _delivered(kravia, 2)
            run_worker(db)
    assert agency_status(db, company_id, book["503"]) == "closed_written_off:Avskrevet"


def agency_status(db, company_id: int, invoice_id: int) -> str | None:
    with db.engine.connect() as conn:
        return conn.execute(
            select(claims_table.c.agency_status).where(
                claims_table.c.company_id == company_id, claims_table.c.invoice_id == invoice_id
            )
        ).scalar_one()


def test_dispute_and_undispute_are_logged(db, company_id, book, cli) -> None:
    assert (
        cli(
            "claim",
            "undispute",
            "--company",
            str(company_id),
            "--invoice",
            "504",
            "--reason",
            "avklart",
            "--by",
            "kari",
        ).exit_code
        == 0
    )
    again = cli(
        "claim", "undispute", "--company", str(company_id), "--invoice", "504", "--reason", "x"
    )
    assert again.exit_code == 2 and "is not disputed" in again.stderr
    with db.engine.connect() as conn:
        actions = [
            r.action
            for r in conn.execute(
                select(audit_log.c.action)
                .where(audit_log.c.subject_id == str(book["504"]))
                .order_by(audit_log.c.id)
            )
        ]
    assert actions == ["claim.dispute", "claim.undispute"]
    assert [
        len(b.claims) for b in handoff.candidates(db.uow(company_id, read_only=True), TODAY)
    ] == [4]
