"""The office overview's counts (issue 25), read with one grouped query per kind over every
company, on SQLite and PostgreSQL: failed and unknown sends, work given up with its error,
the last sync and nightly run that finished; problems first."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from adapter.flows import office
from adapter.store.database import Database
from adapter.store.tables import jobs, outbox


def test_every_company_with_what_needs_a_person_problems_first(db: Database) -> None:
    with db.uow() as uow:
        calm = uow.companies.add("Rolig AS", "923609016").id
        busy = uow.companies.add("Travel AS", "974760673").id
        uow.commit()
    now = db.clock.now()
    with db.uow(busy) as uow:
        for key in ("a", "b", "c"):
            uow.outbox.add("test.send", idempotency_key=key, payload={})
        uow.conn.execute(
            update(outbox).where(outbox.c.idempotency_key == "a").values(status="failed")
        )
        uow.conn.execute(
            update(outbox).where(outbox.c.idempotency_key.in_(["b", "c"])).values(status="unknown")
        )
        for task, status, error in (
            ("tripletex.sync", "dead", "TripletexAuthError: 401"),
            ("dunning.run", "done", None),
        ):
            uow.conn.execute(
                jobs.insert().values(
                    company_id=busy,
                    task=task,
                    payload={},
                    status=status,
                    run_after=now,
                    created_at=now,
                    finished_at=now - timedelta(hours=1) if status == "done" else None,
                    last_error=error,
                )
            )
        uow.commit()
    with db.uow(calm) as uow:
        uow.conn.execute(
            jobs.insert().values(
                company_id=calm,
                task="tripletex.sync",
                payload={},
                status="done",
                run_after=now,
                created_at=now,
                finished_at=now,
            )
        )
        uow.commit()
    rows = office.office_overview(db, [calm, busy], db.clock.today())
    assert [r.name for r in rows] == ["Travel AS", "Rolig AS"]
    first, second = rows
    assert (first.failed_sends, first.unknown_sends, first.errors) == (1, 2, 1)
    assert first.last_error == ("tripletex.sync", "TripletexAuthError: 401")
    assert first.last_sync is None and first.last_run == now - timedelta(hours=1)
    assert (second.problems, second.to_do, second.last_sync) == (0, 0, now)
