"""Every outbox row is sent exactly once, even when a worker dies between send and commit."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from adapter.clock import FixedClock
from adapter.jobs import lease as leases
from adapter.jobs.worker import OUTBOX
from adapter.store.database import Database
from adapter.store.tables import outbox


def queue(db: Database, company_id: int, *keys: str) -> None:
    with db.uow(company_id) as uow:
        for key in keys:
            uow.outbox.add("test.send", idempotency_key=f"test:{key}", payload={"key": key})
        uow.commit()


def rows(db: Database) -> dict[str, tuple[str, int]]:
    with db.engine.connect() as conn:
        return {r.payload["key"]: (r.status, r.attempts) for r in conn.execute(select(outbox))}


def test_sends_each_row_once_and_records_it(db, company_id, make_worker, remote) -> None:
    queue(db, company_id, "a", "b", "c")
    queue(db, company_id, "a")  # the same decision again: same key, nothing added
    assert make_worker().run_until_idle() == 3
    assert sorted(remote.effects()) == ["a", "b", "c"]
    assert remote.recorded == ["a", "b", "c"]
    assert rows(db) == {"a": ("sent", 1), "b": ("sent", 1), "c": ("sent", 1)}


def test_crash_between_send_and_commit_is_looked_up_not_resent(
    db, company_id, make_worker, remote, clock: FixedClock
) -> None:
    queue(db, company_id, "a")
    # A worker takes the row and sends it, then dies before recording anything.
    taken = leases.take(
        db.engine, OUTBOX, owner="dead-worker", now=clock.now(), lease=timedelta(seconds=300)
    )
    assert taken is not None
    remote.send(None, company_id, dict(taken.row.payload))
    assert rows(db)["a"] == ("sending", 1)

    assert make_worker().run_until_idle() == 0  # the lease still runs: nobody touches the row
    clock.instant += timedelta(seconds=301)
    assert make_worker().run_until_idle() == 1
    assert remote.effects() == ["a"]  # found by lookup, not sent again
    assert rows(db)["a"] == ("sent", 2)
    assert remote.recorded == ["a"]


def test_unknown_outcome_is_looked_up_before_the_next_try(
    db, company_id, make_worker, remote, clock
) -> None:
    remote.fail = {"a": ["unknown_after_effect"], "b": ["unknown"]}
    queue(db, company_id, "a", "b")
    worker = make_worker()
    assert worker.run_until_idle() == 2
    assert rows(db) == {"a": ("unknown", 1), "b": ("unknown", 1)}
    clock.instant += timedelta(seconds=10)
    assert worker.run_until_idle() == 2
    assert sorted(remote.effects()) == ["a", "b"]  # a: found remotely; b: not there, sent now
    assert rows(db) == {"a": ("sent", 2), "b": ("sent", 2)}


def test_refused_is_retried_after_the_wait_and_fatal_waits_for_a_person(
    db, company_id, make_worker, remote, clock
) -> None:
    remote.fail = {"a": ["retry"], "b": ["fatal"]}
    queue(db, company_id, "a", "b")
    worker = make_worker()
    worker.run_until_idle()
    assert rows(db) == {"a": ("pending", 1), "b": ("failed", 1)}
    assert worker.run_until_idle() == 0  # a waits its second
    clock.instant += timedelta(seconds=1)
    worker.run_until_idle()
    assert rows(db)["a"] == ("sent", 2)
    assert remote.effects() == ["a"]
    with db.engine.connect() as conn:
        error = conn.execute(
            select(outbox.c.last_error).where(outbox.c.status == "failed")
        ).scalar_one()
    assert error == "422: debtor has no address"


def test_gives_up_after_max_attempts(db, company_id, make_worker, remote, clock) -> None:
    remote.fail = {"a": ["unknown"] * 3}
    queue(db, company_id, "a")
    worker = make_worker(max_outbox_attempts=3)
    for _ in range(3):
        worker.run_until_idle()
        clock.instant += timedelta(hours=2)
    assert rows(db)["a"] == ("failed", 3)
    assert remote.effects() == []


def test_row_written_with_the_decision_or_not_at_all(db, company_id, remote) -> None:
    try:
        with db.uow(company_id) as uow:
            uow.outbox.add("test.send", idempotency_key="test:x", payload={"key": "x"})
            raise RuntimeError("the decision failed")
    except RuntimeError:
        pass
    assert rows(db) == {}
