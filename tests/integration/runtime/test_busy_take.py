"""A take that finds SQLite locked by another writer past its busy timeout is busy, not idle:
`run_until_idle` (tests, the demo) goes on taking once the lock is let go, rather than
stopping with rows still due."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from cryptography.fernet import Fernet

from adapter.clock import FixedClock
from adapter.crypto import SecretBox
from adapter.jobs.sending import Pump
from adapter.jobs.worker import OUTBOX
from adapter.store import lease as leases
from adapter.store.database import Database
from adapter.store.engine import make_engine
from tests.integration.runtime.test_concurrent_sending import companies, queue, statuses, worker


class Recorded:
    """A sender that answers at once and keeps what was recorded."""

    def __init__(self) -> None:
        self.recorded: list[str] = []

    def send(self, ctx: Any, company_id: int, payload: dict[str, Any]) -> dict[str, Any]:
        return {"ok": payload["key"]}

    def lookup(self, ctx: Any, company_id: int, payload: dict[str, Any]) -> None:
        return None

    def record(self, uow: Any, payload: dict[str, Any], result: dict[str, Any]) -> None:
        self.recorded.append(result["ok"])


@pytest.fixture
def quick_db(sqlite_url: str, clock: FixedClock) -> Iterator[Database]:
    """SQLite that waits only 50 ms for another writer's lock."""
    engine = make_engine(sqlite_url, busy_timeout_s=0.05)
    yield Database(engine=engine, clock=clock, box=SecretBox(Fernet.generate_key()))
    engine.dispose()


@contextmanager
def _locked(db: Database, *, for_s: float | None = None) -> Iterator[None]:
    """Another writer holding SQLite's write lock: let go after `for_s` seconds, or when the
    block ends."""
    conn = db.engine.connect()
    conn.exec_driver_sql("UPDATE outbox SET attempts = attempts")  # BEGIN IMMEDIATE: the lock
    let_go = threading.Lock()

    def release() -> None:
        with let_go:
            if not conn.closed:
                conn.rollback()
                conn.close()

    timer = threading.Timer(for_s, release) if for_s is not None else None
    if timer is not None:
        timer.start()
    try:
        yield
    finally:
        if timer is not None:
            timer.join()
        release()


def test_a_take_while_another_writer_holds_the_lock_is_busy_not_empty(quick_db: Database) -> None:
    (a,) = companies(quick_db, 1)
    queue(quick_db, a, "a1")
    with _locked(quick_db), pytest.raises(leases.Busy):
        leases.take_many(
            quick_db.engine,
            OUTBOX,
            owner="w1#x",
            now=quick_db.clock.now(),
            lease=timedelta(minutes=5),
            limit=10,
        )


def test_run_until_idle_goes_on_after_the_lock_is_let_go(quick_db: Database) -> None:
    (a,) = companies(quick_db, 1)
    queue(quick_db, a, "a1", "a2", "a3")
    sender = Recorded()
    with _locked(quick_db, for_s=0.3):
        ran = worker(quick_db, sender, senders=4).run_until_idle()
    assert ran == 3
    assert sorted(sender.recorded) == ["a1", "a2", "a3"]
    assert statuses(quick_db) == {"a1": "sent", "a2": "sent", "a3": "sent"}


def test_running_until_idle_reports_a_lock_that_is_not_let_go(quick_db: Database) -> None:
    """A lock held past `busy_tries` takes: the error says busy, not idle with rows due."""
    (a,) = companies(quick_db, 1)
    queue(quick_db, a, "a1")
    sender = Recorded()
    with _locked(quick_db), pytest.raises(leases.Busy):
        Pump(worker(quick_db, sender, senders=4), 4, busy_tries=2).run(
            threading.Event(), poll_s=0.05, until_idle=True
        )
    assert sender.recorded == []
    assert statuses(quick_db) == {"a1": "pending"}


def test_one_row_at_a_time_run_until_idle_goes_on_after_the_lock_is_let_go(
    quick_db: Database,
) -> None:
    """The same for a worker without a sender pool (`run_once`, `lease.take`)."""
    (a,) = companies(quick_db, 1)
    queue(quick_db, a, "a1", "a2")
    sender = Recorded()
    with _locked(quick_db, for_s=0.3):
        ran = worker(quick_db, sender).run_until_idle()
    assert ran == 2
    assert sorted(sender.recorded) == ["a1", "a2"]
