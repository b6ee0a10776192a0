"""The nightly dunning run: the day's decisions read in one reader's unit of work
(`services/dunning.py` `decide_day`), Tripletex's own reminders taken over where the company
says so (`take_over`), then the decisions carried out `BATCH` claims a transaction
(`carry_out`), each batch in a unit of work of its own so a long run never holds one
transaction (`kravflyt dunning run`, the scheduler's `dunning.run` job, the demo)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from adapter.log import get_logger
from adapter.services import dunning
from adapter.store.database import Database

log = get_logger(__name__)


def run(
    db: Database,
    company_id: int,
    on: date,
    *,
    actor: str,
    progress: Callable[[int, int | None], None] = lambda _done, _total: None,
) -> dunning.PlanSummary:
    """Carry out the day's decisions: letters and outbox rows, blocks, write-offs, closures.
    `progress` hears (decisions carried out, decisions to carry out) after each batch."""
    day = dunning.decide_day(db.uow(company_id, read_only=True), on)
    if day.ledger_automated:
        dunning.take_over(db.uow(company_id), day.ledger_automated, on, actor=actor)
    summary = dunning.PlanSummary()
    todo = day.todo
    for start in range(0, len(todo), dunning.BATCH):
        chunk = todo[start : start + dunning.BATCH]
        dunning.carry_out(db.uow(company_id), day, chunk, on, actor=actor, summary=summary)
        progress(min(start + dunning.BATCH, len(todo)), len(todo))
    log.info("dunning run", on=on.isoformat(), **summary.as_json())
    return summary
