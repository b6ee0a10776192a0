"""Every outbox row is sent exactly once, even when a worker dies between send and commit."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import select

from adapter.clock import FixedClock
from adapter.jobs.worker import OUTBOX
from adapter.store import lease as leases
from adapter.store.database import Database
from adapter.store.tables import outbox
from connectors.errors import RetriableError


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
    # The lookup's grace after the lease: a write of the dead worker still under way lands.
    assert make_worker().run_until_idle() == 0
    clock.instant += timedelta(seconds=60)
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
    clock.instant += timedelta(seconds=59)
    assert worker.run_until_idle() == 0  # looked up only after the grace
    clock.instant += timedelta(seconds=1)
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


def test_an_unknown_outcome_never_fails_by_itself_it_waits_for_a_person(
    db, company_id, make_worker, remote, clock, cli
) -> None:
    """Refused every time, or never known whether it arrived: after the tries it gets, each
    row ends where a person sees it (failed, or unknown waiting for them), says why in the
    reader's words (worklist, `kravflyt outbox list`), and is never taken again by itself."""
    from adapter import i18n
    from adapter.services import work

    remote.fail = {"a": ["unknown"] * 3, "b": ["retry"] * 3}
    queue(db, company_id, "a", "b")
    worker = make_worker(max_outbox_attempts=3)
    for _ in range(4):
        worker.run_until_idle()
        clock.instant += timedelta(hours=2)
    assert rows(db) == {"a": ("unknown", 3), "b": ("failed", 3)}  # b: refused 3 times, not sent
    assert remote.effects() == []
    with db.engine.connect() as conn:
        parked = conn.execute(select(outbox).where(outbox.c.status == "unknown")).one()
    assert parked.last_error == (
        "waits for a person: OutcomeUnknownError: timeout before the remote saw it"
    )
    clock.instant += timedelta(days=365)
    assert worker.run_until_idle() == 0  # parked: never due by itself
    with i18n.use("nb"):
        said = {
            i.payload["key"]: (i.status, i.attempts, i.reason)
            for i in work.list_items(db.uow(company_id, read_only=True), "outbox")
        }
    assert said == {
        "a": (
            "unknown",
            3,
            "Uvisst om den kom fram, og den sjekkes ikke lenger av seg selv (3 forsøk). "
            "Undersøk hos mottakeren, og send på nytt eller merk som sendt.",
        ),
        "b": (
            "failed",
            3,
            "Ikke sendt: mottakersystemet avviste den (3 forsøk). Rett det feilen sier, og "
            "send på nytt, eller avbryt.",
        ),
    }
    listed = json.loads(cli("outbox", "list", "--company", str(company_id), "--json").stdout)
    assert sorted(i["reason"] for i in listed) == sorted(reason for *_, reason in said.values())


def test_a_failed_lookup_keeps_the_row_unknown_and_never_sends(
    db, company_id, make_worker, remote, clock
) -> None:
    remote.fail = {"a": ["unknown_after_effect"]}
    queue(db, company_id, "a")
    worker = make_worker()
    worker.run_until_idle()
    looked_up = []

    def refused(ctx, company_id, payload):
        looked_up.append(payload["key"])
        raise RetriableError("429: rate limited", wait_s=120)

    remote.lookup = refused  # type: ignore[method-assign]
    clock.instant += timedelta(seconds=60)
    worker.run_until_idle()
    assert (looked_up, rows(db)["a"]) == (["a"], ("unknown", 2))
    clock.instant += timedelta(seconds=119)
    assert worker.run_until_idle() == 0  # the remote's own wait is honoured
    clock.instant += timedelta(seconds=1)
    worker.run_until_idle()
    assert looked_up == ["a", "a"]
    assert remote.effects() == ["a"]  # never sent again while the lookup fails


def test_row_written_with_the_decision_or_not_at_all(db, company_id, remote) -> None:
    try:
        with db.uow(company_id) as uow:
            uow.outbox.add("test.send", idempotency_key="test:x", payload={"key": "x"})
            raise RuntimeError("the decision failed")
    except RuntimeError:
        pass
    assert rows(db) == {}


def test_a_row_whose_workers_keep_dying_ends_waiting_for_a_person_not_retried_forever(
    db, company_id, make_worker, remote, clock
) -> None:
    """A row that ends every worker that takes it (a crash, the machine killed while it is
    sent) is taken again each time its lease runs out. After the tries a send gets, it is not
    looked up and sent once more (one more crash, forever): it waits for a person, with
    the reason."""
    queue(db, company_id, "a")
    worker = make_worker(max_outbox_attempts=3)
    for n in range(3):
        taken = leases.take(
            db.engine, OUTBOX, owner=f"dies-{n}", now=clock.now(), lease=timedelta(seconds=300)
        )
        assert taken is not None  # then its worker dies
        clock.instant += timedelta(seconds=301 + 60)
    assert rows(db)["a"] == ("sending", 3)
    looked_up: list[str] = []
    real_lookup = remote.lookup

    def lookup(ctx, company_id, payload):
        looked_up.append(payload["key"])
        return real_lookup(ctx, company_id, payload)

    remote.lookup = lookup  # type: ignore[method-assign]
    worker.run_until_idle()
    assert (looked_up, remote.effects()) == ([], [])
    with db.engine.connect() as conn:
        row = conn.execute(select(outbox)).one()
    assert (row.status, row.attempts, row.last_error) == (
        "unknown",
        4,
        "waits for a person: its worker stopped while sending it, after 3 tries",
    )
    clock.instant += timedelta(days=365)
    assert worker.run_until_idle() == 0  # parked: never due by itself
