"""Kravflyt against a Tripletex that behaves as its documents say (the stricter sandbox, over
real HTTP, every request and answer checked against the spec), on SQLite and PostgreSQL.
One test per way the issue found Kravflyt failing against the real service, and the "done
when" cases: Tripletex's own figures on the letters, its own automation, the ledger kept true.
(What only this change adds is imported inside the tests that use it, so the file also runs
against the code before it: each test failed there first.)"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from adapter.bootstrap import worker as make_worker
from adapter.errors import InputError
from adapter.flows import bank_import, connections, dunning_run, tripletex_sync
from adapter.services import (
    dunning,
    handoff,
    overview,
)
from adapter.services.clients import Clients
from adapter.services.companies import set_settings
from adapter.settings import AppSettings
from adapter.store.tables import audit_log, customers, invoices, letters, outbox, payments
from adapter.web.intake import WebhookRejected
from adapter.web.sources import TripletexSource
from connectors.bank.generate import Planned, write_file
from connectors.serving import serve_in_thread
from connectors.tripletex.sandbox import create_sandbox
from tests.contracts.tripletex import ContractTransport

DAY = date(2026, 3, 2)


class World:
    """A company connected to a sandbox with no invoices but those a test adds."""

    def __init__(self, db, company_id, sandbox, clients, tmp_path: Path, clock):
        self.db, self.company_id, self.sandbox, self.clients = db, company_id, sandbox, clients
        self.tmp_path, self.clock = tmp_path, clock
        self.customer_id, self.customer = next(iter(sandbox.ledger.customers.items()))
        self.business_id = next(
            cid for cid, c in sandbox.ledger.customers.items() if not c["isPrivateIndividual"]
        )

    def invoice(self, amount: str, *, days_overdue: int, customer: int | None = None, **kw) -> dict:
        issued = DAY - timedelta(days=14 + days_overdue)
        return self.sandbox.add_invoice(
            customer_id=customer or self.customer_id,
            amount=amount,
            invoice_date=issued.isoformat(),
            terms=14,
            **kw,
        )

    def sync(self, mode: str = "full") -> None:
        tripletex_sync.sync_company(
            self.db, self.clients.tripletex(self.company_id), self.company_id, mode=mode
        )

    def settings(self, *assignments: str) -> None:
        set_settings(self.db.uow(self.company_id), list(assignments), actor="test")

    def move(self, day: date) -> None:
        """Both clocks to `day` (Tripletex's own reminders due meanwhile are made)."""
        self.clock.instant = datetime(day.year, day.month, day.day, 8, tzinfo=UTC)
        self.sandbox.set_today(day)

    def run(self, on: date = DAY) -> dunning.PlanSummary:
        return dunning_run.run(self.db, self.company_id, on, actor="test")

    def work(self) -> int:
        worker = make_worker(self.db, AppSettings())
        worker.ctx.clients = self.clients
        return worker.run_until_idle()

    def pay_by_bank(self, inv: dict, amount_ore: int, on: date = DAY) -> None:
        path = self.tmp_path / f"pay-{inv['id']}-{amount_ore}.ocr"
        write_file(
            path,
            "ocr",
            [
                Planned(
                    amount_ore,
                    inv["kid"],
                    None,
                    None,
                    None,
                    f"{(inv['id'] * 7919 + amount_ore) % 10**9:09d}",
                )
            ],
            on=on,
        )
        bank_import.import_file(self.db, self.company_id, path, actor="test")

    def letters(self) -> list:
        with self.db.engine.connect() as conn:
            return conn.execute(select(letters).order_by(letters.c.sent_on, letters.c.id)).all()

    def outbox(self) -> list:
        with self.db.engine.connect() as conn:
            return conn.execute(select(outbox.c.kind, outbox.c.status, outbox.c.last_error)).all()

    def our_invoice(self, inv: dict):
        with self.db.engine.connect() as conn:
            return conn.execute(
                select(invoices).where(invoices.c.external_id == str(inv["id"]))
            ).one()


@pytest.fixture
def world(db, company_id, clock, tmp_path):
    clock.instant = datetime(2026, 3, 2, 8, tzinfo=UTC)
    sandbox = create_sandbox(customers=4, invoices=0, seed=9, today=DAY)
    with serve_in_thread(sandbox.app()) as served:
        connections.connect_tripletex(
            db,
            company_id,
            base_url=f"{served.url}/v2",
            consumer_token="sandbox-consumer-token",
            employee_token="sandbox-employee-token",
            client_company_id=None,
            actor="test",
        )
        clients = Clients(db, sleep=lambda _s: None, transport=ContractTransport())
        w = World(db, company_id, sandbox, clients, tmp_path, clock)
        w.settings("dunning.minimum_amount=0")
        yield w


# ---------------------------------------------------------------- the first list


def test_a_bank_payment_is_registered_and_tied_to_its_posting(world) -> None:
    """`:payment` answers with stubs: the payment is booked and tied, not a failed send."""
    inv = world.invoice("1000.00", days_overdue=3)
    world.sync()
    world.pay_by_bank(inv, 40_000)
    assert world.work() == 1
    assert [(k, s) for k, s, _e in world.outbox()] == [("tripletex.payment", "sent")]
    ledger = world.sandbox.ledger.invoices[inv["id"]]
    assert ledger["amountOutstanding"] == Decimal("600.00")
    with world.db.engine.connect() as conn:
        ref = conn.execute(
            select(payments.c.ledger_ref).where(payments.c.source == "ocr")
        ).scalar_one()
    assert ref == str(ledger["postings"][-1]["id"])


def test_nets_print_is_used_for_the_inkassovarsel_only(world) -> None:
    world.sandbox.reminder_settings.activated_dispatch.add("NETS_PRINT")
    world.settings("tripletex.reminder_dispatch=NETS_PRINT")
    inv = world.invoice("1000.00", days_overdue=20)
    world.sync()
    assert world.run().actions["send_reminder_1"] == 1
    world.work()
    assert [(k, s) for k, s, _e in world.outbox()] == [("tripletex.reminder", "sent")]
    (reminder,) = world.sandbox.ledger.reminders.values()
    assert (reminder["type"], reminder["_sentTo"]["dispatch"]) == ("REMINDER", "OWN_PRINTER")
    later = DAY + timedelta(days=21)
    world.move(later)
    assert world.run(later).actions["send_inkassovarsel"] == 1
    world.work()
    notice = [
        r
        for r in world.sandbox.ledger.reminders.values()
        if r["type"] == "NOTICE_OF_DEBT_COLLECTION"
    ]
    assert [n["_sentTo"]["dispatch"] for n in notice] == ["NETS_PRINT"]
    assert inv["id"] == notice[0]["_invoiceId"]


def test_an_invoice_in_euro_is_stored_and_paid_in_euro(world) -> None:
    inv = world.invoice("1000.00", days_overdue=3, currency="EUR", rate="11.50")
    world.sync()
    row = world.our_invoice(inv)
    assert (row.currency, row.amount_ore, row.company_amount_ore, row.ledger_outstanding_ore) == (
        "EUR",
        100_000,
        1_150_000,
        100_000,
    )
    assert row.outstanding_ore == 100_000  # the claim is in euro, like its outstanding
    with world.db.uow(world.company_id) as uow:
        uow.outbox.add(
            "tripletex.payment",
            idempotency_key="test:eur",
            payload={
                "payment_id": None,
                "invoice_external_id": str(inv["id"]),
                "date": DAY.isoformat(),
                "amount_ore": 10_000,
                "payment_type_id": 1,
            },
        )
        uow.commit()
    world.work()
    ledger = world.sandbox.ledger.invoices[inv["id"]]
    posting = ledger["postings"][-1]
    assert (ledger["amountOutstanding"], posting["amount"], posting["amountCurrency"]) == (
        Decimal("900.00"),
        Decimal("-1150.00"),
        Decimal("-100.00"),
    )


def test_webhooks_go_to_https_are_signed_and_come_back_when_tripletex_stops_them(world) -> None:
    from connectors.tripletex.webhooks import signature

    with pytest.raises(InputError, match="https"):
        connections.subscribe_tripletex(
            world.db,
            world.clients,
            world.company_id,
            url="http://kravflyt.example.no",
            actor="test",
        )
    events = connections.subscribe_tripletex(
        world.db, world.clients, world.company_id, url="https://kravflyt.example.no", actor="test"
    )
    subs = list(world.sandbox.webhooks.items.values())
    assert len(subs) == len(events) and all(s.get("hmacSharedSecret") for s in subs)
    with world.db.uow(world.company_id, read_only=True) as uow:
        secrets = uow.connections.get("tripletex").secrets
    body = b'{"subscriptionId":1,"event":"invoice.charged","id":5,"value":null}'
    good = {
        "authorization": secrets["webhook_auth"],
        "idempotency-key": "k1",
        "x-request-signature": signature(secrets["webhook_hmac"], "k1", body),
    }
    TripletexSource().authenticate(secrets, good, body)
    with pytest.raises(WebhookRejected, match="x-request-signature"):
        TripletexSource().authenticate(
            secrets, {**good, "x-request-signature": signature("other", "k1", body)}, body
        )
    subs[0]["status"] = "DISABLED_TOO_MANY_ERRORS"
    found = connections.check_tripletex_webhooks(world.db, world.clients, world.company_id)
    assert found == [
        f"Tripletex had set the {subs[0]['event']} subscription DISABLED_TOO_MANY_ERRORS: set ACTIVE again"
    ]
    assert subs[0]["status"] == "ACTIVE"
    items = overview.worklist(world.db.uow(world.company_id, read_only=True), DAY)
    assert next(h["message"] for h in items.webhooks).endswith(found[0])
    assert connections.check_tripletex_webhooks(world.db, world.clients, world.company_id) == []


def test_reminders_go_to_the_overdue_notice_address(world) -> None:
    world.customer["overdueNoticeEmail"] = "purring@kunde.example.no"
    world.invoice("1000.00", days_overdue=20)
    world.sync()
    world.run()
    world.work()
    (reminder,) = world.sandbox.ledger.reminders.values()
    assert reminder["_sentTo"]["email"] == "purring@kunde.example.no"


def test_letters_kravflyt_emails_go_to_the_overdue_notice_address_too(world) -> None:
    from aiosmtpd.controller import Controller

    from connectors.serving import free_port
    from tests.unit.letters.test_email import Inbox

    inbox, port = Inbox(), free_port()
    server = Controller(inbox, hostname="127.0.0.1", port=port)
    server.start()
    try:
        world.settings(
            "letters.delivery=email",
            "letters.smtp_host=127.0.0.1",
            f"letters.smtp_port={port}",
            "letters.smtp_security=none",
            "letters.from_address=faktura@kravflyt.example.no",
            "letters.bank_account=15032080119",
            "letters.address=Storgata 1, 0155 Oslo",
            "letters.email=faktura@kravflyt.example.no",
        )
        world.customer["overdueNoticeEmail"] = "purring@kunde.example.no"
        world.invoice("1000.00", days_overdue=20)
        world.sync()
        world.run()
        assert world.work() == 1
    finally:
        server.stop()
    assert [m["To"] for m in inbox.messages] == ["purring@kunde.example.no"]


def test_with_tripletex_automation_on_kravflyt_respects_it(world) -> None:
    world.customer["isAutomaticReminderEnabled"] = True
    inv = world.invoice("1000.00", days_overdue=20)
    world.sync()
    summary = world.run()
    assert summary.claims == 0 and world.letters() == []
    page = overview.claim_page(
        world.db.uow(world.company_id, read_only=True), world.our_invoice(inv).id, DAY
    )
    assert (
        "Tripletex sends its own automatic reminders to this customer"
        in page.decisions[0].explain()
    )
    listed = overview.worklist(
        world.db.uow(world.company_id, read_only=True), DAY
    ).ledger_automation
    assert [(c["name"], c["claims"]) for c in listed] == [(world.customer["name"], 1)]


def test_with_take_over_the_flags_go_off_first_and_tripletexs_reminders_count(world) -> None:
    """Tripletex sent two fee-bearing letters itself: Kravflyt switches its automation off,
    then its inkassovarsel carries no third fee."""
    world.customer["isAutomaticReminderEnabled"] = True
    world.sandbox.reminder_settings.automatic["REMINDER"] = True
    inv = world.invoice("1000.00", days_overdue=30)
    world.sandbox._today = DAY - timedelta(days=40)
    world.sandbox.set_today(DAY - timedelta(days=12))  # Tripletex's own reminder, with its fee
    row = world.sandbox.ledger.invoices[inv["id"]]
    world.sandbox._today = DAY
    from connectors.tripletex.sandbox import reminders as tx

    tx.create(
        row,
        world.sandbox.ledger.reminders,
        kind="NOTICE_OF_DEBT_COLLECTION",
        on=DAY - timedelta(days=4),
        include_charge=True,
        include_interest=True,
        settings=world.sandbox.reminder_settings,
        new_id=world.sandbox._new_id,
    )
    world.settings("tripletex.own_automation=take_over")
    world.sync()
    made_by_tripletex = [(x.stage, x.origin, x.fee_ore) for x in world.letters()]
    assert made_by_tripletex == [
        ("reminder_1", "tripletex", 3800),
        ("inkassovarsel", "tripletex", 3800),
    ]
    world.run()
    assert world.work() == 1
    assert not world.customer["isAutomaticReminderEnabled"]
    with world.db.engine.connect() as conn:
        assert (
            conn.execute(
                select(customers.c.ledger_automation).where(
                    customers.c.external_id == str(world.customer_id)
                )
            ).scalar_one()
            is False
        )
        assert conn.execute(
            select(audit_log.c.action).where(audit_log.c.action == "customer.automation_off")
        ).scalar_one()
    later = DAY + timedelta(days=20)
    candidates = handoff.candidates(world.db.uow(world.company_id, read_only=True), later)
    bundle = next(b for b in candidates if b.customer_id == world.our_invoice(inv).customer_id)
    assert bundle.as_json()["summary"]["fees_ore"] == 7600  # the two fees Tripletex charged


def test_tripletexs_postponement_is_a_hold(world) -> None:
    inv = world.invoice("1000.00", days_overdue=20)
    world.sandbox.ledger.invoices[inv["id"]]["invoiceRemark"] = {
        "id": 77,
        "postponeRemindersTo": "2026-03-20",
    }
    world.sync()
    assert world.run().claims == 0 and world.letters() == []
    page = overview.claim_page(
        world.db.uow(world.company_id, read_only=True), world.our_invoice(inv).id, DAY
    )
    assert (
        "postponed until 2026-03-20 (reminders postponed in Tripletex)"
        in page.decisions[0].explain()
    )


def test_the_letters_carry_what_tripletex_put_on_them(world) -> None:
    """The sandbox company's own settings differ from the ladder: 70 kr, 15 %, 10 days."""
    world.sandbox.reminder_settings.fee = lambda _on: Decimal("70")
    world.sandbox.reminder_settings.interest_rate = Decimal("15.00")
    world.sandbox.reminder_settings.term_days = 10
    world.settings("dunning.b2b_compensation=true")
    inv = world.invoice("10000.00", days_overdue=20, customer=world.business_id)
    world.sync()
    world.run()
    world.work()
    (letter,) = world.letters()
    (sent,) = world.sandbox.ledger.reminders.values()
    assert (letter.fee_ore, letter.interest_ore, letter.deadline) == (
        7000,
        int(sent["interests"] * 100),
        DAY + timedelta(days=10),
    )
    assert (
        letter.decided["fee_ore"] == 3800
        and letter.decided["deadline"] == (DAY + timedelta(days=14)).isoformat()
    )
    assert {b["rule"] for b in letter.breaches} == {
        "INKF § 1-2",
        "INKF § 1-3",
    }  # fee above 38 kr, 10 days
    invoice_id = world.our_invoice(inv).id
    page = overview.claim_page(world.db.uow(world.company_id, read_only=True), invoice_id, DAY)
    event = next(e for e in page.timeline if e["kind"] == "letter.reminder_1")
    assert "fee 70,00 kr" in event["text"] and "Kravflyt had decided fee 38,00 kr" in event["text"]
    assert [
        x["id"]
        for x in overview.worklist(world.db.uow(world.company_id, read_only=True), DAY).letters
    ] == [letter.id]
    # The next step counts from the deadline the debtor was given (10 days), not ours (14):
    # three days after it and the postdager, before Kravflyt's own deadline had passed.
    later = DAY + timedelta(days=17)
    world.move(later)
    assert world.run(later).actions["send_inkassovarsel"] == 1
    world.work()
    notice = world.letters()[-1]
    # The ladder claims the compensation instead of a second fee here; Tripletex cannot state
    # it, so it is left out (tripletex.compensation_letters) and never logged.
    assert (notice.stage, notice.fee_ore, notice.compensation_ore) == ("inkassovarsel", 0, 0)
    assert any("compensation is left out" in r["text"] for r in notice.reasons)
    bundle = handoff.candidates(
        world.db.uow(world.company_id, read_only=True), later + timedelta(days=30)
    )[0].as_json()
    assert bundle["summary"]["fees_ore"] == 7000  # Tripletex's 70 kr, not the ladder's 38 kr
    assert bundle["summary"]["interest_ore"] >= notice.interest_ore > 0


def test_a_written_off_residual_is_closed_in_tripletex_or_listed(world) -> None:
    from adapter.services import reconcile

    inv = world.invoice("1000.00", days_overdue=0)
    other = world.invoice("2000.00", days_overdue=0)
    world.sync()
    world.pay_by_bank(inv, 99_500)  # 5 kr left: below the 10 kr limit, written off
    world.work()
    world.sync()
    rows = {r.invoice: r for r in reconcile.ledger(world.db.uow(world.company_id, read_only=True))}
    assert rows[str(inv["invoiceNumber"])].differences == [
        "closed in Kravflyt, 5,00 kr still open in Tripletex: close the residual there (a "
        "write-off, or set tripletex.write_off_payment_type_id)"
    ]
    assert str(inv["invoiceNumber"]) in {
        r["invoice"]
        for r in overview.worklist(world.db.uow(world.company_id, read_only=True), DAY).ledger
    }
    world.settings("tripletex.write_off_payment_type_id=2")  # a payment type on a loss account
    world.pay_by_bank(other, 199_500)
    assert world.work() == 2  # the payment, and the residual on the loss account's type
    assert world.sandbox.ledger.invoices[other["id"]]["amountOutstanding"] == Decimal("0.00")
    assert world.sandbox.ledger.invoices[other["id"]]["postings"][-1]["amount"] == Decimal("-5.00")


def test_a_fee_paid_after_the_principal_never_leaves_tripletex_negative(world) -> None:
    world.settings(
        "bank.allocation_order=principal,fees,interest", "dunning.interest_enabled=false"
    )
    inv = world.invoice("1000.00", days_overdue=20)
    world.sync()
    world.run()
    world.work()  # a reminder with Tripletex's 38 kr fee
    world.pay_by_bank(inv, 100_000)
    world.work()
    world.pay_by_bank(inv, 3_800, on=DAY + timedelta(days=1))
    world.work()
    world.sync()
    ledger = world.sandbox.ledger.invoices[inv["id"]]
    assert ledger["amountOutstanding"] == Decimal("0.00")  # never negative
    from adapter.services import reconcile

    (row,) = [
        r
        for r in reconcile.ledger(world.db.uow(world.company_id, read_only=True))
        if r.invoice == str(inv["invoiceNumber"])
    ]
    assert row.differences == [
        "fees and interest: Tripletex 38,00 kr open, Kravflyt 0,00 kr: book what was paid on the reminder in Tripletex (API 2.72.00 has no call for it)"
    ]
