"""Exactly-once sends to Tripletex under the faults a real network gives (issue 19), over real
HTTP against the sandbox, on SQLite and PostgreSQL. Each test reproduces one of the failures
the issue lists and failed on the code before the fix."""

from __future__ import annotations

import email
import io
import re
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from pypdf import PdfReader
from sqlalchemy import select

from adapter.bootstrap import worker as make_worker
from adapter.flows import bank_import
from adapter.jobs.worker import Worker
from adapter.services.claim_facts import iter_claims
from adapter.services.clients import Clients
from adapter.settings import AppSettings
from adapter.store.database import Database
from adapter.store.tables import outbox
from connectors.bank.generate import Planned, write_file
from tests.contracts.tripletex import ContractTransport
from tests.integration.tripletex.test_as_it_behaves import DAY, world

__all__ = ["world"]


def payments(world, inv: dict) -> list[Decimal]:
    """The payment postings Tripletex holds for an invoice (kroner, positive)."""
    return [
        -p["amount"]
        for p in world.sandbox.ledger.invoices[inv["id"]]["postings"]
        if p["type"] == "INCOMING_PAYMENT"
    ]


def rows(world) -> list[tuple[str, str]]:
    with world.db.engine.connect() as conn:
        return [
            (r.kind, r.status)
            for r in conn.execute(select(outbox.c.kind, outbox.c.status).order_by(outbox.c.id))
        ]


def pay(world, inv: dict, amount_ore: int, archive_ref: str) -> None:
    """A bank payment with its own archive reference (two alike on one day are two payments)."""
    path = world.tmp_path / f"pay-{archive_ref}.ocr"
    write_file(
        path, "ocr", [Planned(amount_ore, inv["kid"], None, None, None, archive_ref)], on=DAY
    )
    bank_import.import_file(world.db, world.company_id, path, actor="test")


def later(world, minutes: int = 10) -> None:
    """Time passes: the clock moves, and the next worker has a client of its own (whose
    rate-limit pacing, on the real clock, starts afresh)."""
    world.clock.instant += timedelta(minutes=minutes)
    world.clients.forget(world.company_id)


# ------------------------------------------------------------------ 1: a failed lookup


def test_a_rate_limited_lookup_never_becomes_a_blind_resend_of_a_payment(world) -> None:
    inv = world.invoice("1000.00", days_overdue=3)
    world.sync()
    world.pay_by_bank(inv, 40_000)
    faults = world.sandbox.injector
    faults.aim("PUT", "/:payment", "lost_answer")  # booked, but the answer never comes
    world.work()
    assert rows(world) == [("tripletex.payment", "unknown")]
    # The lookup is refused with Tripletex's rate limit (a 2-minute reset), then a 503.
    faults.aim("GET", f"/invoice/{inv['id']}", "429", wait_s=120)
    later(world)
    world.work()
    faults.aim("GET", f"/invoice/{inv['id']}", "503", times=5)
    later(world)
    world.work()
    assert payments(world, inv) == [Decimal("400.00")]
    assert rows(world) == [("tripletex.payment", "unknown")]
    later(world)
    world.work()
    assert payments(world, inv) == [Decimal("400.00")]
    assert rows(world) == [("tripletex.payment", "sent")]


def test_a_rate_limited_lookup_never_becomes_a_second_reminder(world) -> None:
    inv = world.invoice("1000.00", days_overdue=20)
    world.sync()
    assert world.run().actions["send_reminder_1"] == 1
    faults = world.sandbox.injector
    faults.aim("PUT", "/:createReminder", "lost_answer")
    world.work()
    faults.aim("GET", "/reminder", "429", wait_s=120)
    later(world)
    world.work()
    later(world)
    world.work()
    made = [r for r in world.sandbox.ledger.reminders.values() if r["_invoiceId"] == inv["id"]]
    assert [(r["type"], r["reminderDate"]) for r in made] == [("REMINDER", DAY.isoformat())]
    assert rows(world) == [("tripletex.reminder", "sent")]


# ------------------------------------------------------------------ 2: the lookup's identity


def test_the_payment_lookup_finds_this_payment_not_an_earlier_one(world) -> None:
    inv = world.invoice("1000.00", days_overdue=3)
    world.sync()
    world.pay_by_bank(inv, 50_000)
    world.work()
    world.pay_by_bank(inv, 30_000)
    world.sandbox.injector.aim("PUT", "/:payment", "lost_answer")  # booked; the worker dies
    world.work()
    later(world)
    world.work()
    assert sorted(payments(world, inv)) == [Decimal("300.00"), Decimal("500.00")]
    assert rows(world) == [("tripletex.payment", "sent")] * 2


