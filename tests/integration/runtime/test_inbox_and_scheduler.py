"""Webhooks stored once and handled later; schedule slots run once even with two schedulers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from adapter.jobs import scheduler
from adapter.jobs.inbox import InboxEvent, event_key, store_events
from adapter.store.tables import inbox, jobs, schedule_slots


def test_events_stored_once_then_handled_after_workers_start(
    db, company_id, make_worker, clock
) -> None:
    events = [
        InboxEvent(company_id, "test", event_key(company_id, f"body{i}".encode()), {"n": i})
        for i in range(50)
    ]
    assert store_events(db.engine, clock, events) == 50
    assert store_events(db.engine, clock, events[:10]) == 0  # redelivery: nothing new
    handled: list[int] = []
    assert (
        make_worker(
            webhooks={"test": lambda ctx, cid, body: handled.append(body["n"])}
        ).run_until_idle()
        == 50
    )
    assert sorted(handled) == list(range(50))
    with db.engine.connect() as conn:
        assert {r.status for r in conn.execute(select(inbox))} == {"done"}


def test_deliveries_about_one_object_are_settled_by_one_fetch(
    db, company_id, make_worker, clock
) -> None:
    def event(n: int, subject: str) -> InboxEvent:
        return InboxEvent(company_id, "test", f"k{n}", {"n": n, "s": subject}, subject)

    store_events(
        db.engine, clock, [event(n, "invoice:7") for n in range(5)] + [event(9, "invoice:8")]
    )
    fetched: list[str] = []

    def fetch(ctx, cid, body) -> None:
        fetched.append(body["s"])
        if len(fetched) == 1:  # a change arrives while the first fetch runs: it needs its own
            store_events(db.engine, clock, [event(10, "invoice:7")])

    make_worker(webhooks={"test": fetch}).run_until_idle()
    assert sorted(fetched) == ["invoice:7", "invoice:7", "invoice:8"]
    with db.engine.connect() as conn:
        rows = conn.execute(select(inbox.c.body, inbox.c.status, inbox.c.last_error)).all()
    assert {r.status for r in rows} == {"done"} and len(rows) == 7
    settled = [r for r in rows if r.last_error and "settled by the fetch" in r.last_error]
    assert sorted(r.body["n"] for r in settled) == [1, 2, 3, 4]


def test_a_ping_again_is_skipped_while_the_first_waits_and_stored_anew_once_it_was_taken(
    db, company_id, make_worker, clock
) -> None:
    def ping(key: str) -> InboxEvent:
        return InboxEvent(company_id, "test", key, {"k": key}, "claim:1", ping=True)

    assert store_events(db.engine, clock, [ping("a"), ping("a")]) == 1  # in one batch
    assert store_events(db.engine, clock, [ping("a")]) == 0  # a retry of a waiting one
    read: list[str] = []

    def refresh(ctx, cid, body) -> None:
        read.append(body["k"])
        if len(read) == 1:  # the claim changed again while it was read: the same body
            assert store_events(db.engine, clock, [ping("a")]) == 1

    worker = make_worker(webhooks={"test": refresh})
    assert worker.run_until_idle() == 2
    assert store_events(db.engine, clock, [ping("a"), ping("b")]) == 2  # after it was handled
    assert worker.run_until_idle() == 1  # the two about claim 1 settled by one read
    assert read == ["a", "a", "b"]  # "a" was stored again after "b"
    # A body that tells its change apart (a Tripletex object with its version) is that change:
    # the same again after it was handled is a redelivery, and skipped.
    assert store_events(db.engine, clock, [InboxEvent(company_id, "test", "t", {"k": "t"})]) == 1
    assert worker.run_until_idle() == 1
    assert store_events(db.engine, clock, [InboxEvent(company_id, "test", "t", {"k": "t"})]) == 0
    with db.engine.connect() as conn:
        rows = conn.execute(
            select(inbox.c.id, inbox.c.event_key, inbox.c.status).order_by(inbox.c.id)
        ).all()
    assert [r.status for r in rows] == ["done"] * 5
    assert [r.event_key for r in rows] == [f"a#{rows[0].id}", f"a#{rows[1].id}", "b", "a", "t"]


def test_a_ping_that_comes_again_while_its_object_is_read_gets_a_read_of_its_own(
    db, company_id, make_worker, clock
) -> None:
    """Two pings about one claim wait; the first one's read settles the second. If the claim
    changes again during that read in the second's very second, the ping is the second's body
    again: it must not be taken for the second, which that read (made before) settles."""

    def ping(key: str) -> InboxEvent:
        return InboxEvent(company_id, "test", key, {"k": key}, "claim:1", ping=True)

    store_events(db.engine, clock, [ping("first")])
    store_events(db.engine, clock, [ping("second")])
    read: list[str] = []

    def refresh(ctx, cid, body) -> None:
        read.append(body["k"])
        if len(read) == 1:
            store_events(db.engine, clock, [ping("second")])

    make_worker(webhooks={"test": refresh}).run_until_idle()
    assert read == ["first", "second"]


def test_failing_handler_retried_then_dead(db, company_id, make_worker, clock) -> None:
    store_events(db.engine, clock, [InboxEvent(company_id, "test", "k", {"n": 1})])

    def broken(ctx, cid, body):
        raise KeyError("value")

    worker = make_worker(webhooks={"test": broken}, max_inbox_attempts=2)
    worker.run_until_idle()
    clock.instant += timedelta(minutes=1)
    worker.run_until_idle()
    with db.engine.connect() as conn:
        row = conn.execute(select(inbox)).one()
    assert (row.status, row.attempts, row.last_error) == ("dead", 2, "KeyError: 'value'")


def test_each_slot_queued_once(db, company_id, clock) -> None:
    clock.instant = datetime(2026, 3, 2, 1, 30, tzinfo=UTC)  # 02:30 in Oslo
    tasks = ["tripletex.sync", "dunning.run", "bank.pickup"]
    assert scheduler.tick(db, tasks) == 3
    assert scheduler.tick(db, tasks) == 0  # a second scheduler at the same moment
    clock.instant += timedelta(minutes=5)  # the 5-minute bank slot turns over ...
    assert scheduler.tick(db, tasks) == 0  # ... but the last pick-up still waits: no second one
    with db.engine.begin() as conn:
        conn.execute(update(jobs).values(status="done"))
    clock.instant += timedelta(minutes=5)
    assert scheduler.tick(db, tasks) == 1
    with db.engine.connect() as conn:
        slots = sorted((r.task, r.slot) for r in conn.execute(select(schedule_slots)))
        queued = sorted(r.task for r in conn.execute(select(jobs)))
    assert ("dunning.run", "2026-03-02") in slots
    assert queued == ["bank.pickup", "bank.pickup", "dunning.run", "tripletex.sync"]


def test_nightly_run_waits_for_its_hour_and_disabled_companies_get_nothing(
    db, company_id, clock
) -> None:
    clock.instant = datetime(2026, 3, 2, 0, 30, tzinfo=UTC)  # 01:30 in Oslo, before 02:00
    assert scheduler.tick(db, ["dunning.run"]) == 0
    clock.instant = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 02:00 Oslo
    assert scheduler.tick(db, ["dunning.run"]) == 1
    from adapter.services.companies import set_settings

    set_settings(db.uow(company_id), ["schedule.enabled=false"], actor="test")
    clock.instant += timedelta(days=1)
    assert scheduler.tick(db, ["dunning.run"]) == 0
