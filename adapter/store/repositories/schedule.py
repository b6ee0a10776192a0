"""The scheduler's slots (`schedule_slots`): one row per run a schedule asked for, and what
the scheduler reads of every company."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError

from adapter.clock import Clock
from adapter.store.repositories.runtime import JobRepository
from adapter.store.tables import companies, schedule_slots
from adapter.store.tables import company_settings as settings_table


def company_schedules(engine: Engine) -> dict[int, Any]:
    """Every company's stored schedule section (None when it has none), by company id."""
    with engine.connect() as conn:
        ids = [r.id for r in conn.execute(select(companies.c.id))]
        stored = {
            r.company_id: r.value
            for r in conn.execute(
                select(settings_table.c.company_id, settings_table.c.value).where(
                    settings_table.c.section == "schedule"
                )
            )
        }
    return {i: stored.get(i) for i in ids}


def queue_slot(
    engine: Engine,
    clock: Clock,
    company_id: int,
    *,
    task: str,
    slot: str,
    lock_key: str,
    now: datetime,
) -> int | None:
    """Take the slot and queue its job, in one transaction: how many jobs were queued (0: a
    job of the same task still waits and does this slot's work too), or None when the slot
    was taken already (by this scheduler earlier, or another one)."""
    try:
        with engine.begin() as conn:
            conn.execute(
                insert(schedule_slots).values(
                    company_id=company_id, task=task, slot=slot, created_at=now
                )
            )
            return JobRepository(conn, company_id, clock).defer(
                task, {"slot": slot}, dedupe_key=lock_key, lock_key=lock_key
            )
    except IntegrityError:
        return None