def test_two_payments_of_one_amount_on_one_day_are_both_booked_once(world) -> None:
    inv = world.invoice("1000.00", days_overdue=3)
    world.sync()
    pay(world, inv, 25_000, "000000001")
    world.sandbox.injector.aim("PUT", "/:payment", "lost_answer")
    world.work()  # the first is booked but unknown
    pay(world, inv, 25_000, "000000002")  # a second payment, same amount, same day
    later(world)
    world.work()
    later(world)
    world.work()
    assert payments(world, inv) == [Decimal("250.00")] * 2
    assert rows(world) == [("tripletex.payment", "sent")] * 2


def test_payments_sent_at_once_on_one_invoice_each_keep_only_their_own_posting(
    world, monkeypatch
) -> None:
    from adapter.jobs.worker import OUTBOX
    from adapter.services.tripletex_writes import PaymentSender
    from adapter.store import lease as leases
    from connectors.tripletex.client import TripletexClient

    inv = world.invoice("1000.00", days_overdue=3)
    world.sync()
    world.pay_by_bank(inv, 30_000)
    world.pay_by_bank(inv, 50_000)
    first_worker = make_worker(world.db, AppSettings(), name="first")
    first_worker.ctx.clients = world.clients
    first = leases.take(
        world.db.engine, OUTBOX, owner="first#1", now=world.clock.now(), lease=timedelta(minutes=5)
    )
    assert first is not None
    sender, answers = PaymentSender(), {}
    real = TripletexClient.register_payment

    def racing(client, *args, **kw):
        if not answers:  # the first worker's write lands between the second's read and write
            answers["first"] = {}
            answers["first"] = sender.send(
                first_worker.ctx, world.company_id, dict(first.row.payload)
            )
        return real(client, *args, **kw)

    monkeypatch.setattr(TripletexClient, "register_payment", racing)
    assert world.work() == 1  # the second sends; its answer shows the first's posting too
    first_worker._outbox_sent(first, sender, dict(first.row.payload), answers["first"])
    later(world)
    world.work()
    later(world)
    world.work()
    assert sorted(payments(world, inv)) == [Decimal("300.00"), Decimal("500.00")]
    assert rows(world) == [("tripletex.payment", "sent")] * 2


# ------------------------------------------------------------------ 3: leases fenced


@dataclass
class MovableClock:
    """The real clock, which a test can move ahead (for the lookup's grace period)."""

    ahead: timedelta = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.ahead

    def today(self):
        return DAY


def test_a_write_slower_than_the_lease_is_not_sent_again_by_another_worker(world) -> None:
    inv = world.invoice("1000.00", days_overdue=3)
    world.sync()
    world.pay_by_bank(inv, 25_000)
    clock = MovableClock()
    live = Database(engine=world.db.engine, clock=clock, box=world.db.box)  # type: ignore[arg-type]

    def worker(name: str) -> Worker:
        w = make_worker(live, AppSettings(), lease_s=2, name=name)
        # A client of its own, as another worker process has (one client sends one at a time).
        w.ctx.clients = Clients(live, sleep=lambda _s: None, transport=ContractTransport())
        return w

    world.sandbox.injector.aim("PUT", "/:payment", "slow", wait_s=3.5)  # held 1.5 s past the lease
    first = threading.Thread(target=worker("first").run_once)
    first.start()
    time.sleep(2.5)
    worker("second").run_once()  # the first worker's lease would have run out by now
    first.join()
    deadline = time.monotonic() + 10
    while not payments(world, inv) and time.monotonic() < deadline:
        time.sleep(0.1)  # the held write lands on Tripletex's side
    clock.ahead = timedelta(minutes=10)
    worker("second").run_until_idle()
    assert payments(world, inv) == [Decimal("250.00")]
    assert rows(world) == [("tripletex.payment", "sent")]


# ------------------------------------------------------------------ e-mail: SMTP outcome classes


