"""Jobs: leases, retries with backoff, dead jobs, one running job per lock key, deduplication."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from adapter.store import lease as leases
from adapter.store.database import Database
from adapter.store.tables import jobs
from connectors.errors import FatalError, RetriableError


def job_rows(db: Database) -> list[tuple[str, str, int, str | None]]:
    with db.engine.connect() as conn:
        return [
            (r.task, r.status, r.attempts, r.last_error)
            for r in conn.execute(select(jobs).order_by(jobs.c.id))
        ]


def test_runs_job_with_payload(db, company_id, make_worker) -> None:
    seen = []
    with db.uow(company_id) as uow:
        uow.jobs.defer("t.ok", {"n": 1})
        uow.commit()
    make_worker(
        tasks={"t.ok": lambda ctx, cid, payload: seen.append((cid, payload))}
    ).run_until_idle()
    assert seen == [(company_id, {"n": 1})]
    assert job_rows(db) == [("t.ok", "done", 1, None)]


def test_failing_job_retried_with_backoff_then_dead(db, company_id, make_worker, clock) -> None:
    calls = []

    def flaky(ctx, cid, payload):
        calls.append(clock.now())
        raise ValueError("remote said no")

    with db.uow(company_id) as uow:
        uow.jobs.defer("t.flaky", max_attempts=3)
        uow.commit()
    worker = make_worker(tasks={"t.flaky": flaky})
    worker.run_until_idle()
    assert job_rows(db) == [("t.flaky", "todo", 1, "ValueError: remote said no")]
    clock.instant += timedelta(seconds=4)
    assert worker.run_until_idle() == 0  # backoff 5 s not over
    clock.instant += timedelta(seconds=1)
    worker.run_until_idle()
    clock.instant += timedelta(seconds=10)
    worker.run_until_idle()
    assert job_rows(db) == [("t.flaky", "dead", 3, "ValueError: remote said no")]
    assert len(calls) == 3


def test_fatal_is_dead_at_once_and_retriable_waits_as_told(
    db, company_id, make_worker, clock
) -> None:
    def fatal(ctx, cid, payload):
        raise FatalError("401 after renewing the session")

    def limited(ctx, cid, payload):
        raise RetriableError("429", wait_s=120)

    with db.uow(company_id) as uow:
        uow.jobs.defer("t.fatal")
        uow.jobs.defer("t.limited")
        uow.commit()
    make_worker(tasks={"t.fatal": fatal, "t.limited": limited}).run_until_idle()
    assert [r[:3] for r in job_rows(db)] == [("t.fatal", "dead", 1), ("t.limited", "todo", 1)]
    with db.engine.connect() as conn:
        run_after = conn.execute(
            select(jobs.c.run_after).where(jobs.c.task == "t.limited")
        ).scalar_one()
    assert run_after == clock.now() + timedelta(seconds=120)


def test_one_running_job_per_lock_key(db, company_id, clock) -> None:
    with db.uow(company_id) as uow:
        uow.jobs.defer("sync", {"n": 1}, lock_key="sync:1")
        uow.jobs.defer("sync", {"n": 2}, lock_key="sync:1")
        uow.jobs.defer("other", {"n": 3}, lock_key="sync:2")
        uow.commit()
    lease = timedelta(seconds=60)
    first = leases.take(db.engine, leases.JOBS, owner="a", now=clock.now(), lease=lease)
    second = leases.take(db.engine, leases.JOBS, owner="b", now=clock.now(), lease=lease)
    third = leases.take(db.engine, leases.JOBS, owner="c", now=clock.now(), lease=lease)
    assert first is not None and first.row.payload == {"n": 1}
    assert second is not None and second.row.payload == {"n": 3}  # n=2 waits for sync:1
    assert third is None
    # The holder dies: after its lease the stalled job is taken again before n=2.
    clock.instant += timedelta(seconds=61)
    again = leases.take(db.engine, leases.JOBS, owner="d", now=clock.now(), lease=lease)
    assert again is not None and again.row.payload == {"n": 1} and again.was_stalled
    leases.finish(db.engine, again, status="done")
    assert leases.finish(db.engine, first, status="done") is False  # the dead worker lost its lease
    nxt = leases.take(db.engine, leases.JOBS, owner="d", now=clock.now(), lease=lease)
    assert nxt is not None and nxt.row.payload == {"n": 2}


def test_dedupe_key_keeps_one_waiting_job(db, company_id) -> None:
    with db.uow(company_id) as uow:
        assert uow.jobs.defer("sync", dedupe_key="sync:1") is True
        assert uow.jobs.defer("sync", dedupe_key="sync:1") is False
        uow.commit()
    assert len(job_rows(db)) == 1


def test_heartbeat_extends_the_lease(db, company_id, make_worker, clock) -> None:
    leased_until = []

    def long_job(ctx, cid, payload):
        clock.instant += timedelta(seconds=250)
        ctx.heartbeat()
        with db.engine.connect() as conn:
            leased_until.append(conn.execute(select(jobs.c.leased_until)).scalar_one())

    with db.uow(company_id) as uow:
        uow.jobs.defer("long")
        uow.commit()
    make_worker(tasks={"long": long_job}, lease_s=300).run_until_idle()
    assert leased_until == [clock.now() + timedelta(seconds=300)]
