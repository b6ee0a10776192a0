"""A worker sending many reminders at once records them in batches (issue 25): the letters of
a batch are marked sent in a few statements whatever their number, then what Tripletex put
on them is read back in one request and stored, with the same outcome as one by one (the
figures the debtor got, Kravflyt's decision beside them, the audit lines, the breaches), on
SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import event, func, select

from adapter.bootstrap import worker as make_worker
from adapter.jobs.fence import Fence
from adapter.jobs.sending import Pump, _Sent
from adapter.jobs.worker import OUTBOX
from adapter.settings import AppSettings
from adapter.store import lease as leases
from adapter.store.tables import audit_log, outbox
from tests.integration.tripletex.test_as_it_behaves import DAY, world

__all__ = ["world"]


def test_a_batch_of_reminders_is_recorded_in_a_few_statements_and_read_back_in_one_request(
    world: Any,
) -> None:
    world.sandbox.reminder_settings.fee = lambda _on: Decimal("70")
    world.sandbox.reminder_settings.term_days = 10
    for n in range(8):
        world.invoice(f"{1000 + n}.00", days_overdue=20, customer=world.business_id)
    world.sync()
    world.run()
    worker = make_worker(world.db, AppSettings(), senders=8)
    worker.ctx.clients = world.clients
    taken = leases.take_many(
        world.db.engine,
        OUTBOX,
        owner="w#batch",
        now=world.db.clock.now(),
        lease=timedelta(minutes=5),
        limit=20,
    )
    assert len(taken) == 8
    sent: list[_Sent] = []
    for t in taken:
        fence = Fence(world.db.engine, t, now=world.db.clock.now, lease_s=300)
        worker._send(t, fence=fence, sent=lambda *a: sent.append(_Sent(*a)))
    assert len(sent) == 8

    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_a: Any) -> None:
        statements.append(statement)

    event.listen(world.db.engine, "before_cursor_execute", count)
    try:
        Pump(worker, 8).record(sent)
    finally:
        event.remove(world.db.engine, "before_cursor_execute", count)
    # What Tripletex put on the eight reminders, read back in one request after the record.
    client = world.clients.tripletex(world.company_id)
    before = client.requests
    worker.follow_up(sent[0].sender, world.company_id, [(x.payload, x.result) for x in sent])
    assert client.requests - before == 1

    # Each letter marked sent with Tripletex's id and figures, its decision kept beside them.
    letters = world.letters()
    reminders = {str(r["id"]) for r in world.sandbox.ledger.reminders.values()}
    assert [x.status for x in letters] == ["sent"] * 8
    assert {x.remote_id for x in letters} == reminders
    assert {(x.fee_ore, x.deadline, x.decided["fee_ore"]) for x in letters} == {
        (7000, DAY + timedelta(days=10), 3800)
    }
    assert all(x.told_at is not None for x in letters)
    assert all({b["rule"] for b in x.breaches} == {"INKF § 1-2", "INKF § 1-3"} for x in letters)
    with world.db.engine.connect() as conn:
        told = conn.execute(
            select(func.count()).where(audit_log.c.action == "letter.told")
        ).scalar_one()
        rows = conn.execute(select(outbox.c.status, outbox.c.lease_owner)).all()
    assert told == 8
    assert set(rows) == {("sent", None)}
    # A few statements for the batch (the breach lines are one a letter), not ten a letter.
    assert len(statements) <= 12 + 8, statements


def test_the_addresses_of_the_rows_taken_are_read_in_one_statement(world: Any) -> None:
    """The sender pool reads the overdue-notice address of every reminder it takes in one
    statement (not one unit of work a send), and each reminder still goes to its own."""
    world.customer["overdueNoticeEmail"] = "purring@kunde.example.no"
    for n in range(4):
        world.invoice(f"{1000 + n}.00", days_overdue=20)
        world.invoice(f"{2000 + n}.00", days_overdue=20, customer=world.business_id)
    world.sync()
    world.run()
    worker = make_worker(world.db, AppSettings(), senders=16, per_company=16)
    worker.ctx.clients = world.clients
    reads: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_a: Any) -> None:
        if "overdue_notice_email" in statement:
            reads.append(statement)

    event.listen(world.db.engine, "before_cursor_execute", count)
    try:
        assert worker.run_until_idle() == 8
    finally:
        event.remove(world.db.engine, "before_cursor_execute", count)
    assert len(reads) == 1, reads
    sent_to = sorted(
        (r["_sentTo"] or {}).get("email") or "" for r in world.sandbox.ledger.reminders.values()
    )
    business = world.sandbox.ledger.customers[world.business_id].get("overdueNoticeEmail") or ""
    assert sent_to == sorted(["purring@kunde.example.no"] * 4 + [business] * 4)


def test_a_nightly_run_job_runs_the_day_its_payload_names(world: Any) -> None:
    """`dunning.run` with {"on": day} decides as of that day (a night run late, or the office
    benchmark's yesterday); without it, as of today."""
    from adapter.store.repositories.runtime import JobRepository

    world.invoice("1000.00", days_overdue=20)
    world.sync()
    yesterday = DAY - timedelta(days=1)
    with world.db.uow(world.company_id) as uow:
        JobRepository(uow.conn, world.company_id, world.db.clock).defer(
            "dunning.run", {"on": yesterday.isoformat()}
        )
        uow.commit()
    worker = make_worker(world.db, AppSettings())
    worker.ctx.clients = world.clients
    assert worker.run_once(outbox=False)  # the job only: its letter is not sent yet
    assert [(x.stage, x.sent_on, x.status) for x in world.letters()] == [
        ("reminder_1", yesterday, "pending")
    ]


def test_the_sender_pool_reads_a_companys_reminders_back_together(world: Any) -> None:
    """The sender pool reads back what Tripletex put on a company's reminders sent at about
    the same time in one request (`GET /reminder` with their ids), not one request a letter,
    and every letter holds its reminder's figures when the pool is done."""
    world.sandbox.reminder_settings.fee = lambda _on: Decimal("70")
    for n in range(12):
        world.invoice(f"{1000 + n}.00", days_overdue=20, customer=world.business_id)
    world.sync()
    world.run()
    worker = make_worker(world.db, AppSettings(), senders=16, per_company=16)
    worker.ctx.clients = world.clients
    client = world.clients.tripletex(world.company_id)
    before = client.requests
    assert worker.run_until_idle() == 12
    letters = world.letters()
    assert {(x.status, x.fee_ore) for x in letters} == {("sent", 7000)}
    assert all(x.told_at is not None for x in letters)
    assert 12 < client.requests - before <= 12 + 3  # 12 reminders, read back in a few