class Mailbox:
    """A local SMTP server that accepts, refuses a recipient, or takes the message and drops
    the connection before answering (so the sender cannot know it arrived)."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        from connectors.serving import free_port

        self.port, self.messages, self.mode = free_port(), [], "accept"
        self.server = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_RCPT(self, server, session, envelope, address, options):
        if self.mode == "refuse":
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope.content)
        if self.mode == "drop_after_data":
            server.transport.close()
        return "250 OK"


def email_letters(world, port: int) -> None:
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


def test_connection_refused_is_not_sent_and_goes_by_itself_later(world) -> None:
    box = Mailbox()
    email_letters(world, box.port)  # nothing listens there yet: connection refused
    world.invoice("1000.00", days_overdue=20)
    world.sync()
    world.run()
    world.work()
    later(world)
    world.work()
    box.server.start()
    try:
        later(world)
        world.work()
    finally:
        box.server.stop()
    assert len(box.messages) == 1
    assert rows(world) == [("letter.email", "sent")]
    assert [(x.stage, x.status) for x in world.letters()] == [("reminder_1", "sent")]


def test_a_letter_sent_days_after_its_decision_counts_its_deadline_from_the_day_it_went(
    world,
) -> None:
    """The law counts a deadline from the day the letter was sent (INKL § 9 (2), at least 14
    days): the letter's send date and deadline move on, the next step waits for them, and the
    PDF the debtor gets says so (dated the day it went, its deadline from then)."""
    box = Mailbox()
    email_letters(world, box.port)  # nothing listens yet: the letter waits
    world.invoice("1000.00", days_overdue=20)
    world.sync()
    world.run()
    world.work()
    [decided] = world.letters()
    world.clock.instant += timedelta(days=5)
    world.clients.forget(world.company_id)
    box.server.start()
    try:
        world.work()
    finally:
        box.server.stop()
    [letter] = world.letters()
    assert len(box.messages) == 1
    assert (letter.status, letter.sent_on, letter.deadline) == (
        "sent",
        decided.sent_on + timedelta(days=5),
        decided.deadline + timedelta(days=5),
    )
    [message] = [email.message_from_bytes(m) for m in box.messages]
    pdf = next(p for p in message.walk() if p.get_content_type() == "application/pdf")
    text = PdfReader(io.BytesIO(pdf.get_payload(decode=True))).pages[0].extract_text()
    sent_on, deadline = letter.sent_on, letter.deadline
    assert (deadline - sent_on).days >= 14
    said = re.sub(r"\s+", " ", text)
    assert f"Dato {sent_on:%d.%m.%Y}" in said, said
    assert f"Betalingsfrist {deadline:%d.%m.%Y}" in said, said
    assert f"innen {deadline:%d.%m.%Y}" in said, said  # the letter's words say it too
    assert f"{decided.deadline:%d.%m.%Y}" not in said, said


def test_an_email_lost_after_data_waits_for_a_person_who_resends_or_marks_it(world) -> None:
    """SMTP cannot be asked: a message whose answer was lost after DATA waits for a person,
    who resends it (under the same Message-ID) or marks it sent, each in the audit log."""
    from adapter.services import work

    box = Mailbox()
    box.mode = "drop_after_data"
    email_letters(world, box.port)
    world.invoice("1000.00", days_overdue=20)
    world.invoice("2000.00", days_overdue=20)
    world.sync()
    world.run()
    box.server.start()
    try:
        world.work()
        assert rows(world) == [("letter.email", "unknown")] * 2
        later(world)
        world.work()  # SMTP cannot be asked: both wait for a person
        assert [(x.status, x.delivery_error) for x in world.letters()] == [
            (
                "unknown",
                f"waits for a person: LookupImpossible: letter {x.id}: the e-mail may have been "
                "sent (the connection failed after the message was handed over); ask the "
                "debtor or check the mail server's log, then resend it or mark it sent",
            )
            for x in world.letters()
        ]
        later(world, minutes=60 * 24 * 30)
        assert world.work() == 0  # never by itself
        first, second = (x.id for x in world.letters())
        with world.db.engine.connect() as conn:
            row_of = dict(
                conn.execute(select(outbox.c.payload["letter_id"].as_integer(), outbox.c.id)).all()
            )
        work.retry(world.db.uow(), "outbox", row_of[first], actor="kari", decision="mark_sent")
        box.mode = "accept"
        work.retry(world.db.uow(), "outbox", row_of[second], actor="kari", decision="resend")
        world.work()
    finally:
        box.server.stop()
    assert len(box.messages) == 3  # two lost answers, one resent
    # The resend carries its first try's Message-ID (the receiving side can drop it if the
    # first did arrive); the two letters' rows carry two (sent side by side by a pool of
    # senders, the first two arrive in either order).
    ids = _message_ids(box)
    assert (ids[2] in ids[:2], len(set(ids))) == (True, 2), ids
    assert all(re.fullmatch(r"<letter-\d+-\d+@kravflyt\.example\.no>", m) for m in ids), ids
    assert rows(world) == [("letter.email", "sent")] * 2
    assert [x.status for x in world.letters()] == ["sent", "sent"]
    with world.db.uow(world.company_id, read_only=True) as uow:
        said = [(e.actor, e.action, e.message) for e in uow.audit.entries(action="outbox")]
    assert sorted(said) == [
        (
            "kari",
            "outbox.mark_sent",
            f"outbox row {row_of[first]} marked sent: kari says it arrived",
        ),
        (
            "kari",
            "outbox.resend",
            f"outbox row {row_of[second]} to be sent again without a lookup: kari says it did not arrive",
        ),
    ]


def _message_ids(box: Mailbox) -> list[str]:
    return [str(email.message_from_bytes(m)["Message-ID"]).strip() for m in box.messages]


def test_a_refused_email_fails_the_letter_with_the_servers_reason(world) -> None:
    box = Mailbox()
    box.mode = "refuse"
    email_letters(world, box.port)
    world.invoice("1000.00", days_overdue=20)
    world.sync()
    world.run()
    box.server.start()
    try:
        world.work()
    finally:
        box.server.stop()
    assert rows(world) == [("letter.email", "failed")]
    assert [(x.status, x.delivery_error) for x in world.letters()] == [
        ("failed", "e-mail refused by the server before DATA: 550 5.1.1 mailbox unavailable")
    ]


# ------------------------------------------------------------------ 4: letters count only when sent


def test_a_letter_never_delivered_never_leads_to_an_inkassovarsel_or_a_hand_off(world) -> None:
    box = Mailbox()
    box.mode = "refuse"
    email_letters(world, box.port)
    inv = world.invoice("1000.00", days_overdue=20)
    world.sync()
    assert world.run().actions["send_reminder_1"] == 1
    box.server.start()
    try:
        world.work()  # refused: the reminder never reached the debtor
    finally:
        box.server.stop()
    for days in (21, 42, 70):
        on = DAY + timedelta(days=days)
        world.move(on)
        summary = world.run(on)
        assert "send_inkassovarsel" not in summary.actions, (days, summary.actions)
    assert [(x.stage, x.status) for x in world.letters()] == [("reminder_1", "failed")]
    with world.db.uow(world.company_id, read_only=True) as uow:
        ((_row, facts),) = iter_claims(
            uow.conn,
            world.company_id,
            uow.settings.all().get("dunning"),
            invoice_ids=[world.our_invoice(inv).id],
        )
    assert (facts.letters, facts.fees_charged_ore) == ((), 0)  # no letter, no fee owed


def test_a_queued_letter_does_not_count_until_it_is_sent(world) -> None:
    inv = world.invoice("1000.00", days_overdue=20)
    world.sync()
    assert world.run().actions["send_reminder_1"] == 1
    later_on = DAY + timedelta(days=21)
    world.move(later_on)
    assert "send_inkassovarsel" not in world.run(later_on).actions  # the reminder still queued
    world.work()  # now it reaches Tripletex
    assert [(x.stage, x.status) for x in world.letters()] == [("reminder_1", "sent")]
    assert inv["id"] in {r["_invoiceId"] for r in world.sandbox.ledger.reminders.values()}


def test_a_cancelled_failed_letter_lets_the_ladder_decide_again(world, cli) -> None:
    box = Mailbox()
    box.mode = "refuse"
    email_letters(world, box.port)
    world.invoice("1000.00", days_overdue=20)
    world.sync()
    world.run()
    box.server.start()
    try:
        world.work()
        (failed,) = world.letters()
        result = cli(
            "letter", "cancel", "--company", str(world.company_id), str(failed.id), "--by", "kari"
        )
        assert (result.exit_code, result.stdout.strip()) == (0, f"letter {failed.id} cancelled")
        next_day = DAY + timedelta(days=1)
        world.move(next_day)
        assert world.run(next_day).actions["send_reminder_1"] == 1
        box.mode = "accept"
        world.work()
    finally:
        box.server.stop()
    assert [(x.stage, x.sent_on, x.status) for x in world.letters()] == [
        ("reminder_1", DAY, "cancelled"),
        ("reminder_1", DAY + timedelta(days=1), "sent"),
    ]
    assert len(box.messages) == 1
    assert rows(world) == [("letter.email", "failed"), ("letter.email", "sent")]
