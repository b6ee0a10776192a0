"""Fair shares across companies: a worker that has a company's share of outbox rows in hand
takes the next company's row, however many rows the first has waiting before it."""

from __future__ import annotations

from typing import Any

from adapter.jobs.registry import WorkContext
from adapter.jobs.worker import Handlers, Worker
from adapter.settings import AppSettings
from adapter.store.database import Database


class NestedSender:
    """Sends by recording; while the first row is in hand, asks its worker for another."""

    def __init__(self) -> None:
        self.worker: Worker | None = None
        self.started: list[tuple[int, str]] = []

    def send(self, ctx: Any, company_id: int, payload: dict[str, Any]) -> dict[str, Any]:
        self.started.append((company_id, payload["key"]))
        if len(self.started) == 1:
            assert self.worker is not None
            self.worker.run_once("second-thread")  # another thread of the same process
        return {"ok": True}

    def lookup(self, ctx: Any, company_id: int, payload: dict[str, Any]) -> None:
        return None

    def record(self, uow: Any, payload: dict[str, Any], result: dict[str, Any]) -> None:
        return None


def test_a_company_with_its_share_in_hand_leaves_the_next_row_to_another(db: Database) -> None:
    with db.uow() as uow:
        big = uow.companies.add("Stor AS", "923609016").id
        small = uow.companies.add("Liten AS", "974760673").id
        uow.commit()
    for company, keys in ((big, ["b1", "b2", "b3"]), (small, ["s1"])):
        with db.uow(company) as uow:
            for key in keys:
                uow.outbox.add("test.send", idempotency_key=f"t:{key}", payload={"key": key})
            uow.commit()
    sender = NestedSender()
    handlers = Handlers(tasks={}, senders={"test.send": sender}, webhooks={})
    worker = Worker(
        ctx=WorkContext(db=db, settings=AppSettings(), clients=None),
        handlers=handlers,
        per_company=1,
    )
    sender.worker = worker
    assert worker.run_once("first-thread")
    # The big company's first row in hand: the second thread skips b2 and b3 for s1.
    assert sender.started[:2] == [(big, "b1"), (small, "s1")]
    worker.run_until_idle()
    assert sorted(k for _c, k in sender.started) == ["b1", "b2", "b3", "s1"]
