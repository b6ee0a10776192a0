"""The audit lines a send batch writes (issue 27: the senders' lines are domain events, written
by the unit of work): the sender pool records a batch of rows of several kinds in one
transaction (`Pump.record`), then stores what it read back after (`Pump.record_follow_ups`);
every line is the same, in the same order, as when each sender wrote its own, on SQLite and
PostgreSQL. The lines below were read from the code before the change (e0fd64d)."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, insert, select

from adapter.bootstrap import worker as make_worker
from adapter.jobs.fence import Fence
from adapter.jobs.sending import Pump, _Followed, _Sent
from adapter.jobs.worker import OUTBOX
from adapter.settings import AppSettings
from adapter.store import lease as leases
from adapter.store.tables import audit_log, customers, outbox
from tests.integration.tripletex.test_as_it_behaves import DAY, world

__all__ = ["world"]


def _queue(world: Any, kind: str, key: str, payload: dict[str, Any]) -> None:
    """An outbox row due now."""
    with world.db.engine.begin() as conn:
        conn.execute(
            insert(outbox).values(
                company_id=world.company_id,
                kind=kind,
                idempotency_key=key,
                payload=payload,
                status="pending",
                attempts=0,
                run_after=world.db.clock.now(),
                created_at=world.db.clock.now(),
            )
        )


def _lines(world: Any, after: int) -> list[list[Any]]:
    """The audit lines after `after`, in order, as JSON types."""
    with world.db.engine.connect() as conn:
        return [
            [
                r.actor,
                r.action,
                r.subject_type,
                r.subject_id,
                list(r.rules),
                r.message,
                r.data,
                r.at.replace(tzinfo=None).isoformat(),
            ]
            for r in conn.execute(
                select(audit_log).where(audit_log.c.id > after).order_by(audit_log.c.id)
            )
        ]


@pytest.mark.parametrize("how", ["batch", "row_by_row"])
def test_a_send_batch_writes_the_same_audit_lines(world: Any, how: str) -> None:
    """Reminders sent late (read back: other figures, breaches), a customer's automation
    switched off, a payment forwarded to the agency and one found to be its payout: recorded
    as a batch (`Pump.record`, `record_follow_ups`), or row by row as when a batch fails
    (`Worker._outbox_sent`, `follow_up`, each in its unit of work)."""
    world.sandbox.reminder_settings.fee = lambda _on: Decimal("70")
    world.sandbox.reminder_settings.term_days = 10
    for n in range(3):
        world.invoice(f"{1000 + n}.00", days_overdue=20, customer=world.business_id)
    world.sync()
    world.run()  # three reminders queued, decided today
    with world.db.engine.connect() as conn:
        customer_id = conn.execute(select(func.min(customers.c.id))).scalar_one()
    _queue(
        world,
        "tripletex.automation_off",
        "t:auto",
        {"customer_id": customer_id, "customer_external_id": str(world.customer_id)},
    )
    forwarded = {"payment_id": 71, "invoice_id": 1, "amount_ore": 12_345, "date": "2026-03-03"}
    payout = {"payment_id": 72, "invoice_id": 2, "amount_ore": 50_000, "date": "2026-03-03"}
    _queue(world, "kravia.payment", "k:71", forwarded)
    _queue(world, "kravia.payment", "k:72", payout)
    world.move(DAY + timedelta(days=2))  # sent two days after they were decided: sent late
    worker = make_worker(world.db, AppSettings(), senders=8)
    worker.ctx.clients = world.clients
    taken = leases.take_many(
        world.db.engine,
        OUTBOX,
        owner="w#audit",
        now=world.db.clock.now(),
        lease=timedelta(minutes=5),
        limit=20,
    )
    assert sorted(t.row.kind for t in taken) == [
        "kravia.payment",
        "kravia.payment",
        "tripletex.automation_off",
        *["tripletex.reminder"] * 3,
    ]
    results = {
        "tripletex.automation_off": lambda _p: {"automation": False},
        "kravia.payment": lambda p: (
            {"claim": 9001, "reference": "kravflyt:x:payment:71:1"}
            if p["payment_id"] == 71
            else {"claim": 9002, "reference": "kravflyt:x:payment:72:2", "agency_payout": True}
        ),
    }
    sent: list[_Sent] = []
    for t in sorted(taken, key=lambda t: t.row.id):
        sender = worker.handlers.senders[t.row.kind]
        if t.row.kind == "tripletex.reminder":  # sent to the sandbox, recorded with the batch
            fence = Fence(world.db.engine, t, now=world.db.clock.now, lease_s=300)
            worker._send(t, fence=fence, sent=lambda *a: sent.append(_Sent(*a)))
        else:  # sent elsewhere: their answers as the senders would return them
            payload = dict(t.row.payload)
            sent.append(_Sent(t, sender, payload, results[t.row.kind](payload)))
    assert len(sent) == 6
    with world.db.engine.connect() as conn:
        before = conn.execute(select(func.max(audit_log.c.id))).scalar_one()

    pump = Pump(worker, 8)
    reminders = [x for x in sent if x.taken.row.kind == "tripletex.reminder"]
    told = [(x.payload, x.result) for x in reminders]
    if how == "batch":
        assert len(pump.record(sent)) == 6
        found = reminders[0].sender.follow_up(  # type: ignore[attr-defined]
            worker.ctx, world.company_id, told
        )
        pump.record_follow_ups([_Followed(world.company_id, reminders[0].sender, found)])
    else:
        assert len(pump._one_by_one(sent)) == 6
        worker.follow_up(reminders[0].sender, world.company_id, told)

    lines = _lines(world, before)
    assert lines == json.loads(EXPECTED.read_text())


# The lines the code before the change wrote, in order (actor, action, subject type and id,
# rules, message, data, at): the letters' late sends with the reminders' batch, the customer's
# automation, the agency's payment and payout, then what Tripletex put on the reminders (the
# breaches, then the figures).
EXPECTED = Path(__file__).with_name("send_batch_audit.json")
