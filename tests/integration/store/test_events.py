"""Domain events: recorded in a unit of work, written on commit (audit line, outbox row, then
the log line), forgotten on rollback."""

from __future__ import annotations

import pytest
from structlog.testing import capture_logs

from adapter.store.database import Database
from adapter.store.events import Event, Send


def _event(n: int) -> Event:
    return Event(
        actor="cli",
        action="test.happened",
        message=f"thing {n} happened",
        subject=("invoice", n),
        rules=("INKL § 8",),
        data={"n": n},
        sends=(Send("kravia.register", f"test:{n}", {"case_id": n}),),
        log="thing happened",
        log_fields={"n": n},
    )


def _written(db: Database, company_id: int) -> tuple[list[str], dict[str, int]]:
    with db.uow(company_id, read_only=True) as uow:
        return [e.message for e in uow.audit.entries()], uow.outbox.counts()


def test_a_committed_event_writes_its_audit_line_send_and_log_line(
    db: Database, company_id: int
) -> None:
    with capture_logs() as lines, db.uow(company_id) as uow:
        uow.record(_event(1))
        assert lines == []  # nothing logged before the commit
        uow.commit()
    assert _written(db, company_id) == (["thing 1 happened"], {"pending": 1})
    with db.uow(company_id, read_only=True) as uow:
        (entry,) = uow.audit.entries()
        assert entry.rules == ["INKL § 8"] and entry.data == {"n": 1}
        assert (entry.subject_type, entry.subject_id, entry.actor) == ("invoice", "1", "cli")
    assert [(line["event"], line["n"]) for line in lines] == [("thing happened", 1)]


def test_an_event_in_a_unit_of_work_that_rolls_back_writes_nothing(
    db: Database, company_id: int
) -> None:
    with capture_logs() as lines:
        with pytest.raises(RuntimeError), db.uow(company_id) as uow:
            uow.record(_event(1))
            raise RuntimeError("the change failed")
        with db.uow(company_id) as uow:
            uow.record(_event(2))  # never committed
        with db.uow(company_id) as uow:
            uow.record(_event(3))
            uow.rollback()  # thrown away, with what came before it
            uow.record(_event(4))
            uow.commit()
    assert _written(db, company_id) == (["thing 4 happened"], {"pending": 1})
    assert [line["n"] for line in lines] == [4]


def test_a_unit_of_work_entered_again_works_on_a_new_connection(
    db: Database, company_id: int
) -> None:
    # users.login enters its unit of work once per step, holding no connection in between.
    uow = db.uow(company_id)
    with uow:
        uow.record(_event(1))
        uow.commit()
        first = uow.conn
    with uow:
        assert uow.conn is not first and first.closed
        assert [e.message for e in uow.audit.entries()] == ["thing 1 happened"]
        uow.record(_event(2))  # never committed: forgotten on exit
    with uow:
        assert uow.events == [] and len(uow.audit.entries()) == 1
